//! Test harness: starts the real `remedy` binary on a free loopback port with its own data
//! directory, and talks to it through the official AWS SDK or through raw signed HTTP requests
//! (for the malformed input SDKs refuse to send).

#![allow(dead_code, clippy::type_complexity, clippy::while_let_loop)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

pub use aws_sdk_config as config;
pub use aws_sdk_ssm as ssm;

pub mod pg;

pub const REGION: &str = "us-east-1";

pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    extra_args: Vec<String>,
    /// (admin URL, database) of the PostgreSQL database this server created, dropped with it.
    pg_database: Option<(String, String)>,
    /// The PostgreSQL database the server keeps its state in, if not SQLite in `data_dir`.
    database_url: Option<String>,
}

/// With `REMEDY_TEST_SERVER_DATABASE_URL` (a PostgreSQL server, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`), servers keep their state in a PostgreSQL
/// database of their own instead of SQLite: one per data directory (so a restart finds its state),
/// created on first start (with `psql`) and dropped with the server that created it. `.ci/run`
/// runs some API test files this way.
fn server_database(data_dir: &Path) -> Option<(String, String, String)> {
    use std::hash::{Hash, Hasher};
    let admin = std::env::var("REMEDY_TEST_SERVER_DATABASE_URL").ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut h);
    let name = format!("remedy_srv_{}_{:016x}", std::process::id(), h.finish());
    // Already there after a restart: the error is expected then.
    let _ = Command::new("psql")
        .arg(&admin)
        .args(["-Atqc", &format!("CREATE DATABASE \"{name}\"")])
        .stderr(Stdio::null())
        .status();
    let url = pg::with_database(&admin, &name);
    Some((admin, name, url))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// A server on a fresh data directory.
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    /// A server on a fresh data directory with extra `remedy serve` arguments.
    pub fn start_with(args: &[&str]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Self::spawn(&dir, args);
        s._tmp = Some(tmp);
        s.pg_database = (!args.contains(&"--database-url"))
            .then(|| server_database(&dir))
            .flatten()
            .map(|(admin, name, _)| (admin, name));
        s
    }

    /// A server on an existing data directory (used to restart after a kill).
    pub fn spawn(data_dir: &Path, args: &[&str]) -> Server {
        let port = free_port();
        // A test that names its own database keeps it.
        let created_url = (!args.contains(&"--database-url"))
            .then(|| server_database(data_dir))
            .flatten()
            .map(|(_, _, url)| url);
        let database_url: Vec<String> = created_url
            .iter()
            .flat_map(|url| ["--database-url".to_string(), url.clone()])
            .collect();
        let given_url = args
            .iter()
            .position(|a| *a == "--database-url")
            .and_then(|i| args.get(i + 1))
            .map(|url| url.to_string());
        let child = Command::new(env!("CARGO_BIN_EXE_remedy"))
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(&database_url)
            .args(args)
            .env("REMEDY_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn remedy");
        let server = Server {
            child: Some(child),
            port,
            data_dir: data_dir.to_path_buf(),
            _tmp: None,
            extra_args: args.iter().map(|s| s.to_string()).collect(),
            pg_database: None,
            database_url: given_url.or(created_url),
        };
        server.wait_ready();
        server
    }

    /// The arguments that point another `remedy` command (`result-token`, `import`) at this
    /// server's store: its PostgreSQL database, or its data directory.
    pub fn store_args(&self) -> Vec<String> {
        match &self.database_url {
            Some(url) => vec!["--database-url".into(), url.clone()],
            None => vec!["--data-dir".into(), self.data_dir.display().to_string()],
        }
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok((200, _, _)) = self.get("/health") {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("remedy did not become healthy on port {}", self.port);
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An SDK client signing as `test`/`test` in us-east-1.
    pub fn client(&self) -> config::Client {
        self.client_as("test", "test", REGION)
    }

    pub fn client_as(&self, key: &str, secret: &str, region: &str) -> config::Client {
        let http = aws_smithy_http_client::Builder::new().build_http();
        let conf = config::Config::builder()
            .behavior_version(config::config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(config::config::Region::new(region.to_string()))
            .credentials_provider(config::config::Credentials::new(
                key,
                secret,
                None,
                None,
                "remedy-tests",
            ))
            .http_client(http)
            .build();
        config::Client::from_conf(conf)
    }

    /// An SSM SDK client signing as `test`/`test` in us-east-1.
    pub fn ssm_client(&self) -> ssm::Client {
        self.ssm_client_as("test", "test", REGION)
    }

    pub fn ssm_client_as(&self, key: &str, secret: &str, region: &str) -> ssm::Client {
        let http = aws_smithy_http_client::Builder::new().build_http();
        let conf = ssm::Config::builder()
            .behavior_version(ssm::config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(ssm::config::Region::new(region.to_string()))
            .credentials_provider(ssm::config::Credentials::new(
                key,
                secret,
                None,
                None,
                "remedy-tests",
            ))
            .http_client(http)
            .build();
        ssm::Client::from_conf(conf)
    }

    /// Kills the server with SIGKILL (no graceful shutdown) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for exit; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        c.wait().unwrap()
    }

    /// Restarts on the same data directory after `kill`.
    pub fn restart(&mut self) {
        self.kill();
        let args: Vec<&str> = self.extra_args.iter().map(String::as_str).collect();
        let mut fresh = Server::spawn(&self.data_dir, &args);
        self.port = fresh.port;
        self.child = fresh.child.take();
    }

    /// The running process's id (for signals the harness does not send, e.g. SIGSTOP).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().map(|s| s.is_none()).unwrap_or(false),
            None => false,
        }
    }

    /// A plain GET.
    pub fn get(&self, path: &str) -> std::io::Result<(u16, Vec<(String, String)>, Vec<u8>)> {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        );
        self.send_raw(req.as_bytes())
    }

    /// A signed AWS JSON 1.1 request (test/test, us-east-1, service `config`).
    pub fn call(&self, target: &str, body: &str) -> Response {
        self.call_signed(target, body.as_bytes(), "test", "test", REGION, "config")
    }

    pub fn call_signed(
        &self,
        target: &str,
        body: &[u8],
        key: &str,
        secret: &str,
        region: &str,
        service: &str,
    ) -> Response {
        let host = format!("127.0.0.1:{}", self.port);
        let now = SystemTime::now();
        let amz_date = remedy_sigv4::format_amz_date(now);
        let headers = [
            ("Host", host.as_str()),
            ("X-Amz-Date", amz_date.as_str()),
            ("X-Amz-Target", target),
            ("Content-Type", "application/x-amz-json-1.1"),
        ];
        let auth = remedy_sigv4::sign_request(
            "POST", "/", &headers, body, key, secret, region, service, now,
        );
        let mut extra: Vec<(&str, &str)> = headers.to_vec();
        extra.push(("Authorization", auth.as_str()));
        self.post(&extra, body)
    }

    /// A POST / with exactly these headers (Content-Length is added).
    pub fn post(&self, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let mut req = Vec::new();
        req.extend_from_slice(b"POST / HTTP/1.1\r\n");
        for (k, v) in headers {
            req.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.extend_from_slice(format!("Host: 127.0.0.1:{}\r\n", self.port).as_bytes());
        }
        req.extend_from_slice(
            format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        req.extend_from_slice(body);
        let (status, headers, body) = self.send_raw(&req).expect("request");
        Response {
            status,
            headers,
            body,
        }
    }

    pub fn send_raw(&self, bytes: &[u8]) -> std::io::Result<(u16, Vec<(String, String)>, Vec<u8>)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(bytes)?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)?;
        parse_response(&buf)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if let Some((admin, name)) = self.pg_database.take() {
            let _ = Command::new("psql")
                .arg(&admin)
                .args([
                    "-Atqc",
                    &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                ])
                .status();
        }
    }
}

