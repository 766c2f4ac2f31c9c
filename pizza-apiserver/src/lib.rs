//! `pizza-apiserver`: the sample from *Programming Kubernetes* chapter 8, on Piazza.
//!
//! Group `restaurant.programming-kubernetes.info`, kinds `Pizza` (namespaced, `v1alpha1`
//! and `v1beta1`) and `Topping` (cluster-scoped, `v1alpha1`), with defaulting, validation,
//! conversion and the `PizzaToppings` admission plugin.

pub mod admission;
pub mod apis;

use std::sync::Arc;

use piazza::registry::BuildError;
use piazza::{RestResource, Storage, Store};

use crate::admission::PizzaToppings;
use crate::apis::pizza::{Pizza, PizzaStrategy, v1alpha1, v1beta1};
use crate::apis::topping::{Topping, ToppingStrategy};

/// Builds the group's stores on `storage`.
pub fn resources(storage: Arc<dyn Storage>) -> Result<Vec<Arc<dyn RestResource>>, BuildError> {
    let toppings = Store::<Topping>::builder(Arc::clone(&storage))
        .storage_version::<Topping>()
        .strategy(ToppingStrategy)
        .build()?;
    let pizzas = Store::<Pizza>::builder(storage)
        .storage_version::<v1beta1::Pizza>()
        .version::<v1alpha1::Pizza>()
        .strategy(PizzaStrategy)
        .admission(PizzaToppings::new(Arc::clone(&toppings)))
        .build()?;
    Ok(vec![pizzas, toppings])
}
