//! The wire under the NUT client (`tools::nut`): a TCP connection to upsd on a live host,
//! or, in a replay scenario, a recorded file of upsd replies (`nut/<host>_<port>.txt` in the scenario,
//! the server lines of a session: `BEGIN LIST UPS` ... `END LIST VAR <ups>`). Either way the client
//! sends the same commands and parses the same lines, so the demo exercises the real parser.
//!
//! Framing lives here (a reply is one line, or a `BEGIN LIST` .. `END LIST` block), with the bounds:
//! lines over [`MAX_LINE`] bytes and lists over [`MAX_LIST`] entries are refused, and every
//! request has a deadline.

use std::io::ErrorKind;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{Host, Runner};

/// Longest reply line accepted, bytes (upsd's own limit for a value is 256 characters).
pub const MAX_LINE: usize = 4096;
/// Most entries accepted in one `LIST` reply.
pub const MAX_LIST: usize = 2048;

/// Whether `line` opens a list reply (the transport then reads up to the matching `END LIST`).
pub fn is_list_begin(line: &str) -> bool {
    line.starts_with("BEGIN LIST ")
}

/// Why the wire failed (the client maps these to `tools::nut::NutError`).
#[derive(Debug)]
pub enum NutIoError {
    /// Connection refused, or no recording: nothing listens at the address.
    Refused {
        addr: String,
    },
    Io {
        addr: String,
        message: String,
    },
    Timeout {
        addr: String,
        command: String,
        after_ms: u64,
    },
    LineTooLong {
        addr: String,
    },
    ListTooLong {
        addr: String,
    },
}

/// A connection to one upsd.
#[derive(Debug)]
pub enum NutTransport {
    Tcp(TcpSession),
    Replay(ReplaySession),
}

#[derive(Debug)]
pub struct TcpSession {
    addr: String,
    stream: BufReader<TcpStream>,
    timeout: Duration,
}

/// A recorded upsd: its reply lines, answered by command.
#[derive(Debug)]
pub struct ReplaySession {
    addr: String,
    lines: Vec<String>,
}

/// The scenario file that stands for upsd at `addr` (`127.0.0.1:3493` -> `/nut/127.0.0.1_3493.txt`).
pub fn replay_path(addr: &str) -> String {
    let safe: String = addr
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    format!("/nut/{safe}.txt")
}

impl NutTransport {
    /// Connects to upsd at `addr` (`host:port`) within `timeout`; the same timeout bounds each request.
    pub async fn connect(host: &Host, addr: &str, timeout: Duration) -> Result<NutTransport, NutIoError> {
        match host.runner() {
            Runner::Replay(_) => {
                // Only the scenario's own folder: the live `/` behind the demo has no upsd recordings.
                let path = host.root().join(replay_path(addr).trim_start_matches('/'));
                match std::fs::read_to_string(&path) {
                    Ok(text) => Ok(NutTransport::Replay(ReplaySession {
                        addr: addr.to_string(),
                        lines: text.lines().map(str::to_string).collect(),
                    })),
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        Err(NutIoError::Refused { addr: addr.to_string() })
                    }
                    Err(e) => Err(NutIoError::Io { addr: addr.to_string(), message: e.to_string() }),
                }
            }
            Runner::System => {
                let connect = TcpStream::connect(addr);
                let stream = match tokio::time::timeout(timeout, connect).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e))
                        if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::AddrNotAvailable) =>
                    {
                        return Err(NutIoError::Refused { addr: addr.to_string() });
                    }
                    Ok(Err(e)) => {
                        return Err(NutIoError::Io { addr: addr.to_string(), message: e.to_string() });
                    }
                    Err(_) => {
                        return Err(NutIoError::Timeout {
                            addr: addr.to_string(),
                            command: "connect".into(),
                            after_ms: timeout.as_millis() as u64,
                        });
                    }
                };
                let _ = stream.set_nodelay(true);
                Ok(NutTransport::Tcp(TcpSession {
                    addr: addr.to_string(),
                    stream: BufReader::new(stream),
                    timeout,
                }))
            }
        }
    }

    pub fn addr(&self) -> &str {
        match self {
            NutTransport::Tcp(s) => &s.addr,
            NutTransport::Replay(s) => &s.addr,
        }
    }

    /// Sends one command line and returns its reply: one line, or a whole list (BEGIN..END lines).
    /// `label` names the command in errors (so a password never appears in one).
    pub async fn request(&mut self, command: &str, label: &str) -> Result<Vec<String>, NutIoError> {
        match self {
            NutTransport::Replay(s) => Ok(s.answer(command)),
            NutTransport::Tcp(s) => {
                let after_ms = s.timeout.as_millis() as u64;
                match tokio::time::timeout(s.timeout, s.exchange(command)).await {
                    Ok(r) => r,
                    Err(_) => Err(NutIoError::Timeout {
                        addr: s.addr.clone(),
                        command: label.to_string(),
                        after_ms,
                    }),
                }
            }
        }
    }
}

impl TcpSession {
    async fn exchange(&mut self, command: &str) -> Result<Vec<String>, NutIoError> {
        let io = |e: std::io::Error| NutIoError::Io { addr: self.addr.clone(), message: e.to_string() };
        let mut line = command.to_string();
        line.push('\n');
        self.stream.get_mut().write_all(line.as_bytes()).await.map_err(io)?;
        let first = self.read_line().await?;
        if !is_list_begin(&first) {
            return Ok(vec![first]);
        }
        let end = format!("END{}", &first["BEGIN".len()..]);
        let mut lines = vec![first];
        loop {
            let l = self.read_line().await?;
            let done = l == end;
            lines.push(l);
            if done {
                return Ok(lines);
            }
            if lines.len() > MAX_LIST + 2 {
                return Err(NutIoError::ListTooLong { addr: self.addr.clone() });
            }
        }
    }

