//! Compiles every `.proto` under `kommune/` with protox (pure Rust, no protoc), writes the descriptor set
//! for reflection, and lists the RPCs marked `(kommune.common.v1.public)` for the auth layers.

use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let mut protos = Vec::new();
    collect_protos(&root.join("kommune"), &mut protos)?;
    // Not used by kommune's messages, but in the descriptor set so reflection clients can decode the
    // error details every service sends.
    protos.push(root.join("google/rpc/error_details.proto"));
    protos.sort();
    println!("cargo:rerun-if-changed=kommune");
    println!("cargo:rerun-if-changed=google");

    let mut compiler = protox::Compiler::new([&root])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(&protos)?;
    let pool = compiler.descriptor_pool();
    let fds = compiler.file_descriptor_set();
    fs::write(out.join("kommune_descriptor.bin"), fds.encode_to_vec())?;

    let public = pool
        .get_extension_by_name("kommune.common.v1.public")
        .ok_or("extension kommune.common.v1.public is missing")?;
    let mut public_methods = Vec::new();
    for service in pool.services() {
        for method in service.methods() {
            if method.options().get_extension(&public).as_bool() == Some(true) {
                public_methods.push(format!("/{}/{}", service.full_name(), method.name()));
            }
        }
    }
    public_methods.sort();
    fs::write(
        out.join("public_methods.rs"),
        format!("&{public_methods:?}"),
    )?;
    fs::write(out.join("method_access.rs"), method_access(&pool)?)?;
    fs::write(out.join("suite_wide_roles.rs"), suite_wide_literal(&pool)?)?;

    // Every kommune package becomes a module and every service a name, so a new package needs no
    // hand-kept list here.
    let mut services: Vec<String> = pool
        .services()
        .map(|s| s.full_name().to_owned())
        .filter(|name| name.starts_with("kommune."))
        .collect();
    services.sort();
    fs::write(out.join("services.rs"), format!("&{services:?}"))?;
    let mut packages: Vec<String> = pool
        .files()
        .map(|f| f.package_name().to_owned())
        .filter(|name| name.starts_with("kommune."))
        .collect();
    packages.sort();
    packages.dedup();
    let mut modules = String::new();
    for package in &packages {
        let [_, name, version] = package.split('.').collect::<Vec<_>>()[..] else {
            return Err(format!("package {package} is not kommune.<name>.<version>").into());
        };
        modules.push_str(&format!(
            "/// The `kommune.{name}` contracts.\npub mod {name} {{\n    /// `{package}`.\n    pub mod {version} {{\n        tonic::include_proto!(\"{package}\");\n    }}\n}}\n"
        ));
    }
    fs::write(out.join("packages.rs"), modules)?;

    // Every kommune enum can be stored by its proto name through one generic conversion.
    let mut enums = String::new();
    for e in pool.all_enums() {
        let Some(rest) = e.full_name().strip_prefix("kommune.") else {
            continue;
        };
        let path = rest.replace('.', "::");
        enums.push_str(&format!(
            "impl crate::ProtoEnum for crate::{path} {{\n    fn name(self) -> &'static str {{\n        self.as_str_name()\n    }}\n    fn from_name(name: &str) -> Option<Self> {{\n        Self::from_str_name(name)\n    }}\n}}\n"
        ));
    }
    fs::write(out.join("enums.rs"), enums)?;

    // Type names let events be packed into `google.protobuf.Any` under their full names.
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds_with_config(fds, config)?;
    Ok(())
}

