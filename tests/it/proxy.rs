//! proxwatch behind real reverse proxies (issue 16): Debian's `nginx` and `caddy` publish the demo as
//! `https://pve.example.com:<port>/` and `.../proxwatch/`, with the configs docs/reverse-proxy.md
//! shows (packaging/reverse-proxy/, the doc holds each file verbatim), rewritten only for the test's
//! port, certificate, paths and the demo's address; proxwatch gets the settings written in those
//! files' comments. Through the proxy, as a browser at 127.0.0.2 would: the SPA and its assets load
//! under the base path, a login with an `Origin` passes (and a foreign one is refused), an API call
//! answers, the live stream delivers each event before the next sample exists (so nothing buffers
//! it), proxwatch logs the client's address and not a spoofed `X-Forwarded-For`, and the root
//! terminal's websocket upgrade gets its 101 and echoes through a shell.
//!
//! The proxies run unprivileged-style in temp dirs: nginx with `-p DIR` and every path in DIR,
//! Caddy with `admin off`, `auto_https off` and its HOME/XDG dirs in DIR. Readiness is polled with
//! deadlines, never slept for. Without nginx or caddy the test fails naming the package; it skips
//! (loudly) only when `PROXWATCH_ALLOW_MISSING_PEERS=1` is set.
// The test starts real peers; the one-door rule is for the program, not for its tests.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

/// The name the proxies publish proxwatch under (resolved to 127.0.0.1 by the clients).
const NAME: &str = "pve.example.com";
/// The browser's address: not the proxy's (127.0.0.1), so the forwarded one is told apart.
const CLIENT: &str = "127.0.0.2";
/// What a client might claim in its own `X-Forwarded-For`; proxwatch must not believe it.
const SPOOFED: &str = "203.0.113.9";

const NGINX_SITE: &str = include_str!("../../packaging/reverse-proxy/nginx-site.conf");
const NGINX_SITE_SUBPATH: &str = include_str!("../../packaging/reverse-proxy/nginx-site-subpath.conf");
const NGINX_PROXY: &str = include_str!("../../packaging/reverse-proxy/nginx-proxy.conf");
const CADDYFILE: &str = include_str!("../../packaging/reverse-proxy/Caddyfile");
const CADDYFILE_SUBPATH: &str = include_str!("../../packaging/reverse-proxy/Caddyfile.subpath");
const DOC: &str = include_str!("../../docs/reverse-proxy.md");

#[test]
fn nginx_publishes_proxwatch_at_the_root() {
    through(Proxy::Nginx, "/");
}

#[test]
fn nginx_publishes_proxwatch_under_a_sub_path() {
    through(Proxy::Nginx, "/proxwatch/");
}

#[test]
fn caddy_publishes_proxwatch_at_the_root() {
    through(Proxy::Caddy, "/");
}

#[test]
fn caddy_publishes_proxwatch_under_a_sub_path() {
    through(Proxy::Caddy, "/proxwatch/");
}

/// The doc shows the tested files as they are, so it cannot drift from what runs here.
#[test]
fn the_doc_shows_the_tested_configs_verbatim() {
    for (name, text) in [
        ("nginx-proxy.conf", NGINX_PROXY),
        ("nginx-site.conf", NGINX_SITE),
        ("nginx-site-subpath.conf", NGINX_SITE_SUBPATH),
        ("Caddyfile", CADDYFILE),
        ("Caddyfile.subpath", CADDYFILE_SUBPATH),
    ] {
        assert!(
            DOC.contains(text),
            "docs/reverse-proxy.md does not show packaging/reverse-proxy/{name} as it is: copy the file into the doc"
        );
    }
}

// ---- the check -----------------------------------------------------------------------------------

