//! An authenticator that can be replaced (or removed) while the server runs, for settings
//! that come from the cluster and change under it.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use piazza_core::{ApiError, UserInfo};

use crate::filters::authentication::Authenticator;

/// Delegates to the current authenticator; with none, has no opinion.
#[derive(Default)]
pub struct SwappableAuthenticator {
    current: RwLock<Option<Arc<dyn Authenticator>>>,
}

impl SwappableAuthenticator {
    /// Starts with `initial`.
    pub fn new(initial: Option<Arc<dyn Authenticator>>) -> Self {
        Self { current: RwLock::new(initial) }
    }

    /// Replaces the authenticator.
    pub fn set(&self, next: Option<Arc<dyn Authenticator>>) {
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = next;
    }

    fn get(&self) -> Option<Arc<dyn Authenticator>> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

#[async_trait]
impl Authenticator for SwappableAuthenticator {
    async fn authenticate(&self, request: &http::request::Parts) -> Result<Option<UserInfo>, ApiError> {
        match self.get() {
            Some(authenticator) => authenticator.authenticate(request).await,
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str);

    #[async_trait]
    impl Authenticator for Fixed {
        async fn authenticate(&self, _: &http::request::Parts) -> Result<Option<UserInfo>, ApiError> {
            Ok(Some(UserInfo { name: self.0.to_owned(), ..Default::default() }))
        }
    }

    #[tokio::test]
    async fn follows_the_current_authenticator() {
        let parts = http::Request::builder().body(()).unwrap().into_parts().0;
        let swappable = SwappableAuthenticator::new(None);
        assert!(swappable.authenticate(&parts).await.unwrap().is_none());
        swappable.set(Some(Arc::new(Fixed("a"))));
        assert_eq!(swappable.authenticate(&parts).await.unwrap().unwrap().name, "a");
        swappable.set(Some(Arc::new(Fixed("b"))));
        assert_eq!(swappable.authenticate(&parts).await.unwrap().unwrap().name, "b");
    }
}
