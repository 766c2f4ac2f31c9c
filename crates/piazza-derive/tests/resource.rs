//! `#[derive(Resource)]` on real structs, checked through the `piazza_core` traits.

// The derive's default crate path is `::piazza`; this makes it resolve to `piazza_core`, as
// the facade does.
extern crate piazza_core as piazza;

use piazza_core::meta::ObjectMeta;
use piazza_core::{GroupVersionKind, Object, Resource, Scope};
use piazza_derive::Resource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

const GROUP: &str = "restaurant.programming-kubernetes.info";

/// The sample's Pizza, as the sample will declare it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Resource)]
#[resource(group = "restaurant.programming-kubernetes.info", version = "v1beta1", kind = "Pizza",
           plural = "pizzas", singular = "pizza", namespaced, short_names = ["pz"], categories = ["all"],
           defaults = Self::apply_pizza_defaults)]
pub struct Pizza {
    /// Object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What the pizza should have.
    #[serde(default)]
    pub spec: PizzaSpec,
}

/// The desired pizza.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PizzaSpec {
    /// Topping names.
    #[serde(default)]
    pub toppings: Vec<String>,
}

impl Pizza {
    fn apply_pizza_defaults(&mut self) {
        if self.spec.toppings.is_empty() {
            self.spec.toppings = vec!["salami".into(), "mozzarella".into(), "tomato".into()];
        }
    }
}

/// Cluster-scoped, group from a shared const, everything else defaulted, explicit crate path.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Resource)]
#[resource(group = GROUP, version = "v1alpha1", cluster, crate = "piazza_core")]
pub struct Topping {
    /// Object metadata.
    pub metadata: ObjectMeta,
    /// What a portion costs.
    pub cost: f64,
}

/// Keys split over two attributes; plural by the English rules.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, Resource)]
#[resource(group = "policy.example.com", version = "v2alpha1")]
#[resource(namespaced, crate = piazza_core)]
pub struct DeliveryPolicy {
    /// Object metadata.
    pub metadata: ObjectMeta,
}

#[test]
fn pizza_has_every_declared_name() {
    assert_eq!(Pizza::GROUP, GROUP);
    assert_eq!(Pizza::VERSION, "v1beta1");
    assert_eq!(Pizza::KIND, "Pizza");
    assert_eq!(Pizza::PLURAL, "pizzas");
    assert_eq!(Pizza::SINGULAR, "pizza");
    assert_eq!(Pizza::SCOPE, Scope::Namespaced);
    assert_eq!(Pizza::SHORT_NAMES, ["pz"]);
    assert_eq!(Pizza::CATEGORIES, ["all"]);
    assert_eq!(Pizza::gvk(), GroupVersionKind::new(GROUP, "v1beta1", "Pizza"));
}

#[test]
fn pizza_defaults_through_the_trait() {
    fn default<R: Resource>(mut r: R) -> R {
        r.apply_defaults();
        r
    }
    let pizza = default(Pizza::default());
    assert_eq!(pizza.spec.toppings, ["salami", "mozzarella", "tomato"]);
    let chosen = Pizza { spec: PizzaSpec { toppings: vec!["ham".into()] }, ..Pizza::default() };
    assert_eq!(default(chosen.clone()), chosen);
}

#[test]
fn metadata_is_the_metadata_field() {
    let mut pizza = Pizza::default();
    pizza.metadata_mut().name = Some("margherita".into());
    assert_eq!(pizza.metadata.name.as_deref(), Some("margherita"));
    assert_eq!(Object::metadata(&pizza).name.as_deref(), Some("margherita"));
}

#[test]
fn topping_defaults_everything_but_group_version_and_scope() {
    assert_eq!(Topping::GROUP, GROUP);
    assert_eq!(Topping::VERSION, "v1alpha1");
    assert_eq!(Topping::KIND, "Topping");
    assert_eq!(Topping::PLURAL, "toppings");
    assert_eq!(Topping::SINGULAR, "topping");
    assert_eq!(Topping::SCOPE, Scope::Cluster);
    assert!(Topping::SHORT_NAMES.is_empty());
    assert!(Topping::CATEGORIES.is_empty());
    // No `defaults`: the trait's no-op.
    let mut topping = Topping { cost: 1.5, ..Topping::default() };
    topping.apply_defaults();
    assert_eq!(topping, Topping { cost: 1.5, ..Topping::default() });
}

#[test]
fn keys_may_be_split_and_plurals_follow_english() {
    assert_eq!(DeliveryPolicy::GROUP, "policy.example.com");
    assert_eq!(DeliveryPolicy::VERSION, "v2alpha1");
    assert_eq!(DeliveryPolicy::KIND, "DeliveryPolicy");
    assert_eq!(DeliveryPolicy::SINGULAR, "deliverypolicy");
    assert_eq!(DeliveryPolicy::PLURAL, "deliverypolicies");
    assert_eq!(DeliveryPolicy::SCOPE, Scope::Namespaced);
}
