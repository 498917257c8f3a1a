//! `GET /metrics` through the real server: what an operator's Prometheus sees after a known set
//! of calls (accepted, refused by validation, unsigned, unknown targets) and one remediation run
//! to the end. Every scrape must parse as Prometheus text exposition 0.0.4 under a strict parser
//! written here (no client library in the test: the format is the contract).

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use common::*;

// ---- a strict parser of the text format ---------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

#[derive(Debug, Default)]
struct Exposition {
    /// Family name → TYPE.
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

fn valid_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    !s.starts_with("__")
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse::<f64>().map_err(|e| format!("value {s:?}: {e}")),
    }
}

/// `{a="x",b="y"}` at the start of `s`: the labels and the rest after the closing brace.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = s.strip_prefix('{').ok_or("expected {")?;
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = &rest[..eq];
        if !valid_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("invalid escape {other:?}")),
                },
                Some((_, '\n')) => return Err("raw line feed in a label value".into()),
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} repeated"));
        }
        rest = &rest[end + 1..];
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err("expected , or } after a label".into());
        }
    }
}

/// HELP text escapes only backslash and line feed.
fn help_escapes_valid(help: &str) -> bool {
    let mut chars = help.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && !matches!(chars.next(), Some('\\' | 'n')) {
            return false;
        }
    }
    true
}

/// The family a sample name belongs to, given the declared types.
fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = name.strip_suffix(suffix)?;
        (types.get(base).map(String::as_str) == Some("histogram")).then_some(base)
    })
}

fn parse(text: &str) -> Result<Exposition, String> {
    if !text.ends_with('\n') {
        return Err("the exposition must end with a line feed".into());
    }
    let mut out = Exposition::default();
    let mut helps = HashSet::new();
    let mut seen_series = HashSet::new();
    // Families are contiguous: once left, a family may not come back.
    let mut current: Option<String> = None;
    let mut closed: HashSet<String> = HashSet::new();
    let mut enter = |family: &str, current: &mut Option<String>| -> Result<(), String> {
        if current.as_deref() != Some(family) {
            if let Some(prev) = current.take() {
                closed.insert(prev);
            }
            if closed.contains(family) {
                return Err(format!("family {family} is split"));
            }
            *current = Some(family.to_string());
        }
        Ok(())
    };
    for (n, line) in text.lines().enumerate() {
        let err = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.is_empty() {
            return Err(err("empty line".into()));
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("HELP"), Some(name), help) => {
                    if !valid_metric_name(name) {
                        return Err(err("invalid metric name".into()));
                    }
                    if help.is_some_and(|h| !help_escapes_valid(h)) {
                        return Err(err("invalid escape in HELP".into()));
                    }
                    if !helps.insert(name.to_string()) {
                        return Err(err("HELP repeated".into()));
                    }
                    enter(name, &mut current).map_err(err)?;
                }
                (Some("TYPE"), Some(name), Some(kind)) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(err(format!("unknown type {kind}")));
                    }
                    if out
                        .samples
                        .iter()
                        .any(|s| family_of(&s.name, &out.types) == Some(name) || s.name == name)
                    {
                        return Err(err("TYPE after the family's samples".into()));
                    }
                    if out
                        .types
                        .insert(name.to_string(), kind.to_string())
                        .is_some()
                    {
                        return Err(err("TYPE repeated".into()));
                    }
                    enter(name, &mut current).map_err(err)?;
                }
                _ => {} // a plain comment
            }
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| err("no value".into()))?;
        let name = &line[..name_end];
        if !valid_metric_name(name) {
            return Err(err("invalid metric name".into()));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(err)?
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let mut fields = rest
            .strip_prefix(' ')
            .ok_or_else(|| err("expected one space before the value".into()))?
            .split(' ');
        let value = parse_value(fields.next().unwrap_or_default()).map_err(err)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .map_err(|e| err(format!("timestamp: {e}")))?;
        }
        if fields.next().is_some() {
            return Err(err("trailing fields".into()));
        }
        let family = family_of(name, &out.types)
            .ok_or_else(|| err("sample of a family with no TYPE".into()))?
            .to_string();
        enter(&family, &mut current).map_err(err)?;
        let kind = out.types[&family].as_str();
        if kind == "counter" && !(value >= 0.0 && value.is_finite()) {
            return Err(err("a counter must be finite and not negative".into()));
        }
        if kind == "histogram" && name.ends_with("_bucket") && !labels.contains_key("le") {
            return Err(err("a bucket without le".into()));
        }
        if !seen_series.insert(format!("{name}{labels:?}")) {
            return Err(err("series repeated".into()));
        }
        out.samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    check_histograms(&out)?;
    Ok(out)
}

