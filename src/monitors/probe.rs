//! The checks themselves, each bounded by the monitor's timeout and each ending in an [`Outcome`],
//! never an error: a name that does not resolve is `DNS failure: …`, a refused connection is
//! `connection refused`, a slow answer `timeout after N ms`. Probes go only where the admin pointed
//! them (one address, one URL; redirects only when asked for, at most five).
//!
//! Here: TCP, ICMP through the host (live or replayed), and HTTP(S) (the certificate verified or not,
//! its expiry read either way) (status range, keyword, JSON pointer,
//! redirects).
//! DNS asks the system's resolver, or a chosen one over UDP. Still to come for issue 18: the guest
//! agent.

use std::time::{Duration, Instant};

use crate::httpc;
use crate::model::monitor::{Outcome, StatusRange};

/// Redirects followed at most.
pub const MAX_REDIRECTS: usize = 5;
/// The most of a body read for the keyword or the JSON pointer.
pub const BODY_LIMIT: usize = 256 * 1024;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// An answered check that took `latency_ms`.
fn up(ts: i64, latency_ms: f64) -> Outcome {
    Outcome { ts, ok: true, latency_ms: Some(latency_ms), error: None, status_code: None, cert_expires: None }
}

fn failed(ts: i64, error: String) -> Outcome {
    Outcome { ts, ok: false, latency_ms: None, error: Some(error), status_code: None, cert_expires: None }
}

/// A TCP connection to `host:port`, accepted within `timeout`.
pub async fn tcp(ts: i64, host: &str, port: u16, timeout: Duration) -> Outcome {
    let start = Instant::now();
    let attempt = async {
        let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("DNS failure: {host}: {e}"))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("DNS failure: {host} has no address"));
        }
        let mut last = String::new();
        for a in addrs {
            match tokio::net::TcpStream::connect(a).await {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    last = format!("connection refused by {a}")
                }
                Err(e) => last = format!("connect to {a}: {e}"),
            }
        }
        Err(last)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(())) => up(ts, ms(start.elapsed())),
        Ok(Err(e)) => failed(ts, e),
        Err(_) => failed(ts, format!("timeout after {} ms", timeout.as_millis())),
    }
}

/// An ICMP echo to `target` (an address, or a name resolved first) through the host, answered within
/// `timeout`. `seed` varies a replayed host's answers from check to check.
pub async fn ping(ts: i64, host: &crate::host::Host, target: &str, timeout: Duration, seed: u64) -> Outcome {
    let start = Instant::now();
    let ip = match target.parse::<std::net::IpAddr>() {
        Ok(ip) => ip,
        Err(_) => {
            let found = tokio::time::timeout(timeout, tokio::net::lookup_host((target, 0))).await;
            match found {
                Err(_) => return failed(ts, format!("timeout after {} ms", timeout.as_millis())),
                Ok(Err(e)) => return failed(ts, format!("DNS failure: {target}: {e}")),
                Ok(Ok(mut addrs)) => match addrs.next() {
                    Some(a) => a.ip(),
                    None => return failed(ts, format!("DNS failure: {target} has no address")),
                },
            }
        }
    };
    let left = timeout.saturating_sub(start.elapsed()).max(Duration::from_millis(1));
    match host.ping(ip, 1, left, seed).await {
        Ok(p) => match p.rtts_ms.first() {
            Some(rtt) => up(ts, *rtt),
            None => {
                failed(ts, format!("no answer to an ICMP echo to {ip} within {} ms", timeout.as_millis()))
            }
        },
        Err(e) => failed(ts, format!("ICMP: {e}")),
    }
}

