//! `/api/live`: a server-sent-events stream that pushes each new vitals sample (`event: vitals`), so the
//! dashboard never polls. Streams are bounded in number and end when the server stops.

use std::convert::Infallible;

use super::{READ, Routes};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use futures_util::StreamExt;
use tokio_stream::wrappers::WatchStream;

use crate::app::AppState;
use crate::error::ApiError;

pub fn routes() -> Routes {
    Routes::new().get("/live", READ, live)
}

async fn live(
    State(app): State<AppState>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let permit = app
        .live_clients
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::unavailable("too many live streams open; close a dashboard tab"))?;
    let stop = app.cancel.clone().cancelled_owned();
    let stream = WatchStream::new(app.vitals.subscribe())
        .filter_map(move |sample| {
            // The permit lives as long as the stream.
            let _held = &permit;
            std::future::ready(sample.map(|s| Ok(Event::default().event("vitals").data(s.json.get()))))
        })
        .take_until(stop);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
