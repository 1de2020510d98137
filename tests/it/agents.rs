//! The Docker push agent end to end (issue 19): the script proxwatch serves, run against a fake
//! `docker` that prints recorded `docker ps`/`inspect`/`stats` output, posting to a real proxwatch
//! with an ingest token made on the Containers page; secrets masked on the wire and in the database;
//! the report linked to its guest; bad and oversized reports refused; the token good for nothing else.
// A real process, the real script and curl: the one-door rule is for the program, not its tests.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::DemoProcess;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/docker");

/// A folder for PATH: the fake `docker`, and a `curl` that records its argv, stdin and body, then runs
/// the real curl with them (what goes on the wire).
fn fake_bin(dir: &Path) -> std::path::PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(Path::new(FIXTURES).join("docker"), bin.join("docker")).unwrap();
    let real = String::from_utf8(Command::new("sh").args(["-c", "command -v curl"]).output().unwrap().stdout)
        .unwrap();
    let log = dir.join("wire");
    std::fs::create_dir_all(&log).unwrap();
    let wrapper = format!(
        "#!/bin/sh\nlog={log}\n: > \"$log/argv\"\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> \"$log/argv\"; done\n\
         prev=\nfor a in \"$@\"; do [ \"$prev\" = --data-binary ] && cp \"${{a#@}}\" \"$log/body\"; prev=$a; done\n\
         tee \"$log/stdin\" | exec {real} \"$@\"\n",
        log = log.display(),
        real = real.trim()
    );
    let curl = bin.join("curl");
    std::fs::write(&curl, wrapper).unwrap();
    Command::new("chmod").arg("755").arg(&curl).status().unwrap();
    bin
}

/// The envelope as an agent that does not mask would send it: the recorded outputs, raw.
fn raw_report(vmid: Option<u64>) -> Value {
    let lines = |f: &str| -> Vec<Value> {
        std::fs::read_to_string(Path::new(FIXTURES).join(f))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let inspect: Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(FIXTURES).join("inspect.json")).unwrap())
            .unwrap();
    json!({
        "agent": { "version": "1", "hostname": "raw-agent", "vmid": vmid, "interval_s": 60,
                   "ips": ["192.0.2.77"], "macs": [], "docker_version": "27.5.1" },
        "ps": lines("ps.jsonl"),
        "inspect": inspect,
        "stats": lines("stats.jsonl"),
    })
}

/// POSTs `body` as a report with `token`; the status and the answer.
fn post_report(demo: &DemoProcess, token: &str, ct: &str, body: &str, dir: &Path) -> (u16, String) {
    let file = dir.join("post.json");
    std::fs::write(&file, body).unwrap();
    let auth = format!("authorization: Bearer {token}");
    let ctype = format!("content-type: {ct}");
    let out = demo.curl(&[
        "-w",
        "\n%{http_code}",
        "-H",
        &auth,
        "-H",
        &ctype,
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("{}/api/agents/docker/report", demo.base),
    ]);
    let (body, code) = out.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_string())
}

