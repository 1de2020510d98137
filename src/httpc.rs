//! The outgoing HTTP client: one request per connection, HTTP/1.1 over hyper (the same crate the
//! server runs on), TLS by rustls with the bundled web PKI roots, every step bounded in time and the
//! answer bounded in size.
//!
//! Why not reqwest: the notification channels send a handful of requests an hour, and the idle
//! appliance pays for a general client's code whether it runs or not (its pool, its URL and IDNA
//! handling, its root store kept parsed for good). Measured on the bench (issue 13): one webhook send
//! through reqwest left 1 MiB more resident than an appliance that never sent. This client reuses
//! hyper's HTTP/1 code, which the server has already paged in, builds the TLS root store for the
//! send and drops it after, and keeps nothing between sends.
//!
//! What it does not do, on purpose: redirects (a notification endpoint that redirects a POST is a
//! misconfiguration to report, not to follow), connection reuse, HTTP/2, cookies, proxies from the
//! environment. Errors never carry the URL's path or query: they hold secrets (a Telegram bot
//! token, a Discord webhook key); the host and port are named.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A client: its settings only (nothing is pooled or kept). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    user_agent: HeaderValue,
    connect_timeout: Duration,
    timeout: Duration,
}

impl Client {
    /// `timeout` bounds a whole exchange (DNS, connect, TLS, request, the answer read whole);
    /// connecting alone is bounded by the smaller of it and 10 s.
    pub fn new(user_agent: &'static str, timeout: Duration) -> Client {
        Client {
            user_agent: HeaderValue::from_static(user_agent),
            connect_timeout: timeout.min(Duration::from_secs(10)),
            timeout,
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn request(&self, method: Method, url: impl AsRef<str>) -> RequestBuilder {
        let req = parse_url(url.as_ref()).map(|target| Request {
            method,
            target,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            limit: DEFAULT_LIMIT,
            roots_pem: None,
            unverified: false,
            pin: None,
        });
        RequestBuilder { client: self.clone(), req }
    }

    pub fn get(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    pub fn post(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    pub fn put(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::PUT, url)
    }
}

/// How much of an answer is read unless [`RequestBuilder::limit`] says otherwise.
pub const DEFAULT_LIMIT: usize = 64 << 10;

/// Where a request goes: scheme, host and port apart from the origin-form path it sends. Config
/// checks parse URLs with [`Target::parse`], so a URL that passes them is one a send accepts.
#[derive(Clone, Debug)]
pub struct Target {
    tls: bool,
    host: String,
    port: u16,
    /// `Host` header value: the authority as written, without user info.
    authority: HeaderValue,
    path_and_query: Uri,
}

#[derive(Debug)]
struct Request {
    method: Method,
    target: Target,
    headers: HeaderMap,
    body: Bytes,
    limit: usize,
    /// PEM certificates that replace the web PKI roots for this send (a private CA: PVE's cluster CA).
    roots_pem: Option<Vec<u8>>,
    /// Accept any server certificate (a service monitor told not to verify): the handshake's
    /// signatures are still checked, the chain and the name are not.
    unverified: bool,
    /// Certificate pinning (a fleet peer): the server's certificate is accepted by its SHA-256 alone.
    pin: Option<Pin>,
}

/// A certificate pin: the SHA-256 of the server's own (end-entity) certificate that must be shown,
/// or `None` to accept any certificate and only record it (the first connection, whose fingerprint
/// the admin then accepts). The certificate's chain, name and dates are not checked: self-signed
/// Proxmox certificates are the norm, and the pin is the stronger check. The handshake's signatures
/// are still verified against the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin(pub Option<[u8; 32]>);

impl Pin {
    /// `AB:CD:…` (upper-case hex pairs, as browsers and `openssl x509 -fingerprint` write them).
    pub fn format(sha: &[u8; 32]) -> String {
        sha.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
    }

    /// Reads `AB:CD:…`, `ab cd …` or plain hex (64 digits); `None` for anything else.
    pub fn parse(text: &str) -> Option<[u8; 32]> {
        let hex: String = text.chars().filter(|c| !matches!(c, ':' | ' ' | '-')).collect();
        let bytes = data_encoding::HEXUPPER_PERMISSIVE.decode(hex.as_bytes()).ok()?;
        bytes.try_into().ok()
    }
}

/// A request being built; an invalid URL or header is reported by [`RequestBuilder::send`].
#[must_use = "a request does nothing until sent"]
pub struct RequestBuilder {
    client: Client,
    req: Result<Request, Error>,
}

impl RequestBuilder {
    fn with(mut self, f: impl FnOnce(&mut Request) -> Result<(), Error>) -> RequestBuilder {
        if let Ok(req) = &mut self.req
            && let Err(e) = f(req)
        {
            self.req = Err(e);
        }
        self
    }

    /// Sets a header (replacing one of the same name). A name or value HTTP cannot carry fails the
    /// send; the value is never echoed in the error (it may be a secret).
    pub fn header(self, name: &str, value: &str) -> RequestBuilder {
        self.with(|r| {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::new(Kind::Request, format!("invalid header name {name:?}")))?;
            let v = HeaderValue::from_str(value)
                .map_err(|_| Error::new(Kind::Request, format!("invalid value for header {name}")))?;
            r.headers.insert(n, v);
            Ok(())
        })
    }

    /// Adds every header of `headers`: a name it holds replaces the same name set before (the
    /// defaults included); a name it holds twice is sent twice.
    pub fn headers(self, headers: HeaderMap) -> RequestBuilder {
        self.with(|r| {
            r.headers.extend(headers);
            Ok(())
        })
    }

    /// `Authorization: Bearer <token>`, marked sensitive.
    pub fn bearer_auth(self, token: &str) -> RequestBuilder {
        self.with(|r| {
            let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| Error::new(Kind::Request, "the token cannot be sent in a header"))?;
            v.set_sensitive(true);
            r.headers.insert(header::AUTHORIZATION, v);
            Ok(())
        })
    }

    /// `Authorization: <value>` as given (a scheme of the service's own, such as PVE's
    /// `PVEAPIToken=…`), marked sensitive; the value is never echoed in an error.
    pub fn authorization(self, value: &str) -> RequestBuilder {
        self.with(|r| {
            let mut v = HeaderValue::from_str(value)
                .map_err(|_| Error::new(Kind::Request, "the credentials cannot be sent in a header"))?;
            v.set_sensitive(true);
            r.headers.insert(header::AUTHORIZATION, v);
            Ok(())
        })
    }

    /// `Authorization: Basic …` (RFC 7617), marked sensitive.
    pub fn basic_auth(self, user: &str, password: Option<&str>) -> RequestBuilder {
        self.with(|r| {
            let raw = format!("{user}:{}", password.unwrap_or_default());
            let mut v =
                HeaderValue::from_str(&format!("Basic {}", data_encoding::BASE64.encode(raw.as_bytes())))
                    .map_err(|_| Error::new(Kind::Request, "the credentials cannot be sent in a header"))?;
            v.set_sensitive(true);
            r.headers.insert(header::AUTHORIZATION, v);
            Ok(())
        })
    }

    /// The body as JSON, with its content type.
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> RequestBuilder {
        self.with(|r| {
            let body =
                serde_json::to_vec(value).map_err(|e| Error::new(Kind::Request, format!("body: {e}")))?;
            r.body = Bytes::from(body);
            r.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Ok(())
        })
    }

    pub fn body(self, body: impl Into<Bytes>) -> RequestBuilder {
        self.with(|r| {
            r.body = body.into();
            Ok(())
        })
    }

    /// The most of the answer's body that is read; the rest is left unread and
    /// [`Response::truncated`] says so.
    pub fn limit(self, bytes: usize) -> RequestBuilder {
        self.with(|r| {
            r.limit = bytes;
            Ok(())
        })
    }

    /// Verifies the server against the certificates in `pem` (one or more PEM `CERTIFICATE` blocks)
    /// instead of the web PKI roots, for this send only: a private CA such as Proxmox VE's cluster
    /// CA (`/etc/pve/pve-root-ca.pem`). PEM that holds no certificate fails the send.
    pub fn roots_pem(self, pem: &[u8]) -> RequestBuilder {
        self.with(|r| {
            r.roots_pem = Some(pem.to_vec());
            Ok(())
        })
    }

    /// Accepts whatever certificate the server shows, for this send only: for a service monitor the
    /// admin set not to verify TLS (a self-signed appliance inside a guest). The handshake's
    /// signatures are still checked; the certificate's expiry is still reported.
    pub fn danger_accept_any_certificate(self) -> RequestBuilder {
        self.with(|r| {
            r.unverified = true;
            Ok(())
        })
    }

    /// Pins the server's certificate (see [`Pin`]); the certificate seen is in
    /// [`Response::cert_sha256`], or in [`Error::cert_sha256`] when the pin refused it.
    pub fn pin(self, pin: Pin) -> RequestBuilder {
        self.with(|r| {
            r.pin = Some(pin);
            Ok(())
        })
    }

    /// Sends the request and reads the answer (up to the limit), all within the client's timeout.
    pub async fn send(self) -> Result<Response, Error> {
        let req = self.req?;
        let client = self.client;
        let (host, port) = (req.target.host.clone(), req.target.port);
        match tokio::time::timeout(client.timeout, exchange(&client, req)).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                Kind::Timeout,
                format!(
                    "no complete answer from {host}:{port} within {}",
                    humantime::format_duration(client.timeout)
                ),
            )),
        }
    }
}

