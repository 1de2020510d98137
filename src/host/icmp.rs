//! ICMP echo ("ping") with a native socket, no `ping` process. An unprivileged datagram ICMP socket
//! is tried first (Linux "ping sockets": allowed when the process's group is inside
//! `net.ipv4.ping_group_range`; the kernel then owns the echo identifier and hands back only our own
//! replies, without the IP header); when that is refused, a raw ICMP socket (root or CAP_NET_RAW),
//! which sees every ICMP packet of the host, so replies are matched on identifier and sequence and the
//! IPv4 header is skipped. IPv6 works the same with ICMPv6 (the kernel computes its checksum).
//!
//! A replayed host never sends a packet: [`replay`] answers from the scenario's `icmp.toml`.

use std::io::{ErrorKind, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, Socket, Type};

use super::ToolError;

/// At most this many echoes per probe (the config cannot ask for a flood).
pub const MAX_COUNT: u16 = 10;

/// The result of one probe: `count` echoes, one after the other.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Probe {
    pub target: IpAddr,
    pub sent: u16,
    pub received: u16,
    /// Round-trip times of the answered echoes, milliseconds.
    pub rtts_ms: Vec<f64>,
    /// `dgram`, `raw` or `replay`.
    pub method: &'static str,
}

impl Probe {
    pub fn loss_pct(&self) -> f64 {
        if self.sent == 0 {
            return 100.0;
        }
        100.0 * f64::from(self.sent - self.received) / f64::from(self.sent)
    }
    pub fn min_ms(&self) -> Option<f64> {
        self.rtts_ms.iter().copied().reduce(f64::min)
    }
    pub fn max_ms(&self) -> Option<f64> {
        self.rtts_ms.iter().copied().reduce(f64::max)
    }
    pub fn avg_ms(&self) -> Option<f64> {
        (!self.rtts_ms.is_empty()).then(|| self.rtts_ms.iter().sum::<f64>() / self.rtts_ms.len() as f64)
    }
}

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
/// Marks our payload, so a raw socket can tell our replies from another program's.
const MAGIC: &[u8; 8] = b"pxwatch\0";

/// The internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut pkt = vec![if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 }, 0, 0, 0];
    pkt.extend_from_slice(&id.to_be_bytes());
    pkt.extend_from_slice(&seq.to_be_bytes());
    pkt.extend_from_slice(MAGIC);
    pkt.extend_from_slice(&[0u8; 24]);
    if !v6 {
        let c = checksum(&pkt);
        pkt[2..4].copy_from_slice(&c.to_be_bytes());
    }
    pkt
}

/// Whether `buf` (as received) is the echo reply for `seq` (and, on a raw socket, `id`).
fn is_reply(buf: &[u8], v6: bool, raw: bool, id: u16, seq: u16) -> bool {
    // A raw IPv4 socket delivers the IP header first; its length is in the low nibble of byte 0.
    let icmp = if raw && !v6 {
        let ihl = usize::from(buf.first().map_or(0, |b| b & 0x0f)) * 4;
        if ihl < 20 || buf.len() < ihl {
            return false;
        }
        &buf[ihl..]
    } else {
        buf
    };
    if icmp.len() < 16 {
        return false;
    }
    let want = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    let got_id = u16::from_be_bytes([icmp[4], icmp[5]]);
    let got_seq = u16::from_be_bytes([icmp[6], icmp[7]]);
    // A datagram socket's identifier is the kernel's (its local port), so only the sequence counts.
    icmp[0] == want && got_seq == seq && (!raw || got_id == id) && &icmp[8..16] == MAGIC
}

