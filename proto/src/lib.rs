//! The kommune contracts: generated messages, clients and servers for every `kommune.*.v1` package,
//! the descriptor set (for reflection), the names of every service and the list of public RPCs (read
//! from the method option).

// One module per package (`kommune::cases::v1`, …), generated from the protos by build.rs.
include!(concat!(env!("OUT_DIR"), "/packages.rs"));

/// The encoded `FileDescriptorSet` of every kommune proto and its imports.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/kommune_descriptor.bin"));

/// gRPC paths (`/package.Service/Method`) of the RPCs marked `(kommune.common.v1.public) = true`:
/// they need no bearer token.
pub const PUBLIC_METHODS: &[&str] = include!(concat!(env!("OUT_DIR"), "/public_methods.rs"));

/// Who may call an RPC that is not public, read from its `(kommune.common.v1.access)` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodAccess {
    /// The gRPC path, `/package.Service/Method`.
    pub path: &'static str,
    /// The `kommune.identity.v1.Role` names admitted; empty: every signed-in caller.
    pub roles: &'static [&'static str],
    /// Whose data the RPC reaches.
    pub scope: common::v1::AccessScope,
    /// The finer rule the service applies beyond the roles; empty when the roles say it all.
    pub rule: &'static str,
}

/// The access of every RPC that is not public, sorted by path.
pub const METHOD_ACCESS: &[MethodAccess] = include!(concat!(env!("OUT_DIR"), "/method_access.rs"));

/// The roles that see every municipality: the `kommune.identity.v1.Role` values marked
/// `(kommune.common.v1.suite_wide)`.
pub const SUITE_WIDE_ROLES: &[identity::v1::Role] =
    include!(concat!(env!("OUT_DIR"), "/suite_wide_roles.rs"));

/// The declared access of the RPC at a gRPC path; `None` for a public RPC or a path kommune does not
/// serve.
pub fn access_of(path: &str) -> Option<&'static MethodAccess> {
    METHOD_ACCESS
        .binary_search_by(|access| access.path.cmp(path))
        .ok()
        .map(|i| &METHOD_ACCESS[i])
}

/// Full names of every kommune gRPC service (`kommune.cases.v1.CaseService`), sorted.
pub const SERVICES: &[&str] = include!(concat!(env!("OUT_DIR"), "/services.rs"));

/// True when the gRPC path names a public RPC.
pub fn is_public_method(path: &str) -> bool {
    PUBLIC_METHODS.contains(&path)
}

/// A kommune enum, which can be stored by its proto name (`CASE_STATE_NEW`) and read back; implemented
/// for every enum of the contracts by the build script.
pub trait ProtoEnum: Copy + Default + Eq + std::fmt::Debug + Send + Sync + 'static {
    /// Its proto name.
    fn name(self) -> &'static str;
    /// The value of a proto name, if it is one.
    fn from_name(name: &str) -> Option<Self>;
}

include!(concat!(env!("OUT_DIR"), "/enums.rs"));

/// The wire value of an enum stored by its proto name (`"CHANNEL_EMAIL"`), given the enum's
/// `from_str_name`; the unspecified value (0) for a name it does not know.
pub fn enum_value<E: Into<i32>>(name: &str, from_str_name: fn(&str) -> Option<E>) -> i32 {
    from_str_name(name).map(Into::into).unwrap_or_default()
}
