//! `Pizza` (namespaced), served as `v1alpha1` and `v1beta1` (preferred and stored).
//!
//! - `v1alpha1` lists topping names; a repeated name means more than one portion.
//! - `v1beta1` lists `{name, quantity}`.
//! - The hub ([`Pizza`]) is shaped like `v1beta1`; both versions convert through it.

use piazza::codec::protobuf::Protobuf;
use piazza::{FieldError, FieldErrors, FieldPath, Strategy, impl_object, meta::ObjectMeta};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The toppings a pizza gets when it names none.
pub const DEFAULT_TOPPINGS: [&str; 3] = ["salami", "mozzarella", "tomato"];

/// How many slices a pizza is cut into when it does not say.
pub const DEFAULT_SLICES: i32 = 8;

/// The hub (internal) Pizza every version converts through.
#[derive(Clone, Debug, PartialEq)]
pub struct Pizza {
    /// Object metadata.
    pub metadata: ObjectMeta,
    /// Toppings with quantities.
    pub toppings: Vec<PizzaTopping>,
    /// How many slices (the scale subresource's replicas).
    pub slices: i32,
    /// The observed cost.
    pub cost: f64,
    /// `Baked` once the bake action ran.
    pub phase: Option<String>,
    /// When it was baked (RFC 3339).
    pub baked_at: Option<String>,
}

impl Default for Pizza {
    fn default() -> Self {
        Self {
            metadata: ObjectMeta::default(),
            toppings: Vec::new(),
            slices: DEFAULT_SLICES,
            cost: 0.0,
            phase: None,
            baked_at: None,
        }
    }
}

/// `spec.slices` of a versioned Pizza, for the hub: unset (missing or `null` in JSON, not
/// written in protobuf) means [`DEFAULT_SLICES`]. The versioned field is an `Option`, as
/// upstream's defaulted `*int32` fields are, so that a protobuf body can leave it out and an
/// explicit 0 is still refused by validation in either format.
pub fn slices_or_default(slices: Option<i32>) -> i32 {
    slices.unwrap_or(DEFAULT_SLICES)
}

/// A topping and how many portions of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Protobuf)]
pub struct PizzaTopping {
    /// The name of a Topping object.
    #[serde(default)]
    #[protobuf(tag = 1)]
    pub name: String,
    /// How many portions; 0 is defaulted to 1.
    #[serde(default)]
    #[protobuf(tag = 2)]
    pub quantity: i64,
}

impl_object!(Pizza);

/// The observed state of a pizza, shared by both versions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Protobuf)]
#[serde(rename_all = "camelCase")]
pub struct PizzaStatus {
    /// The cost of the whole pizza.
    #[serde(default)]
    #[protobuf(tag = 1)]
    pub cost: f64,
    /// `Baked` once the pizza has been baked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[protobuf(tag = 2)]
    pub phase: Option<String>,
    /// When the pizza was baked (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[protobuf(tag = 3)]
    pub baked_at: Option<String>,
}

impl PizzaStatus {
    /// The status part of a hub Pizza.
    pub fn of(p: &Pizza) -> Self {
        Self { cost: p.cost, phase: p.phase.clone(), baked_at: p.baked_at.clone() }
    }
}

/// `v1alpha1`: toppings as a list of names.
pub mod v1alpha1 {
    use piazza::codec::protobuf::Protobuf;
    use piazza::{Resource, meta::ObjectMeta};
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    pub use super::PizzaStatus;

