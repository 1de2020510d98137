//! `/api/live`: a server-sent-events stream that pushes each new vitals sample (`event: vitals`), so the
//! dashboard never polls. Streams are bounded in number, per user and per client address (one caller
//! cannot take every slot, which log follows share), and end when the server stops.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use super::{READ, Routes};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::StreamExt;
use tokio_stream::wrappers::WatchStream;

use super::ApiState;
use crate::auth::Principal;
use crate::error::ApiError;

pub fn routes() -> Routes {
    Routes::new().get("/live", READ, live)
}

/// The live-stream slots: a total, and a share per user and per client address.
pub struct Slots {
    total: Arc<tokio::sync::Semaphore>,
    held: Arc<Mutex<HashMap<String, usize>>>,
    per_user: usize,
    per_ip: usize,
}

/// One stream's slot, given back when the stream ends.
#[derive(Debug)]
pub struct Slot {
    _total: tokio::sync::OwnedSemaphorePermit,
    held: Arc<Mutex<HashMap<String, usize>>>,
    keys: [String; 2],
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        for k in &self.keys {
            if let Some(n) = held.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    held.remove(k);
                }
            }
        }
    }
}

impl Slots {
    pub fn new(total: usize, per_user: usize, per_ip: usize) -> Slots {
        Slots { total: Arc::new(tokio::sync::Semaphore::new(total)), held: Arc::default(), per_user, per_ip }
    }

    /// A slot for `user` at `ip`, or 503 saying which bound was hit.
    pub fn take(&self, user: &str, ip: Option<IpAddr>) -> Result<Slot, ApiError> {
        let busy = |what: &str| ApiError::Unavailable {
            message: format!("too many live streams open {what}; close a dashboard tab"),
            retry_after: Some(5),
        };
        let keys = [format!("user:{user}"), format!("ip:{}", ip.map(|i| i.to_string()).unwrap_or_default())];
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.get(&keys[0]).copied().unwrap_or(0) >= self.per_user {
            return Err(busy("for this user"));
        }
        if held.get(&keys[1]).copied().unwrap_or(0) >= self.per_ip {
            return Err(busy("from this address"));
        }
        let permit = self.total.clone().try_acquire_owned().map_err(|_| busy("on this proxwatch"))?;
        for k in &keys {
            *held.entry(k.clone()).or_default() += 1;
        }
        drop(held);
        Ok(Slot { _total: permit, held: self.held.clone(), keys })
    }
}

async fn live(
    State(app): State<ApiState>,
    axum::Extension(p): axum::Extension<Principal>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let permit = app.live_clients.take(&p.user, p.ip)?;
    let stop = app.cancel.clone().cancelled_owned();
    let vitals = WatchStream::new(super::state::follow(&app.vitals)).filter_map(move |sample| {
        // The permit lives as long as the stream.
        let _held = &permit;
        std::future::ready(
            sample.map(|s| Ok::<_, Infallible>(Event::default().event("vitals").data(s.json.get()))),
        )
    });
    // The health verdict: sent first, then whenever it moves (a fast evaluation that only refreshes
    // the numbers in a reason is not a move).
    let mut last = None;
    let health = WatchStream::new(app.health.clone()).filter_map(move |snap| {
        let s = snap.summary();
        let key = (s.status, s.counts, s.full_at, s.restored_at, s.checks);
        let event = (last != Some(key)).then(|| {
            last = Some(key);
            let data = serde_json::to_string(&s).unwrap_or_default();
            Ok::<_, Infallible>(Event::default().event("health").data(data))
        });
        std::future::ready(event)
    });
    let stream = futures_util::stream::select(vitals, health).take_until(stop);
    // nginx buffers a proxied answer unless told not to (docs/reverse-proxy.md).
    Ok(([("x-accel-buffering", "no")], Sse::new(stream).keep_alive(KeepAlive::default())))
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    d.get("/live", "Live vitals: a server-sent event per new sample")
        .event_stream(
            "`text/event-stream`. Each new vitals sample is one `event: vitals` whose data is the sample's \
         JSON (the `Sample` schema, as `/api/system` serves it under `vitals`); the latest one is sent \
         first. The health verdict is an `event: health` whose data is the `HealthSummary` JSON: sent \
         at once, then whenever the status, the counts or the last full cycle change. Keep-alive comments keep it open; the stream ends when proxwatch stops. Streams are \
         bounded in total, per user and per client address (log follows share the slots): over the \
         bound is a 503 with Retry-After 5.",
        )
        .error(
            503,
            "Too many live streams open (in total, for this user or from this address); see Retry-After.",
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_caller_cannot_take_every_slot() {
        let slots = Slots::new(4, 2, 3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let s1 = slots.take("alice", Some(a)).unwrap();
        let _s2 = slots.take("alice", Some(a)).unwrap();
        assert!(slots.take("alice", Some(b)).unwrap_err().message().contains("this user"));
        let _s3 = slots.take("bob", Some(a)).unwrap();
        assert!(slots.take("carol", Some(a)).unwrap_err().message().contains("this address"));
        let _s4 = slots.take("carol", Some(b)).unwrap();
        assert!(slots.take("dave", Some(b)).unwrap_err().message().contains("on this proxwatch"));
        drop(s1);
        assert!(slots.take("alice", Some(b)).is_ok());
    }
}