/// A DNS lookup of `name` (`A` or `AAAA`): through `server` (`ip` or `ip:port`) when given, else the
/// system's resolver; up when it answers with an address (`expect` among them, when given).
pub async fn dns(
    ts: i64,
    name: &str,
    record: &str,
    server: Option<&str>,
    expect: Option<std::net::IpAddr>,
    timeout: Duration,
) -> Outcome {
    let start = Instant::now();
    let v6 = record == "AAAA";
    let lookup = async {
        match server {
            Some(s) => ask(name, v6, s).await,
            None => {
                let addrs =
                    tokio::net::lookup_host((name, 0)).await.map_err(|e| format!("DNS failure: {e}"))?;
                let found: Vec<std::net::IpAddr> =
                    addrs.map(|a| a.ip()).filter(|ip| ip.is_ipv6() == v6).collect();
                if found.is_empty() {
                    return Err(format!("DNS failure: {name} has no {record} record"));
                }
                Ok(found)
            }
        }
    };
    let found = match tokio::time::timeout(timeout, lookup).await {
        Err(_) => return failed(ts, format!("timeout after {} ms", timeout.as_millis())),
        Ok(Err(e)) => return failed(ts, e),
        Ok(Ok(found)) => found,
    };
    if let Some(want) = expect
        && !found.contains(&want)
    {
        let got: Vec<String> = found.iter().map(|a| a.to_string()).collect();
        return failed(ts, format!("{name} resolves to {}, not {want}", got.join(", ")));
    }
    up(ts, ms(start.elapsed()))
}

/// One query to one resolver over UDP: the answer with the query's id, its addresses of the type.
async fn ask(name: &str, v6: bool, server: &str) -> Result<Vec<std::net::IpAddr>, String> {
    use simple_dns::{CLASS, Name, Packet, PacketFlag, Question, RCODE, TYPE, rdata::RData};
    let addr: std::net::SocketAddr = match server.parse() {
        Ok(a) => a,
        Err(_) => std::net::SocketAddr::new(
            server.parse().map_err(|_| format!("not a resolver address: {server}"))?,
            53,
        ),
    };
    let id: u16 = rand::random();
    let mut q = Packet::new_query(id);
    q.set_flags(PacketFlag::RECURSION_DESIRED);
    let qname = Name::new(name).map_err(|e| format!("not a DNS name: {e}"))?;
    let qtype = if v6 { TYPE::AAAA } else { TYPE::A };
    q.questions.push(Question::new(qname, qtype.into(), CLASS::IN.into(), false));
    let bytes = q.build_bytes_vec().map_err(|e| format!("DNS query: {e}"))?;
    let local: std::net::SocketAddr =
        if addr.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" }.parse().map_err(|_| "bind")?;
    let sock = tokio::net::UdpSocket::bind(local).await.map_err(|e| format!("DNS socket: {e}"))?;
    sock.connect(addr).await.map_err(|e| format!("DNS to {addr}: {e}"))?;
    sock.send(&bytes).await.map_err(|e| format!("DNS to {addr}: {e}"))?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = sock.recv(&mut buf).await.map_err(|e| format!("DNS from {addr}: {e}"))?;
        // Anything that is not the answer to this query is ignored (the caller's timeout bounds it).
        let Ok(p) = Packet::parse(&buf[..n]) else { continue };
        if p.id() != id || !p.has_flags(PacketFlag::RESPONSE) {
            continue;
        }
        match p.rcode() {
            RCODE::NoError => {}
            RCODE::NameError => return Err(format!("DNS failure: {name}: NXDOMAIN")),
            other => return Err(format!("DNS failure: {name}: {other:?}")),
        }
        let found: Vec<std::net::IpAddr> = p
            .answers
            .iter()
            .filter_map(|rr| match &rr.rdata {
                RData::A(a) if !v6 => Some(std::net::IpAddr::V4(std::net::Ipv4Addr::from(a.address))),
                RData::AAAA(a) if v6 => Some(std::net::IpAddr::V6(std::net::Ipv6Addr::from(a.address))),
                _ => None,
            })
            .collect();
        if found.is_empty() {
            return Err(format!("DNS failure: {name} has no {} record", if v6 { "AAAA" } else { "A" }));
        }
        return Ok(found);
    }
}

/// What an HTTP check expects.
#[derive(Debug, Clone)]
pub struct HttpExpect<'a> {
    pub status: StatusRange,
    pub keyword: Option<&'a str>,
    pub json: Option<(&'a str, &'a str)>,
    pub follow_redirects: bool,
    /// Verify the server's certificate (off: any certificate is accepted, its expiry still read).
    pub verify_tls: bool,
}

