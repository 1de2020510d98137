//! The PVE API (issue 15): the live transport against a local HTTPS server signed by a test CA (the
//! token header, CA verification, 401/403, a task followed to its end), the connect step against a
//! replay of `pveum` (the exact argv, the secret in no argv, log or plaintext column), and guest
//! actions through the (replayed) API.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use proxwatch::host::Host;
use proxwatch::host::pveapi::{Endpoint, PveLink, PveRequest, Token};
use proxwatch::tools::pvesh::GuestKind;
use proxwatch::workers::actions::Actions;
use proxwatch::workers::pve::{OpError, guest_power};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::common::{TestApp, replay_dir};

const SECRET: &str = "5f3c1a2b-9d8e-4f70-a1b2-c3d4e5f6a7b8";

fn openssl(args: &[&str], dir: &Path) {
    let ok = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "openssl {args:?}");
}

/// A CA (`<name>-ca.pem`) and a server certificate signed by it for PVE's names
/// (`<name>-srv.pem`, `<name>-srv.key`), as `gen_pve_ssl_cert` makes them.
fn ca_and_server(dir: &Path, name: &str) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let (ca, cakey) = (format!("{name}-ca.pem"), format!("{name}-ca.key"));
    let mut a = vec!["req", "-x509"];
    a.extend(ec);
    a.extend(["-days", "2", "-subj", "/CN=Proxmox Virtual Environment", "-keyout", &cakey, "-out", &ca]);
    a.extend([
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&a, dir);
    let (key, csr, crt) = (format!("{name}-srv.key"), format!("{name}-srv.csr"), format!("{name}-srv.pem"));
    let mut a = vec!["req", "-new"];
    a.extend(ec);
    a.extend(["-subj", "/CN=pve.example", "-keyout", &key, "-out", &csr]);
    openssl(&a, dir);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:pve\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &cakey,
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &crt,
            "-extfile",
            "ext.cnf",
        ],
        dir,
    );
}

