//! The authenticated user of a request (`user.Info`).

use std::collections::BTreeMap;

/// Who is making a request, as produced by authentication.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name, e.g. `admin` or `system:anonymous`.
    pub name: String,
    /// A unique id, when the authenticator has one.
    pub uid: String,
    /// Groups, e.g. `system:masters`, `system:authenticated`.
    pub groups: Vec<String>,
    /// Extra attributes.
    pub extra: BTreeMap<String, Vec<String>>,
}

/// The group every authenticated user belongs to.
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";
/// The group of unauthenticated users.
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
/// The superuser group.
pub const MASTERS_GROUP: &str = "system:masters";
/// The anonymous user's name.
pub const ANONYMOUS_USER: &str = "system:anonymous";

impl UserInfo {
    /// The anonymous user.
    pub fn anonymous() -> Self {
        Self {
            name: ANONYMOUS_USER.to_owned(),
            groups: vec![UNAUTHENTICATED_GROUP.to_owned()],
            ..Default::default()
        }
    }

    /// True if the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}