#[test]
fn the_agent_script_reports_to_a_real_proxwatch() {
    let dir = tempfile::tempdir().unwrap();
    let demo = DemoProcess::start_with(dir.path(), 0, &[("PROXWATCH_AGENTS_MAX_REPORT", "131072")]);

    // An admin adds the agent: its ingest token and install command, shown once.
    let made = demo.api(
        "POST",
        "/api/agents",
        Some(json!({ "name": "docker-test", "vmid": 101, "interval_s": 60 })),
    );
    let token = made["token"].as_str().unwrap_or_else(|| panic!("{made}")).to_string();
    let id = made["agent"]["id"].as_str().unwrap().to_string();
    let install = made["install"].as_str().unwrap();
    for needle in [
        format!("{}/agent/docker.sh", demo.base),
        format!("PROXWATCH_TOKEN={token}"),
        "PROXWATCH_VMID=101".into(),
    ] {
        assert!(install.contains(&needle), "{needle} in {install}");
    }
    let agents = demo.api("GET", "/api/agents", None);
    assert!(agents.to_string().find(&token).is_none(), "the token is never listed");

    // The script as proxwatch serves it.
    let script = dir.path().join("docker.sh");
    let served = demo.curl(&["-f", &format!("{}/agent/docker.sh", demo.base)]);
    assert_eq!(served, include_str!("../../src/agents/docker.sh"));
    std::fs::write(&script, &served).unwrap();

    let bin = fake_bin(dir.path());
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    // Its configuration as the install command writes it.
    let conf = dir.path().join("docker-agent.conf");
    std::fs::write(
        &conf,
        format!(
            "PROXWATCH_URL={}\nPROXWATCH_TOKEN={token}\nPROXWATCH_VMID=101\nPROXWATCH_INTERVAL=60\n",
            demo.base
        ),
    )
    .unwrap();
    let run = Command::new("sh")
        .arg(&script)
        .env("PATH", &path)
        .env("PROXWATCH_AGENT_CONF", &conf)
        .env("FAKE_DOCKER_DIR", FIXTURES)
        .env("PROXWATCH_HOSTNAME", "docker-test")
        .env("PROXWATCH_IPS", "10.0.0.5")
        .env("PROXWATCH_MACS", "bc:24:11:aa:bb:cc")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );

    // On the wire: the secrets masked, the token only in curl's stdin.
    let wire = dir.path().join("wire");
    let body = std::fs::read_to_string(wire.join("body")).unwrap();
    assert!(body.contains("OPENVPN_PASSWORD=***") && body.contains("WIREGUARD_PRIVATE_KEY=***"), "masked");
    assert!(!body.contains("hunter2") && !body.contains("wOEI9rqq"), "a secret left the guest");
    assert!(body.contains("TZ=Europe/Berlin"), "harmless values stay");
    let argv = std::fs::read_to_string(wire.join("argv")).unwrap();
    assert!(!argv.contains(&token), "the token is in curl's argv: {argv}");
    assert!(std::fs::read_to_string(wire.join("stdin")).unwrap().contains(&token));

    // What proxwatch made of it: the recorded containers in VM 101.
    let detail = demo.api("GET", &format!("/api/agents/{id}"), None);
    let agent = &detail["agent"];
    assert_eq!(agent["vmid"], 101, "{agent:#}");
    assert_eq!(agent["mapped_by"], "declared");
    assert_eq!(agent["stale"], false);
    assert_eq!(
        agent["counts"],
        json!({ "total": 5, "running": 3, "unhealthy": 1, "restarting": 1, "exited": 1 })
    );
    let portainer =
        agent["containers"].as_array().unwrap().iter().find(|c| c["name"] == "portainer").unwrap();
    assert_eq!(
        (portainer["state"].as_str(), portainer["health"].as_str()),
        (Some("running"), Some("unhealthy"))
    );
    assert_eq!(portainer["ports"], json!(["0.0.0.0:9000->9000/tcp"]));
    let history = detail["history"].as_array().unwrap();
    assert_eq!(history.len(), 5, "the first report records each container once: {history:?}");

    // A report from an agent that masks nothing: masked on arrival, on the API and in the database.
    let (code, ack) =
        post_report(&demo, &token, "application/json", &raw_report(None).to_string(), dir.path());
    assert_eq!(code, 200, "{ack}");
    let listed = demo.api("GET", "/api/agents", None).to_string();
    assert!(!listed.contains("hunter2") && listed.contains("OPENVPN_PASSWORD=***"));
    let db = rusqlite::Connection::open_with_flags(
        dir.path().join("data/proxwatch.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let stored: String =
        db.query_row("SELECT report FROM docker_agents WHERE id = ?1", [&id], |r| r.get(0)).unwrap();
    assert!(
        stored.contains("OPENVPN_PASSWORD=***")
            && !stored.contains("hunter2")
            && !stored.contains("wOEI9rqq")
    );
    // With no vmid declared it is still VM 101's: 10.0.0.5 is not in the demo, but the raw report's
    // hostname changed nothing about the token's agent (the link is by declared vmid, then IP, then MAC).
    let ack: Value = serde_json::from_str(&ack).unwrap();
    assert_eq!(ack["containers"], 5);

    // Malformed: a 400 naming the field. Wrong type: 415. Too large: 413.
    let mut bad = raw_report(Some(101));
    bad["inspect"][2]["RestartCount"] = json!("x");
    let (code, msg) = post_report(&demo, &token, "application/json", &bad.to_string(), dir.path());
    assert_eq!(code, 400, "{msg}");
    assert!(msg.contains("inspect[2].RestartCount"), "{msg}");
    let mut bad = raw_report(Some(101));
    bad["agent"]["colour"] = json!("blue");
    let (code, msg) = post_report(&demo, &token, "application/json", &bad.to_string(), dir.path());
    assert_eq!(code, 400, "{msg}");
    assert!(msg.contains("colour"), "{msg}");
    let (code, _) = post_report(&demo, &token, "text/plain", "{}", dir.path());
    assert_eq!(code, 415);
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(200_000));
    let (code, msg) = post_report(&demo, &token, "application/json", &huge, dir.path());
    assert_eq!(code, 413, "{msg}");

    // The ingest token reaches nothing else; a read token cannot post reports.
    let auth = format!("authorization: Bearer {token}");
    let other = demo.curl(&["-w", "\n%{http_code}", "-H", &auth, &format!("{}/api/agents", demo.base)]);
    assert!(other.ends_with("\n403") && other.contains("ingest token"), "{other}");
    let read = demo.token("read");
    let (code, _) = post_report(&demo, &read, "application/json", &raw_report(None).to_string(), dir.path());
    assert_eq!(code, 403);

    // Removing the agent revokes its token.
    assert!(demo.api("DELETE", &format!("/api/agents/{id}"), None).is_null());
    let (code, _) = post_report(&demo, &token, "application/json", &raw_report(None).to_string(), dir.path());
    assert_eq!(code, 401);
}