fn through(proxy: Proxy, base: &str) {
    let Some(bin) = proxy.binary() else { return };
    let sub = base != "/";
    let tmp = tempfile::Builder::new().prefix("proxwatch-proxy").tempdir().unwrap();
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    // An end-entity certificate (CA:FALSE), which rustls accepts as its own trust anchor.
    crate::common::self_signed(
        &cert,
        &key,
        NAME,
        &format!("DNS:{NAME}"),
        &["basicConstraints=critical,CA:FALSE"],
    );
    let site = proxy.site(sub);
    let demo = Demo::start(tmp.path(), &proxwatch_config(site));
    let front = proxy.start(&bin, site, &demo.addr, &cert, &key);
    let b = Browser::new(front.port, &cert, tmp.path().join("jar"));
    let ctx = format!("{proxy:?} at {base}");

    // The bare sub-path is redirected to the one with the slash (by the proxy or by proxwatch).
    if sub {
        let r = b.get("/proxwatch", &[]);
        assert!(matches!(r.status, 301 | 302 | 307 | 308), "{ctx}: /proxwatch answered {r:?}");
        let to = r.header("location").unwrap_or_default();
        assert!(to.ends_with("/proxwatch/"), "{ctx}: /proxwatch redirects to {to:?}");
    }

    // 1. The SPA: the page names the base path, and its assets load under it.
    let page = b.get(base, &[]);
    assert_eq!(page.status, 200, "{ctx}: the page: {page:?}");
    assert!(page.header("content-type").is_some_and(|c| c.starts_with("text/html")), "{ctx}: {page:?}");
    assert!(
        page.body.contains(&format!("<base href=\"{base}\"")),
        "{ctx}: no <base href={base}>: {}",
        page.body
    );
    let script = page
        .body
        .split("src=\"./")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("{ctx}: no script in the page: {}", page.body));
    assert!(script.starts_with("assets/") && script.ends_with(".js"), "{ctx}: {script}");
    let js = b.get(&format!("{base}{script}"), &[]);
    assert_eq!(js.status, 200, "{ctx}: {base}{script}: {js:?}");
    assert!(js.header("content-type").is_some_and(|c| c.contains("javascript")), "{ctx}: {js:?}");
    // A client-side route falls back to the page; the API never does.
    assert_eq!(b.get(&format!("{base}storage"), &[]).status, 200, "{ctx}");
    assert_eq!(b.get(&format!("{base}api/system"), &[]).status, 401, "{ctx}: the API without a login");
    // nginx passes on the Host it got (its only server also takes other names), so proxwatch's own
    // check refuses a name it does not know; Caddy routes only its site's name.
    if let Proxy::Nginx = proxy {
        let other = b.get(&format!("{base}api/health/live"), &["host: rebind.example"]);
        assert_eq!((other.status, &other.json()["error"]), (403, &Value::from("host_not_allowed")), "{ctx}");
    }

    // 2. Login. A wrong password first, then the right one, both claiming another address: the auth
    // log (what fail2ban reads) names the browser's address, which only the proxy could tell.
    let spoof = format!("x-forwarded-for: {SPOOFED}");
    let creds = |pw: &str| format!(r#"{{"username":"demo","password":"{pw}"}}"#);
    let wrong = b.post(&format!("{base}api/auth/login"), &creds("wrong"), &[&spoof]);
    assert_eq!((wrong.status, &wrong.json()["error"]), (401, &Value::from("invalid_credentials")), "{ctx}");
    let login = b.post(&format!("{base}api/auth/login"), &creds("demo"), &[&spoof]);
    assert_eq!(login.status, 200, "{ctx}: login: {login:?}");
    let csrf = login.json()["csrf_token"].as_str().unwrap_or_else(|| panic!("{ctx}: {login:?}")).to_string();
    // A page of another site may not log in here, proxied or not.
    let foreign = b.post_from("https://evil.example", &format!("{base}api/auth/login"), &creds("demo"), &[]);
    assert_eq!(
        (foreign.status, &foreign.json()["error"]),
        (403, &Value::from("origin_not_allowed")),
        "{ctx}"
    );

    let log = demo.data.join("auth.log");
    let failed = format!("authentication failure; rhost={CLIENT} user=demo event=login_failed");
    let ok = format!("auth event login_ok; rhost={CLIENT} user=demo event=login_ok");
    let text = wait_for_log(&log, &[&failed, &ok], &ctx);
    assert!(!text.contains(SPOOFED), "{ctx}: the spoofed address reached the auth log:\n{text}");

    // 3. Authenticated API calls, with the session cookie the proxy passed back.
    let system = b.get(&format!("{base}api/system"), &[]);
    assert_eq!(system.status, 200, "{ctx}: {system:?}");
    assert_eq!(system.json()["identity"]["hostname"], "pve-demo", "{ctx}");
    let sessions = b.get(&format!("{base}api/auth/sessions"), &[]).json();
    let mine = sessions["sessions"].as_array().and_then(|s| s.iter().find(|s| s["current"] == true));
    assert_eq!(mine.map(|s| &s["ip"]), Some(&Value::from(CLIENT)), "{ctx}: {sessions}");

    // 4. The live stream, event by event.
    b.live(&format!("{base}api/live"), &ctx);

    // 5. The root terminal: a ticket, then the websocket upgrade through the proxy.
    let ticket = b.post(&format!("{base}api/terminal/ticket"), "{}", &[&format!("x-csrf-token: {csrf}")]);
    assert_eq!(ticket.status, 200, "{ctx}: {ticket:?}");
    let ticket = ticket.json()["ticket"].as_str().unwrap().to_string();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(b.terminal(&format!("{base}api/terminal/ws?ticket={ticket}"), &ctx));
    let opened = format!("auth event terminal_open; rhost={CLIENT} user=demo event=terminal_open");
    wait_for_log(&log, &[&opened], &ctx);
}