/// A raw HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// `__type` of an error body.
    pub fn error_type(&self) -> String {
        self.json()["__type"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub fn parse_response(buf: &[u8]) -> std::io::Result<(u16, Vec<(String, String)>, Vec<u8>)> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad HTTP response");
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let head = std::str::from_utf8(&buf[..split]).map_err(|_| bad())?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let Some(pos) = rest.windows(2).position(|w| w == b"\r\n") else {
                break;
            };
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..pos]).unwrap_or("0").trim(), 16)
                    .unwrap_or(0);
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[pos + 2..pos + 2 + size]);
            rest = &rest[pos + 2 + size + 2..];
        }
        body = out;
    }
    Ok((status, headers, body))
}

/// The service error code of an SDK error (e.g. `NoSuchConfigRuleException`).
pub fn error_code<E, R>(err: &aws_sdk_config::error::SdkError<E, R>) -> String
where
    E: aws_sdk_config::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(e) => e.code().unwrap_or_default().to_string(),
        None => format!(
            "not a service error: {}",
            aws_sdk_config::error::DisplayErrorContext(err)
        ),
    }
}

pub fn error_message<E, R>(err: &aws_sdk_config::error::SdkError<E, R>) -> String
where
    E: aws_sdk_config::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.message().map(str::to_string))
        .unwrap_or_default()
}

/// A managed rule body the tests create rules from.
pub fn managed_rule(name: &str) -> config::types::ConfigRule {
    config::types::ConfigRule::builder()
        .config_rule_name(name)
        .source(
            config::types::Source::builder()
                .owner(config::types::Owner::Aws)
                .source_identifier("S3_BUCKET_VERSIONING_ENABLED")
                .build()
                .unwrap(),
        )
        .build()
}

/// The S3 bucket resource type.
pub const BUCKET: &str = "AWS::S3::Bucket";

/// The role the tests' remediation configurations assume.
pub const ROLE: &str = "arn:aws:iam::000000000000:role/remediation";

/// The key of bucket `id`.
pub fn bucket_key(id: &str) -> config::types::ResourceKey {
    config::types::ResourceKey::builder()
        .resource_type(config::types::ResourceType::from(BUCKET))
        .resource_id(id)
        .build()
        .unwrap()
}