fn open(v6: bool) -> Result<(Socket, bool), ToolError> {
    let (domain, proto) =
        if v6 { (Domain::IPV6, Protocol::ICMPV6) } else { (Domain::IPV4, Protocol::ICMPV4) };
    match Socket::new(domain, Type::DGRAM, Some(proto)) {
        Ok(s) => return Ok((s, false)),
        Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied) || e.raw_os_error() == Some(13) => {}
        Err(e) => tracing::debug!(error = %e, "datagram ICMP socket refused; trying raw"),
    }
    Socket::new(domain, Type::RAW, Some(proto)).map(|s| (s, true)).map_err(|e| ToolError::Failed {
        tool: "icmp".into(),
        code: None,
        stderr: format!(
            "cannot open an ICMP socket ({e}): neither a ping socket (net.ipv4.ping_group_range) nor a raw one (root or CAP_NET_RAW) is allowed"
        ),
    })
}

/// Sends `count` echoes to `target` one after the other, waiting up to `timeout` for each reply.
/// Blocking: call it from `spawn_blocking` (see [`probe`]).
pub fn probe_blocking(target: IpAddr, count: u16, timeout: Duration) -> Result<Probe, ToolError> {
    let v6 = target.is_ipv6();
    let (sock, raw) = open(v6)?;
    let io = |e: std::io::Error| ToolError::Io { path: format!("icmp socket to {target}"), source: e };
    let addr: socket2::SockAddr = SocketAddr::new(target, 0).into();
    // The identifier only matters for raw sockets; make it differ between processes and probes.
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let id = (std::process::id() as u16) ^ (nanos as u16);
    let mut sock = sock;
    let mut rtts = Vec::new();
    let count = count.clamp(1, MAX_COUNT);
    let mut buf = [0u8; 1500];
    for seq in 1..=count {
        let pkt = echo_request(v6, id, seq);
        let start = Instant::now();
        sock.send_to(&pkt, &addr).map_err(io)?;
        let deadline = start + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            sock.set_read_timeout(Some(left)).map_err(io)?;
            match sock.read(&mut buf) {
                Ok(n) if is_reply(&buf[..n], v6, raw, id, seq) => {
                    rtts.push(start.elapsed().as_secs_f64() * 1000.0);
                    break;
                }
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // An ICMP error (host unreachable) surfaces as an error on a datagram socket: lost.
                Err(e) if !raw && e.raw_os_error().is_some() => {
                    tracing::debug!(error = %e, %target, "echo failed");
                    break;
                }
                Err(e) => return Err(io(e)),
            }
        }
    }
    Ok(Probe {
        target,
        sent: count,
        received: rtts.len() as u16,
        rtts_ms: rtts,
        method: if raw { "raw" } else { "dgram" },
    })
}

