//! What a pizza costs: `status.cost` = Σ topping `spec.cost` × quantity.
//!
//! - [`PizzaCost`], a mutating admission plugin, computes it whenever a pizza is written
//!   through the main resource (creates and updates).
//! - [`spawn_cost_controller`] keeps it current when a Topping's cost changes: it watches
//!   toppings and rewrites the affected pizzas' cost through the status store (the
//!   `pizzas/status` path), as a controller would.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use piazza::registry::ListParams;
use piazza::registry::store::HubWatchEvent;
use piazza::registry::subresource::{UpdateTarget, update_object};
use piazza::storage::ReadRevision;
use piazza::{Admission, ApiError, Attributes, Store, UserInfo, async_trait};

use crate::apis::pizza::Pizza;
use crate::apis::topping::Topping;

/// The user the cost controller writes as.
pub const CONTROLLER_USER: &str = "system:serviceaccount:kube-system:pizza-cost-controller";

/// The cost of `pizza` given each topping's cost (`None`: unknown topping, costs nothing).
pub fn pizza_cost(pizza: &Pizza, topping_cost: impl Fn(&str) -> Option<f64>) -> f64 {
    pizza.toppings.iter().map(|t| topping_cost(&t.name).unwrap_or(0.0) * t.quantity as f64).sum()
}

/// True when a stored cost differs from the computed one (beyond rounding).
pub fn cost_changed(stored: f64, computed: f64) -> bool {
    (stored - computed).abs() > 1e-9
}

/// The cost of each topping of `pizza`, read from the watch cache as upstream admission
/// plugins read informer caches (a consistent read per topping would wait for the cache to
/// catch up with every concurrent write); a topping the cache does not have yet is confirmed
/// with a consistent read.
async fn current_cost(toppings: &Store<Topping>, pizza: &Pizza) -> Result<f64, ApiError> {
    let mut costs = Vec::with_capacity(pizza.toppings.len());
    for topping in &pizza.toppings {
        let cached = toppings.get(None, &topping.name, ReadRevision::NotOlderThan(0)).await;
        let found = match cached {
            Err(e) if e.code == 404 => toppings.get(None, &topping.name, ReadRevision::Latest).await,
            other => other,
        };
        match found {
            Ok(t) => costs.push((topping.name.as_str(), t.spec.cost)),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(pizza_cost(pizza, |name| costs.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)))
}

/// The admission plugin that sets `status.cost` on every write of a pizza.
pub struct PizzaCost {
    toppings: Arc<Store<Topping>>,
}

impl PizzaCost {
    /// Prices pizzas with the toppings in `toppings`.
    pub fn new(toppings: Arc<Store<Topping>>) -> Self {
        Self { toppings }
    }
}

#[async_trait]
impl Admission<Pizza> for PizzaCost {
    fn name(&self) -> &'static str {
        "PizzaCost"
    }

    async fn admit(
        &self,
        _attributes: &Attributes,
        pizza: &mut Pizza,
        _old: Option<&Pizza>,
    ) -> Result<(), ApiError> {
        pizza.cost = current_cost(&self.toppings, pizza).await?;
        Ok(())
    }
}

/// Starts the cost controller on the current tokio runtime, if there is one (building the
/// stores outside a runtime, e.g. in a unit test, starts nothing).
pub fn spawn_cost_controller(toppings: Arc<Store<Topping>>, status: Arc<Store<Pizza>>) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(run_cost_controller(toppings, status));
    }
}

/// Watches toppings forever; after any interruption it re-prices every pizza and watches
/// again from the current revision.
async fn run_cost_controller(toppings: Arc<Store<Topping>>, status: Arc<Store<Pizza>>) {
    loop {
        if let Err(e) = watch_toppings(&toppings, &status).await {
            tracing::warn!(error = %e, "pizza cost controller: restarting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn watch_toppings(toppings: &Store<Topping>, status: &Store<Pizza>) -> Result<(), ApiError> {
    let start = toppings.list(None, &ListParams { limit: Some(1), ..ListParams::default() }).await?;
    reprice(toppings, status, None).await?;
    let params = ListParams {
        resource_version: Some(start.resource_version.to_string()),
        watch: true,
        ..ListParams::default()
    };
    let mut events = toppings.watch(None, &params).await?;
    while let Some(event) = events.next().await {
        match event {
            HubWatchEvent::Added(t) | HubWatchEvent::Modified(t) | HubWatchEvent::Deleted(t) => {
                let name = t.metadata.name.clone().unwrap_or_default();
                reprice(toppings, status, Some(&name)).await?;
            }
            HubWatchEvent::Error(e) => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Re-prices the pizzas that use `topping` (every pizza for `None`) whose cost is stale.
async fn reprice(
    toppings: &Store<Topping>,
    status: &Store<Pizza>,
    topping: Option<&str>,
) -> Result<(), ApiError> {
    // Page through the pizzas so that memory stays bounded however many there are.
    let mut params = ListParams { limit: Some(REPRICE_PAGE), ..ListParams::default() };
    loop {
        let page = status.list(None, &params).await?;
        reprice_page(toppings, status, topping, page.items).await?;
        match page.continue_token {
            Some(token) => params.continue_token = Some(token),
            None => return Ok(()),
        }
    }
}

/// How many pizzas [`reprice`] reads at a time.
const REPRICE_PAGE: usize = 500;

async fn reprice_page(
    toppings: &Store<Topping>,
    status: &Store<Pizza>,
    topping: Option<&str>,
    pizzas: Vec<Pizza>,
) -> Result<(), ApiError> {
    let user = UserInfo { name: CONTROLLER_USER.to_owned(), ..UserInfo::default() };
    for pizza in pizzas {
        if topping.is_some_and(|t| !pizza.toppings.iter().any(|p| p.name == t)) {
            continue;
        }
        let cost = current_cost(toppings, &pizza).await?;
        if !cost_changed(pizza.cost, cost) {
            continue;
        }
        let name = pizza.metadata.name.clone().unwrap_or_default();
        let target = UpdateTarget {
            namespace: pizza.metadata.namespace.as_deref(),
            name: &name,
            user: &user,
            dry_run: false,
            precondition: None,
        };
        match update_object(status, target, |p| {
            p.cost = cost;
            Ok(())
        })
        .await
        {
            // Deleted meanwhile: nothing to price.
            Ok(_) => {}
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apis::pizza::PizzaTopping;

    #[test]
    fn cost_is_the_sum_of_topping_costs_times_quantities() {
        let pizza = Pizza {
            toppings: vec![
                PizzaTopping { name: "salami".into(), quantity: 2 },
                PizzaTopping { name: "tomato".into(), quantity: 1 },
                PizzaTopping { name: "gone".into(), quantity: 3 },
            ],
            ..Default::default()
        };
        let cost = pizza_cost(&pizza, |n| match n {
            "salami" => Some(1.5),
            "tomato" => Some(0.25),
            _ => None,
        });
        assert!((cost - 3.25).abs() < 1e-12, "{cost}");
        assert!(cost_changed(3.0, cost));
        assert!(!cost_changed(3.25, cost));
    }
}