/// Every histogram series: increasing `le` ending at `+Inf`, cumulative counts, `+Inf` equal to
/// `_count`, and a `_sum`.
fn check_histograms(e: &Exposition) -> Result<(), String> {
    for (family, _) in e.types.iter().filter(|(_, k)| *k == "histogram") {
        // Labels but `le` → (le, cumulative count) of each bucket.
        type Buckets = Vec<(f64, f64)>;
        let mut series: BTreeMap<Vec<(String, String)>, Buckets> = BTreeMap::new();
        for s in e
            .samples
            .iter()
            .filter(|s| s.name == format!("{family}_bucket"))
        {
            let mut key: Vec<_> = s.labels.clone().into_iter().collect();
            key.retain(|(k, _)| k != "le");
            series
                .entry(key)
                .or_default()
                .push((parse_value(&s.labels["le"])?, s.value));
        }
        for (key, buckets) in series {
            let labels: BTreeMap<String, String> = key.iter().cloned().collect();
            for w in buckets.windows(2) {
                if !(w[0].0 < w[1].0 && w[0].1 <= w[1].1) {
                    return Err(format!("{family}{labels:?}: buckets {w:?} out of order"));
                }
            }
            let last = buckets.last().unwrap();
            if last.0 != f64::INFINITY {
                return Err(format!("{family}{labels:?}: no +Inf bucket"));
            }
            let find = |suffix: &str| {
                e.samples
                    .iter()
                    .find(|s| s.name == format!("{family}{suffix}") && s.labels == labels)
                    .map(|s| s.value)
            };
            if find("_count") != Some(last.1) {
                return Err(format!("{family}{labels:?}: _count is not the +Inf bucket"));
            }
            if find("_sum").is_none() {
                return Err(format!("{family}{labels:?}: no _sum"));
            }
        }
    }
    Ok(())
}

#[test]
fn the_parser_refuses_what_prometheus_refuses() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\\\"\"} 3\n";
    assert_eq!(parse(ok).unwrap().samples[0].labels["x"], "1\"");
    for bad in [
        "# TYPE a counter\na 1",                  // no final line feed
        "a 1\n",                                  // no TYPE
        "# TYPE a counter\na -1\n",               // negative counter
        "# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n", // repeated label
        "# TYPE a gauge\na{x=\"\\t\"} 1\n",       // invalid escape
        "# TYPE a gauge\na 1\na 2\n",             // repeated series
        "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"y\"} 1\n", // split family
        "# TYPE a gauge\na  1\n",                 // two spaces
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", // no +Inf
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
}

// ---- the server ---------------------------------------------------------------------------------

/// Scrapes `/metrics`: checks the status and content type, parses strictly.
fn scrape(server: &Server) -> Exposition {
    let (status, headers, body) = server.get("/metrics").unwrap();
    assert_eq!(status, 200);
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str());
    assert!(
        content_type.is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{content_type:?}"
    );
    let text = String::from_utf8(body).unwrap();
    parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

impl Exposition {
    /// The value of the one sample named `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut found = self.samples.iter().filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        });
        let first = found.next()?;
        assert!(found.next().is_none(), "{name}{labels:?} is ambiguous");
        Some(first.value)
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no {name}{labels:?} in {:#?}", self.samples))
    }

    /// `remedy_requests_total` as (service, operation, status) → count.
    fn requests(&self) -> BTreeMap<(String, String, String), u64> {
        self.samples
            .iter()
            .filter(|s| s.name == "remedy_requests_total")
            .map(|s| {
                let l = |k: &str| s.labels[k].clone();
                ((l("service"), l("operation"), l("status")), s.value as u64)
            })
            .collect()
    }
}

