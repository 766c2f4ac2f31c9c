//! `pizza-apiserver`: the sample from *Programming Kubernetes* chapter 8, on Piazza.
//!
//! Group `restaurant.programming-kubernetes.info`, kinds `Pizza` (namespaced, `v1alpha1`
//! and `v1beta1`) and `Topping` (cluster-scoped, `v1alpha1`), with defaulting, validation,
//! conversion and the `PizzaToppings` admission plugin. The same stored Pizzas are also
//! served as `menu.piazza.dev/v1` (cohabitation), at a lower group priority.

pub mod admission;
pub mod apis;
pub mod cost;
pub mod kitchen;

use std::sync::Arc;

use piazza::registry::subresource::WithSubresources;
use piazza::registry::subresource::scale::ScaleSubresource;
use piazza::registry::subresource::status::StatusSubresource;
use piazza::registry::{BuildError, StorageLayout, StoreBuilder};
use piazza::{RestResource, Storage, Store};

use crate::admission::PizzaToppings;
use crate::apis::pizza::{
    Pizza, PizzaColumns, PizzaSlices, PizzaStatusStrategy, PizzaStrategy, v1alpha1, v1beta1,
};
use crate::apis::topping::{Topping, ToppingColumns, ToppingStrategy};
use crate::apis::{GROUP, menu};
use crate::cost::{PizzaCost, spawn_cost_controller};
use crate::kitchen::{Bake, Oven};

/// Declares the fields Pizza lists and watches may be selected on besides the name and
/// namespace (as a CRD's `selectableFields`): `status.phase` and `spec.slices`.
fn selectable_pizza_fields(builder: StoreBuilder<Pizza>) -> StoreBuilder<Pizza> {
    builder
        .selectable_field("status.phase", |p: &Pizza| p.phase.clone())
        .selectable_field("spec.slices", |p: &Pizza| p.slices)
}

/// Builds the group's stores on `storage`, under the default key prefix `/registry`,
/// storing protobuf.
pub fn resources(storage: Arc<dyn Storage>) -> Result<Vec<Arc<dyn RestResource>>, BuildError> {
    resources_with(storage, &StorageLayout::default())
}

/// Builds the group's stores on `storage`, with keys under the layout's prefix
/// (`--etcd-prefix`) and objects written in its media type (`--storage-media-type`).
pub fn resources_with(
    storage: Arc<dyn Storage>,
    layout: &StorageLayout,
) -> Result<Vec<Arc<dyn RestResource>>, BuildError> {
    let toppings = Store::<Topping>::builder(Arc::clone(&storage))
        .layout(layout)
        .storage_version::<Topping>()
        .strategy(ToppingStrategy)
        .table_columns(ToppingColumns)
        .build()?;
    let pizzas = selectable_pizza_fields(Store::<Pizza>::builder(Arc::clone(&storage)))
        .layout(layout)
        .storage_version::<v1beta1::Pizza>()
        .version::<v1alpha1::Pizza>()
        .strategy(PizzaStrategy)
        .table_columns(PizzaColumns)
        .admission(PizzaToppings::new(Arc::clone(&toppings)))
        .admission(PizzaCost::new(Arc::clone(&toppings)))
        .build()?;
    // `pizzas/status`: the same objects with the status strategy (the spec is kept).
    let pizza_status = selectable_pizza_fields(Store::<Pizza>::builder(storage))
        .layout(layout)
        .storage_version::<v1beta1::Pizza>()
        .version::<v1alpha1::Pizza>()
        .strategy(PizzaStatusStrategy)
        .table_columns(PizzaColumns)
        .without_reaper() // `pizzas` reaps these keys
        .build()?;
    spawn_cost_controller(Arc::clone(&toppings), Arc::clone(&pizza_status));
    let menu_pizzas = selectable_pizza_fields(Store::<Pizza>::builder(Arc::clone(pizzas.storage())))
        .layout(layout)
        .version::<menu::Pizza>()
        .stored_as::<v1beta1::Pizza>()
        .decodes::<v1alpha1::Pizza>()
        .shares_storage_with(GROUP, "pizzas")
        .without_reaper() // `pizzas` reaps these keys
        .strategy(PizzaStrategy)
        .table_columns(PizzaColumns)
        .admission(PizzaToppings::new(Arc::clone(&toppings)))
        .admission(PizzaCost::new(Arc::clone(&toppings)))
        .build()?;
    let pizzas_with_subresources = WithSubresources::new(
        Arc::clone(&pizzas) as Arc<dyn RestResource>,
        vec![
            StatusSubresource::new(Arc::clone(&pizza_status) as Arc<dyn RestResource>),
            ScaleSubresource::new(Arc::clone(&pizzas), PizzaSlices),
            Bake::new(Arc::clone(&pizza_status)),
            Oven::new(pizza_status),
        ],
    );
    // Registration order is group priority: the restaurant group first.
    Ok(vec![pizzas_with_subresources, toppings, menu_pizzas])
}