/// An answer, read: status, headers, and the body up to the request's limit.
#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    /// The status line's reason phrase when it is not the canonical one (PVE's API says why it
    /// refused there: `403 Permission check failed (/vms/100, VM.PowerMgmt)`).
    reason: Option<String>,
    headers: HeaderMap,
    body: Bytes,
    truncated: bool,
    body_error: Option<Error>,
    /// When the server's certificate expires (unix s), over TLS.
    cert_not_after: Option<i64>,
    /// The SHA-256 of the server's certificate, over TLS.
    cert_sha256: Option<[u8; 32]>,
}

impl Response {
    /// When the server's own certificate expires (unix seconds), for an answer over TLS.
    pub fn cert_not_after(&self) -> Option<i64> {
        self.cert_not_after
    }
    /// The SHA-256 of the server's own certificate, for an answer over TLS.
    pub fn cert_sha256(&self) -> Option<[u8; 32]> {
        self.cert_sha256
    }
    pub fn status(&self) -> StatusCode {
        self.status
    }
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
    /// The reason phrase of the status line, when the server sent one other than the canonical
    /// phrase for the status (`None` otherwise).
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
    pub fn body(&self) -> &Bytes {
        &self.body
    }
    /// Whether the body was longer than the limit (only the limit's worth was read).
    pub fn truncated(&self) -> bool {
        self.truncated
    }
    /// Why the body ended before its end, if it did: the status and headers arrived (a service that
    /// answered 2xx did take the request), the body is what came before the failure.
    pub fn body_error(&self) -> Option<&Error> {
        self.body_error.as_ref()
    }
    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What went wrong, for callers that classify (a timeout versus a refused connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request could not be built: a bad URL or header.
    Request,
    /// Name resolution, connecting, TLS, or the exchange itself.
    Network,
    /// The client's time bound ran out.
    Timeout,
    /// The server's certificate is not the pinned one ([`Error::cert_sha256`] is the one it showed).
    PinMismatch,
}

/// A failed send: what was being done, and why (the cause chain, `: `-joined). Never the URL's path
/// or query.
#[derive(Debug, Clone)]
pub struct Error {
    kind: Kind,
    text: String,
    cert_sha256: Option<[u8; 32]>,
}

impl Error {
    fn new(kind: Kind, text: impl Into<String>) -> Error {
        Error { kind, text: text.into(), cert_sha256: None }
    }