/// Runs the agent script (from the source tree) over the fake docker and fake curl of
/// tests/fixtures/docker/.
fn agent_run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let fakes = root.join("tests/fixtures/docker");
    let path = format!("{}:{}", fakes.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = std::process::Command::new("sh");
    cmd.arg(root.join("src/agents/docker.sh")).args(args).env("PATH", path);
    for var in ["URL", "TOKEN", "VMID", "INTERVAL", "INSECURE", "CACERT", "HOSTNAME", "IPS", "MACS"] {
        cmd.env_remove(format!("PROXWATCH_{var}"));
    }
    cmd.env("PROXWATCH_AGENT_CONF", "/dev/null")
        .env("PROXWATCH_HOSTNAME", "docker01")
        .env("PROXWATCH_IPS", "10.0.0.5 fd00::5")
        .env("PROXWATCH_MACS", "BC:24:11:AA:BB:CC")
        .env("PROXWATCH_VMID", "101")
        .envs(env.iter().copied());
    cmd.output().unwrap()
}

#[test]
fn the_agent_prints_the_committed_report() {
    let out = agent_run(&["--print"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), include_str!("../fixtures/docker/report.json"));
}

#[test]
fn the_agent_sends_the_token_only_on_stdin() {
    let log = tempfile::tempdir().unwrap();
    let log_dir = log.path().to_str().unwrap();
    let env = [
        ("PROXWATCH_URL", "https://pw.example:8443/"),
        ("PROXWATCH_TOKEN", "pxw_a1_s3cret"),
        ("FAKE_CURL_LOG", log_dir),
    ];
    let out = agent_run(&[], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read = |f: &str| String::from_utf8(std::fs::read(log.path().join(f)).unwrap()).unwrap();
    let argv = read("argv");
    assert!(!argv.contains("s3cret"), "the token is in curl's argv: {argv}");
    assert_eq!(argv.lines().last(), Some("https://pw.example:8443/api/agents/docker/report"));
    for want in ["--max-time\n30", "--header\nContent-Type: application/json", "--config\n-"] {
        assert!(argv.contains(want), "{want:?}: {argv}");
    }
    assert_eq!(read("stdin"), "header = \"Authorization: Bearer pxw_a1_s3cret\"\n");
    let sent = proxwatch::tools::docker::parse_report(read("body").as_bytes()).unwrap();
    assert_eq!(sent.containers.len(), 5);
    assert!(!read("body").contains("hunter2"));

    // A refusal: its message on stderr, exit 1.
    let refused = [
        ("FAKE_CURL_STATUS", "401"),
        ("FAKE_CURL_ANSWER", r#"{"error":"unauthorized","message":"unknown token"}"#),
    ];
    let out = agent_run(&[], &[env.as_slice(), refused.as_slice()].concat());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 401: {\"error\":\"unauthorized\""));
}

#[test]
fn the_agent_refuses_to_run_unconfigured() {
    let out = agent_run(&[], &[("PROXWATCH_URL", "https://pw.example")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no PROXWATCH_TOKEN"));
    let out = agent_run(&["--print"], &[("PROXWATCH_INTERVAL", "5")]);
    assert_eq!(out.status.code(), Some(2));
    let out = agent_run(&["--version"], &[]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "proxwatch-docker-agent 1\n");
}
