//! Custom Lambda rules (`Owner: CUSTOM_LAMBDA`) run by local handlers.
//!
//! remedy has no Lambda, so a TOML file (`--lambda-handlers`) maps each function ARN a rule names
//! as its `SourceIdentifier` to a local handler:
//!
//! ```toml
//! [[handler]]
//! function_arn = "arn:aws:lambda:us-east-1:000000000000:function:my-rule"
//! url = "http://127.0.0.1:9000/"           # POSTed the event JSON
//!
//! [[handler]]
//! function_arn = "arn:aws:lambda:us-east-1:000000000000:function:other-rule"
//! command = ["python3", "handler.py"]      # the event JSON on standard input
//! timeout_seconds = 30                      # optional (default 30)
//! env = { AWS_ACCESS_KEY_ID = "test", AWS_SECRET_ACCESS_KEY = "test" }  # optional
//! ```
//!
//! A handler is given the event AWS Config gives a rule's function ([`build_event`]) and reports
//! its verdicts back with PutEvaluations and the event's `resultToken`, through any AWS SDK
//! pointed at remedy. A command handler finds remedy's endpoint and the rule's region in its
//! environment (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_CONFIG_SERVICE`, `AWS_REGION`,
//! `AWS_DEFAULT_REGION`), so an unchanged boto3 handler talks to remedy.
//!
//! An invocation fails — and the rule's DescribeConfigRuleEvaluationStatus shows the error — when
//! no handler is configured for the ARN, an HTTP handler cannot be reached or answers other than
//! 2xx (or answers with a Lambda error body `{"errorType": …, "errorMessage": …}`, as the Lambda
//! runtime interface emulator does), or a command exits nonzero or outlives its timeout (it is
//! then killed).

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::app::App;
use crate::domain::{ConfigurationItem, RuleRecord, Scope, CI_VERSION};

/// How long a handler may run by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// `invokingEvent.messageType` of a configuration-change invocation.
pub const CHANGE_NOTIFICATION: &str = "ConfigurationItemChangeNotification";
/// `invokingEvent.messageType` of a periodic invocation.
pub const SCHEDULED_NOTIFICATION: &str = "ScheduledNotification";
/// How much of a failing handler's output is kept in the error message.
const OUTPUT_TAIL: usize = 500;

/// Where a handler runs.
#[derive(Debug, Clone, PartialEq)]
pub enum HandlerTarget {
    /// POST the event to this `http://` URL.
    Url(String),
    /// Run this program (with these arguments) with the event on standard input.
    Command(Vec<String>),
}

/// One configured handler.
#[derive(Debug, Clone, PartialEq)]
pub struct Handler {
    pub function_arn: String,
    pub target: HandlerTarget,
    pub timeout: Duration,
    /// Extra environment for a command handler.
    pub env: Vec<(String, String)>,
}