    /// The certificate the server showed, when a pin refused it.
    pub fn cert_sha256(&self) -> Option<[u8; 32]> {
        self.cert_sha256
    }

    fn chain(kind: Kind, what: String, e: &dyn std::error::Error) -> Error {
        let mut text = what;
        let mut cur: Option<&dyn std::error::Error> = Some(e);
        while let Some(c) = cur {
            let s = c.to_string();
            // hyper and io errors often repeat their source's text; say it once.
            if !text.ends_with(&s) {
                text.push_str(": ");
                text.push_str(&s);
            }
            cur = c.source();
        }
        Error { kind, text, cert_sha256: None }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Error {}

impl Target {
    /// Parses an absolute `http://` or `https://` URL; the error says why, never repeating the URL.
    pub fn parse(url: &str) -> Result<Target, Error> {
        parse_url(url)
    }
    /// The host: a name, or an IP address without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    /// The path, `/` when the URL has none.
    pub fn path(&self) -> &str {
        self.path_and_query.path()
    }
    pub fn is_tls(&self) -> bool {
        self.tls
    }
}

/// Parses an absolute `http://` or `https://` URL. Non-ASCII host names must be given in their
/// punycode form (`xn--…`); user info in the URL is refused (use the channel's credential fields).
/// A fragment is dropped (it is never sent).
fn parse_url(url: &str) -> Result<Target, Error> {
    let url = url.trim();
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    let bad = |why: &str| Error::new(Kind::Request, format!("not a valid http(s) URL: {why}"));
    let uri: Uri = url.parse().map_err(|_| bad("it does not parse"))?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        Some(_) => return Err(bad("the scheme is neither http nor https")),
        None => return Err(bad("it has no scheme")),
    };
    let auth = uri.authority().ok_or_else(|| bad("it has no host"))?;
    if auth.as_str().contains('@') {
        return Err(bad("credentials in the URL are not sent; use the channel's own fields"));
    }
    let host = auth.host().trim_start_matches('[').trim_end_matches(']').to_string();
    if host.is_empty() {
        return Err(bad("it has no host"));
    }
    let port = auth.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let authority = HeaderValue::from_str(auth.as_str()).map_err(|_| bad("the host cannot be sent"))?;
    let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let pq = if pq.is_empty() { "/" } else { pq };
    let path_and_query: Uri = pq.parse().map_err(|_| bad("the path does not parse"))?;
    Ok(Target { tls, host, port, authority, path_and_query })
}

async fn exchange(client: &Client, req: Request) -> Result<Response, Error> {
    let t = &req.target;
    let place = format!("{}:{}", t.host, t.port);
    let tcp =
        tokio::time::timeout(client.connect_timeout, connect(&t.host, t.port)).await.map_err(|_| {
            Error::new(
                Kind::Timeout,
                format!(
                    "connect to {place}: timed out after {}",
                    humantime::format_duration(client.connect_timeout)
                ),
            )
        })??;
    if t.tls {
        let tls = tls_connect(&t.host, tcp, req.roots_pem.as_deref(), req.unverified, req.pin).await?;
        let leaf = tls.get_ref().1.peer_certificates().and_then(|c| c.first());
        let not_after = leaf.and_then(|der| {
            x509_parser::parse_x509_certificate(der.as_ref())
                .ok()
                .map(|(_, c)| c.validity().not_after.timestamp())
        });
        let sha = leaf.map(|der| sha256(der.as_ref()));
        let mut resp = over(client, req, tls).await?;
        resp.cert_not_after = not_after;
        resp.cert_sha256 = sha;
        Ok(resp)
    } else {
        over(client, req, tcp).await
    }
}

/// Resolves `host` and connects to its addresses in order, the first that answers wins.
async fn connect(host: &str, port: u16) -> Result<TcpStream, Error> {
    let place = format!("{host}:{port}");
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| Error::chain(Kind::Network, format!("resolve {host}"), &e))?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => Error::chain(Kind::Network, format!("connect to {place}"), &e),
        None => Error::new(Kind::Network, format!("resolve {host}: no addresses")),
    })
}