/// Resolves a `Location` against the URL it came from (absolute, `//host/…` or `/path`).
fn redirect_target(from: &str, location: &str) -> Option<String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Some(location.to_string());
    }
    let (scheme, rest) = from.split_once("://")?;
    if let Some(net) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{net}"));
    }
    let origin_end = rest.find('/').unwrap_or(rest.len());
    let origin = &rest[..origin_end];
    if location.starts_with('/') {
        return Some(format!("{scheme}://{origin}{location}"));
    }
    let path = &rest[origin_end..];
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    Some(format!("{scheme}://{origin}{dir}{location}"))
}

/// An HTTP(S) GET of `url` within `timeout` (redirects included), checked against `expect`.
pub async fn http(
    ts: i64,
    client: &httpc::Client,
    url: &str,
    expect: &HttpExpect<'_>,
    timeout: Duration,
) -> Outcome {
    let start = Instant::now();
    let mut url = url.to_string();
    let mut hops = 0;
    let mut cert = None;
    let attempt = async {
        loop {
            let mut req = client.get(&url).limit(BODY_LIMIT);
            if !expect.verify_tls {
                req = req.danger_accept_any_certificate();
            }
            let resp = req.send().await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            cert = resp.cert_not_after().or(cert);
            if resp.status().is_redirection() && expect.follow_redirects {
                let loc = resp.headers().get("location").and_then(|v| v.to_str().ok());
                let Some(next) = loc.and_then(|l| redirect_target(&url, l)) else {
                    return Ok((status, Err(format!("HTTP {status} without a usable Location"))));
                };
                hops += 1;
                if hops > MAX_REDIRECTS {
                    return Ok((status, Err(format!("more than {MAX_REDIRECTS} redirects"))));
                }
                url = next;
                continue;
            }
            return Ok::<_, String>((status, judge(&resp, status, expect)));
        }
    };
    let answer = tokio::time::timeout(timeout, attempt).await;
    match answer {
        Ok(Ok((code, verdict))) => Outcome {
            ts,
            ok: verdict.is_ok(),
            latency_ms: Some(ms(start.elapsed())),
            error: verdict.err(),
            status_code: Some(code),
            cert_expires: cert,
        },
        Ok(Err(e)) => failed(ts, e),
        Err(_) => failed(ts, format!("timeout after {} ms", timeout.as_millis())),
    }
}