type Answer = (u16, &'static str, String);

/// A PVE-like HTTPS server: one request per connection (as the client sends), each recorded
/// (head and body, as received) and answered by `answer(method, path, head)`.
async fn pve_server(
    dir: &Path,
    name: &str,
    answer: impl Fn(&str, &str, &str) -> Answer + Send + Sync + 'static,
) -> (u16, Arc<Mutex<Vec<String>>>) {
    let acceptor = crate::common::tls_acceptor(
        &dir.join(format!("{name}-srv.pem")),
        &dir.join(format!("{name}-srv.key")),
    );
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (answer, log) = (Arc::new(answer), seen.clone());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else { return };
            let (acceptor, answer, log) = (acceptor.clone(), answer.clone(), log.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    log.lock().unwrap().push("<handshake failed>".to_string());
                    return;
                };
                let text = crate::common::read_http_request(&mut tls).await;
                log.lock().unwrap().push(text.clone());
                let first = text.lines().next().unwrap_or("").to_string();
                let mut parts = first.split(' ');
                let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let (status, reason, body) = answer(method, path, &text);
                let resp = format!(
                    "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, seen)
}

const UPID_OK: &str = "UPID:pve:000A1B2C:0B2C4D00:6740A100:qmstart:100:proxwatch@pve!proxwatch:";
const UPID_FAIL: &str = "UPID:pve:000A1B2D:0B2C4D01:6740A101:qmstart:101:proxwatch@pve!proxwatch:";

fn runner(host: Host) -> (Arc<Host>, Actions, tokio_util::sync::CancellationToken) {
    let host = Arc::new(host);
    let (actions, queue) = Actions::new();
    let cancel = tokio_util::sync::CancellationToken::new();
    tokio::spawn(proxwatch::workers::actions::run(host.clone(), queue, cancel.clone()));
    (host, actions, cancel)
}

#[tokio::test]
async fn the_live_transport_sends_the_token_verifies_the_ca_and_follows_tasks() {
    let tmp = tempfile::tempdir().unwrap();
    ca_and_server(tmp.path(), "pve");
    let polls = Arc::new(Mutex::new(0u32));
    let p = polls.clone();
    let (port, seen) = pve_server(tmp.path(), "pve", move |method, path, head| {
        let auth = head
            .lines()
            .find_map(|l| l.strip_prefix("authorization: ").or_else(|| l.strip_prefix("Authorization: ")))
            .unwrap_or("");
        if auth != format!("PVEAPIToken=proxwatch@pve!proxwatch={SECRET}") {
            return (401, "invalid token value!", r#"{"data":null}"#.into());
        }
        let task = |upid: &str, status: &str, exit: Option<&str>| {
            let mut d = json!({"upid": upid, "node": "pve", "pid": 662316, "pstart": 187452672,
                "starttime": 1732288768, "type": "qmstart", "id": "100", "user": "proxwatch@pve!proxwatch",
                "status": status});
            if let Some(e) = exit {
                d["exitstatus"] = json!(e);
            }
            (200, "OK", json!({ "data": d }).to_string())
        };
        match (method, path) {
            ("GET", "/api2/json/version") => {
                (200, "OK", r#"{"data":{"version":"8.2.4","release":"8.2","repoid":"faa83925"}}"#.into())
            }
            ("POST", "/api2/json/nodes/pve/qemu/100/status/start") => {
                (200, "OK", json!({ "data": UPID_OK }).to_string())
            }
            ("POST", "/api2/json/nodes/pve/qemu/101/status/start") => {
                (200, "OK", json!({ "data": UPID_FAIL }).to_string())
            }
            ("POST", "/api2/json/nodes/pve/qemu/102/status/start") => {
                (403, "Permission check failed (/vms/102, VM.PowerMgmt)", r#"{"data":null}"#.into())
            }
            ("GET", p) if p == format!("/api2/json/nodes/pve/tasks/{UPID_OK}/status") => {
                let mut n = polls.lock().unwrap();
                *n += 1;
                if *n == 1 { task(UPID_OK, "running", None) } else { task(UPID_OK, "stopped", Some("OK")) }
            }
            ("GET", p) if p == format!("/api2/json/nodes/pve/tasks/{UPID_FAIL}/status") => {
                task(UPID_FAIL, "stopped", Some("command 'x' failed: exit code 1"))
            }
            _ => (501, "Method not implemented", r#"{"data":null}"#.into()),
        }
    })
    .await;
    let endpoint = Endpoint {
        base: format!("https://127.0.0.1:{port}"),
        ca_path: tmp.path().join("pve-ca.pem").display().to_string(),
    };
    let (host, actions, cancel) =
        runner(Host::system(Duration::from_secs(5)).with_pve_endpoint(endpoint.clone()));
    let link = PveLink::new(Some(Token::new("proxwatch@pve!proxwatch", SECRET, true)));
    let follow = Duration::from_secs(10);

    // Started, followed from running to stopped: OK.
    let t = guest_power(&actions, &link, "pve", GuestKind::Qemu, 100, "start", follow).await.unwrap();
    assert_eq!(
        (t.upid.as_str(), t.status.as_str(), t.exitstatus.as_deref(), t.ok),
        (UPID_OK, "stopped", Some("OK"), Some(true))
    );
    assert_eq!(*p.lock().unwrap(), 2, "polled while running");
    {
        let seen = seen.lock().unwrap();
        let post = seen[0].to_ascii_lowercase();
        assert!(post.starts_with("post /api2/json/nodes/pve/qemu/100/status/start http/1.1\r\n"), "{post}");
        assert!(seen[0].contains(&format!("PVEAPIToken=proxwatch@pve!proxwatch={SECRET}")), "{}", seen[0]);
        assert!(post.contains("content-type: application/x-www-form-urlencoded"), "{post}");
        assert!(post.contains(&format!("host: 127.0.0.1:{port}")), "{post}");
    }

    // A task that failed is reported failed, with PVE's words.
    let t = guest_power(&actions, &link, "pve", GuestKind::Qemu, 101, "start", follow).await.unwrap();
    assert_eq!((t.status.as_str(), t.ok), ("stopped", Some(false)));
    assert_eq!(t.exitstatus.as_deref(), Some("command 'x' failed: exit code 1"));

    // 403: the privilege the token lacks, from PVE's status line.
    let e = guest_power(&actions, &link, "pve", GuestKind::Qemu, 102, "start", follow).await.unwrap_err();
    let OpError::Api(f) = e else { panic!("{e:?}") };
    assert_eq!(f.to_string(), "the token lacks privilege VM.PowerMgmt on /vms/102");

    // 401: a token PVE does not know.
    let stale = PveLink::new(Some(Token::new("proxwatch@pve!proxwatch", "old-secret", true)));
    let e = guest_power(&actions, &stale, "pve", GuestKind::Qemu, 100, "start", follow).await.unwrap_err();
    let OpError::Api(f) = e else { panic!("{e:?}") };
    assert!(f.to_string().contains("the token was rejected (invalid token value!)"), "{f}");
    assert!(f.to_string().contains("run `proxwatch pve connect` again"), "{f}");

    // No token: how to connect, and no request at all.
    let before = seen.lock().unwrap().len();
    let e = guest_power(&actions, &PveLink::default(), "pve", GuestKind::Qemu, 100, "start", follow)
        .await
        .unwrap_err();
    let OpError::Api(f) = e else { panic!("{e:?}") };
    assert!(f.to_string().contains("Settings → Proxmox, or `proxwatch pve connect`"), "{f}");
    assert_eq!(seen.lock().unwrap().len(), before);

    // Counted as runs of pve-api, never as spawns.
    let runs = host.runs_by_program()["pve-api"];
    assert_eq!((runs.runs, runs.spawns), (seen.lock().unwrap().len() as u64, 0));
    assert_eq!(host.spawn_count(), 0);

    // A server whose certificate another CA signed (a custom pveproxy certificate) is refused in
    // the handshake: not a byte of the request (which holds the token) reaches it.
    ca_and_server(tmp.path(), "other");
    let (other_port, other_seen) = pve_server(tmp.path(), "other", |_, _, _| (200, "OK", "{}".into())).await;
    let wrong = Host::system(Duration::from_secs(5))
        .with_pve_endpoint(Endpoint { base: format!("https://127.0.0.1:{other_port}"), ..endpoint });
    let e = wrong
        .pve_api(
            PveRequest::get("/version").auth(Token::new("proxwatch@pve!proxwatch", SECRET, true).header()),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not signed by the cluster CA") && e.contains("custom certificate"), "{e}");
    assert!(!e.contains(SECRET), "{e}");
    let other_seen = other_seen.lock().unwrap().clone();
    assert!(other_seen.iter().all(|r| r == "<handshake failed>"), "{other_seen:?}");
    cancel.cancel();
}

// ---- the connect step against a replay of pveum ------------------------------------------------------

const COMMENT: &str = "proxwatch monitoring appliance (read-only audit, power actions if allowed); `proxwatch pve disconnect` removes it";
const AUDIT: &str = "Sys.Audit,VM.Audit,Datastore.Audit,Pool.Audit";

/// A scenario of `pveum` answers: a fresh node (`connected == false`: no proxwatch user, role or
/// token) or one where a connect already ran.
fn pveum_scenario(dir: &Path, connected: bool) {
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let users = if connected {
        r#"[{"userid":"root@pam","enable":1},{"userid":"proxwatch@pve","enable":1,"tokens":[{"tokenid":"proxwatch","privsep":1}]}]"#
    } else {
        r#"[{"userid":"root@pam","enable":1,"tokens":[]}]"#
    };
    let roles = if connected {
        r#"[{"roleid":"PVEAuditor","special":1},{"roleid":"ProxwatchMonitor","privs":"Datastore.Audit,Pool.Audit,Sys.Audit,VM.Audit","special":0}]"#
    } else {
        r#"[{"roleid":"PVEAuditor","privs":"Sys.Audit","special":1}]"#
    };
    std::fs::write(dir.join("out/users.json"), users).unwrap();
    std::fs::write(dir.join("out/roles.json"), roles).unwrap();
    std::fs::write(
        dir.join("out/token.json"),
        format!(
            r#"{{"full-tokenid":"proxwatch@pve!proxwatch","info":{{"privsep":"1"}},"value":"{SECRET}"}}"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("out/version.json"),
        r#"{"release":"8.2","repoid":"faa83925","version":"8.2.4"}"#,
    )
    .unwrap();
    let mut m = String::from("[scenario]\nname = \"pveum\"\n");
    let mut add = |argv: &[&str], stdout: Option<&str>| {
        let quoted: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
        m.push_str(&format!("[[command]]\nargv = [{}]\n", quoted.join(", ")));
        if let Some(s) = stdout {
            m.push_str(&format!("stdout = {s:?}\n"));
        }
    };
    add(&["pveum", "user", "list", "--full", "1", "--output-format", "json"], Some("out/users.json"));
    add(&["pveum", "role", "list", "--output-format", "json"], Some("out/roles.json"));
    for verb in ["add", "modify"] {
        add(&["pveum", "user", verb, "proxwatch@pve", "--comment", COMMENT], None);
        add(&["pveum", "role", verb, "ProxwatchMonitor", "--privs", &format!("{AUDIT},VM.PowerMgmt")], None);
        add(&["pveum", "role", verb, "ProxwatchMonitor", "--privs", AUDIT], None);
    }
    for (who, id) in [("--users", "proxwatch@pve"), ("--tokens", "proxwatch@pve!proxwatch")] {
        add(
            &["pveum", "acl", "modify", "/", who, id, "--roles", "ProxwatchMonitor", "--propagate", "1"],
            None,
        );
        add(&["pveum", "acl", "delete", "/", who, id, "--roles", "ProxwatchMonitor"], None);
    }
    add(&["pveum", "user", "token", "remove", "proxwatch@pve", "proxwatch"], None);
    add(&token_add_argv(), Some("out/token.json"));
    add(&["pveum", "user", "delete", "proxwatch@pve"], None);
    add(&["pveum", "role", "delete", "ProxwatchMonitor"], None);
    add(&["pvesh", "get", "/version", "--output-format", "json"], Some("out/version.json"));
    std::fs::write(dir.join("manifest.toml"), m).unwrap();
}

/// `pveum user token add` as connect must run it: privilege-separated, the secret on stdout as JSON.
fn token_add_argv() -> [&'static str; 12] {
    [
        "pveum",
        "user",
        "token",
        "add",
        "proxwatch@pve",
        "proxwatch",
        "--privsep",
        "1",
        "--comment",
        COMMENT,
        "--output-format",
        "json",
    ]
}

fn v(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

fn connect_argv(fresh: bool, actions: bool) -> Vec<Vec<String>> {
    let verb = if fresh { "add" } else { "modify" };
    let privs = if actions { format!("{AUDIT},VM.PowerMgmt") } else { AUDIT.to_string() };
    let mut out = vec![
        v(&["pveum", "user", "list", "--full", "1", "--output-format", "json"]),
        v(&["pveum", "user", verb, "proxwatch@pve", "--comment", COMMENT]),
        v(&["pveum", "role", "list", "--output-format", "json"]),
        v(&["pveum", "role", verb, "ProxwatchMonitor", "--privs", &privs]),
        v(&[
            "pveum",
            "acl",
            "modify",
            "/",
            "--users",
            "proxwatch@pve",
            "--roles",
            "ProxwatchMonitor",
            "--propagate",
            "1",
        ]),
    ];
    if !fresh {
        out.push(v(&["pveum", "user", "token", "remove", "proxwatch@pve", "proxwatch"]));
    }
    out.push(v(&token_add_argv()));
    out.push(v(&[
        "pveum",
        "acl",
        "modify",
        "/",
        "--tokens",
        "proxwatch@pve!proxwatch",
        "--roles",
        "ProxwatchMonitor",
        "--propagate",
        "1",
    ]));
    out
}

/// Everything the tracing subscriber of this thread writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn connect_runs_pveum_and_stores_the_secret_sealed_and_disconnect_removes_it() {
    use tracing_subscriber::prelude::*;
    let logs = Captured::default();
    let w = logs.clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(move || w.clone()))
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    let _guard = tracing::subscriber::set_default(subscriber);

    let fresh = tempfile::tempdir().unwrap();
    pveum_scenario(fresh.path(), false);
    // The app's database is in memory: the sealed row is checked there (the CLI test checks the file).
    let app = TestApp::builder().host(replay_dir(fresh.path())).build().await;
    assert!(!app.pve.is_connected());
    let report = app.pve_conn.connect(true).await.unwrap();
    assert_eq!(report.commands, connect_argv(true, true));
    assert!(report.commands.iter().flatten().all(|a| !a.contains(SECRET)), "the secret is in no argv");
    let c = &report.connection;
    assert!(c.connected && c.actions);
    assert_eq!(c.token_id.as_deref(), Some("proxwatch@pve!proxwatch"));
    assert_eq!(c.privileges, ["Sys.Audit", "VM.Audit", "Datastore.Audit", "Pool.Audit", "VM.PowerMgmt"]);
    let created = c.created.as_ref().unwrap();
    assert_eq!(
        (created.user.as_str(), created.role.as_str(), created.privsep),
        ("proxwatch@pve", "ProxwatchMonitor", true)
    );
    assert_eq!(created.acl_paths, ["/"]);
    let check = c.last_check.as_ref().unwrap();
    assert_eq!((check.ok, check.message.as_str()), (true, "PVE 8.2.4"));
    assert_eq!(app.pve.token().unwrap().secret(), SECRET, "the link holds the new token");
    let answer = serde_json::to_string(&report).unwrap();
    assert!(!answer.contains(SECRET), "{answer}");
    let raw: Vec<u8> =
        app.db.call(|c| Ok(c.query_row("SELECT secret FROM pve_api", [], |r| r.get(0))?)).await.unwrap();
    assert!(!raw.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()), "stored sealed");
    let dump: String = app
        .db
        .call(|c| Ok(c.query_row("SELECT token_id || created FROM pve_api", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert!(!dump.contains(SECRET));

    // The connection as the API shows it (admins), never the secret.
    let (status, body) = app.get("/api/pve/connection").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["connected"].as_bool(), body["token_id"].as_str()),
        (Some(true), Some("proxwatch@pve!proxwatch"))
    );
    assert!(!body.to_string().contains(SECRET));
    // Connect and disconnect need an interactive admin session: an API token is refused.
    let (status, _) = app.call(Method::POST, "/api/pve/connect", Some(json!({"actions": true}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A malformed body from an admin session: a 400 saying what is wrong, and nothing run.
    let admin =
        crate::auth::login(&app, crate::common::ADMIN, crate::common::ADMIN_PASSWORD, None).await.unwrap();
    for (bad, says) in
        [(json!({"actions": "yes"}), "expected a boolean"), (json!({"actoins": true}), "actoins")]
    {
        let r = crate::auth::call(&app, Method::POST, "/api/pve/connect", &admin, Some(bad)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert!(r.body["message"].as_str().unwrap().contains(says), "{}", r.body);
    }

    // Again on a node where it all exists: updated, the token made again; then disconnected.
    drop(app);
    let again = tempfile::tempdir().unwrap();
    pveum_scenario(again.path(), true);
    let app = TestApp::builder().host(replay_dir(again.path())).build().await;
    let report = app.pve_conn.connect(false).await.unwrap();
    assert_eq!(report.commands, connect_argv(false, false));
    let created = report.connection.created.unwrap();
    assert!(created.user_existed && created.role_existed && created.token_replaced);
    assert!(!report.connection.privileges.contains(&"VM.PowerMgmt".to_string()));
    let report = app.pve_conn.disconnect().await.unwrap();
    assert_eq!(
        report.commands,
        [
            v(&["pveum", "user", "list", "--full", "1", "--output-format", "json"]),
            v(&[
                "pveum",
                "acl",
                "delete",
                "/",
                "--tokens",
                "proxwatch@pve!proxwatch",
                "--roles",
                "ProxwatchMonitor"
            ]),
            v(&["pveum", "user", "token", "remove", "proxwatch@pve", "proxwatch"]),
            v(&["pveum", "acl", "delete", "/", "--users", "proxwatch@pve", "--roles", "ProxwatchMonitor"]),
            v(&["pveum", "user", "delete", "proxwatch@pve"]),
            v(&["pveum", "role", "list", "--output-format", "json"]),
            v(&["pveum", "role", "delete", "ProxwatchMonitor"]),
        ]
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert!(!report.connection.connected && !app.pve.is_connected());
    let rows: i64 =
        app.db.call(|c| Ok(c.query_row("SELECT count(*) FROM pve_api", [], |r| r.get(0))?)).await.unwrap();
    assert_eq!(rows, 0);

    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(
        logs.contains("pveum") && logs.contains("connected to the PVE API"),
        "the steps are logged: {logs}"
    );
    assert!(!logs.contains(SECRET), "the secret is in a log line");
}

/// The real binary: `proxwatch pve connect --actions`, `status` and `disconnect` over a replay of
/// pveum, with debug logs: the secret is on no line of its output and not in the database file.
#[test]
fn the_cli_connects_and_disconnects() {
    let fresh = tempfile::tempdir().unwrap();
    pveum_scenario(fresh.path(), false);
    let connected = tempfile::tempdir().unwrap();
    pveum_scenario(connected.path(), true);
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let run = |scenario: &Path, args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_proxwatch"))
            .arg("--replay")
            .arg(scenario)
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .env("PROXWATCH_LOG", "debug")
            .env("PROXWATCH_CONFIG", &config)
            .output()
            .unwrap();
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!text.contains(SECRET), "the secret was printed: {text}");
        (out.status.success(), text)
    };
    let (ok, text) = run(fresh.path(), &["pve", "connect", "--actions"]);
    assert!(ok, "{text}");
    assert!(text.contains("ran: pveum user token add proxwatch@pve proxwatch --privsep 1"), "{text}");
    assert!(text.contains("connected: token proxwatch@pve!proxwatch"), "{text}");
    assert!(text.contains("VM.PowerMgmt") && text.contains("check: ok, PVE 8.2.4"), "{text}");
    let db = std::fs::read(data.path().join("proxwatch.db")).unwrap();
    assert!(!db.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()), "the secret is in the database file");
    let (ok, text) = run(fresh.path(), &["pve", "status"]);
    assert!(ok && text.contains("guest power actions: allowed"), "{text}");
    let (ok, text) = run(connected.path(), &["pve", "disconnect"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("ran: pveum user delete proxwatch@pve")
            && text.contains("ran: pveum role delete ProxwatchMonitor"),
        "{text}"
    );
    let (ok, text) = run(fresh.path(), &["pve", "status"]);
    assert!(ok && text.contains("not connected to the PVE API"), "{text}");
}

// ---- guest actions through the replayed API ----------------------------------------------------------

#[tokio::test]
async fn demo_guest_actions_go_through_the_api_and_spawn_no_pvesh() {
    let app = TestApp::builder().demo().inventory(1_722_500_000_000, 1).services().build().await;
    let (status, body) = app.call(Method::POST, "/api/vms/101/shutdown", Some(json!({}))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("Settings → Proxmox, or `proxwatch pve connect`"),
        "{body}"
    );

    app.pve_conn.seed_demo().await.unwrap();
    let pvesh_before = app.host.runs_by_program().get("pvesh").map_or(0, |r| r.runs);
    let (status, body) = app.call(Method::POST, "/api/vms/101/shutdown", Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["upid"].as_str().unwrap().contains(":qmshutdown:101:"), "{body}");
    assert_eq!(
        (body["status"].as_str(), body["exitstatus"].as_str(), body["ok"].as_bool()),
        (Some("stopped"), Some("OK"), Some(true))
    );
    // Not recorded in the demo: a UPID made for the node and the token.
    let (status, body) = app.call(Method::POST, "/api/vms/200/suspend", Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let upid = body["upid"].as_str().unwrap();
    assert!(
        upid.starts_with("UPID:pve-demo:") && upid.ends_with(":vzsuspend:200:proxwatch@pve!proxwatch:"),
        "{upid}"
    );

    let (_, me) = app.get("/api/system/self").await;
    let by: &Value = &me["by_program"];
    assert!(by["pve-api"]["runs"].as_u64().unwrap() >= 4, "{by}");
    assert_eq!(by["pve-api"]["spawns"], 0, "{by}");
    assert_eq!(
        app.host.runs_by_program().get("pvesh").map_or(0, |r| r.runs),
        pvesh_before,
        "no pvesh for actions"
    );

    // The RRD asks the API when connected (the demo's recording answers it).
    let (status, body) = app.get("/api/vms/100/rrd?timeframe=hour").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body["points"].as_array().unwrap().is_empty());
    assert_eq!(
        app.host.runs_by_program().get("pvesh").map_or(0, |r| r.runs),
        pvesh_before,
        "no pvesh for the RRD"
    );
}
