//! The HTTP server: one accept loop for plain HTTP and HTTPS, HTTP/1.1 only, with every connection
//! bounded in time and number. Without these bounds an attacker holds connections open for free: an
//! idle socket, a request head sent a byte a minute, or a body that never finishes.
//!
//! - **Header timeout**: once the first byte of a request head arrives, the whole head must follow
//!   within `header_timeout`. (hyper's own `header_read_timeout` is not used: its clock starts when
//!   hyper begins waiting for a head, at accept and again as soon as the previous response is
//!   written, so on a kept-alive connection it would be an idle timeout of `header_timeout`, cutting
//!   idle keep-alive connections long before `idle_timeout`; and it closes without an answer.)
//! - **Idle timeout**: a connection with no request in flight and no bytes of a new one for
//!   `idle_timeout` is closed (a new connection that sends nothing, a keep-alive connection between
//!   requests). Streams in flight (server-sent events, a long journal query) are never idle.
//! - **Body timeout**: a request body must be read completely within `body_timeout` of its head;
//!   after that the handler's read fails (400) and the connection closes.
//! - **Connection caps**: `max_connections` in total and `max_per_ip` per client address (peers that
//!   are trusted proxies count only toward the total). Over a cap, plain HTTP gets a JSON 503 with
//!   `Retry-After`; TLS is just closed. A connection upgraded to a websocket still counts until
//!   its socket closes.
//! - **TLS handshake**: must finish within [`TLS_HANDSHAKE`].
//!
//! [`limit_request_size`] answers oversized targets (414) and headers (431) in the API's JSON shape;
//! hyper's own, larger limits (which answer with empty bodies) are only a backstop.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::auth::Cidr;
use crate::error::ApiError;

/// Longest request target (path and query) answered normally.
pub const MAX_TARGET: usize = 8 * 1024;
/// Most request headers, by number and in total bytes.
pub const MAX_HEADERS: usize = 100;
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// A TLS handshake must finish within this.
pub const TLS_HANDSHAKE: Duration = Duration::from_secs(10);
/// hyper's buffer for one request head: above the router's limits, so that those answer (in JSON).
const MAX_BUF: usize = 256 * 1024;
/// hyper's own header count limit, likewise above [`MAX_HEADERS`].
const HYPER_MAX_HEADERS: usize = 200;
/// Refusals being written at once; past this a refused connection is closed without an answer.
const MAX_REFUSING: usize = 64;
/// Writing a refusal may take this long, and reading what the client had sent after it this long.
const REFUSAL_WRITE: Duration = Duration::from_secs(2);
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// The connection bounds, as plain values (tests use sub-second timeouts).
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_per_ip: usize,
    pub trusted: Vec<Cidr>,
}

impl Limits {
    pub fn from_config(cfg: &crate::config::Config) -> Limits {
        let s = &cfg.server;
        Limits {
            header_timeout: Duration::from_secs(s.header_timeout_s),
            body_timeout: Duration::from_secs(s.body_timeout_s),
            idle_timeout: Duration::from_secs(s.idle_timeout_s),
            max_connections: s.max_connections,
            max_per_ip: s.max_connections_per_ip,
            trusted: cfg.auth.trusted_proxies.iter().filter_map(|c| Cidr::parse(c).ok()).collect(),
        }
    }
}

/// Open connections, in total and per address.
#[derive(Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection; counts down when dropped.
struct Admitted {
    open: Arc<Mutex<Open>>,
    ip: Option<IpAddr>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut o = self.open.lock().unwrap_or_else(|p| p.into_inner());
        o.total = o.total.saturating_sub(1);
        if let Some(ip) = self.ip {
            if let Some(n) = o.per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    o.per_ip.remove(&ip);
                }
            }
        }
    }
}

fn admit(open: &Arc<Mutex<Open>>, limits: &Limits, peer: IpAddr) -> Option<Admitted> {
    let peer = crate::auth::canonical(peer);
    let counted = (!limits.trusted.iter().any(|c| c.contains(peer))).then_some(peer);
    let mut o = open.lock().unwrap_or_else(|p| p.into_inner());
    if o.total >= limits.max_connections {
        return None;
    }
    if let Some(ip) = counted {
        let n = o.per_ip.entry(ip).or_default();
        if *n >= limits.max_per_ip {
            return None;
        }
        *n += 1;
    }
    o.total += 1;
    Some(Admitted { open: open.clone(), ip: counted })
}

/// What the idle watchdog knows about a connection.
struct Activity {
    in_flight: AtomicUsize,
    state: Mutex<ActivityState>,
}