/// proxwatch's settings that the site file's comment gives (the `#   ` lines after "config.toml to
/// go with it:"), plus a quiet shell for the terminal.
fn proxwatch_config(site: &str) -> String {
    let mut out = String::new();
    let lines = site.lines().skip_while(|l| !l.contains("config.toml to go with it:")).skip(1);
    for l in lines.map_while(|l| l.strip_prefix("#   ")) {
        out.push_str(l);
        out.push('\n');
    }
    assert!(
        out.contains("allowed_hosts") && out.contains("trusted_proxies"),
        "no proxwatch config in:\n{site}"
    );
    out + "[terminal]\ncommand = [\"/bin/bash\", \"--noprofile\", \"--norc\", \"+o\", \"history\"]\n"
}

/// Waits until the auth log holds every one of `lines`; its text.
fn wait_for_log(log: &Path, lines: &[&str], ctx: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if lines.iter().all(|l| text.contains(l)) {
            return text;
        }
        assert!(Instant::now() < deadline, "{ctx}: the auth log lacks one of {lines:?}:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `text` with `from` replaced, which must be there (else the shipped config changed shape and this
/// test must follow).
fn swap(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the shipped config no longer has {from:?}; update tests/it/proxy.rs:\n{text}"
    );
    text.replace(from, to)
}

// ---- peers ---------------------------------------------------------------------------------------

/// A peer process, killed on drop.
struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// nginx's master, stopped on drop with SIGTERM (it then stops its workers, which a SIGKILL of the
/// master alone would leave running on the port), and killed only if it has not exited within 5 s.
struct Master(Child);
impl Drop for Master {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill};
        let _ = kill(nix::unistd::Pid::from_raw(self.0.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(self.0.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running proxy process.
enum Running {
    Nginx(Master),
    Caddy(Kill),
}

impl Running {
    fn child(&mut self) -> &mut Child {
        match self {
            Running::Nginx(m) => &mut m.0,
            Running::Caddy(k) => &mut k.0,
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `proxwatch demo` with `config`, the terminal on, on a free loopback port.
struct Demo {
    _child: Kill,
    /// `127.0.0.1:<port>`.
    addr: String,
    data: PathBuf,
}

impl Demo {
    fn start(dir: &Path, config: &str) -> Demo {
        let path = dir.join("proxwatch.toml");
        std::fs::write(&path, config).unwrap();
        let data = dir.join("data");
        let mut child = Command::new(env!("CARGO_BIN_EXE_proxwatch"))
            .args(["demo", "--terminal", "--port", "0", "--config"])
            .arg(&path)
            .arg("--data-dir")
            .arg(&data)
            .env("PROXWATCH_LOG", "warn")
            // Not "a systemd service" even when the test runs in one: the terminal's shell starts
            // directly, as in tests/it/terminal.rs, not as a transient unit.
            .env_remove("INVOCATION_ID")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("proxwatch.err")).unwrap())
            .spawn()
            .unwrap();
        // Its first stdout line says where it listens (before it accepts: connections queue).
        let line = BufReader::new(child.stdout.take().unwrap()).lines().next();
        let line = line.and_then(Result::ok).unwrap_or_default();
        let Some(url) = line.strip_prefix("proxwatch demo listening on http://") else {
            let _ = child.kill();
            let err = std::fs::read_to_string(dir.join("proxwatch.err")).unwrap_or_default();
            panic!("the demo did not start with\n{config}\n{line}\n{err}");
        };
        Demo { _child: Kill(child), addr: url.trim_end_matches('/').to_string(), data }
    }
}

#[derive(Debug, Clone, Copy)]
enum Proxy {
    Nginx,
    Caddy,
}

/// A running proxy; stopped on drop.
struct Front {
    _child: Running,
    port: u16,
    /// Holds nginx's prefix or Caddy's home.
    _dir: tempfile::TempDir,
}

impl Proxy {
    /// The installed binary; `None` (skip) only when missing peers are allowed.
    fn binary(self) -> Option<PathBuf> {
        let (candidates, package): (&[&str], _) = match self {
            Proxy::Nginx => (&["/usr/sbin/nginx", "/usr/bin/nginx"], "nginx"),
            Proxy::Caddy => (&["/usr/bin/caddy"], "caddy"),
        };
        if let Some(found) = candidates.iter().map(PathBuf::from).find(|p| p.exists()) {
            return Some(found);
        }
        if std::env::var("PROXWATCH_ALLOW_MISSING_PEERS").as_deref() == Ok("1") {
            eprintln!(
                "SKIPPED: {package} is not installed (apt install {package}); PROXWATCH_ALLOW_MISSING_PEERS=1"
            );
            return None;
        }
        panic!(
            "{} is not installed: run scripts/test (apt install {package}), or set PROXWATCH_ALLOW_MISSING_PEERS=1 to skip",
            candidates[0]
        );
    }

    fn site(self, sub: bool) -> &'static str {
        match (self, sub) {
            (Proxy::Nginx, false) => NGINX_SITE,
            (Proxy::Nginx, true) => NGINX_SITE_SUBPATH,
            (Proxy::Caddy, false) => CADDYFILE,
            (Proxy::Caddy, true) => CADDYFILE_SUBPATH,
        }
    }

    /// Starts the proxy with the shipped `site` in front of `upstream`, serving `cert` for [`NAME`] on
    /// a free port of 127.0.0.1, and waits until it answers.
    fn start(self, bin: &Path, site: &str, upstream: &str, cert: &Path, key: &Path) -> Front {
        let dir = tempfile::Builder::new().prefix(&format!("proxwatch-{self:?}")).tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        let mut cmd = match self {
            Proxy::Nginx => {
                let snippet = d.join("proxwatch-proxy.conf").display().to_string();
                std::fs::write(&snippet, NGINX_PROXY).unwrap();
                let mut s = swap(site, "listen 443 ssl;", &format!("listen 127.0.0.1:{port} ssl;"));
                s = swap(&s, "listen [::]:443 ssl;", "");
                s = swap(&s, "/etc/ssl/certs/pve.example.com.pem", &cert);
                s = swap(&s, "/etc/ssl/private/pve.example.com.key", &key);
                s = swap(&s, "/etc/nginx/snippets/proxwatch-proxy.conf", &snippet);
                s = swap(&s, "http://127.0.0.1:8008", &format!("http://{upstream}"));
                std::fs::write(d.join("site.conf"), s).unwrap();
                // Every path nginx writes is in the prefix; as root its workers run as nobody, so the
                // prefix (which holds no secret: the key is read by the master) is opened to them.
                let p = d.display();
                let conf = format!(
                    "pid {p}/nginx.pid;\nerror_log stderr;\nworker_processes 1;\nevents {{}}\nhttp {{\n  \
                     access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n  \
                     fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n  \
                     include {p}/site.conf;\n}}\n"
                );
                std::fs::write(d.join("nginx.conf"), conf).unwrap();
                std::fs::create_dir_all(d.join("logs")).unwrap();
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
                let mut c = Command::new(bin);
                c.arg("-p").arg(d).arg("-c").arg(d.join("nginx.conf")).args(["-g", "daemon off;"]);
                c
            }
            Proxy::Caddy => {
                let mut s = swap(
                    site,
                    &format!("{NAME} {{"),
                    &format!("https://{NAME}:{port} {{\n\ttls {cert} {key}\n\tbind 127.0.0.1"),
                );
                s = swap(&s, "reverse_proxy 127.0.0.1:8008", &format!("reverse_proxy {upstream}"));
                // The admin API and automatic certificates are off: nothing outside the temp dir.
                let global = "{\n\tadmin off\n\tauto_https off\n\tservers {\n\t\tprotocols h1 h2\n\t}\n}\n";
                std::fs::write(d.join("Caddyfile"), format!("{global}{s}")).unwrap();
                let mut c = Command::new(bin);
                c.arg("run").arg("--config").arg(d.join("Caddyfile")).args(["--adapter", "caddyfile"]);
                c.env("HOME", d)
                    .env("XDG_DATA_HOME", d.join("data"))
                    .env("XDG_CONFIG_HOME", d.join("config"));
                c
            }
        };
        let err = d.join("stderr");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        let mut child = match self {
            Proxy::Nginx => Running::Nginx(Master(child)),
            Proxy::Caddy => Running::Caddy(Kill(child)),
        };
        // Ready when a TLS request gets any HTTP answer.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let code = curl(&[
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--resolve",
                &format!("{NAME}:{port}:127.0.0.1"),
                "--cacert",
                &cert,
                &format!("https://{NAME}:{port}/"),
            ]);
            if code.len() == 3 && code != "000" {
                break;
            }
            let log = || std::fs::read_to_string(&err).unwrap_or_default();
            if let Ok(Some(status)) = child.child().try_wait() {
                panic!("{self:?} exited ({status}) before answering:\n{}", log());
            }
            assert!(Instant::now() < deadline, "{self:?} did not answer on {port} within 30 s:\n{}", log());
            std::thread::sleep(Duration::from_millis(50));
        }
        Front { _child: child, port, _dir: dir }
    }
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl").args(["-sS", "--max-time", "10"]).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

// ---- the browser ---------------------------------------------------------------------------------

/// A client of `https://pve.example.com:<port>` from [`CLIENT`], trusting the test's certificate and
/// keeping cookies in a jar, as a browser would.
struct Browser {
    port: u16,
    cert: PathBuf,
    jar: PathBuf,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

impl Browser {
    fn new(port: u16, cert: &Path, jar: PathBuf) -> Browser {
        Browser { port, cert: cert.to_path_buf(), jar }
    }

    fn origin(&self) -> String {
        format!("https://{NAME}:{}", self.port)
    }

    /// curl's arguments for `path` as this browser, then `extra`.
    fn args(&self, path: &str, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = [
            "--resolve",
            &format!("{NAME}:{}:127.0.0.1", self.port),
            "--cacert",
            &self.cert.display().to_string(),
            "--interface",
            CLIENT,
            "-b",
            &self.jar.display().to_string(),
            "-c",
            &self.jar.display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for h in extra {
            a.extend(["-H".to_string(), h.to_string()]);
        }
        a.push(format!("{}{path}", self.origin()));
        a
    }

    /// One exchange: curl with `pre`, then this browser's arguments; the answer's status, head and body.
    fn exchange(&self, pre: &[&str], path: &str, extra: &[&str]) -> Reply {
        let mut args: Vec<String> = pre.iter().map(|s| s.to_string()).collect();
        args.push("-i".into());
        args.extend(self.args(path, extra));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = curl(&args);
        let (head, body) =
            out.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP answer to {path}: {out:?}"));
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        Reply { status, head: head.to_string(), body: body.to_string() }
    }

    fn get(&self, path: &str, extra: &[&str]) -> Reply {
        self.exchange(&[], path, extra)
    }

    /// A JSON POST from this site's own page (its `Origin`).
    fn post(&self, path: &str, body: &str, extra: &[&str]) -> Reply {
        self.post_from(&self.origin(), path, body, extra)
    }

    /// A JSON POST from a page of `origin`.
    fn post_from(&self, origin: &str, path: &str, body: &str, extra: &[&str]) -> Reply {
        let origin = format!("origin: {origin}");
        let mut h = vec!["content-type: application/json", origin.as_str()];
        h.extend(extra);
        self.exchange(&["--data-raw", body], path, &h)
    }

    /// Reads `/api/live` through the proxy until an event is seen to arrive before the sample after it
    /// was taken. A buffering proxy holds each event's tail until the next event's bytes push it out,
    /// so there every event (but, by chance, the first) arrives after the next sample's `ts`.
    fn live(&self, path: &str, ctx: &str) {
        let mut args = vec!["-sS".to_string(), "-N".to_string(), "--max-time".to_string(), "15".to_string()];
        args.extend(self.args(path, &[]));
        let child =
            Command::new("curl").args(&args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let mut child = Kill(child);
        let lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
        let now_ms = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
        // (ts, arrival) of each event, in order.
        let mut seen: Vec<(i64, i64)> = Vec::new();
        let mut event = String::new();
        for line in lines.map_while(Result::ok) {
            if let Some(name) = line.strip_prefix("event:") {
                event = name.trim().to_string();
                continue;
            }
            // The health verdict (`event: health`) comes too; the vitals carry the timestamps.
            let Some(data) = line.strip_prefix("data:").filter(|_| event == "vitals") else { continue };
            let arrived = now_ms();
            let v: Value =
                serde_json::from_str(data.trim()).unwrap_or_else(|e| panic!("{ctx}: event data: {e}"));
            let ts = v["ts"].as_i64().unwrap_or_else(|| panic!("{ctx}: an event without ts"));
            if let Some(&(_, before)) = seen.last() {
                if seen.len() >= 2 && before < ts {
                    return;
                }
            }
            seen.push((ts, arrived));
            if seen.len() > 6 {
                break;
            }
        }
        let ages: Vec<i64> = seen.iter().map(|(ts, at)| at - ts).collect();
        assert!(!seen.is_empty(), "{ctx}: no live event came through the proxy");
        panic!(
            "{ctx}: every live event arrived after the next sample was taken: the proxy buffers the stream \
             (ms from each sample to its arrival: {ages:?})"
        );
    }

    /// The terminal's websocket through the proxy: the upgrade gets proxwatch's 101, and a command
    /// typed into the shell echoes back.
    async fn terminal(&self, path: &str, ctx: &str) {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, ServerName};
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(format!("{CLIENT}:0").parse().unwrap()).unwrap();
        let tcp = sock.connect(([127, 0, 0, 1], self.port).into()).await.unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&self.cert).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
            .connect(ServerName::try_from(NAME).unwrap(), tcp)
            .await
            .unwrap();

        let mut req = format!("wss://{NAME}:{}{path}", self.port).into_client_request().unwrap();
        let cookie = self.session_cookie();
        req.headers_mut().insert("cookie", cookie.parse().unwrap());
        req.headers_mut().insert("origin", self.origin().parse().unwrap());
        let wait = Duration::from_secs(10);
        let (mut ws, resp) = match tokio::time::timeout(wait, tokio_tungstenite::client_async(req, tls)).await
        {
            Err(_) => panic!("{ctx}: the websocket handshake timed out"),
            Ok(Ok(ok)) => ok,
            Ok(Err(tungstenite::Error::Http(r))) => {
                let body = r.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
                panic!("{ctx}: the upgrade was answered {} {body}", r.status());
            }
            Ok(Err(e)) => panic!("{ctx}: the websocket handshake failed: {e}"),
        };
        assert_eq!(resp.status().as_u16(), 101, "{ctx}");

        ws.send(Message::Binary(b"echo pxw-$((6*7))\n".to_vec().into())).await.unwrap();
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        while !String::from_utf8_lossy(&out).contains("pxw-42") {
            match tokio::time::timeout_at(deadline, ws.next()).await {
                Err(_) => panic!("{ctx}: no echo through the terminal: {:?}", String::from_utf8_lossy(&out)),
                Ok(Some(Ok(Message::Binary(b)))) => out.extend_from_slice(&b),
                Ok(Some(Ok(Message::Close(f)))) => panic!("{ctx}: the terminal closed: {f:?}"),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(e))) => panic!("{ctx}: terminal socket error: {e}"),
                Ok(None) => panic!("{ctx}: the terminal socket ended"),
            }
        }
        let _ = ws.close(None).await;
    }

    /// `pxw_session=<value>` from curl's cookie jar (Netscape format: tab-separated, the name and
    /// value last; HttpOnly cookies' lines start with `#HttpOnly_`).
    fn session_cookie(&self) -> String {
        let jar = std::fs::read_to_string(&self.jar).unwrap();
        let name = proxwatch::auth::store::COOKIE;
        jar.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.len() == 7 && f[5] == name).then(|| format!("{name}={}", f[6]))
            })
            .next()
            .unwrap_or_else(|| panic!("no {name} cookie in the jar:\n{jar}"))
    }
}
