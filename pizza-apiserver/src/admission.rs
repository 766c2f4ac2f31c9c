//! `PizzaToppings`: rejects a pizza that names a Topping which does not exist. It runs
//! inside the pizza's write, so the check and the write are one step.
//!
//! Like upstream admission plugins, which read from informer caches, it looks toppings up in
//! the watch cache (`resourceVersion="0"` semantics: no storage round trip). Only a miss is
//! confirmed with a consistent read, so a topping created just before the pizza is never
//! reported unknown because the cache had not seen it yet.

use std::sync::Arc;

use piazza::storage::ReadRevision;
use piazza::{Admission, ApiError, Attributes, Store, async_trait};

use crate::apis::pizza::Pizza;
use crate::apis::topping::Topping;

/// The admission plugin.
pub struct PizzaToppings {
    toppings: Arc<Store<Topping>>,
}

impl PizzaToppings {
    /// Checks pizzas against the toppings in `toppings`.
    pub fn new(toppings: Arc<Store<Topping>>) -> Self {
        Self { toppings }
    }
}

#[async_trait]
impl Admission<Pizza> for PizzaToppings {
    fn name(&self) -> &'static str {
        "PizzaToppings"
    }

    async fn validate(
        &self,
        attributes: &Attributes,
        pizza: &Pizza,
        _old: Option<&Pizza>,
    ) -> Result<(), ApiError> {
        for topping in &pizza.toppings {
            if !self.exists(&topping.name).await? {
                return Err(attributes.forbidden(format!("unknown topping: {}", topping.name)));
            }
        }
        Ok(())
    }
}

impl PizzaToppings {
    /// Whether the topping exists: a cached read first, a consistent read to confirm a miss.
    async fn exists(&self, name: &str) -> Result<bool, ApiError> {
        for revision in LOOKUPS {
            if self.toppings.exists(None, name, revision).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The reads a topping lookup tries in turn: any cached state, then the latest.
const LOOKUPS: [ReadRevision; 2] = [ReadRevision::NotOlderThan(0), ReadRevision::Latest];