#[tokio::test]
async fn metrics_count_requests_by_operation_and_status_and_executions_by_state() {
    let server = Server::start();
    let c = server.client();

    // Before any call: no request series, every execution state at 0, the store up.
    let before = scrape(&server);
    assert!(before.requests().is_empty(), "{:?}", before.requests());
    for state in ["QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED"] {
        assert_eq!(before.get("remedy_executions", &[("state", state)]), 0.0);
    }
    assert_eq!(before.get("remedy_store_up", &[]), 1.0);
    assert!(before.get("process_resident_memory_bytes", &[]) > 0.0);

    // Calls whose outcomes are known: each one is counted exactly once.
    c.put_config_rule()
        .config_rule(managed_rule("versioning"))
        .send()
        .await
        .unwrap();
    let err = c
        .put_config_rule()
        .config_rule(managed_rule(&"n".repeat(129)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    let bucket = serde_json::json!({
        "resourceName": "unversioned", "arn": "arn:aws:s3:::unversioned",
        "availabilityZone": "Regional", "configuration": {"name": "unversioned"},
        "supplementaryConfiguration": {
            "BucketVersioningConfiguration": {"status": "Off", "isMfaDeleteEnabled": null}}
    });
    c.put_resource_config()
        .resource_type("AWS::S3::Bucket")
        .resource_id("unversioned")
        .schema_version_id("ConfigurationItem")
        .configuration(bucket.to_string())
        .send()
        .await
        .unwrap();
    let put = c
        .put_remediation_configurations()
        .remediation_configurations(remediation_config(
            "versioning",
            "AWS-ConfigureS3BucketVersioning",
        ))
        .send()
        .await
        .unwrap();
    assert!(put.failed_batches().is_empty(), "{put:?}");
    let started = c
        .start_remediation_execution()
        .config_rule_name("versioning")
        .resource_keys(bucket_key("unversioned"))
        .send()
        .await
        .unwrap();
    assert!(started.failed_items().is_empty(), "{started:?}");
    server.ssm_client().list_documents().send().await.unwrap();
    // Refused before any handler: unsigned, an operation Config does not have, a service remedy
    // does not serve.
    let unsigned = server.post(
        &[
            ("X-Amz-Target", "StarlingDoveService.DescribeConfigRules"),
            ("Content-Type", "application/x-amz-json-1.1"),
        ],
        b"{}",
    );
    assert_eq!(unsigned.status, 403);
    for target in [
        "StarlingDoveService.PutDeliveryChannel",
        "StarlingDoveService.NoSuchOperation",
        "DynamoDB_20120810.GetItem",
    ] {
        assert_eq!(server.call(target, "{}").status, 400, "{target}");
    }

    // The remediation runs to the end; the evaluation its change enqueued finishes.
    let deadline = Instant::now() + Duration::from_secs(60);
    let after = loop {
        let m = scrape(&server);
        let done = m.get("remedy_executions", &[("state", "SUCCEEDED")]) == 1.0
            && m.get("remedy_evaluation_jobs", &[("state", "pending")]) == 0.0
            && m.get("remedy_evaluation_jobs", &[("state", "claimed")]) == 0.0;
        if done {
            break m;
        }
        assert_eq!(m.get("remedy_executions", &[("state", "FAILED")]), 0.0);
        assert!(Instant::now() < deadline, "not done: {:#?}", m.samples);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Exactly the calls made, by operation and status ("unknown" for targets not served).
    let expected: BTreeMap<(String, String, String), u64> = [
        ("config", "PutConfigRule", "200", 1),
        ("config", "PutConfigRule", "400", 1),
        ("config", "PutResourceConfig", "200", 1),
        ("config", "PutRemediationConfigurations", "200", 1),
        ("config", "StartRemediationExecution", "200", 1),
        ("config", "DescribeConfigRules", "403", 1),
        ("config", "unknown", "400", 2),
        ("ssm", "ListDocuments", "200", 1),
        ("unknown", "unknown", "400", 1),
    ]
    .into_iter()
    .map(|(s, o, st, n)| ((s.into(), o.into(), st.into()), n))
    .collect();
    assert_eq!(after.requests(), expected);
    // One latency histogram per operation, counting the same requests.
    let histogram = "remedy_request_duration_seconds";
    for (service, operation, _) in expected.keys() {
        let total: u64 = expected
            .iter()
            .filter(|((s, o, _), _)| s == service && o == operation)
            .map(|(_, n)| n)
            .sum();
        let labels = [
            ("service", service.as_str()),
            ("operation", operation.as_str()),
        ];
        assert_eq!(
            after.get(&format!("{histogram}_count"), &labels),
            total as f64
        );
        assert!(after.get(&format!("{histogram}_sum"), &labels) > 0.0);
    }
    let operations: HashSet<_> = expected.keys().map(|(s, o, _)| (s, o)).collect();
    assert_eq!(
        after
            .samples
            .iter()
            .filter(|s| s.name == format!("{histogram}_count"))
            .count(),
        operations.len(),
        "one histogram per operation called"
    );

    // Executions by state; nothing leased or claimed once the work is done.
    for (state, n) in [
        ("QUEUED", 0.0),
        ("IN_PROGRESS", 0.0),
        ("SUCCEEDED", 1.0),
        ("FAILED", 0.0),
    ] {
        assert_eq!(
            after.get("remedy_executions", &[("state", state)]),
            n,
            "{state}"
        );
    }
    assert_eq!(after.get("remedy_executions_leased", &[]), 0.0);
    assert_eq!(after.get("remedy_node_executions_leased", &[]), 0.0);
    assert_eq!(after.get("remedy_node_evaluation_jobs_claimed", &[]), 0.0);
    assert_eq!(after.get("remedy_store_up", &[]), 1.0);
    // A node id only where nodes share a database.
    let on_postgres = std::env::var_os("REMEDY_TEST_SERVER_DATABASE_URL").is_some();
    assert_eq!(
        after.samples.iter().any(|s| s.name == "remedy_node_info"),
        on_postgres
    );

    // Scrapes are not API requests, and /metrics needs no signature.
    assert_eq!(scrape(&server).requests(), expected);
}
