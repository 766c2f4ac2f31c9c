//! `PizzaToppings`: rejects a pizza that names a Topping which does not exist. It runs
//! inside the pizza's write, so the check and the write are one step.

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
            match self.toppings.get(None, &topping.name, ReadRevision::Latest).await {
                Ok(_) => {}
                Err(e) if e.code == 404 => {
                    return Err(attributes.forbidden(format!("unknown topping: {}", topping.name)));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
