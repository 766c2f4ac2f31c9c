//! `pizza-apiserver`: the sample from *Programming Kubernetes* chapter 8, on Piazza.
//!
//! Group `restaurant.programming-kubernetes.info`, kinds `Pizza` (namespaced, `v1alpha1`
//! and `v1beta1`) and `Topping` (cluster-scoped, `v1alpha1`), with defaulting, validation,
//! conversion and the `PizzaToppings` admission plugin. The same stored Pizzas are also
//! served as `menu.piazza.dev/v1` (cohabitation), at a lower group priority.

pub mod admission;
pub mod apis;

use std::sync::Arc;

use piazza::registry::BuildError;
use piazza::{RestResource, Storage, Store};

use crate::admission::PizzaToppings;
use crate::apis::pizza::{Pizza, PizzaColumns, PizzaStrategy, v1alpha1, v1beta1};
use crate::apis::topping::{Topping, ToppingColumns, ToppingStrategy};
use crate::apis::{GROUP, menu};

/// Builds the group's stores on `storage`, under the default key prefix `/registry`.
pub fn resources(storage: Arc<dyn Storage>) -> Result<Vec<Arc<dyn RestResource>>, BuildError> {
    resources_with_prefix(storage, "/registry")
}

/// Builds the group's stores on `storage`, with keys under `key_prefix` (`--etcd-prefix`).
pub fn resources_with_prefix(
    storage: Arc<dyn Storage>,
    key_prefix: &str,
) -> Result<Vec<Arc<dyn RestResource>>, BuildError> {
    let toppings = Store::<Topping>::builder(Arc::clone(&storage))
        .key_prefix(key_prefix)
        .storage_version::<Topping>()
        .strategy(ToppingStrategy)
        .table_columns(ToppingColumns)
        .build()?;
    let pizzas = Store::<Pizza>::builder(storage)
        .key_prefix(key_prefix)
        .storage_version::<v1beta1::Pizza>()
        .version::<v1alpha1::Pizza>()
        .strategy(PizzaStrategy)
        .table_columns(PizzaColumns)
        .admission(PizzaToppings::new(Arc::clone(&toppings)))
        .build()?;
    let menu_pizzas = Store::<Pizza>::builder(Arc::clone(pizzas.storage()))
        .key_prefix(key_prefix)
        .version::<menu::Pizza>()
        .stored_as::<v1beta1::Pizza>()
        .decodes::<v1alpha1::Pizza>()
        .shares_storage_with(GROUP, "pizzas")
        .strategy(PizzaStrategy)
        .table_columns(PizzaColumns)
        .admission(PizzaToppings::new(Arc::clone(&toppings)))
        .build()?;
    // Registration order is group priority: the restaurant group first.
    Ok(vec![pizzas, toppings, menu_pizzas])
}