/// The handlers of a `--lambda-handlers` file, by function ARN.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LambdaHandlers {
    by_arn: HashMap<String, Handler>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandlerFile {
    #[serde(default)]
    handler: Vec<HandlerEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandlerEntry {
    function_arn: String,
    url: Option<String>,
    command: Option<Vec<String>>,
    timeout_seconds: Option<f64>,
    #[serde(default)]
    env: HashMap<String, String>,
}

impl LambdaHandlers {
    /// Reads a handlers file.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a handlers file's text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let file: HandlerFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let mut by_arn = HashMap::new();
        for (i, h) in file.handler.into_iter().enumerate() {
            let n = i + 1;
            if !h.function_arn.starts_with("arn:") || !h.function_arn.contains(":lambda:") {
                return Err(format!(
                    "handler {n}: function_arn {:?} is not a Lambda function ARN",
                    h.function_arn
                ));
            }
            let target = match (h.url, h.command) {
                (Some(url), None) => {
                    parse_http_url(&url).map_err(|e| format!("handler {n}: {e}"))?;
                    HandlerTarget::Url(url)
                }
                (None, Some(command)) if !command.is_empty() && !command[0].is_empty() => {
                    HandlerTarget::Command(command)
                }
                (None, Some(_)) => return Err(format!("handler {n}: command is empty")),
                _ => return Err(format!("handler {n}: give exactly one of url and command")),
            };
            let timeout = match h.timeout_seconds {
                None => DEFAULT_TIMEOUT,
                Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Duration::from_secs_f64(s),
                Some(s) => return Err(format!("handler {n}: timeout_seconds {s} is out of range")),
            };
            let mut env: Vec<(String, String)> = h.env.into_iter().collect();
            env.sort();
            let handler = Handler {
                function_arn: h.function_arn.clone(),
                target,
                timeout,
                env,
            };
            if by_arn.insert(h.function_arn.clone(), handler).is_some() {
                return Err(format!(
                    "handler {n}: function_arn {:?} is configured twice",
                    h.function_arn
                ));
            }
        }
        Ok(Self { by_arn })
    }

    /// The handler of a function ARN. A qualified ARN (`…:function:name:alias` or `:$LATEST`)
    /// falls back to the unqualified one.
    pub fn get(&self, function_arn: &str) -> Option<&Handler> {
        self.by_arn.get(function_arn).or_else(|| {
            let parts: Vec<&str> = function_arn.split(':').collect();
            (parts.len() == 8).then(|| self.by_arn.get(&parts[..7].join(":")))?
        })
    }

    pub fn len(&self) -> usize {
        self.by_arn.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_arn.is_empty()
    }
}

/// The account and region of a rule, from its ARN (`arn:aws:config:REGION:ACCOUNT:config-rule/…`).
pub fn rule_scope(rule: &RuleRecord) -> Result<Scope, String> {
    let parts: Vec<&str> = rule.arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "config", region, account, _] => Ok(Scope::new(*account, *region)),
        _ => Err(format!("the rule ARN {:?} is malformed", rule.arn)),
    }
}

/// The URL handlers call back for a server listening on `addr` (an unspecified address such as
/// `0.0.0.0` is reached over loopback).
pub fn endpoint_of(addr: std::net::SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => std::net::Ipv4Addr::LOCALHOST.into(),
        ip if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", std::net::SocketAddr::new(ip, addr.port()))
}

/// The execution role remedy reports (the role AWS Config uses by default).
pub fn execution_role_arn(account: &str) -> String {
    format!(
        "arn:aws:iam::{account}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
    )
}

/// The event AWS Config gives a custom rule's Lambda function.
///
/// With an `item`, a configuration-change event: `invokingEvent` holds `configurationItemDiff`
/// (null), `configurationItem` (notification form), `notificationCreationTime`, `messageType`
/// and `recordVersion`. Without one, a periodic event: `awsAccountId`,
/// `notificationCreationTime`, `messageType` (`ScheduledNotification`) and `recordVersion`.
/// `invokingEvent` and `ruleParameters` are JSON *strings*, as AWS sends them.
pub fn build_event(
    rule: &RuleRecord,
    scope: &Scope,
    item: Option<&ConfigurationItem>,
    message_type: &str,
    event_left_scope: bool,
    result_token: &str,
    now: f64,
) -> Value {
    let created = crate::time::iso8601(now);
    let invoking = match item {
        Some(ci) => json!({
            "configurationItemDiff": null,
            "configurationItem": ci.to_notification(),
            "notificationCreationTime": created,
            "messageType": message_type,
            "recordVersion": CI_VERSION,
        }),
        None => json!({
            "awsAccountId": scope.account,
            "notificationCreationTime": created,
            "messageType": message_type,
            "recordVersion": "1.0",
        }),
    };
    let rule_parameters = rule
        .rule
        .input_parameters
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or("{}");
    json!({
        "version": "1.0",
        "invokingEvent": invoking.to_string(),
        "ruleParameters": rule_parameters,
        "resultToken": result_token,
        "eventLeftScope": event_left_scope,
        "executionRoleArn": execution_role_arn(&scope.account),
        "configRuleArn": rule.arn,
        "configRuleName": rule.name,
        "configRuleId": rule.id,
        "accountId": scope.account,
        "evaluationMode": "DETECTIVE",
    })
}