    /// A pizza (v1alpha1).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Resource, Protobuf)]
    #[resource(group = super::super::GROUP, version = "v1alpha1", namespaced, short_names = ["pz"],
               categories = ["all"], protobuf, defaults = Self::default_toppings)]
    pub struct Pizza {
        /// Standard object metadata.
        #[serde(default)]
        #[protobuf(tag = 1)]
        pub metadata: ObjectMeta,
        /// What the pizza should have.
        #[serde(default)]
        #[protobuf(tag = 2)]
        pub spec: PizzaSpec,
        /// What the pizza has.
        #[serde(default)]
        #[protobuf(tag = 3)]
        pub status: PizzaStatus,
    }

    /// The desired pizza (v1alpha1).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Protobuf)]
    pub struct PizzaSpec {
        /// Names of Topping objects. Repeat a name for more than one portion.
        #[serde(default)]
        #[schemars(extend("x-kubernetes-patch-strategy" = "merge"))]
        #[protobuf(tag = 1)]
        pub toppings: Vec<String>,
        /// How many slices; 8 when not given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(extend("default" = 8))]
        #[protobuf(tag = 2)]
        pub slices: Option<i32>,
    }

    impl Pizza {
        /// No toppings means salami, mozzarella and tomato.
        fn default_toppings(&mut self) {
            if self.spec.toppings.is_empty() {
                self.spec.toppings = super::DEFAULT_TOPPINGS.iter().map(|t| (*t).to_owned()).collect();
            }
        }
    }
}

/// `v1beta1`: toppings with quantities.
pub mod v1beta1 {
    use piazza::codec::protobuf::Protobuf;
    use piazza::{Resource, meta::ObjectMeta};
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    pub use super::{PizzaStatus, PizzaTopping};

    /// A pizza (v1beta1).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Resource, Protobuf)]
    #[resource(group = super::super::GROUP, version = "v1beta1", namespaced, short_names = ["pz"],
               categories = ["all"], protobuf, defaults = Self::default_toppings)]
    pub struct Pizza {
        /// Standard object metadata.
        #[serde(default)]
        #[protobuf(tag = 1)]
        pub metadata: ObjectMeta,
        /// What the pizza should have.
        #[serde(default)]
        #[protobuf(tag = 2)]
        pub spec: PizzaSpec,
        /// What the pizza has.
        #[serde(default)]
        #[protobuf(tag = 3)]
        pub status: PizzaStatus,
    }

    /// The desired pizza (v1beta1).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Protobuf)]
    pub struct PizzaSpec {
        /// Toppings with the number of portions of each.
        #[serde(default)]
        #[schemars(extend("x-kubernetes-patch-merge-key" = "name", "x-kubernetes-patch-strategy" = "merge"))]
        #[protobuf(tag = 1)]
        pub toppings: Vec<PizzaTopping>,
        /// How many slices; 8 when not given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(extend("default" = 8))]
        #[protobuf(tag = 2)]
        pub slices: Option<i32>,
    }

    impl Pizza {
        /// No toppings means salami, mozzarella and tomato; quantity 0 means 1.
        fn default_toppings(&mut self) {
            if self.spec.toppings.is_empty() {
                self.spec.toppings = super::DEFAULT_TOPPINGS
                    .iter()
                    .map(|t| PizzaTopping { name: (*t).to_owned(), quantity: 1 })
                    .collect();
            }
            for topping in &mut self.spec.toppings {
                if topping.quantity == 0 {
                    topping.quantity = 1;
                }
            }
        }
    }
}

// === conversions ===

impl From<v1alpha1::Pizza> for Pizza {
    /// Repeated names become one entry with a quantity, in order of first appearance.
    fn from(p: v1alpha1::Pizza) -> Self {
        let mut toppings: Vec<PizzaTopping> = Vec::new();
        for name in p.spec.toppings {
            match toppings.iter_mut().find(|t| t.name == name) {
                Some(t) => t.quantity += 1,
                None => toppings.push(PizzaTopping { name, quantity: 1 }),
            }
        }
        Pizza {
            metadata: p.metadata,
            toppings,
            slices: slices_or_default(p.spec.slices),
            cost: p.status.cost,
            phase: p.status.phase,
            baked_at: p.status.baked_at,
        }
    }
}

impl From<Pizza> for v1alpha1::Pizza {
    /// A quantity becomes that many repetitions of the name (none for quantity ≤ 0).
    fn from(p: Pizza) -> Self {
        let toppings = p
            .toppings
            .iter()
            .cloned()
            .flat_map(|t| std::iter::repeat_n(t.name, usize::try_from(t.quantity).unwrap_or(0)))
            .collect();
        let status = PizzaStatus::of(&p);
        v1alpha1::Pizza {
            metadata: p.metadata,
            spec: v1alpha1::PizzaSpec { toppings, slices: Some(p.slices) },
            status,
        }
    }
}

