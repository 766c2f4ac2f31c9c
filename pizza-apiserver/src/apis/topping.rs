//! `Topping` (cluster-scoped, `v1alpha1`): a topping a pizza may name, with its cost.
//! It has one version, so the served type is also the hub.

use piazza::codec::protobuf::Protobuf;
use piazza::{FieldError, FieldErrors, FieldPath, Resource, Strategy, meta::ObjectMeta};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A topping that pizzas may use.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Resource, Protobuf)]
#[resource(group = super::GROUP, version = "v1alpha1", cluster, protobuf)]
pub struct Topping {
    /// Standard object metadata.
    #[serde(default)]
    #[protobuf(tag = 1)]
    pub metadata: ObjectMeta,
    /// The desired state of the topping.
    #[serde(default)]
    #[protobuf(tag = 2)]
    pub spec: ToppingSpec,
}

/// What a topping is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Protobuf)]
pub struct ToppingSpec {
    /// The cost of one portion of this topping, in dollars.
    #[serde(default)]
    #[protobuf(tag = 1)]
    pub cost: f64,
}

/// Validation: the cost may not be negative.
pub struct ToppingStrategy;

impl Strategy<Topping> for ToppingStrategy {
    fn validate(&self, topping: &Topping) -> FieldErrors {
        let mut errs = FieldErrors::new();
        if !topping.spec.cost.is_finite() || topping.spec.cost < 0.0 {
            errs.push(FieldError::invalid(
                FieldPath::new("spec").child("cost"),
                topping.spec.cost,
                "must be a non-negative number",
            ));
        }
        errs
    }
}

/// `kubectl get toppings` columns: the cost.
pub struct ToppingColumns;

impl piazza::registry::table::TableColumns<Topping> for ToppingColumns {
    fn columns(&self) -> Vec<piazza::registry::table::ColumnDefinition> {
        vec![piazza::registry::table::ColumnDefinition::new(
            "Cost",
            "number",
            "The cost of one portion, in dollars.",
        )]
    }

    fn cells(&self, topping: &Topping) -> Vec<serde_json::Value> {
        vec![serde_json::json!(topping.spec.cost)]
    }
}