/// Fires the rule's handler with AWS's invoking event and waits for it to finish; results come
/// back through PutEvaluations. `Err` says why the invocation failed (the engine records it in
/// the rule's evaluation status).
pub async fn invoke(
    app: &App,
    rule: &RuleRecord,
    item: Option<&ConfigurationItem>,
    message_type: &str,
    event_left_scope: bool,
) -> Result<(), String> {
    let function_arn = rule
        .rule
        .source
        .as_ref()
        .and_then(|s| s.source_identifier.as_deref())
        .unwrap_or("");
    let Some(handler) = app.settings.lambda_handlers.get(function_arn) else {
        return Err(format!(
            "No local handler is configured for the Lambda function {function_arn} (see --lambda-handlers)."
        ));
    };
    let scope = rule_scope(rule)?;
    let token = app
        .result_tokens()
        .await
        .map_err(|e| format!("cannot mint a result token: {}", e.message))?
        .mint(&scope, &rule.name);
    let event = build_event(
        rule,
        &scope,
        item,
        message_type,
        event_left_scope,
        &token,
        crate::time::now(),
    );
    let body = event.to_string();
    tracing::debug!(rule = %rule.name, function = %function_arn, "invoking the rule's handler");
    let outcome = match &handler.target {
        HandlerTarget::Url(url) => post(url, body, handler.timeout).await,
        HandlerTarget::Command(command) => {
            let mut env = handler_env(app, &scope);
            env.extend(handler.env.iter().cloned());
            run_command(command, &env, body, handler.timeout).await
        }
    };
    if let Err(e) = &outcome {
        tracing::warn!(rule = %rule.name, function = %function_arn, error = %e, "the rule's handler failed");
    }
    outcome
}

/// The environment a command handler gets besides remedy's own: where remedy is and the region.
fn handler_env(app: &App, scope: &Scope) -> Vec<(String, String)> {
    let mut env = vec![
        ("AWS_REGION".to_string(), scope.region.clone()),
        ("AWS_DEFAULT_REGION".to_string(), scope.region.clone()),
    ];
    if let Some(endpoint) = &app.settings.handler_endpoint {
        env.push(("AWS_ENDPOINT_URL".to_string(), endpoint.clone()));
        env.push((
            "AWS_ENDPOINT_URL_CONFIG_SERVICE".to_string(),
            endpoint.clone(),
        ));
    }
    env
}

/// Runs a command handler: the event on standard input; fails on a nonzero exit or a timeout
/// (the process is killed).
pub async fn run_command(
    command: &[String],
    env: &[(String, String)],
    event: String,
    timeout: Duration,
) -> Result<(), String> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| "the handler command is empty".to_string())?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run the handler {program:?}: {e}"))?;
    let mut stdin = child.stdin.take();
    let run = async move {
        if let Some(stdin) = stdin.as_mut() {
            // A handler that does not read its input is not an error.
            let _ = stdin.write_all(event.as_bytes()).await;
            let _ = stdin.shutdown().await;
        }
        drop(stdin);
        child.wait_with_output().await
    };
    // On timeout the future (and with it the child) is dropped, which kills the process.
    let output = match tokio::time::timeout(timeout, run).await {
        Err(_) => {
            return Err(format!(
                "The handler {program:?} did not finish within {} s and was killed.",
                timeout.as_secs_f64()
            ))
        }
        Ok(Err(e)) => return Err(format!("the handler {program:?} failed: {e}")),
        Ok(Ok(output)) => output,
    };
    if output.status.success() {
        return Ok(());
    }
    let status = match output.status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "was killed by a signal".to_string(),
    };
    let stderr = tail(&String::from_utf8_lossy(&output.stderr));
    Err(if stderr.is_empty() {
        format!("The handler {program:?} {status}.")
    } else {
        format!("The handler {program:?} {status}: {stderr}")
    })
}

/// The last [`OUTPUT_TAIL`] characters of a handler's output, on one line.
fn tail(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let n = s.chars().count();
    if n <= OUTPUT_TAIL {
        s
    } else {
        format!("…{}", s.chars().skip(n - OUTPUT_TAIL).collect::<String>())
    }
}