impl From<v1beta1::Pizza> for Pizza {
    fn from(p: v1beta1::Pizza) -> Self {
        Pizza {
            metadata: p.metadata,
            toppings: p.spec.toppings,
            slices: slices_or_default(p.spec.slices),
            cost: p.status.cost,
            phase: p.status.phase,
            baked_at: p.status.baked_at,
        }
    }
}

impl From<Pizza> for v1beta1::Pizza {
    fn from(p: Pizza) -> Self {
        let status = PizzaStatus::of(&p);
        v1beta1::Pizza {
            metadata: p.metadata,
            spec: v1beta1::PizzaSpec { toppings: p.toppings, slices: Some(p.slices) },
            status,
        }
    }
}

// === printing ===

/// `kubectl get pizzas` columns: how many toppings and the cost; `-o wide` adds the toppings
/// themselves, the slices and the baking phase.
pub struct PizzaColumns;

impl piazza::registry::table::TableColumns<Pizza> for PizzaColumns {
    fn columns(&self) -> Vec<piazza::registry::table::ColumnDefinition> {
        use piazza::registry::table::ColumnDefinition;
        vec![
            ColumnDefinition::new("Toppings", "integer", "How many different toppings the pizza has."),
            ColumnDefinition::new("Cost", "number", "The cost of the whole pizza."),
            ColumnDefinition::new(
                "Topping List",
                "string",
                "The toppings, with the quantity when more than one.",
            )
            .wide(),
            ColumnDefinition::new("Slices", "integer", "How many slices the pizza is cut into.").wide(),
            ColumnDefinition::new(
                "Phase",
                "string",
                "Where the pizza is in the kitchen (empty until baked).",
            )
            .wide(),
        ]
    }

    fn cells(&self, pizza: &Pizza) -> Vec<serde_json::Value> {
        let toppings: Vec<String> = pizza
            .toppings
            .iter()
            .map(|t| if t.quantity == 1 { t.name.clone() } else { format!("{}x{}", t.quantity, t.name) })
            .collect();
        vec![
            serde_json::json!(pizza.toppings.len()),
            serde_json::json!(pizza.cost),
            serde_json::json!(toppings.join(",")),
            serde_json::json!(pizza.slices),
            serde_json::json!(pizza.phase.clone().unwrap_or_default()),
        ]
    }
}

// === validation and deletion ===

/// Validation on create and update: quantities positive, names non-empty and unique.
///
/// Pizzas delete gracefully with a default grace period of 0: a plain `kubectl delete`
/// removes one at once, as before, while `kubectl delete --grace-period=N` (N > 0) leaves
/// it visible with `deletionTimestamp` set for N seconds, after which the server removes it.
pub struct PizzaStrategy;

impl Strategy<Pizza> for PizzaStrategy {
    fn default_grace_period_seconds(&self) -> Option<i64> {
        Some(0)
    }

    /// Status is observed state: a new pizza starts with none (the cost is computed by
    /// the `PizzaCost` admission plugin).
    fn prepare_for_create(&self, pizza: &mut Pizza) {
        let fresh = Pizza::default();
        pizza.cost = fresh.cost;
        pizza.phase = fresh.phase;
        pizza.baked_at = fresh.baked_at;
    }

    /// An update of the pizza keeps the stored status; status changes go through
    /// `pizzas/<name>/status`.
    fn prepare_for_update(&self, new: &mut Pizza, old: &Pizza) {
        keep_status(new, old);
    }

