//! The kommune contracts: generated messages, clients and servers for every `kommune.*.v1` package,
//! the descriptor set (for reflection) and the list of public RPCs (read from the method option).

/// `kommune.common.v1`: paging, the event envelope, audit records and method options.
pub mod common {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("kommune.common.v1");
    }
}

/// `kommune.identity.v1`: municipalities, users, service accounts, API keys and tokens.
pub mod identity {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("kommune.identity.v1");
    }
}

/// `kommune.cases.v1`: support cases, their reference data (systems, areas, teams) and comments.
pub mod cases {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("kommune.cases.v1");
    }
}

/// `kommune.klik.v1`: implementation task templates, projects, waves, tasks and task packages.
pub mod klik {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("kommune.klik.v1");
    }
}

/// `kommune.notify.v1`: subscriptions, notifications and their deliveries, the inbox and public feeds.
pub mod notify {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("kommune.notify.v1");
    }
}

/// `kommune.changes.v1`: change requests, their reference data and the 42-week release timeline.
pub mod changes {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("kommune.changes.v1");
    }
}

/// The encoded `FileDescriptorSet` of every kommune proto and its imports.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/kommune_descriptor.bin"));

/// gRPC paths (`/package.Service/Method`) of the RPCs marked `(kommune.common.v1.public) = true`:
/// they need no bearer token.
pub const PUBLIC_METHODS: &[&str] = include!(concat!(env!("OUT_DIR"), "/public_methods.rs"));

/// True when the gRPC path names a public RPC.
pub fn is_public_method(path: &str) -> bool {
    PUBLIC_METHODS.contains(&path)
}

/// The wire value of an enum stored by its proto name (`"CHANNEL_EMAIL"`), given the enum's
/// `from_str_name`; the unspecified value (0) for a name it does not know.
pub fn enum_value<E: Into<i32>>(name: &str, from_str_name: fn(&str) -> Option<E>) -> i32 {
    from_str_name(name).map(Into::into).unwrap_or_default()
}