struct ActivityState {
    /// The last request finished (or the connection opened) at.
    idle_since: Instant,
    /// The first byte of a request head not yet complete arrived at.
    head_started: Option<Instant>,
}

impl Activity {
    fn new() -> Arc<Activity> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            state: Mutex::new(ActivityState { idle_since: Instant::now(), head_started: None }),
        })
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn read_bytes(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            let mut s = self.lock();
            if s.head_started.is_none() {
                s.head_started = Some(Instant::now());
            }
        }
    }
    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.lock().head_started = None;
    }
    fn request_done(&self) {
        if self.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            let mut s = self.lock();
            s.idle_since = Instant::now();
            s.head_started = None;
        }
    }
    /// Why the connection should be closed now, if it should.
    fn expired(&self, limits: &Limits) -> Option<&'static str> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let s = self.lock();
        match s.head_started {
            Some(t) if t.elapsed() >= limits.header_timeout => Some("request head too slow"),
            Some(_) => None,
            None if s.idle_since.elapsed() >= limits.idle_timeout => Some("idle"),
            None => None,
        }
    }
}

/// The socket, noting when bytes arrive. It holds the connection's slot, so that a connection
/// upgraded to a websocket (whose socket outlives hyper's connection) still counts.
struct Watched<T> {
    io: T,
    activity: Arc<Activity>,
    _admitted: Admitted,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read_bytes();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// A request body that must be complete by a deadline. The timer is only set up when the body is
/// not already there (most requests have none, or all of it in the first read).
struct TimedBody {
    inner: hyper::body::Incoming,
    deadline: Instant,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = self.deadline;
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(cx) {
            // The handler's extraction fails (400) and, the body being unread, hyper closes the
            // connection after the answer.
            Poll::Ready(()) => Poll::Ready(Some(Err("the request body did not arrive in time".into()))),
            Poll::Pending => Poll::Pending,
        }
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request "in flight" until it is sent (or dropped).
struct TrackedBody {
    inner: Body,
    _done: RequestDone,
}

struct RequestDone(Arc<Activity>);

impl Drop for RequestDone {
    fn drop(&mut self) {
        self.0.request_done();
    }
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The answer to a plain-HTTP connection over a cap, in the API's JSON error shape.
fn refusal() -> Bytes {
    let body =
        r#"{"error":"too_many_connections","message":"too many open connections; retry in a few seconds"}"#;
    Bytes::from(format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\n\
         Cache-Control: no-store\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ))
}

/// Writes the refusal and closes. What the client had already sent is read and dropped for a
/// moment first: closing a socket with unread bytes resets the connection, and on a reset some
/// clients discard the answer before reading it.
async fn refuse(mut tcp: tokio::net::TcpStream, answer: Bytes, _slot: Refusing) {
    let written = tokio::time::timeout(REFUSAL_WRITE, async {
        tcp.write_all(&answer).await?;
        tcp.shutdown().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        return;
    }
    let mut buf = [0u8; 4096];
    let mut budget = 64 * 1024usize;
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        while let Ok(n @ 1..) = tcp.read(&mut buf).await {
            budget = budget.saturating_sub(n);
            if budget == 0 {
                break;
            }
        }
    })
    .await;
}

/// One refusal being written; counts down when dropped.
struct Refusing(Arc<AtomicUsize>);

impl Refusing {
    fn take(count: &Arc<AtomicUsize>) -> Option<Refusing> {
        let taken =
            count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < MAX_REFUSING).then_some(n + 1));
        taken.is_ok().then(|| Refusing(count.clone()))
    }
}

