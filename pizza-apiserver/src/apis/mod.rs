//! The `restaurant.programming-kubernetes.info` API group: one module per kind.

pub mod menu;
pub mod pizza;
pub mod proto;
pub mod topping;

/// The API group.
pub const GROUP: &str = "restaurant.programming-kubernetes.info";
