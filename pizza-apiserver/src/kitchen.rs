//! The kitchen subresources of a pizza:
//!
//! - `POST pizzas/<name>/bake` ([`Bake`]), an action: marks the pizza baked (`status.phase`,
//!   `status.bakedAt`) through a guaranteed update of its status, and answers with the baked
//!   pizza; a pizza that is already baked is a 409 Conflict.
//! - `GET pizzas/<name>/oven` ([`Oven`]), a connect-style read like `pods/log`: the oven's
//!   log as `text/plain`, one line per step. Without `follow` it is what is there now; with
//!   `follow=true` the response stays open and lines are streamed as the pizza changes,
//!   until it is baked (or deleted, or the client leaves).

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use piazza::codec::{Format, Target};
use piazza::core::GroupResource;
use piazza::registry::store::HubWatchEvent;
use piazza::registry::subresource::{
    Subresource, SubresourceReply, UpdateTarget, required_name, update_object,
};
use piazza::registry::{Encoded, EncodedWatch, ListParams, RestContext};
use piazza::storage::ReadRevision;
use piazza::{ApiError, Store, async_trait};

use crate::apis::GROUP;
use crate::apis::pizza::Pizza;

/// `status.phase` of a baked pizza.
pub const BAKED: &str = "Baked";

/// The pizzas resource, for error messages.
fn pizzas() -> GroupResource {
    GroupResource::new(GROUP, "pizzas")
}

/// Marks `pizza` baked at `now`; 409 if it already is.
pub fn bake(pizza: &mut Pizza, now: &str) -> Result<(), ApiError> {
    if pizza.phase.as_deref() == Some(BAKED) {
        let name = pizza.metadata.name.clone().unwrap_or_default();
        return Err(ApiError::conflict(&pizzas(), &name, "the pizza is already baked"));
    }
    pizza.phase = Some(BAKED.to_owned());
    pizza.baked_at = Some(now.to_owned());
    Ok(())
}

/// `POST pizzas/<name>/bake`.
pub struct Bake {
    status: Arc<Store<Pizza>>,
}

impl Bake {
    /// Bakes through `status`, the pizzas' status store.
    pub fn new(status: Arc<Store<Pizza>>) -> Arc<Self> {
        Arc::new(Self { status })
    }
}

#[async_trait]
impl Subresource for Bake {
    fn name(&self) -> &'static str {
        "bake"
    }

    fn verbs(&self) -> &'static [&'static str] {
        &["create"]
    }

    /// The body (if any) is ignored: baking takes no options.
    async fn create(&self, ctx: &RestContext, _body: &[u8], _format: Format) -> Result<Encoded, ApiError> {
        let codec = self.status.version(&ctx.version)?;
        let now = piazza::k8s_openapi::jiff::Timestamp::now()
            .round(piazza::k8s_openapi::jiff::Unit::Second)
            .map_err(ApiError::internal)?
            .to_string();
        let baked = update_object(&self.status, UpdateTarget::of(ctx)?, |pizza| bake(pizza, &now)).await?;
        Ok(Encoded {
            status: 201,
            body: codec.encode(&baked, ctx.format)?.into(),
            format: ctx.format,
            target: Target::Object,
            warnings: Vec::new(),
        })
    }
}

/// The oven's log for a pizza in this state, one line each (without newlines).
pub fn oven_log(pizza: &Pizza) -> Vec<String> {
    let name = pizza.metadata.name.as_deref().unwrap_or_default();
    let mut lines = vec![format!("{name}: waiting for the oven")];
    if pizza.phase.as_deref() == Some(BAKED) {
        for topping in &pizza.toppings {
            lines.push(format!("{name}: adding {} x{}", topping.name, topping.quantity));
        }
        lines.push(format!("{name}: baked at {}", pizza.baked_at.as_deref().unwrap_or_default()));
    }
    lines
}

/// True once the log of this state is complete.
pub fn oven_done(pizza: &Pizza) -> bool {
    pizza.phase.as_deref() == Some(BAKED)
}

/// The lines of `lines` after the first `sent`, as one chunk (empty when none are new).
fn new_lines(lines: &[String], sent: usize) -> Bytes {
    let mut chunk = String::new();
    for line in lines.iter().skip(sent) {
        chunk.push_str(line);
        chunk.push('\n');
    }
    Bytes::from(chunk)
}