/// The TLS handshake, verified against the web PKI roots, or the certificates of `roots_pem` instead
/// (built for this send, dropped after).
async fn tls_connect(
    host: &str,
    tcp: TcpStream,
    roots_pem: Option<&[u8]>,
    unverified: bool,
    pin: Option<Pin>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| Error::chain(Kind::Request, format!("TLS name {host}"), &e))?;
    let mut roots = rustls::RootCertStore::empty();
    match roots_pem {
        // A pinned or unverified send judges no chain: no root store to build.
        None if pin.is_some() || unverified => {}
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(pem) => {
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| Error::new(Kind::Request, format!("the CA certificate: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| Error::chain(Kind::Request, "the CA certificate".to_string(), &e))?;
            }
            if roots.is_empty() {
                return Err(Error::new(Kind::Request, "the CA file holds no certificate"));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::chain(Kind::Network, format!("TLS to {host}"), &e))?;
    // A pin, or (unverified: a monitor set not to verify TLS) a pin that accepts any certificate.
    let pin = pin.or(unverified.then_some(Pin(None)));
    let pinned =
        pin.map(|p| Arc::new(Pinned { provider: provider.clone(), pin: p.0, seen: Default::default() }));
    let mut config = if let Some(p) = &pinned {
        builder.dangerous().with_custom_certificate_verifier(p.clone()).with_no_client_auth()
    } else {
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let r = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await;
    r.map_err(|e| {
        let seen = pinned.as_ref().and_then(|p| *p.seen.lock().unwrap_or_else(|p| p.into_inner()));
        match (pinned.as_ref().and_then(|p| p.pin), seen) {
            (Some(want), Some(got)) if want != got => Error {
                kind: Kind::PinMismatch,
                text: format!(
                    "the certificate of {host} changed: it shows SHA-256 {}, pinned {}",
                    Pin::format(&got),
                    Pin::format(&want)
                ),
                cert_sha256: Some(got),
            },
            _ => Error::chain(Kind::Network, format!("TLS handshake with {host}"), &e),
        }
    })
}

fn sha256(der: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(der).into()
}

/// A pinned certificate ([`Pin`]): accepted by its SHA-256 alone (any, without a pin: what a monitor
/// set not to verify TLS asks for, `RequestBuilder::danger_accept_any_certificate`), and recorded
/// either way. The handshake's signatures are still checked with it.
#[derive(Debug)]
struct Pinned {
    provider: Arc<rustls::crypto::CryptoProvider>,
    pin: Option<[u8; 32]>,
    seen: std::sync::Mutex<Option<[u8; 32]>>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let got = sha256(end_entity.as_ref());
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(got);
        match self.pin {
            Some(want) if !bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], &got[..])) => {
                Err(rustls::Error::General("the certificate is not the pinned one".into()))
            }
            _ => Ok(rustls::client::danger::ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// One HTTP/1.1 exchange over a connected stream. The connection is driven beside the exchange
/// (no task is spawned) and closes when the exchange has its answer.
async fn over<S>(client: &Client, req: Request, io: S) -> Result<Response, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let place = format!("{}:{}", req.target.host, req.target.port);
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(io))
        .await
        .map_err(|e| Error::chain(Kind::Network, format!("HTTP to {place}"), &e))?;

    let mut r = hyper::Request::new(Full::new(req.body));
    *r.method_mut() = req.method;
    *r.uri_mut() = req.target.path_and_query;
    let h = r.headers_mut();
    h.insert(header::HOST, req.target.authority);
    h.insert(header::USER_AGENT, client.user_agent.clone());
    h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    // The caller's headers replace the defaults of the same name.
    h.extend(req.headers);
    let limit = req.limit;

    let exchange = async move {
        let resp = sender
            .send_request(r)
            .await
            .map_err(|e| Error::chain(Kind::Network, format!("HTTP to {place}"), &e))?;
        let (parts, mut body) = resp.into_parts();
        let reason = parts
            .extensions
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned());
        let mut buf = Vec::new();
        let (mut truncated, mut body_error) = (false, None);
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    body_error =
                        Some(Error::chain(Kind::Network, format!("reading the answer from {place}"), &e));
                    break;
                }
            };
            if let Ok(data) = frame.into_data() {
                let room = limit.saturating_sub(buf.len());
                if data.len() > room {
                    buf.extend_from_slice(&data[..room]);
                    truncated = true;
                    break;
                }
                buf.extend_from_slice(&data);
            }
        }
        // Dropping the sender (and an unread body) lets the connection close.
        drop(body);
        drop(sender);
        Ok(Response {
            status: parts.status,
            reason,
            headers: parts.headers,
            body: Bytes::from(buf),
            truncated,
            body_error,
            cert_not_after: None,
            cert_sha256: None,
        })
    };
    // The connection's own outcome adds nothing: a failure reaches the exchange as its error.
    let (answer, _) = tokio::join!(exchange, conn);
    answer
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
// The fake servers are tasks of the test's own runtime (a unit test has no app TaskTracker).
#[allow(clippy::disallowed_methods)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A one-shot server: reads one request (head and `Content-Length` body), hands it to the
    /// test, and writes `answer` (then, if `hold`, keeps the socket open without more).
    async fn server(answer: &'static [u8], hold: bool) -> (u16, tokio::sync::oneshot::Receiver<String>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = s.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_string)
                        })
                        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                    if buf.len() >= end + 4 + len || n == 0 {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&buf).to_string());
            if hold && answer.is_empty() {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            s.write_all(answer).await.unwrap();
            if hold {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        });
        (port, rx)
    }

    #[tokio::test]
    async fn one_exchange_on_the_wire() {
        let (port, rx) = server(
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 5\r\n\r\nslow!",
            false,
        )
        .await;
        let mut extra = HeaderMap::new();
        extra.append("x-twice", HeaderValue::from_static("a"));
        extra.append("x-twice", HeaderValue::from_static("b"));
        extra.insert("accept", HeaderValue::from_static("text/plain"));
        let c = Client::new("proxwatch/test", Duration::from_secs(5));
        let r = c
            .post(format!("http://127.0.0.1:{port}/hook?k=v#frag"))
            .json(&serde_json::json!({"a": 1}))
            .headers(extra)
            .basic_auth("me", Some("pw"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()["retry-after"], "7");
        assert_eq!(r.text(), "slow!");
        assert!(!r.truncated() && r.body_error().is_none());

        let req = rx.await.unwrap().to_ascii_lowercase();
        assert!(req.starts_with("post /hook?k=v http/1.1\r\n"), "{req}");
        for line in [
            &format!("host: 127.0.0.1:{port}\r\n"),
            "user-agent: proxwatch/test\r\n",
            "content-type: application/json\r\n",
            "content-length: 7\r\n",
            "x-twice: a\r\n",
            "x-twice: b\r\n",
            "accept: text/plain\r\n",
            "authorization: basic bwu6chc=\r\n",
        ] {
            assert!(req.contains(line), "{line:?} missing in {req}");
        }
        assert!(!req.contains("*/*"), "the caller's accept replaces the default: {req}");
        assert!(req.ends_with("\r\n\r\n{\"a\":1}"), "{req}");
    }

    #[tokio::test]
    async fn the_answer_is_read_up_to_the_limit() {
        let (port, _rx) = server(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", false).await;
        let c = Client::new("t/1", Duration::from_secs(5));
        let r = c.get(format!("http://127.0.0.1:{port}/")).limit(4).send().await.unwrap();
        assert_eq!((r.text().as_str(), r.truncated()), ("0123", true));
    }

    #[tokio::test]
    async fn a_body_cut_short_keeps_the_status() {
        let (port, _rx) = server(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234", false).await;
        let c = Client::new("t/1", Duration::from_secs(5));
        let r = c.get(format!("http://127.0.0.1:{port}/")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.text(), "01234");
        let e = r.body_error().expect("the cut is reported");
        assert_eq!(e.kind(), Kind::Network);
        assert!(e.to_string().starts_with(&format!("reading the answer from 127.0.0.1:{port}")), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_server_is_a_timeout_within_the_bound() {
        let (port, _rx) = server(b"", true).await;
        let c = Client::new("t/1", Duration::from_secs(3));
        let e = c.post(format!("http://127.0.0.1:{port}/x")).body("hi").send().await.unwrap_err();
        assert_eq!(e.kind(), Kind::Timeout);
        assert_eq!(e.to_string(), format!("no complete answer from 127.0.0.1:{port} within 3s"));
    }

    #[tokio::test]
    async fn https_to_a_plain_server_fails_in_the_handshake() {
        // A plain HTTP server answers the ClientHello with a 400 and closes.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
        });
        let c = Client::new("t/1", Duration::from_secs(5));
        let e = c.post(format!("https://127.0.0.1:{port}/")).send().await.unwrap_err();
        assert_eq!(e.kind(), Kind::Network);
        assert!(e.to_string().starts_with("TLS handshake with 127.0.0.1: "), "{e}");
    }

    #[test]
    fn urls() {
        let t = parse_url("https://api.telegram.org/bot123:abc/sendMessage?x=1").unwrap();
        assert!(t.tls);
        assert_eq!((t.host.as_str(), t.port), ("api.telegram.org", 443));
        assert_eq!(t.path_and_query.to_string(), "/bot123:abc/sendMessage?x=1");
        assert_eq!(t.authority, "api.telegram.org");
        let t = parse_url("http://[::1]:8080").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.tls), ("::1", 8080, false));
        assert_eq!(t.path_and_query.to_string(), "/");
        assert_eq!(t.authority, "[::1]:8080");
        for bad in ["ftp://x/", "x/y", "http://user:pw@host/", "https:///path", "http://a b/"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_refused_connection_names_the_place_and_the_cause_not_the_path() {
        // A port nothing listens on: bind, note it, drop.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let c = Client::new("t/1", Duration::from_secs(5));
        let e = c.post(format!("http://127.0.0.1:{port}/secret-path?token=x")).send().await.unwrap_err();
        assert_eq!(e.kind(), Kind::Network);
        let text = e.to_string();
        assert!(text.starts_with(&format!("connect to 127.0.0.1:{port}: ")), "{text}");
        assert!(text.contains("refused"), "{text}");
        assert!(!text.contains("secret") && !text.contains("token"), "{text}");
    }

    #[tokio::test]
    async fn a_bad_header_is_a_request_error_without_its_value() {
        let c = Client::new("t/1", Duration::from_secs(5));
        let e = c.post("http://127.0.0.1:1/").header("x-key", "sec\nret").send().await.unwrap_err();
        assert_eq!(e.kind(), Kind::Request);
        assert!(!e.to_string().contains("sec"), "{e}");
    }
}