    fn validate(&self, pizza: &Pizza) -> FieldErrors {
        let path = FieldPath::new("spec").child("toppings");
        let mut errs = FieldErrors::new();
        if pizza.slices < 1 {
            errs.push(FieldError::invalid(
                FieldPath::new("spec").child("slices"),
                pizza.slices,
                "must be greater than 0",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, topping) in pizza.toppings.iter().enumerate() {
            if topping.quantity <= 0 {
                errs.push(FieldError::invalid(
                    path.index(i).child("quantity"),
                    topping.quantity,
                    "must be greater than 0",
                ));
            }
            if topping.name.is_empty() {
                errs.push(FieldError::required(path.index(i).child("name"), "a topping needs a name"));
            } else if !seen.insert(topping.name.as_str()) {
                errs.push(FieldError::duplicate(path.index(i).child("name"), topping.name.as_str()));
            }
        }
        errs
    }
}

/// `pizzas/<name>/scale`: `spec.replicas` is the number of slices; the selector is the
/// pizza's labels.
pub struct PizzaSlices;

impl piazza::registry::subresource::scale::ScaleAccess<Pizza> for PizzaSlices {
    fn spec_replicas(&self, pizza: &Pizza) -> i32 {
        pizza.slices
    }

    fn set_spec_replicas(&self, pizza: &mut Pizza, replicas: i32) {
        pizza.slices = replicas;
    }

    fn status_replicas(&self, pizza: &Pizza) -> i32 {
        pizza.slices
    }

    fn selector(&self, pizza: &Pizza) -> Option<String> {
        let labels = pizza.metadata.labels.as_ref().filter(|l| !l.is_empty())?;
        Some(labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
    }
}

/// Restores `old`'s status on `new`.
pub fn keep_status(new: &mut Pizza, old: &Pizza) {
    new.cost = old.cost;
    new.phase.clone_from(&old.phase);
    new.baked_at.clone_from(&old.baked_at);
}

/// The rules of `pizzas/<name>/status`: only the status (and labels and annotations) may
/// change; the stored spec and the rest of the metadata are kept, as upstream's status
/// strategies do.
pub struct PizzaStatusStrategy;

impl Strategy<Pizza> for PizzaStatusStrategy {
    fn default_grace_period_seconds(&self) -> Option<i64> {
        PizzaStrategy.default_grace_period_seconds()
    }

    fn prepare_for_update(&self, new: &mut Pizza, old: &Pizza) {
        let status = new.clone();
        *new = Pizza { metadata: new.metadata.clone(), ..old.clone() };
        keep_status(new, &status);
        piazza::registry::subresource::status::keep_metadata_for_status(&mut new.metadata, &old.metadata);
    }

    fn validate_update(&self, new: &Pizza, _old: &Pizza) -> FieldErrors {
        let mut errs = FieldErrors::new();
        if !new.cost.is_finite() || new.cost < 0.0 {
            errs.push(FieldError::invalid(
                FieldPath::new("status").child("cost"),
                new.cost,
                "must be a non-negative number",
            ));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use piazza::Resource;
    use proptest::prelude::{prop_assert_eq, proptest};

    fn alpha(toppings: &[&str]) -> v1alpha1::Pizza {
        v1alpha1::Pizza {
            spec: v1alpha1::PizzaSpec {
                toppings: toppings.iter().map(|t| (*t).to_owned()).collect(),
                slices: Some(DEFAULT_SLICES),
            },
            ..Default::default()
        }
    }

    #[test]
    fn repeated_names_become_quantities_and_back() {
        let hub = Pizza::from(alpha(&["salami", "tomato", "salami"]));
        assert_eq!(
            hub.toppings,
            vec![
                PizzaTopping { name: "salami".into(), quantity: 2 },
                PizzaTopping { name: "tomato".into(), quantity: 1 }
            ]
        );
        let back = v1alpha1::Pizza::from(hub);
        assert_eq!(back.spec.toppings, vec!["salami", "salami", "tomato"]);
    }

    #[test]
    fn defaults_per_version() {
        let mut a = alpha(&[]);
        a.apply_defaults();
        assert_eq!(a.spec.toppings, DEFAULT_TOPPINGS);
        let mut b = v1beta1::Pizza::default();
        b.spec.toppings.push(v1beta1::PizzaTopping { name: "x".into(), quantity: 0 });
        b.apply_defaults();
        assert_eq!(b.spec.toppings[0].quantity, 1);
        let mut empty = v1beta1::Pizza::default();
        empty.apply_defaults();
        assert_eq!(empty.spec.toppings.len(), 3);
    }

    #[test]
    fn validation_names_field_paths() {
        let pizza = Pizza {
            toppings: vec![
                PizzaTopping { name: "salami".into(), quantity: -1 },
                PizzaTopping { name: "".into(), quantity: 1 },
                PizzaTopping { name: "salami".into(), quantity: 1 },
            ],
            ..Default::default()
        };
        let errs = PizzaStrategy.validate(&pizza);
        assert_eq!(
            errs.to_string(),
            "[spec.toppings[0].quantity: Invalid value: -1: must be greater than 0, spec.toppings[1].name: Required value: a topping needs a name, spec.toppings[2].name: Duplicate value: \"salami\"]"
        );
    }

    fn topping_name() -> impl proptest::strategy::Strategy<Value = String> {
        "[a-z]{1,8}"
    }

    proptest! {
        /// v1alpha1 → hub → v1alpha1 keeps the multiset of names, grouped by first appearance.
        #[test]
        fn alpha_round_trip(names in proptest::collection::vec(topping_name(), 0..12)) {
            let pizza = v1alpha1::Pizza { spec: v1alpha1::PizzaSpec { toppings: names.clone(), slices: Some(DEFAULT_SLICES) }, ..Default::default() };
            let back = v1alpha1::Pizza::from(Pizza::from(pizza));
            let mut expected: Vec<String> = Vec::new();
            let mut order: Vec<&String> = Vec::new();
            for n in &names { if !order.contains(&n) { order.push(n); } }
            for n in order { for m in &names { if m == n { expected.push(m.clone()); } } }
            prop_assert_eq!(back.spec.toppings, expected);
        }

        /// v1beta1 → hub → v1beta1 is the identity.
        #[test]
        fn beta_round_trip(entries in proptest::collection::vec((topping_name(), -3i64..50), 0..12), cost in 0.0f64..100.0) {
            let pizza = v1beta1::Pizza {
                spec: v1beta1::PizzaSpec { toppings: entries.into_iter().map(|(name, quantity)| v1beta1::PizzaTopping { name, quantity }).collect(), slices: Some(DEFAULT_SLICES) },
                status: PizzaStatus { cost, ..Default::default() },
                ..Default::default()
            };
            prop_assert_eq!(v1beta1::Pizza::from(Pizza::from(pizza.clone())), pizza);
        }

        /// A status update keeps the stored spec and takes only the status.
        #[test]
        fn status_updates_keep_the_spec(slices in 1i32..64, cost in 0.0f64..100.0) {
            let old = Pizza { toppings: vec![PizzaTopping { name: "a".into(), quantity: 1 }], ..Default::default() };
            let mut new = Pizza { slices, cost, phase: Some("Baked".into()), ..Default::default() };
            PizzaStatusStrategy.prepare_for_update(&mut new, &old);
            prop_assert_eq!(&new.toppings, &old.toppings);
            prop_assert_eq!(new.slices, old.slices);
            prop_assert_eq!(new.cost, cost);
            prop_assert_eq!(new.phase.as_deref(), Some("Baked"));
            let mut main = Pizza { slices, cost, ..Default::default() };
            PizzaStrategy.prepare_for_update(&mut main, &old);
            prop_assert_eq!(main.slices, slices);
            prop_assert_eq!(main.cost, old.cost);
        }

        /// hub → v1alpha1 → hub is the identity for valid hubs (unique names, positive quantities).
        #[test]
        fn hub_round_trip_through_alpha(map in proptest::collection::btree_map(topping_name(), 1i64..20, 0..8)) {
            let hub = Pizza { toppings: map.into_iter().map(|(name, quantity)| PizzaTopping { name, quantity }).collect(), ..Default::default() };
            prop_assert_eq!(Pizza::from(v1alpha1::Pizza::from(hub.clone())), hub);
        }
    }
}
