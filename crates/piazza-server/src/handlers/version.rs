//! `/version`.

use serde::Serialize;

/// The `version.Info` document.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// Major version.
    pub major: String,
    /// Minor version.
    pub minor: String,
    /// Full version string.
    pub git_version: String,
    /// Source revision.
    pub git_commit: String,
    /// Tree state.
    pub git_tree_state: String,
    /// Build date.
    pub build_date: String,
    /// The compiler.
    pub go_version: String,
    /// Compiler name.
    pub compiler: String,
    /// OS/arch.
    pub platform: String,
}

impl VersionInfo {
    /// This build's version info.
    pub fn current() -> Self {
        let version = env!("CARGO_PKG_VERSION");
        let mut parts = version.split('.');
        Self {
            major: parts.next().unwrap_or("0").to_owned(),
            minor: parts.next().unwrap_or("0").to_owned(),
            git_version: format!("v{version}"),
            git_commit: String::new(),
            git_tree_state: String::new(),
            build_date: String::new(),
            go_version: String::new(),
            compiler: "rustc".to_owned(),
            platform: format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}