impl Drop for Refusing {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until `cancel`, then lets the
/// requests in flight finish for up to `drain`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    base_path: String,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
    cancel: CancellationToken,
    drain: Duration,
) -> anyhow::Result<()> {
    let open: Arc<Mutex<Open>> = Arc::default();
    let refusing: Arc<AtomicUsize> = Arc::default();
    let answer = refusal();
    let conns = tokio_util::task::TaskTracker::new();
    let limits = Arc::new(limits);
    let mut last_warn: Option<Instant> = None;
    loop {
        let (tcp, peer) = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    // Out of file descriptors and the like: do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(admitted) = admit(&open, &limits, peer.ip()) else {
            tracing::debug!(%peer, "connection refused: too many open");
            if last_warn.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                last_warn = Some(Instant::now());
                tracing::warn!(%peer, "refusing connections: the connection limit is reached");
            }
            // Over TLS there is no answer before a handshake, which is what a flood must not get.
            if tls.is_none() {
                if let Some(slot) = Refusing::take(&refusing) {
                    conns.spawn(refuse(tcp, answer.clone(), slot));
                }
            }
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (router, base, stop, limits, tls) =
            (router.clone(), base_path.clone(), cancel.clone(), limits.clone(), tls.clone());
        conns.spawn(async move {
            match tls {
                None => connection(tcp, admitted, peer, router, base, stop, limits).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(TLS_HANDSHAKE, acceptor.accept(tcp)).await;
                    match handshake {
                        Ok(Ok(s)) => connection(s, admitted, peer, router, base, stop, limits).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    conns.close();
    if tokio::time::timeout(drain, conns.wait()).await.is_err() {
        tracing::warn!("connections did not drain within {drain:?}; closing them");
    }
    Ok(())
}

async fn connection<T>(
    io: T,
    admitted: Admitted,
    peer: SocketAddr,
    router: Router,
    base: String,
    stop: CancellationToken,
    limits: Arc<Limits>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let body_timeout = limits.body_timeout;
    let act = activity.clone();
    let svc = tower::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        act.request_started();
        let done = RequestDone(act.clone());
        let deadline = Instant::now() + body_timeout;
        let mut req = req.map(|inner| Body::new(TimedBody { inner, deadline, timer: None }));
        req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
        let early = strip_base(&base, &mut req);
        let mut router = router.clone();
        async move {
            let resp = match early {
                Some(resp) => resp,
                None => match tower::Service::call(&mut router, req).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                },
            };
            Ok::<_, std::convert::Infallible>(resp.map(|inner| Body::new(TrackedBody { inner, _done: done })))
        }
    });
    // HTTP/1.1 only (ALPN offers nothing else): HTTP/2 would add half a megabyte of code for a
    // dashboard that keeps one connection and a stream open. No hyper timer: the watchdog below
    // keeps the header and idle timeouts (see the module comment).
    let conn = hyper::server::conn::http1::Builder::new()
        .max_buf_size(MAX_BUF)
        .max_headers(HYPER_MAX_HEADERS)
        .header_read_timeout(None)
        .serve_connection(
            TokioIo::new(Watched { io, activity: activity.clone(), _admitted: admitted }),
            TowerToHyperService::new(svc),
        )
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let tick = (limits.header_timeout.min(limits.idle_timeout) / 4)
        .clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut watchdog = tokio::time::interval(tick);
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stopping = false;
    let result = loop {
        tokio::select! {
            r = conn.as_mut() => break r,
            _ = stop.cancelled(), if !stopping => {
                // Finish the request in flight, then close; an idle connection closes at once. The
                // watchdog goes on, so that a slow head does not hold the stop up.
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = watchdog.tick() => {
                if let Some(why) = activity.expired(&limits) {
                    tracing::debug!(%peer, why, "closing the connection");
                    return;
                }
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Strips `base_path` (e.g. `/proxwatch/`) from the request path so the router sees `/api/...` as
/// usual. Returns a redirect for the bare prefix or the root, or a 404 outside the prefix.
pub fn strip_base<B>(base: &str, req: &mut axum::http::Request<B>) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    if base == "/" {
        return None;
    }
    let path = req.uri().path().to_string();
    let bare = base.trim_end_matches('/');
    if path == bare || path == "/" {
        return Some(axum::response::Redirect::permanent(base).into_response());
    }
    // On a segment boundary only: `/proxwatchfoo` is outside `/proxwatch/` (and its `foo` would
    // otherwise parse as an authority, which the Host check would then read as the request's host).
    let Some(rest) = path.strip_prefix(bare).filter(|r| r.starts_with('/')) else {
        return Some(
            crate::error::ApiError::not_found(format!("proxwatch is served under {base}")).into_response(),
        );
    };
    let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    match format!("{rest}{query}").parse() {
        Ok(uri) => {
            *req.uri_mut() = uri;
            None
        }
        Err(_) => Some(crate::error::ApiError::bad_request("malformed path").into_response()),
    }
}

/// 414 for a request target over [`MAX_TARGET`], 431 for more than [`MAX_HEADERS`] headers or
/// [`MAX_HEADER_BYTES`] of them, in the API's JSON shape (hyper's own answers have no body).
pub async fn limit_request_size(req: Request, next: Next) -> Response {
    let target = req.uri().path_and_query().map(|p| p.as_str().len()).unwrap_or(0);
    if target > MAX_TARGET {
        return ApiError::UriTooLong(format!(
            "the request target is {target} bytes; at most {MAX_TARGET} are accepted"
        ))
        .into_response();
    }
    let count = req.headers().len();
    let bytes: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if count > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return ApiError::HeadersTooLarge(format!(
                "{count} headers of {bytes} bytes; at most {MAX_HEADERS} headers and {MAX_HEADER_BYTES} bytes are accepted"
            ),
        )
        .into_response();
    }
    next.run(req).await
}