/// Whether an answer is what the monitor expects, or why not.
fn judge(resp: &httpc::Response, status: u16, expect: &HttpExpect<'_>) -> Result<(), String> {
    if !(expect.status.min..=expect.status.max).contains(&status) {
        return Err(format!("HTTP {status} (expected {}–{})", expect.status.min, expect.status.max));
    }
    if let Some(k) = expect.keyword
        && !resp.text().contains(k)
    {
        return Err(format!("the page does not contain {k:?}"));
    }
    if let Some((pointer, want)) = expect.json {
        let v: serde_json::Value =
            serde_json::from_slice(resp.body()).map_err(|e| format!("the answer is not JSON: {e}"))?;
        let got = match v.pointer(pointer) {
            None => return Err(format!("the JSON has no {pointer}")),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        if got != want {
            return Err(format!("{pointer} is {got:?}, expected {want:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A loopback HTTP server answering each path from `routes` (path, delay ms, raw answer).
    /// The server runs while the returned set is held.
    async fn server(routes: Vec<(&'static str, u64, String)>) -> (String, tokio::task::JoinSet<()>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let routes = std::sync::Arc::new(routes);
        let serve = async move {
            // One connection at a time would hold every request behind the slow page.
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut c, _)) = l.accept().await else { break };
                let routes = routes.clone();
                conns.spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = c.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let (delay, answer) = routes
                        .iter()
                        .find(|(p, _, _)| *p == path)
                        .map(|(_, d, a)| (*d, a.clone()))
                        .unwrap_or((0, "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".into()));
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    let _ = c.write_all(answer.as_bytes()).await;
                    let _ = c.shutdown().await;
                });
            }
        };
        let mut set = tokio::task::JoinSet::new();
        set.spawn(serve);
        (base, set)
    }

    fn answer(status: &str, extra: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
            body.len()
        )
    }

    fn expect(keyword: Option<&'static str>) -> HttpExpect<'static> {
        HttpExpect {
            status: StatusRange::default(),
            keyword,
            json: None,
            follow_redirects: true,
            verify_tls: true,
        }
    }

    #[tokio::test]
    async fn tcp_up_refused_and_unresolvable() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let up = tcp(1, "127.0.0.1", port, Duration::from_secs(2)).await;
        assert!(up.ok && up.latency_ms.is_some(), "{up:?}");
        drop(l);
        let refused = tcp(2, "127.0.0.1", port, Duration::from_secs(2)).await;
        assert!(!refused.ok);
        assert!(refused.error.as_deref().unwrap().starts_with("connection refused"), "{refused:?}");
        let nx = tcp(3, "no-such-host.invalid", 80, Duration::from_secs(5)).await;
        assert!(nx.error.as_deref().unwrap().starts_with("DNS failure"), "{nx:?}");
    }

    #[tokio::test]
    async fn http_status_keyword_json_redirects_and_timeouts() {
        let (base, _server) = server(vec![
            ("/ok", 0, answer("200 OK", "", "<h1>Nextcloud is ready</h1>")),
            ("/500", 0, answer("500 Internal Server Error", "", "oops")),
            ("/slow", 3000, answer("200 OK", "", "late")),
            (
                "/json",
                0,
                answer("200 OK", "content-type: application/json\r\n", r#"{"status":{"ok":true},"v":"29"}"#),
            ),
            ("/moved", 0, answer("302 Found", "location: /ok\r\n", "")),
            ("/loop", 0, answer("302 Found", "location: /loop\r\n", "")),
        ])
        .await;
        let client = httpc::Client::new("proxwatch-test", Duration::from_secs(5));
        let t = Duration::from_secs(2);
        let o = http(1, &client, &format!("{base}/ok"), &expect(Some("is ready")), t).await;
        assert!(o.ok && o.status_code == Some(200), "{o:?}");
        let o = http(2, &client, &format!("{base}/ok"), &expect(Some("maintenance mode")), t).await;
        assert_eq!(o.error.as_deref(), Some("the page does not contain \"maintenance mode\""));
        let o = http(3, &client, &format!("{base}/500"), &expect(None), t).await;
        assert_eq!(
            (o.ok, o.status_code, o.error.as_deref()),
            (false, Some(500), Some("HTTP 500 (expected 200–399)"))
        );
        let o = http(4, &client, &format!("{base}/slow"), &expect(None), Duration::from_millis(500)).await;
        assert_eq!(o.error.as_deref(), Some("timeout after 500 ms"));
        let mut e = expect(None);
        e.json = Some(("/status/ok", "true"));
        let o = http(5, &client, &format!("{base}/json"), &e, t).await;
        assert!(o.ok, "{o:?}");
        e.json = Some(("/v", "30"));
        let o = http(6, &client, &format!("{base}/json"), &e, t).await;
        assert_eq!(o.error.as_deref(), Some("/v is \"29\", expected \"30\""));
        let o = http(7, &client, &format!("{base}/moved"), &expect(Some("ready")), t).await;
        assert!(o.ok && o.status_code == Some(200), "followed: {o:?}");
        let mut no_follow = expect(None);
        no_follow.follow_redirects = false;
        let o = http(8, &client, &format!("{base}/moved"), &no_follow, t).await;
        assert_eq!((o.ok, o.status_code), (true, Some(302)), "a 302 is in 200–399 when not followed");
        let o = http(9, &client, &format!("{base}/loop"), &expect(None), t).await;
        assert_eq!(o.error.as_deref(), Some("more than 5 redirects"));
    }

    #[tokio::test]
    async fn ping_through_the_host_live_and_replayed() {
        let t = Duration::from_secs(2);
        let live = crate::host::Host::system(t);
        let lo = ping(1, &live, "127.0.0.1", t, 0).await;
        assert!(lo.ok && lo.latency_ms.is_some(), "{lo:?}");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo");
        let demo = crate::host::Host::replay(crate::host::replay::Scenario::load(&dir).unwrap(), t);
        let gw = ping(2, &demo, "192.168.10.1", t, 7).await;
        assert!(gw.ok && gw.latency_ms.is_some_and(|ms| ms < 1.0), "{gw:?}");
        let gone = ping(3, &demo, "192.0.2.1", t, 7).await;
        assert_eq!(gone.error.as_deref(), Some("no answer to an ICMP echo to 192.0.2.1 within 2000 ms"));
    }

    /// A resolver on loopback: `nas.lan` is 192.0.2.5, every other name NXDOMAIN.
    async fn resolver() -> (String, tokio::task::JoinSet<()>) {
        use simple_dns::{
            CLASS, Packet, PacketFlag, RCODE, ResourceRecord,
            rdata::{A, RData},
        };
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap().to_string();
        let serve = async move {
            let mut buf = vec![0u8; 1500];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf).await else { break };
                let q = Packet::parse(&buf[..n]).unwrap();
                let mut r = Packet::new_reply(q.id());
                r.set_flags(PacketFlag::RESPONSE);
                let question = q.questions[0].clone();
                let known = question.qname.to_string() == "nas.lan";
                if known {
                    let rr = ResourceRecord::new(
                        question.qname.clone(),
                        CLASS::IN,
                        60,
                        RData::A(A { address: u32::from(std::net::Ipv4Addr::new(192, 0, 2, 5)) }),
                    );
                    r.answers.push(rr);
                } else {
                    *r.rcode_mut() = RCODE::NameError;
                }
                r.questions.push(question);
                let _ = sock.send_to(&r.build_bytes_vec().unwrap(), from).await;
            }
        };
        let mut set = tokio::task::JoinSet::new();
        set.spawn(serve);
        (addr, set)
    }

    #[tokio::test]
    async fn dns_through_a_chosen_resolver() {
        let (server, _resolver) = resolver().await;
        let t = Duration::from_secs(2);
        let ip = |s: &str| s.parse::<std::net::IpAddr>().ok();
        let o = dns(1, "nas.lan", "A", Some(&server), ip("192.0.2.5"), t).await;
        assert!(o.ok && o.latency_ms.is_some(), "{o:?}");
        let o = dns(2, "nas.lan", "A", Some(&server), ip("192.0.2.6"), t).await;
        assert_eq!(o.error.as_deref(), Some("nas.lan resolves to 192.0.2.5, not 192.0.2.6"));
        let o = dns(3, "nope.lan", "A", Some(&server), None, t).await;
        assert_eq!(o.error.as_deref(), Some("DNS failure: nope.lan: NXDOMAIN"));
        let o = dns(4, "nas.lan", "AAAA", Some(&server), None, t).await;
        assert_eq!(o.error.as_deref(), Some("DNS failure: nas.lan has no AAAA record"));
        // A resolver that never answers: the timeout, not a hang.
        let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let o = dns(
            5,
            "nas.lan",
            "A",
            Some(&silent.local_addr().unwrap().to_string()),
            None,
            Duration::from_millis(300),
        )
        .await;
        assert_eq!(o.error.as_deref(), Some("timeout after 300 ms"));
        // The system's resolver knows localhost.
        let o = dns(6, "localhost", "A", None, ip("127.0.0.1"), t).await;
        assert!(o.ok, "{o:?}");
    }

    #[test]
    fn redirect_targets_resolve_against_the_url() {
        assert_eq!(redirect_target("http://a:1/x/y", "/z").as_deref(), Some("http://a:1/z"));
        assert_eq!(redirect_target("http://a:1/x/y", "z").as_deref(), Some("http://a:1/x/z"));
        assert_eq!(redirect_target("https://a/x", "//b/c").as_deref(), Some("https://b/c"));
        assert_eq!(redirect_target("http://a/", "https://c/d").as_deref(), Some("https://c/d"));
    }
}