/// The `(kommune.common.v1.access)` option of every RPC that is not public, as `MethodAccess` literals
/// sorted by path. Refuses an RPC without one, a role name that is not a `kommune.identity.v1.Role`, an
/// unspecified scope, and a suite scope that admits a role which is not suite-wide.
fn method_access(
    pool: &prost_reflect::DescriptorPool,
) -> Result<String, Box<dyn std::error::Error>> {
    let public = pool
        .get_extension_by_name("kommune.common.v1.public")
        .ok_or("extension kommune.common.v1.public is missing")?;
    let access = pool
        .get_extension_by_name("kommune.common.v1.access")
        .ok_or("extension kommune.common.v1.access is missing")?;
    let role_enum = pool
        .get_enum_by_name("kommune.identity.v1.Role")
        .ok_or("enum kommune.identity.v1.Role is missing")?;
    let scope_enum = pool
        .get_enum_by_name("kommune.common.v1.AccessScope")
        .ok_or("enum kommune.common.v1.AccessScope is missing")?;
    let suite_wide = suite_wide_roles(pool)?;
    let mut entries = Vec::new();
    for service in pool
        .services()
        .filter(|s| s.full_name().starts_with("kommune."))
    {
        for method in service.methods() {
            let path = format!("/{}/{}", service.full_name(), method.name());
            let options = method.options();
            if options.get_extension(&public).as_bool() == Some(true) {
                continue;
            }
            if !options.has_extension(&access) {
                return Err(format!(
                    "{path} is neither public nor declares (kommune.common.v1.access)"
                )
                .into());
            }
            let value = options.get_extension(&access);
            let message = value.as_message().ok_or("access is not a message")?;
            let roles: Vec<String> = message
                .get_field_by_name("roles")
                .and_then(|v| {
                    v.as_list().map(|l| {
                        l.iter()
                            .filter_map(|r| r.as_str().map(str::to_owned))
                            .collect()
                    })
                })
                .unwrap_or_default();
            for role in &roles {
                if role_enum.get_value_by_name(role).is_none() || role == "ROLE_UNSPECIFIED" {
                    return Err(format!("{path}: {role} is not a kommune.identity.v1.Role").into());
                }
            }
            let scope_number = message
                .get_field_by_name("scope")
                .and_then(|v| v.as_enum_number())
                .unwrap_or_default();
            let scope = scope_enum
                .get_value(scope_number)
                .filter(|v| v.number() != 0)
                .ok_or_else(|| format!("{path} declares no access scope"))?;
            let suite = scope.name() == "ACCESS_SCOPE_SUITE";
            if suite && (roles.is_empty() || roles.iter().any(|r| !suite_wide.contains(r))) {
                return Err(
                    format!("{path}: ACCESS_SCOPE_SUITE admits only suite-wide roles").into(),
                );
            }
            let variant: String = scope
                .name()
                .trim_start_matches("ACCESS_SCOPE_")
                .split('_')
                .map(|w| w[..1].to_owned() + &w[1..].to_lowercase())
                .collect();
            let rule = message
                .get_field_by_name("rule")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            entries.push((path, roles, variant, rule));
        }
    }
    entries.sort();
    let mut literals = String::from("&[\n");
    for (path, roles, variant, rule) in entries {
        literals.push_str(&format!(
            "    crate::MethodAccess {{ path: {path:?}, roles: &{roles:?}, scope: crate::common::v1::AccessScope::{variant}, rule: {rule:?} }},\n"
        ));
    }
    literals.push(']');
    Ok(literals)
}

/// The names of the `kommune.identity.v1.Role` values marked `(kommune.common.v1.suite_wide)`.
fn suite_wide_roles(
    pool: &prost_reflect::DescriptorPool,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let marked = pool
        .get_extension_by_name("kommune.common.v1.suite_wide")
        .ok_or("extension kommune.common.v1.suite_wide is missing")?;
    let roles = pool
        .get_enum_by_name("kommune.identity.v1.Role")
        .ok_or("enum kommune.identity.v1.Role is missing")?;
    Ok(roles
        .values()
        .filter(|role| role.options().get_extension(&marked).as_bool() == Some(true))
        .map(|role| role.name().to_owned())
        .collect())
}

/// The suite-wide roles as a Rust slice of `identity::v1::Role` (`ROLE_CONSORTIUM_ADMIN` is
/// `Role::ConsortiumAdmin`, as prost names it).
fn suite_wide_literal(
    pool: &prost_reflect::DescriptorPool,
) -> Result<String, Box<dyn std::error::Error>> {
    let variants: Vec<String> = suite_wide_roles(pool)?
        .iter()
        .map(|name| {
            let words = name.trim_start_matches("ROLE_").split('_');
            let variant: String = words
                .map(|w| w[..1].to_owned() + &w[1..].to_lowercase())
                .collect();
            format!("crate::identity::v1::Role::{variant}")
        })
        .collect();
    Ok(format!("&[{}]", variants.join(", ")))
}

fn collect_protos(dir: &PathBuf, protos: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, protos)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            protos.push(path);
        }
    }
    Ok(())
}
