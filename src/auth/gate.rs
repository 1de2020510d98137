//! The password gate: every argon2 run (login, re-authentication, hashing a new password) holds one
//! of a few permits. Each run takes 64 MiB for ~110 ms, so without a bound a flood of anonymous
//! logins exhausts memory and queues a real login behind hundreds of guesses. A request waits at
//! most `queue` for a permit, then is refused with 503 and `Retry-After`.
//!
//! One permit is kept for *known* clients (an address that has logged in as that user before, or an
//! already logged-in user re-authenticating), so a flood from addresses nobody has logged in from
//! cannot starve the admin's own login.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Gate {
    general: Arc<Semaphore>,
    reserved: Arc<Semaphore>,
    queue: Duration,
    total: usize,
}

/// A held permit; the argon2 run it guards must finish before it is dropped.
pub struct Permit {
    _permit: OwnedSemaphorePermit,
}

impl Gate {
    /// `total` concurrent runs (at least 1); when `total` is 2 or more, one is kept for known clients.
    pub fn new(total: usize, queue: Duration) -> Gate {
        let total = total.max(1);
        let reserved = usize::from(total >= 2);
        Gate {
            general: Arc::new(Semaphore::new(total - reserved)),
            reserved: Arc::new(Semaphore::new(reserved)),
            queue,
            total,
        }
    }

    /// The most argon2 runs at once.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Waits (at most the queue time) for a permit. `known` clients may also take the kept one.
    pub async fn enter(&self, known: bool) -> Option<Permit> {
        let general = self.general.clone().acquire_owned();
        let wait = async {
            if known {
                let reserved = self.reserved.clone().acquire_owned();
                tokio::select! {
                    p = general => p,
                    p = reserved => p,
                }
            } else {
                general.await
            }
        };
        match tokio::time::timeout(self.queue, wait).await {
            Ok(Ok(p)) => Some(Permit { _permit: p }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn strangers_queue_then_give_up_but_known_clients_keep_a_permit() {
        let gate = Gate::new(2, Duration::from_millis(50));
        let held = gate.enter(false).await.unwrap();
        // The only general permit is taken: a stranger waits, then is refused...
        assert!(gate.enter(false).await.is_none());
        // ...while a known client gets the kept one at once.
        let known = gate.enter(true).await.unwrap();
        assert!(gate.enter(true).await.is_none());
        drop(held);
        assert!(gate.enter(false).await.is_some());
        drop(known);
        let one = Gate::new(1, Duration::from_millis(10));
        let _p = one.enter(true).await.unwrap();
        assert!(one.enter(true).await.is_none());
    }
}