/// [`probe_blocking`] on tokio's blocking pool.
pub async fn probe(target: IpAddr, count: u16, timeout: Duration) -> Result<Probe, ToolError> {
    tokio::task::spawn_blocking(move || probe_blocking(target, count, timeout)).await.map_err(|e| {
        ToolError::Failed { tool: "icmp".into(), code: None, stderr: format!("probe task failed: {e}") }
    })?
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayFile {
    #[serde(default)]
    target: Vec<ReplayTarget>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayTarget {
    address: IpAddr,
    latency_ms: f64,
    #[serde(default)]
    jitter_ms: f64,
    #[serde(default)]
    loss_pct: f64,
}

/// splitmix64: a tiny deterministic generator for the replayed jitter.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Answers a probe from `<scenario>/icmp.toml` (see `scenarios/demo/icmp.toml`); `seed` picks the
/// jitter and losses (the caller passes the time, so successive probes differ). A scenario without
/// the file has no ICMP ([`ToolError::Missing`]); a target it does not list loses every echo.
pub fn replay(dir: &Path, target: IpAddr, count: u16, seed: u64) -> Result<Probe, ToolError> {
    let path = dir.join("icmp.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(ToolError::Missing { what: "ICMP (the replayed scenario has no icmp.toml)".into() });
        }
        Err(e) => return Err(ToolError::Io { path: path.display().to_string(), source: e }),
    };
    let file: ReplayFile = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1)).unwrap_or(1);
        ToolError::parse("icmp.toml", line, text.lines().nth(line - 1).unwrap_or(""), e.message())
    })?;
    let count = count.clamp(1, MAX_COUNT);
    let mut rtts = Vec::new();
    if let Some(t) = file.target.iter().find(|t| t.address == target) {
        for k in 0..u64::from(count) {
            let r = mix(seed.wrapping_mul(31).wrapping_add(k));
            let unit = |x: u64| (x >> 11) as f64 / (1u64 << 53) as f64;
            if unit(r) * 100.0 < t.loss_pct {
                continue;
            }
            let jitter = (unit(mix(r)) * 2.0 - 1.0) * t.jitter_ms;
            rtts.push((t.latency_ms + jitter).max(0.01));
        }
    }
    Ok(Probe { target, sent: count, received: rtts.len() as u16, rtts_ms: rtts, method: "replay" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, checksum 220d.
        assert_eq!(checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0x220d);
        // A packet with its checksum filled in sums to zero.
        let pkt = echo_request(false, 0x1234, 7);
        assert_eq!(checksum(&pkt), 0);
    }

    #[test]
    fn matches_replies_only() {
        let mut reply = echo_request(false, 9, 3);
        reply[0] = ECHO_REPLY_V4;
        assert!(is_reply(&reply, false, false, 1, 3), "dgram: the kernel's id is not ours");
        assert!(!is_reply(&reply, false, false, 9, 4), "other sequence");
        let mut with_ip = vec![0x45u8];
        with_ip.extend_from_slice(&[0; 19]);
        with_ip.extend_from_slice(&reply);
        assert!(is_reply(&with_ip, false, true, 9, 3));
        assert!(!is_reply(&with_ip, false, true, 10, 3), "raw: someone else's ping");
        let request = echo_request(false, 9, 3);
        assert!(!is_reply(&request, false, false, 9, 3), "our own request seen on loopback");
        assert!(!is_reply(&[0x45, 0], false, true, 9, 3));
    }

    #[test]
    fn replay_answers_from_the_scenario_file() {
        let dir = tempfile::tempdir().unwrap();
        let gw: IpAddr = "192.168.10.1".parse().unwrap();
        assert!(replay(dir.path(), gw, 3, 1).unwrap_err().is_missing());
        std::fs::write(
            dir.path().join("icmp.toml"),
            "[[target]]\naddress = \"192.168.10.1\"\nlatency_ms = 0.5\njitter_ms = 0.1\n",
        )
        .unwrap();
        for seed in 0..50 {
            let p = replay(dir.path(), gw, 3, seed).unwrap();
            assert_eq!((p.sent, p.received, p.loss_pct()), (3, 3, 0.0));
            assert!(p.rtts_ms.iter().all(|r| (0.4..=0.6).contains(r)), "{:?}", p.rtts_ms);
        }
        let p = replay(dir.path(), "10.0.0.1".parse().unwrap(), 3, 0).unwrap();
        assert_eq!((p.received, p.loss_pct(), p.avg_ms()), (0, 100.0, None));
        std::fs::write(dir.path().join("icmp.toml"), "[[target]]\naddress = \"x\"\n").unwrap();
        assert!(matches!(replay(dir.path(), gw, 3, 0), Err(ToolError::Parse { line: 2, .. })));
    }

    /// A real echo to 127.0.0.1 (root here: the raw socket works even where ping sockets are off).
    #[test]
    fn echoes_localhost_with_a_real_socket() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        match probe_blocking(lo, 3, Duration::from_secs(2)) {
            Ok(p) => {
                assert_eq!((p.sent, p.received), (3, 3), "{p:?}");
                assert_eq!(p.loss_pct(), 0.0);
                let (min, avg, max) = (p.min_ms().unwrap(), p.avg_ms().unwrap(), p.max_ms().unwrap());
                assert!(min <= avg && avg <= max && max < 2000.0, "{p:?}");
            }
            Err(ToolError::Failed { stderr, .. }) if stderr.contains("cannot open an ICMP socket") => {
                eprintln!("skipped: this kernel allows neither a ping socket nor a raw one here: {stderr}");
            }
            Err(e) => panic!("{e}"),
        }
    }
}