/// A bucket's configuration item as PutResourceConfig takes it, its versioning status
/// `versioning` (`Off`, `Suspended` or `Enabled`).
pub fn bucket(name: &str, versioning: &str) -> serde_json::Value {
    use serde_json::json;
    json!({
        "version": "1.3", "configurationItemStatus": "OK",
        "arn": format!("arn:aws:s3:::{name}"), "resourceType": BUCKET, "resourceId": name,
        "resourceName": name, "availabilityZone": "Regional", "resourceCreationTime": 1690000000.0,
        "tags": {}, "relatedEvents": [], "relationships": [],
        "configuration": json!({"name": name, "owner": {"displayName": null, "id": "abc123"},
            "creationDate": "2023-07-22T04:26:40.000Z"}).to_string(),
        "supplementaryConfiguration": {
            "BucketVersioningConfiguration": json!({"status": versioning, "isMfaDeleteEnabled": null}).to_string(),
            "IsRequesterPaysEnabled": "false"
        }
    })
}

/// Records [`bucket`] `name` through PutResourceConfig.
pub async fn record_bucket(c: &config::Client, name: &str, versioning: &str) {
    c.put_resource_config()
        .resource_type(BUCKET)
        .schema_version_id("ConfigurationItem")
        .resource_id(name)
        .configuration(bucket(name, versioning).to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {name}: {}", config::error::DisplayErrorContext(e)));
}

/// A remediation parameter taking the non-compliant resource's id.
pub fn resource_id_value() -> config::types::RemediationParameterValue {
    use config::types::{RemediationParameterValue, ResourceValue, ResourceValueType};
    RemediationParameterValue::builder()
        .resource_value(
            ResourceValue::builder()
                .value(ResourceValueType::ResourceId)
                .build()
                .unwrap(),
        )
        .build()
}

/// The rule's remediation configuration running `runbook` (an SSM document taking
/// `AutomationAssumeRole` and `BucketName`): assuming [`ROLE`], on the resource's id.
pub fn remediation_config(rule: &str, runbook: &str) -> config::types::RemediationConfiguration {
    use config::types::{
        RemediationConfiguration, RemediationParameterValue, RemediationTargetType, StaticValue,
    };
    RemediationConfiguration::builder()
        .config_rule_name(rule)
        .target_type(RemediationTargetType::SsmDocument)
        .target_id(runbook)
        .parameters(
            "AutomationAssumeRole",
            RemediationParameterValue::builder()
                .static_value(StaticValue::builder().values(ROLE).build().unwrap())
                .build(),
        )
        .parameters("BucketName", resource_id_value())
        .build()
        .unwrap()
}

/// Execution controls: `concurrency` % of a batch at once, stopping after `error_pct` % errors.
pub fn ssm_controls(concurrency: i32, error_pct: i32) -> config::types::ExecutionControls {
    config::types::ExecutionControls::builder()
        .ssm_controls(
            config::types::SsmControls::builder()
                .concurrent_execution_rate_percentage(concurrency)
                .error_percentage(error_pct)
                .build(),
        )
        .build()
}

/// Every latest execution of a rule, across pages.
pub async fn all_statuses(
    c: &config::Client,
    rule: &str,
) -> Vec<config::types::RemediationExecutionStatus> {
    let mut all = Vec::new();
    let mut pages = c
        .describe_remediation_execution_status()
        .config_rule_name(rule)
        .into_paginator()
        .send();
    while let Some(p) = pages.next().await {
        all.extend(p.unwrap().remediation_execution_statuses().to_vec());
    }
    all
}

/// The name tests give [`nap_then_enable`]'s runbook.
pub const NAP_THEN_ENABLE: &str = "Team-NapThenEnable";

/// A runbook for [`remediation_config`] that naps for `nap` (an ISO 8601 duration such as `PT1S`),
/// then enables the bucket's versioning: its executions stay in flight that long at least, however
/// fast the machine (a bucket that is not recorded then fails NoSuchBucket in the second step).
/// `AutomationAssumeRole` is optional, so it also runs by StartAutomationExecution alone.
pub fn nap_then_enable(nap: &str) -> String {
    format!(
        r#"
schemaVersion: '0.3'
parameters:
  BucketName:
    type: String
  AutomationAssumeRole:
    type: String
    default: ''
mainSteps:
  - name: Nap
    action: aws:sleep
    inputs:
      Duration: {nap}
  - name: Enable
    action: aws:executeAwsApi
    isEnd: true
    inputs:
      Service: s3
      Api: PutBucketVersioning
      Bucket: '{{{{ BucketName }}}}'
      VersioningConfiguration:
        Status: Enabled
"#
    )
}

/// Creates the YAML Automation document `name` (a runbook) from `yaml`.
pub async fn create_runbook(ssm: &ssm::Client, name: &str, yaml: &str) {
    ssm.create_document()
        .name(name)
        .content(yaml)
        .document_type(ssm::types::DocumentType::Automation)
        .document_format(ssm::types::DocumentFormat::Yaml)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {name}: {}", ssm::error::DisplayErrorContext(e)));
}