    /// Reads one `\n`-terminated line of at most [`MAX_LINE`] bytes.
    async fn read_line(&mut self) -> Result<String, NutIoError> {
        let mut buf = Vec::new();
        loop {
            let chunk = self
                .stream
                .fill_buf()
                .await
                .map_err(|e| NutIoError::Io { addr: self.addr.clone(), message: e.to_string() })?;
            if chunk.is_empty() {
                return Err(NutIoError::Io {
                    addr: self.addr.clone(),
                    message: "upsd closed the connection".into(),
                });
            }
            let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            buf.extend_from_slice(&chunk[..take]);
            self.stream.consume(take);
            if buf.len() > MAX_LINE {
                return Err(NutIoError::LineTooLong { addr: self.addr.clone() });
            }
            if done {
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                return Ok(String::from_utf8_lossy(&buf).into_owned());
            }
        }
    }
}

impl ReplaySession {
    /// Answers like upsd from the recording: `LIST UPS` / `LIST VAR <ups>` return their recorded
    /// block (`ERR UNKNOWN-UPS` when the UPS is not recorded), `USERNAME`/`PASSWORD` are accepted.
    fn answer(&self, command: &str) -> Vec<String> {
        let mut words = command.split_whitespace();
        let reply = match (words.next(), words.next()) {
            (Some("USERNAME" | "PASSWORD"), _) => return vec!["OK".into()],
            (Some("LIST"), Some(_)) => {
                let what = &command["LIST ".len()..];
                self.block(what)
            }
            _ => None,
        };
        reply.unwrap_or_else(|| {
            if command.starts_with("LIST VAR ") {
                vec!["ERR UNKNOWN-UPS".into()]
            } else {
                vec!["ERR UNKNOWN-COMMAND".into()]
            }
        })
    }

    fn block(&self, what: &str) -> Option<Vec<String>> {
        let begin = format!("BEGIN LIST {what}");
        let end = format!("END LIST {what}");
        let start = self.lines.iter().position(|l| *l == begin)?;
        let len = self.lines[start..].iter().position(|l| *l == end)?;
        Some(self.lines[start..=start + len].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_paths_are_safe_file_names() {
        assert_eq!(replay_path("127.0.0.1:3493"), "/nut/127.0.0.1_3493.txt");
        assert_eq!(replay_path("[::1]:3493"), "/nut/___1__3493.txt");
        assert_eq!(replay_path("../../etc:1"), "/nut/.._.._etc_1.txt");
    }

    #[test]
    fn replay_answers_recorded_blocks() {
        let s = ReplaySession {
            addr: "x".into(),
            lines: [
                "BEGIN LIST UPS",
                "UPS a \"A\"",
                "END LIST UPS",
                "BEGIN LIST VAR a",
                "VAR a ups.status \"OL\"",
                "END LIST VAR a",
            ]
            .map(String::from)
            .to_vec(),
        };
        assert_eq!(s.answer("LIST UPS").len(), 3);
        assert_eq!(s.answer("LIST VAR a")[1], "VAR a ups.status \"OL\"");
        assert_eq!(s.answer("LIST VAR b"), vec!["ERR UNKNOWN-UPS"]);
        assert_eq!(s.answer("PASSWORD \"x\""), vec!["OK"]);
        assert_eq!(s.answer("FOO"), vec!["ERR UNKNOWN-COMMAND"]);
    }

    /// The TCP framing against a scripted server: lists, single lines, a line over the bound, and a
    /// server that closes the connection.
    #[tokio::test]
    async fn tcp_framing_and_bounds() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 256];
            let n = sock.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"LIST UPS\n");
            sock.write_all(b"BEGIN LIST UPS\r\nUPS a \"x\"\nEND LIST UPS\n").await.unwrap();
            let n = sock.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"VER\n");
            sock.write_all(b"ERR ACCESS-DENIED\n").await.unwrap();
            let _ = sock.read(&mut buf).await.unwrap();
            sock.write_all(&vec![b'x'; MAX_LINE + 10]).await.unwrap();
            sock.write_all(b"\n").await.unwrap();
            let (mut sock, _) = listener.accept().await.unwrap();
            let _ = sock.read(&mut buf).await.unwrap();
            drop(sock);
        });
        let host = Host::system(Duration::from_secs(5));
        let t = Duration::from_secs(5);
        let mut c = NutTransport::connect(&host, &addr, t).await.unwrap();
        assert_eq!(
            c.request("LIST UPS", "LIST UPS").await.unwrap(),
            vec!["BEGIN LIST UPS", "UPS a \"x\"", "END LIST UPS"]
        );
        assert_eq!(c.request("VER", "VER").await.unwrap(), vec!["ERR ACCESS-DENIED"]);
        assert!(matches!(c.request("VER", "VER").await, Err(NutIoError::LineTooLong { .. })));
        let mut c = NutTransport::connect(&host, &addr, t).await.unwrap();
        assert!(matches!(c.request("VER", "VER").await, Err(NutIoError::Io { .. })));
        server.await.unwrap();
        // Nothing listens any more.
        assert!(matches!(NutTransport::connect(&host, &addr, t).await, Err(NutIoError::Refused { .. })));
    }
}
