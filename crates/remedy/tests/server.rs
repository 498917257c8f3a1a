//! The process around the API: health and readiness endpoints, graceful shutdown, structured
//! logs (and what they must never contain), and the command-line help.

mod common;
mod raw;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use raw::*;

#[test]
fn health_is_json_and_ready_answers() {
    let server = Server::start();
    let (status, headers, body) = server.get("/health").unwrap();
    assert_eq!(status, 200);
    let ct = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str());
    assert_eq!(ct, Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["status"], "ok");
    let (status, _, body) = server.get("/ready").unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["status"], "ready");
}

#[test]
fn sigterm_stops_the_server_promptly_with_status_zero() {
    let mut server = Server::start();
    assert_ok(&call(
        &server,
        "StarlingDoveService.DescribeConfigRules",
        b"{}",
    ));
    let started = Instant::now();
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

/// Waits up to `limit` for the child to exit.
fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn sigterm_is_not_held_up_by_idle_connections() {
    let proc = Spawned::start(&[], &[]);
    // One keep-alive connection that completed a request and stays open, one that never sent
    // anything: neither may keep the process alive.
    let mut kept = TcpStream::connect(("127.0.0.1", proc.port)).unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    kept.write_all(
        format!(
            "GET /health HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
            proc.port
        )
        .as_bytes(),
    )
    .unwrap();
    let mut buf = [0u8; 1024];
    let n = kept.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let _silent = TcpStream::connect(("127.0.0.1", proc.port)).unwrap();
    std::thread::sleep(Duration::from_millis(100));

    let mut proc = proc;
    let child = &mut proc.child;
    sigterm(child);
    let status = wait_exit(child, Duration::from_secs(10));
    if status.is_none() {
        let _ = child.kill();
    }
    let status = status.expect("still running 10 s after SIGTERM with idle connections open");
    assert!(status.success(), "{status:?}");
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() {
    let proc = Spawned::start(&[], &[]);
    let server_port = proc.port;
    // Headers and half a body sent; the rest arrives after the signal.
    let body = br#"{"ConfigRuleNames":[]}"#;
    let mut headers =
        format!("POST / HTTP/1.1\r\nHost: 127.0.0.1:{server_port}\r\nConnection: close\r\n");
    let host = format!("127.0.0.1:{server_port}");
    let now = std::time::SystemTime::now();
    let date = remedy_sigv4::format_amz_date(now);
    let signed = [
        ("Host", host.as_str()),
        ("X-Amz-Date", date.as_str()),
        ("X-Amz-Target", "StarlingDoveService.DescribeConfigRules"),
    ];
    let auth = remedy_sigv4::sign_request(
        "POST", "/", &signed, body, "test", "test", REGION, "config", now,
    );
    headers.push_str(&format!("X-Amz-Date: {date}\r\nX-Amz-Target: StarlingDoveService.DescribeConfigRules\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n", body.len()));
    let mut s = TcpStream::connect(("127.0.0.1", server_port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(headers.as_bytes()).unwrap();
    s.write_all(&body[..5]).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let mut proc = proc;
    let child = &mut proc.child;
    sigterm(child);
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(&body[5..]).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let (status, headers, body) = parse_response(&buf).unwrap();
    assert_ok(&Response {
        status,
        headers,
        body,
    });
    let status = wait_exit(child, Duration::from_secs(10));
    if status.is_none() {
        let _ = child.kill();
    }
    assert!(status.expect("exits after draining").success());
}

/// The binary started directly, with its output captured.
struct Spawned {
    child: Child,
    port: u16,
    out: Arc<Mutex<Vec<u8>>>,
    _dir: tempfile::TempDir,
}

impl Spawned {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Spawned {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_remedy"));
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env_remove("RUST_LOG")
            .env("REMEDY_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = out.clone();
            std::thread::spawn(move || {
                let mut pipe = pipe;
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let req = format!(
                "GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
            );
            if let Ok(r) = exchange(port, req.as_bytes(), Duration::from_secs(2)) {
                if r.status == 200 {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "remedy did not start: {}",
                String::from_utf8_lossy(&out.lock().unwrap())
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Spawned {
            child,
            port,
            out,
            _dir: dir,
        }
    }

    fn send(&self, method: &str, uri: &str, headers: &[(String, String)], body: &[u8]) -> Response {
        exchange(
            self.port,
            &request_bytes(method, uri, headers, body),
            Duration::from_secs(10),
        )
        .unwrap()
    }

    fn signed(&self, target: &str, body: &[u8], key: &str, secret: &str) -> Vec<(String, String)> {
        let host = format!("127.0.0.1:{}", self.port);
        let now = std::time::SystemTime::now();
        let date = remedy_sigv4::format_amz_date(now);
        let headers = [
            ("Host", host.as_str()),
            ("X-Amz-Date", date.as_str()),
            ("X-Amz-Target", target),
            ("Content-Type", CONTENT_TYPE),
        ];
        let auth = remedy_sigv4::sign_request(
            "POST", "/", &headers, body, key, secret, REGION, "config", now,
        );
        let mut v: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        v.push(("Authorization".into(), auth));
        v
    }

    /// Stops the process and returns everything it wrote.
    fn finish(mut self) -> String {
        sigterm(&self.child);
        if wait_exit(&mut self.child, Duration::from_secs(10)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        std::thread::sleep(Duration::from_millis(100));
        let out = self.out.lock().unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `v` has, at any depth, a member `key` whose value is the string `value`.
fn has_member(v: &serde_json::Value, key: &str, value: &str) -> bool {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .any(|(k, x)| (k == key && x.as_str() == Some(value)) || has_member(x, key, value)),
        serde_json::Value::Array(a) => a.iter().any(|x| has_member(x, key, value)),
        _ => false,
    }
}

#[test]
fn json_logs_carry_the_request_id_of_each_request() {
    let proc = Spawned::start(&["--log-format", "json"], &[("REMEDY_LOG", "info")]);
    let ok = proc.send(
        "POST",
        "/",
        &proc.signed(
            "StarlingDoveService.DescribeConfigRules",
            b"{}",
            "test",
            "test",
        ),
        b"{}",
    );
    assert_ok(&ok);
    let failed = proc.send(
        "POST",
        "/",
        &proc.signed(
            "StarlingDoveService.DeleteConfigRule",
            b"{}",
            "test",
            "test",
        ),
        b"{}",
    );
    assert_error(&failed, 400, "ValidationException");
    let ids = [
        ok.header("x-amzn-RequestId").unwrap().to_string(),
        failed.header("x-amzn-RequestId").unwrap().to_string(),
    ];
    let out = proc.finish();

    let lines: Vec<serde_json::Value> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty(), "no log output");
    // A JSON object with a repeated member loses one of them in most readers (the event's
    // `message` overwritten by a field of the same name, say).
    for line in out.lines() {
        let keys: Vec<&str> = line
            .match_indices("\":")
            .filter(|(i, _)| line[..*i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
            .map(|(i, _)| {
                let start = line[..i].rfind('"').unwrap();
                &line[start..i]
            })
            .collect();
        let top_level_messages = keys.iter().filter(|k| **k == "\"message").count();
        assert!(
            top_level_messages <= 1,
            "a log line repeats \"message\": {line}"
        );
    }
    for v in &lines {
        assert!(
            v.get("timestamp").is_some() && v.get("level").is_some(),
            "{v}"
        );
    }
    for id in &ids {
        assert!(
            lines.iter().any(|v| has_member(v, "request_id", id)),
            "no log line has request_id {id}:\n{out}"
        );
    }
    // The failure is logged with its code.
    assert!(
        lines.iter().any(|v| has_member(v, "request_id", &ids[1])
            && v.to_string().contains("ValidationException")),
        "{out}"
    );
}

#[test]
fn text_logs_also_carry_the_request_id() {
    let proc = Spawned::start(&["--log-format", "text"], &[("REMEDY_LOG", "info")]);
    let ok = proc.send(
        "POST",
        "/",
        &proc.signed(
            "StarlingDoveService.DescribeConfigRules",
            b"{}",
            "test",
            "test",
        ),
        b"{}",
    );
    assert_ok(&ok);
    let id = ok.header("x-amzn-RequestId").unwrap().to_string();
    let out = proc.finish();
    assert!(out.contains(&id), "request id {id} not in:\n{out}");
}

const SECRET: &str = "s3cr3t/Value+ThatMustNeverBeLogged0000XYZ";

#[test]
fn logs_never_contain_a_secret_or_a_signature() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.toml");
    std::fs::write(&path, format!("[[credential]]\naccess_key_id = \"AKIDLOGTEST\"\nsecret_access_key = \"{SECRET}\"\naccount_id = \"123456789012\"\n")).unwrap();
    for format in ["json", "text"] {
        let proc = Spawned::start(
            &[
                "--log-format",
                format,
                "--credentials",
                path.to_str().unwrap(),
            ],
            &[("REMEDY_LOG", "trace")],
        );
        let mut signatures = Vec::new();
        let mut sent = |headers: Vec<(String, String)>, body: &[u8]| {
            if let Some((_, auth)) = headers.iter().find(|(k, _)| k == "Authorization") {
                signatures.push(auth.rsplit("Signature=").next().unwrap().to_string());
            }
            proc.send("POST", "/", &headers, body)
        };
        assert_ok(&sent(
            proc.signed(
                "StarlingDoveService.DescribeConfigRules",
                b"{}",
                "AKIDLOGTEST",
                SECRET,
            ),
            b"{}",
        ));
        let rule = br#"{"ConfigRule":{"ConfigRuleName":"logged","Source":{"Owner":"AWS","SourceIdentifier":"S3_BUCKET_VERSIONING_ENABLED"}}}"#;
        assert_ok(&sent(
            proc.signed(
                "StarlingDoveService.PutConfigRule",
                rule,
                "AKIDLOGTEST",
                SECRET,
            ),
            rule,
        ));
        // Refusals are where a careless server would log the most.
        assert_error(
            &sent(
                proc.signed(
                    "StarlingDoveService.DescribeConfigRules",
                    b"{}",
                    "AKIDLOGTEST",
                    "wrong",
                ),
                b"{}",
            ),
            403,
            "InvalidSignatureException",
        );
        assert_error(
            &sent(
                proc.signed(
                    "StarlingDoveService.DescribeConfigRules",
                    b"{}",
                    "AKIDLOGTEST",
                    SECRET,
                ),
                b"{ }",
            ),
            403,
            "InvalidSignatureException",
        );
        assert_error(
            &sent(
                proc.signed(
                    "StarlingDoveService.DescribeConfigRules",
                    b"{}",
                    "AKIDOTHER",
                    SECRET,
                ),
                b"{}",
            ),
            400,
            "UnrecognizedClientException",
        );
        assert_error(
            &sent(
                proc.signed(
                    "StarlingDoveService.DeleteConfigRule",
                    b"{}",
                    "AKIDLOGTEST",
                    SECRET,
                ),
                b"{}",
            ),
            400,
            "ValidationException",
        );
        let mut garbled = proc.signed(
            "StarlingDoveService.DescribeConfigRules",
            b"{}",
            "AKIDLOGTEST",
            SECRET,
        );
        set_header(
            &mut garbled,
            "Authorization",
            &format!("AWS4-HMAC-SHA256 Credential={SECRET}, Signature={SECRET}"),
        );
        assert_error(&sent(garbled, b"{}"), 400, "IncompleteSignatureException");
        let out = proc.finish();
        assert!(
            out.len() > 200,
            "{format}: suspiciously little output at trace level:\n{out}"
        );
        assert!(
            out.contains("AKIDLOGTEST") || out.contains("request_id"),
            "{format}: {out}"
        );
        assert!(
            !out.contains(SECRET),
            "{format}: the secret is in the log:\n{out}"
        );
        for sig in &signatures {
            assert!(
                !out.contains(sig.as_str()),
                "{format}: a request signature is in the log"
            );
        }
    }
}

#[test]
fn a_broken_credentials_file_is_reported_without_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.toml");
    // The secret is unquoted, so the file is not TOML; the account id is also wrong.
    std::fs::write(&path, format!("[[credential]]\naccess_key_id = \"AKIDBROKEN\"\nsecret_access_key = {SECRET}\naccount_id = \"1\"\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--credentials",
            path.to_str().unwrap(),
            "--data-dir",
        ])
        .arg(dir.path())
        .env("REMEDY_LOG", "trace")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("creds.toml"),
        "the error names the file: {text}"
    );
    assert!(
        !text.contains(SECRET) && !text.contains("ThatMustNeverBeLogged"),
        "the secret is echoed: {text}"
    );

    // Valid TOML, invalid account: also refused, also without the secret.
    std::fs::write(&path, format!("[[credential]]\naccess_key_id = \"AKIDBROKEN\"\nsecret_access_key = \"{SECRET}\"\naccount_id = \"1\"\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--credentials",
            path.to_str().unwrap(),
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("12 digits"), "{text}");
    assert!(!text.contains(SECRET), "the secret is echoed: {text}");
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `(flag, block of help text describing it)` for every `--flag` of a clap help page.
fn flags(help: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        let flag = t
            .strip_prefix("-")
            .and_then(|_| t.split_whitespace().find(|w| w.starts_with("--")))
            .map(|w| w.trim_end_matches(',').to_string());
        match flag {
            Some(f) if line.starts_with("  ") && !line.starts_with("          ") => {
                out.push((f, line.to_string()))
            }
            _ => {
                if let Some(last) = out.last_mut() {
                    last.1.push('\n');
                    last.1.push_str(line);
                }
            }
        }
    }
    out
}

#[test]
fn help_lists_every_flag_with_its_environment_variable() {
    let top = help(&["--help"]);
    for sub in ["serve", "import", "version"] {
        assert!(
            top.lines().any(|l| l.trim_start().starts_with(sub)),
            "`{sub}` missing from remedy --help:\n{top}"
        );
    }
    assert!(top.contains("--help") && top.contains("--version"), "{top}");

    let serve = help(&["serve", "--help"]);
    let listed = flags(&serve);
    let expected = [
        ("--listen", "REMEDY_LISTEN"),
        ("--data-dir", "REMEDY_DATA_DIR"),
        ("--database-url", "REMEDY_DATABASE_URL"),
        ("--credentials", "REMEDY_CREDENTIALS"),
        ("--log-format", "REMEDY_LOG_FORMAT"),
        ("--log", "REMEDY_LOG"),
        ("--max-body-bytes", "REMEDY_MAX_BODY_BYTES"),
        ("--max-clock-skew-seconds", "REMEDY_MAX_CLOCK_SKEW_SECONDS"),
        ("--max-rules", "REMEDY_MAX_RULES"),
        ("--max-custom-resources", "REMEDY_MAX_CUSTOM_RESOURCES"),
    ];
    for (flag, env) in expected {
        let block = listed
            .iter()
            .find(|(f, _)| f == flag)
            .map(|(_, b)| b.as_str())
            .unwrap_or_else(|| panic!("{flag} missing from remedy serve --help:\n{serve}"));
        assert!(
            block.contains(&format!("[env: {env}=")),
            "{flag} does not name {env}:\n{block}"
        );
    }
    // And every flag there is (besides --help) names a REMEDY_* variable, including ones added
    // after this test was written.
    for (flag, block) in &listed {
        if flag == "--help" {
            continue;
        }
        assert!(
            block.contains("[env: REMEDY_"),
            "{flag} has no REMEDY_* variable:\n{block}"
        );
    }
    let import = help(&["import", "--help"]);
    for (flag, block) in flags(&import) {
        if flag != "--help" {
            assert!(
                block.contains("[env: REMEDY_"),
                "import {flag} has no REMEDY_* variable:\n{block}"
            );
        }
    }
}

#[test]
fn environment_variables_configure_the_server() {
    // REMEDY_MAX_BODY_BYTES takes effect without the flag.
    let proc = Spawned::start(&[], &[("REMEDY_MAX_BODY_BYTES", "100")]);
    let body = format!(r#"{{"pad":"{}"}}"#, "x".repeat(100));
    let r = proc.send(
        "POST",
        "/",
        &proc.signed(
            "StarlingDoveService.DescribeConfigRules",
            body.as_bytes(),
            "test",
            "test",
        ),
        body.as_bytes(),
    );
    assert_error(&r, 413, "RequestEntityTooLargeException");
    drop(proc);
    // A flag wins over its variable.
    let proc = Spawned::start(
        &["--max-body-bytes", "100000"],
        &[("REMEDY_MAX_BODY_BYTES", "100")],
    );
    let r = proc.send(
        "POST",
        "/",
        &proc.signed(
            "StarlingDoveService.DescribeConfigRules",
            body.as_bytes(),
            "test",
            "test",
        ),
        body.as_bytes(),
    );
    assert_ok(&r);
}