/// `http://host[:port][/path]` → (host, port, path-and-query).
fn parse_http_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("url {url:?} must start with http:// (TLS is not supported)"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("url {url:?} has a bad port"))?,
        ),
        _ => (authority, 80),
    };
    if host.is_empty() {
        return Err(format!("url {url:?} has no host"));
    }
    Ok((host.to_string(), port, path.to_string()))
}

/// POSTs the event to an HTTP handler (HTTP/1.1, one connection per invocation).
pub async fn post(url: &str, event: String, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, post_inner(url, event)).await {
        Err(_) => Err(format!(
            "The handler at {url} did not answer within {} s.",
            timeout.as_secs_f64()
        )),
        Ok(r) => r,
    }
}

async fn post_inner(url: &str, event: String) -> Result<(), String> {
    let (host, port, path) = parse_http_url(url)?;
    let connect_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let stream = tokio::net::TcpStream::connect((connect_host.as_str(), port))
        .await
        .map_err(|e| format!("cannot reach the handler at {url}: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("cannot talk to the handler at {url}: {e}"))?;
    let conn = tokio::spawn(conn);
    let host_header = if port == 80 {
        host.clone()
    } else {
        format!("{host}:{port}")
    };
    let request = http::Request::post(path)
        .header(http::header::HOST, host_header)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(event)))
        .map_err(|e| format!("bad handler request for {url}: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("the handler at {url} failed: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("the handler at {url} failed: {e}"))?
        .to_bytes();
    conn.abort();
    let text = String::from_utf8_lossy(&body);
    if !status.is_success() {
        return Err(format!(
            "The handler at {url} answered {status}: {}",
            tail(&text)
        ));
    }
    // The Lambda runtime interface emulator answers 200 with an error body when the function
    // raised.
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&text) {
        if let (Some(kind), message) = (
            map.get("errorType").and_then(Value::as_str),
            map.get("errorMessage").and_then(Value::as_str),
        ) {
            return Err(format!(
                "The function raised {kind}: {}",
                tail(message.unwrap_or(""))
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use remedy_wire::config::{ConfigRule, Owner, Source};

    use super::*;

    fn rule(params: Option<&str>) -> RuleRecord {
        RuleRecord {
            name: "my-rule".into(),
            id: "config-rule-abc123".into(),
            arn: "arn:aws:config:eu-west-1:111122223333:config-rule/config-rule-abc123".into(),
            rule: ConfigRule {
                input_parameters: params.map(str::to_string),
                source: Some(Source {
                    owner: Some(Owner::CustomLambda),
                    source_identifier: Some(
                        "arn:aws:lambda:eu-west-1:111122223333:function:my-rule".into(),
                    ),
                    ..Default::default()
                }),
                ..Default::default()
            },
        }
    }

    fn item() -> ConfigurationItem {
        ConfigurationItem {
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            resource_type: "AWS::S3::Bucket".into(),
            resource_id: "my-bucket".into(),
            resource_name: Some("my-bucket".into()),
            arn: Some("arn:aws:s3:::my-bucket".into()),
            availability_zone: None,
            resource_creation_time: None,
            capture_time: 1_700_000_000.0,
            status: "OK".into(),
            state_id: 7,
            configuration: json!({"name": "my-bucket"}),
            supplementary_configuration: BTreeMap::new(),
            tags: BTreeMap::from([("team".to_string(), "a".to_string())]),
            relationships: vec![],
        }
    }

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    #[test]
    fn change_event_has_aws_fields() {
        let r = rule(Some(r#"{"maxAge":"30"}"#));
        let scope = rule_scope(&r).unwrap();
        assert_eq!(scope, Scope::new("111122223333", "eu-west-1"));
        let e = build_event(
            &r,
            &scope,
            Some(&item()),
            CHANGE_NOTIFICATION,
            false,
            "tok",
            1_700_000_100.0,
        );
        assert_eq!(
            keys(&e),
            [
                "accountId",
                "configRuleArn",
                "configRuleId",
                "configRuleName",
                "evaluationMode",
                "eventLeftScope",
                "executionRoleArn",
                "invokingEvent",
                "resultToken",
                "ruleParameters",
                "version"
            ]
        );
        assert_eq!(e["version"], "1.0");
        assert_eq!(e["resultToken"], "tok");
        assert_eq!(e["eventLeftScope"], false);
        assert_eq!(e["accountId"], "111122223333");
        assert_eq!(e["configRuleName"], "my-rule");
        assert_eq!(e["configRuleId"], "config-rule-abc123");
        assert_eq!(e["configRuleArn"], r.arn.as_str());
        assert_eq!(e["evaluationMode"], "DETECTIVE");
        assert!(e["executionRoleArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:iam::111122223333:role/"));
        // Both are JSON strings, as AWS sends them.
        let params: Value = serde_json::from_str(e["ruleParameters"].as_str().unwrap()).unwrap();
        assert_eq!(params, json!({"maxAge": "30"}));
        let invoking: Value = serde_json::from_str(e["invokingEvent"].as_str().unwrap()).unwrap();
        assert_eq!(
            keys(&invoking),
            [
                "configurationItem",
                "configurationItemDiff",
                "messageType",
                "notificationCreationTime",
                "recordVersion"
            ]
        );
        assert_eq!(invoking["messageType"], CHANGE_NOTIFICATION);
        assert_eq!(
            invoking["notificationCreationTime"],
            "2023-11-14T22:15:00.000Z"
        );
        assert_eq!(invoking["configurationItemDiff"], Value::Null);
        assert_eq!(invoking["recordVersion"], CI_VERSION);
        let ci = &invoking["configurationItem"];
        assert_eq!(ci, &item().to_notification());
        assert_eq!(ci["resourceType"], "AWS::S3::Bucket");
        assert_eq!(ci["awsAccountId"], "111122223333");
        assert_eq!(ci["configuration"]["name"], "my-bucket");
    }

    #[test]
    fn periodic_event_and_left_scope() {
        let r = rule(None);
        let scope = rule_scope(&r).unwrap();
        let e = build_event(&r, &scope, None, SCHEDULED_NOTIFICATION, true, "tok", 0.0);
        assert_eq!(e["ruleParameters"], "{}");
        assert_eq!(e["eventLeftScope"], true);
        let invoking: Value = serde_json::from_str(e["invokingEvent"].as_str().unwrap()).unwrap();
        assert_eq!(
            invoking,
            json!({
                "awsAccountId": "111122223333",
                "notificationCreationTime": "1970-01-01T00:00:00.000Z",
                "messageType": "ScheduledNotification",
                "recordVersion": "1.0",
            })
        );
    }

    #[test]
    fn handler_files() {
        let h = LambdaHandlers::from_toml(
            r#"
[[handler]]
function_arn = "arn:aws:lambda:us-east-1:000000000000:function:a"
url = "http://127.0.0.1:9000/2015-03-31/functions/function/invocations"

[[handler]]
function_arn = "arn:aws:lambda:us-east-1:000000000000:function:b"
command = ["python3", "handler.py"]
timeout_seconds = 2.5
env = { X = "1" }
"#,
        )
        .unwrap();
        assert_eq!(h.len(), 2);
        let a = h
            .get("arn:aws:lambda:us-east-1:000000000000:function:a")
            .unwrap();
        assert_eq!(a.timeout, DEFAULT_TIMEOUT);
        assert!(matches!(a.target, HandlerTarget::Url(_)));
        let b = h
            .get("arn:aws:lambda:us-east-1:000000000000:function:b:$LATEST")
            .unwrap();
        assert_eq!(b.timeout, Duration::from_millis(2500));
        assert_eq!(b.env, vec![("X".to_string(), "1".to_string())]);
        assert!(h
            .get("arn:aws:lambda:us-east-1:000000000000:function:c")
            .is_none());

        for bad in [
            r#"[[handler]]
function_arn = "arn:aws:lambda:us-east-1:000000000000:function:a""#,
            r#"[[handler]]
function_arn = "arn:aws:lambda:us-east-1:000000000000:function:a"
url = "https://example.com/""#,
            r#"[[handler]]
function_arn = "not-an-arn"
command = ["x"]"#,
            r#"[[handler]]
function_arn = "arn:aws:lambda:us-east-1:000000000000:function:a"
command = []"#,
            r#"[[handler]]
function_arn = "arn:aws:lambda:us-east-1:000000000000:function:a"
command = ["x"]
colour = "red""#,
        ] {
            assert!(LambdaHandlers::from_toml(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint_of("0.0.0.0:4599".parse().unwrap()),
            "http://127.0.0.1:4599"
        );
        assert_eq!(endpoint_of("[::]:1".parse().unwrap()), "http://[::1]:1");
        assert_eq!(
            endpoint_of("10.0.0.2:80".parse().unwrap()),
            "http://10.0.0.2:80"
        );
    }

    #[test]
    fn urls() {
        assert_eq!(
            parse_http_url("http://127.0.0.1:9000/x?y").unwrap(),
            ("127.0.0.1".into(), 9000, "/x?y".into())
        );
        assert_eq!(
            parse_http_url("http://localhost").unwrap(),
            ("localhost".into(), 80, "/".into())
        );
        assert_eq!(
            parse_http_url("http://[::1]:8080/").unwrap(),
            ("[::1]".into(), 8080, "/".into())
        );
        assert!(parse_http_url("http://:80/").is_err());
    }

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[tokio::test]
    async fn commands_get_the_event_and_fail_visibly() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("event.json");
        let script = format!(
            "cat > '{}'; echo \"$GREETING\" >> '{}'",
            out.display(),
            out.display()
        );
        run_command(
            &sh(&script),
            &[("GREETING".into(), "hi".into())],
            "{\"a\":1}".into(),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"a\":1}hi\n");

        let e = run_command(
            &sh("echo boom >&2; exit 3"),
            &[],
            "{}".into(),
            DEFAULT_TIMEOUT,
        )
        .await
        .unwrap_err();
        assert!(e.contains("status 3") && e.contains("boom"), "{e}");

        let started = std::time::Instant::now();
        let e = run_command(
            &sh("sleep 30"),
            &[],
            "{}".into(),
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
        assert!(e.contains("killed"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));

        let e = run_command(
            &["/nonexistent/handler".to_string()],
            &[],
            "{}".into(),
            DEFAULT_TIMEOUT,
        )
        .await
        .unwrap_err();
        assert!(e.contains("cannot run"), "{e}");
    }

    #[tokio::test]
    async fn http_handlers_are_posted_the_event() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Three connections: success, a 500, a Lambda error body.
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            for answer in [
                "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnull",
                "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\n\r\nboom",
                "HTTP/1.1 200 OK\r\ncontent-length: 45\r\n\r\n{\"errorType\":\"KeyError\",\"errorMessage\":\"'x'\"}",
            ] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = s.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf);
                    if let Some(i) = text.find("\r\n\r\n") {
                        let len: usize = text
                            .lines()
                            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                            .unwrap();
                        if buf.len() >= i + 4 + len {
                            break;
                        }
                    }
                    if n == 0 {
                        break;
                    }
                }
                s.write_all(answer.as_bytes()).await.unwrap();
                seen.push(String::from_utf8(buf).unwrap());
            }
            seen
        });
        let url = format!("http://127.0.0.1:{port}/invoke");
        post(&url, "{\"e\":1}".into(), DEFAULT_TIMEOUT)
            .await
            .unwrap();
        let e = post(&url, "{}".into(), DEFAULT_TIMEOUT).await.unwrap_err();
        assert!(e.contains("500") && e.contains("boom"), "{e}");
        let e = post(&url, "{}".into(), DEFAULT_TIMEOUT).await.unwrap_err();
        assert!(e.contains("KeyError"), "{e}");
        let seen = server.await.unwrap();
        assert!(
            seen[0].starts_with("POST /invoke HTTP/1.1\r\n"),
            "{}",
            seen[0]
        );
        assert!(seen[0].ends_with("{\"e\":1}"));
        assert!(seen[0]
            .to_ascii_lowercase()
            .contains("content-type: application/json"));

        // Nobody listening.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let e = post(
            &format!("http://127.0.0.1:{port}/"),
            "{}".into(),
            DEFAULT_TIMEOUT,
        )
        .await
        .unwrap_err();
        assert!(e.contains("cannot reach"), "{e}");
    }
}
