//! In-process admission. Plugins run inside the write's retry loop, on the object that is
//! about to be committed, so what they decide is atomic with the write.

use async_trait::async_trait;
use piazza_core::{ApiError, GroupResource, UserInfo};

/// The operation being admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A create.
    Create,
    /// An update.
    Update,
    /// A delete.
    Delete,
}

/// What a plugin knows about the request besides the object.
#[derive(Clone, Debug)]
pub struct Attributes {
    /// The operation.
    pub operation: Operation,
    /// The resource.
    pub resource: GroupResource,
    /// The namespace, empty for cluster-scoped kinds.
    pub namespace: String,
    /// The object name (may be empty on create with generateName).
    pub name: String,
    /// Who asked.
    pub user: UserInfo,
}

impl Attributes {
    /// A 403 rejection in the upstream shape: `pizzas.g "x" is forbidden: <reason>`.
    pub fn forbidden(&self, reason: impl std::fmt::Display) -> ApiError {
        ApiError::forbidden(&self.resource, &self.name, reason)
    }
}

/// An admission plugin for the hub type `H`. Both phases default to allowing.
#[async_trait]
pub trait Admission<H: Send + Sync>: Send + Sync + 'static {
    /// The plugin's name, for logs.
    fn name(&self) -> &'static str;

    /// Mutating phase: may change the object.
    async fn admit(
        &self,
        _attributes: &Attributes,
        _object: &mut H,
        _old: Option<&H>,
    ) -> Result<(), ApiError> {
        Ok(())
    }

    /// Validating phase: may only accept or reject.
    async fn validate(
        &self,
        _attributes: &Attributes,
        _object: &H,
        _old: Option<&H>,
    ) -> Result<(), ApiError> {
        Ok(())
    }
}