/// `GET pizzas/<name>/oven[?follow=true]`.
pub struct Oven {
    status: Arc<Store<Pizza>>,
}

impl Oven {
    /// Reads pizzas from `store`.
    pub fn new(store: Arc<Store<Pizza>>) -> Arc<Self> {
        Arc::new(Self { status: store })
    }
}

#[async_trait]
impl Subresource for Oven {
    fn name(&self) -> &'static str {
        "oven"
    }

    fn verbs(&self) -> &'static [&'static str] {
        &["get"]
    }

    async fn get(&self, ctx: &RestContext) -> Result<SubresourceReply, ApiError> {
        let name = required_name(ctx)?.to_owned();
        let namespace = ctx.namespace.clone();
        let follow = match ctx.query.get("follow") {
            None | Some("") | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => return Err(ApiError::bad_request(format!("invalid value for follow: {other:?}"))),
        };
        let pizza = self.status.get(namespace.as_deref(), &name, ReadRevision::Latest).await?;
        let lines = oven_log(&pizza);
        let first = new_lines(&lines, 0);
        let content_type = "text/plain".to_owned();
        if !follow || oven_done(&pizza) {
            return Ok(SubresourceReply::Stream {
                content_type,
                body: Box::pin(futures::stream::iter([first])),
            });
        }
        let params = ListParams {
            resource_version: pizza.metadata.resource_version.clone(),
            field_selector: Some(format!("metadata.name={name}")),
            watch: true,
            ..ListParams::default()
        };
        let events = self.status.watch(namespace.as_deref(), &params).await?;
        let rest =
            futures::stream::unfold((events, lines.len(), false), |(mut events, sent, done)| async move {
                if done {
                    return None;
                }
                loop {
                    let (lines, done) = match events.next().await? {
                        HubWatchEvent::Added(p) | HubWatchEvent::Modified(p) => (oven_log(&p), oven_done(&p)),
                        HubWatchEvent::Deleted(_) | HubWatchEvent::Error(_) => return None,
                        _ => continue,
                    };
                    let chunk = new_lines(&lines, sent);
                    if !chunk.is_empty() || done {
                        return Some((chunk, (events, lines.len().max(sent), done)));
                    }
                }
            });
        let body: EncodedWatch = Box::pin(futures::stream::iter([first]).chain(rest));
        Ok(SubresourceReply::Stream { content_type, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apis::pizza::PizzaTopping;

    fn pizza() -> Pizza {
        let mut p = Pizza {
            toppings: vec![PizzaTopping { name: "salami".into(), quantity: 2 }],
            ..Default::default()
        };
        p.metadata.name = Some("margherita".into());
        p
    }

    #[test]
    fn baking_twice_is_a_conflict() {
        let mut p = pizza();
        bake(&mut p, "2026-11-26T01:00:00Z").unwrap();
        assert_eq!(p.phase.as_deref(), Some(BAKED));
        assert_eq!(p.baked_at.as_deref(), Some("2026-11-26T01:00:00Z"));
        let err = bake(&mut p, "2026-11-26T02:00:00Z").unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(
            err.message,
            "Operation cannot be fulfilled on pizzas.restaurant.programming-kubernetes.info \"margherita\": the pizza is already baked"
        );
        assert_eq!(p.baked_at.as_deref(), Some("2026-11-26T01:00:00Z"));
    }

    #[test]
    fn the_log_grows_with_the_state() {
        let mut p = pizza();
        assert_eq!(oven_log(&p), vec!["margherita: waiting for the oven"]);
        assert!(!oven_done(&p));
        bake(&mut p, "T").unwrap();
        let lines = oven_log(&p);
        assert_eq!(
            lines,
            vec![
                "margherita: waiting for the oven",
                "margherita: adding salami x2",
                "margherita: baked at T"
            ]
        );
        assert!(oven_done(&p));
        assert_eq!(
            new_lines(&lines, 1),
            Bytes::from("margherita: adding salami x2\nmargherita: baked at T\n")
        );
        assert!(new_lines(&lines, 3).is_empty());
    }
}
