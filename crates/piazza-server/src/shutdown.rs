//! Graceful shutdown state, shared by the accept loop, `/readyz` and open watches.

use tokio::sync::watch;

/// A cloneable shutdown signal.
#[derive(Clone, Debug)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

/// The side that triggers shutdown.
#[derive(Debug)]
pub struct ShutdownTrigger {
    sender: watch::Sender<bool>,
}

impl Shutdown {
    /// A new signal and its trigger.
    pub fn new() -> (Shutdown, ShutdownTrigger) {
        let (sender, receiver) = watch::channel(false);
        (Shutdown { receiver }, ShutdownTrigger { sender })
    }

    /// True once shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Resolves when shutdown begins.
    pub async fn wait(mut self) {
        let _ = self.receiver.wait_for(|v| *v).await;
    }

    /// The raw receiver (for health checks).
    pub fn receiver(&self) -> watch::Receiver<bool> {
        self.receiver.clone()
    }
}

impl ShutdownTrigger {
    /// Begins shutdown.
    pub fn trigger(&self) {
        let _ = self.sender.send(true);
    }
}
