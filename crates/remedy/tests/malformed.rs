//! 1,000 malformed requests from a seeded generator, sent concurrently: each must get a 4xx with
//! an AWS-shaped JSON error (or a 2xx when the mutation happened to leave the request valid), none
//! a 5xx or a dropped connection, and the server must be healthy afterwards.
//!
//! The generator is a hand-written xorshift so the run is reproducible without a dependency:
//! `REMEDY_MALFORMED_SEED=<n>` replays a run, `REMEDY_MALFORMED_COUNT=<n>` changes its size.
//! Requests are well-formed HTTP/1.1 (malformed HTTP framing is hyper's to refuse and never
//! reaches remedy); everything inside the framing is fair game.

mod common;
mod raw;

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use common::*;
use raw::*;

const LIMIT: usize = 64 * 1024;
const THREADS: u64 = 8;

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `min + below(extra)`, for lengths (0 extra means exactly `min`).
    fn len(&mut self, min: usize, extra: usize) -> usize {
        min + if extra == 0 { 0 } else { self.below(extra) }
    }

    fn bytes(&mut self, min: usize, extra: usize) -> Vec<u8> {
        let n = self.len(min, extra);
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// Bytes allowed in an HTTP header value (visible ASCII, space, tab, obs-text), not starting
    /// or ending with white space.
    fn header_value(&mut self, min: usize, extra: usize) -> Vec<u8> {
        let n = self.len(min, extra);
        let mut v: Vec<u8> = (0..n)
            .map(|_| match self.below(10) {
                0 => b' ',
                1 => 0x80 + self.below(0x80) as u8,
                _ => 0x21 + self.below(0x7f - 0x21) as u8,
            })
            .collect();
        if let Some(first) = v.first_mut() {
            *first = b'x';
        }
        if let Some(last) = v.last_mut() {
            *last = b'y';
        }
        v
    }

    /// A header name (RFC 9110 token characters).
    fn header_name(&mut self, min: usize, extra: usize) -> String {
        let n = self.len(min, extra);
        const TCHAR: &[u8] =
            b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        (0..n.max(1)).map(|_| *self.pick(TCHAR) as char).collect()
    }

    fn printable(&mut self, min: usize, extra: usize) -> String {
        let n = self.len(min, extra);
        (0..n)
            .map(|_| (0x20 + self.below(0x5f) as u8) as char)
            .collect()
    }
}

/// Operations with a body that is valid (or nearly: some fail business rules) for them.
const TEMPLATES: &[(&str, &str)] = &[
    ("DescribeConfigRules", r#"{}"#),
    (
        "DescribeConfigRules",
        r#"{"ConfigRuleNames":["r1","r2"],"NextToken":"abc"}"#,
    ),
    ("DeleteConfigRule", r#"{"ConfigRuleName":"r1"}"#),
    (
        "PutConfigRule",
        r#"{"ConfigRule":{"ConfigRuleName":"r1","Description":"d","Scope":{"ComplianceResourceTypes":["AWS::S3::Bucket"]},"Source":{"Owner":"AWS","SourceIdentifier":"S3_BUCKET_VERSIONING_ENABLED"},"InputParameters":"{}","MaximumExecutionFrequency":"One_Hour"},"Tags":[{"Key":"k","Value":"v"}]}"#,
    ),
    (
        "PutRemediationConfigurations",
        r#"{"RemediationConfigurations":[{"ConfigRuleName":"r1","TargetType":"SSM_DOCUMENT","TargetId":"AWS-ConfigureS3BucketVersioning","Parameters":{"BucketName":{"ResourceValue":{"Value":"RESOURCE_ID"}}},"Automatic":true,"MaximumAutomaticAttempts":3,"RetryAttemptSeconds":60}]}"#,
    ),
    (
        "DescribeRemediationConfigurations",
        r#"{"ConfigRuleNames":["r1"]}"#,
    ),
    (
        "DeleteRemediationConfiguration",
        r#"{"ConfigRuleName":"r1","ResourceType":"AWS::S3::Bucket"}"#,
    ),
    (
        "PutRemediationExceptions",
        r#"{"ConfigRuleName":"r1","ResourceKeys":[{"ResourceType":"AWS::S3::Bucket","ResourceId":"b1"}],"Message":"m","ExpirationTime":1900000000}"#,
    ),
    (
        "DescribeRemediationExceptions",
        r#"{"ConfigRuleName":"r1","Limit":10}"#,
    ),
    (
        "DeleteRemediationExceptions",
        r#"{"ConfigRuleName":"r1","ResourceKeys":[{"ResourceType":"AWS::S3::Bucket","ResourceId":"b1"}]}"#,
    ),
    (
        "PutResourceConfig",
        r#"{"ResourceType":"MyCompany::Widget::Thing","SchemaVersionId":"1","ResourceId":"w1","ResourceName":"n","Configuration":"{\"a\":1}","Tags":{"k":"v"}}"#,
    ),
    (
        "DeleteResourceConfig",
        r#"{"ResourceType":"MyCompany::Widget::Thing","ResourceId":"w1"}"#,
    ),
    (
        "GetResourceConfigHistory",
        r#"{"resourceType":"MyCompany::Widget::Thing","resourceId":"w1","laterTime":1900000000,"earlierTime":1.5,"chronologicalOrder":"Forward","limit":10}"#,
    ),
    (
        "BatchGetResourceConfig",
        r#"{"resourceKeys":[{"resourceType":"MyCompany::Widget::Thing","resourceId":"w1"}]}"#,
    ),
    (
        "ListDiscoveredResources",
        r#"{"resourceType":"MyCompany::Widget::Thing","limit":5,"includeDeletedResources":true}"#,
    ),
    (
        "TagResource",
        r#"{"ResourceArn":"arn:aws:config:us-east-1:000000000000:config-rule/config-rule-abc","Tags":[{"Key":"k","Value":"v"}]}"#,
    ),
    (
        "UntagResource",
        r#"{"ResourceArn":"arn:aws:config:us-east-1:000000000000:config-rule/config-rule-abc","TagKeys":["k"]}"#,
    ),
    (
        "ListTagsForResource",
        r#"{"ResourceArn":"arn:aws:config:us-east-1:000000000000:config-rule/config-rule-abc","Limit":5}"#,
    ),
    (
        "StartRemediationExecution",
        r#"{"ConfigRuleName":"r1","ResourceKeys":[{"resourceType":"AWS::S3::Bucket","resourceId":"b1"}]}"#,
    ),
    ("GetComplianceSummaryByConfigRule", r#""#),
];

/// A JSON value of a random kind, sometimes nested.
fn random_json(rng: &mut Rng, depth: usize) -> serde_json::Value {
    use serde_json::json;
    match rng.below(if depth > 2 { 7 } else { 9 }) {
        0 => json!(null),
        1 => json!(rng.chance(2)),
        2 => json!(rng.next() as i64),
        3 => json!(rng.next() as f64 / 7.0),
        4 => json!(rng.printable(0, 20)),
        5 => json!(""),
        6 => json!(i64::MIN),
        7 => serde_json::Value::Array(
            (0..rng.below(4))
                .map(|_| random_json(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = serde_json::Map::new();
            for _ in 0..rng.below(4) {
                let key = rng.printable(1, 8);
                m.insert(key, random_json(rng, depth + 1));
            }
            serde_json::Value::Object(m)
        }
    }
}

/// Replaces one value somewhere in `v` (a member, an item or `v` itself) with something random.
fn mutate_somewhere(rng: &mut Rng, v: &mut serde_json::Value) {
    let descend = rng.below(3) != 0;
    match v {
        serde_json::Value::Object(m) if descend && !m.is_empty() => {
            let key = m
                .keys()
                .nth(rng.below(m.len()))
                .cloned()
                .unwrap_or_default();
            if let Some(child) = m.get_mut(&key) {
                mutate_somewhere(rng, child);
            }
        }
        serde_json::Value::Array(a) if descend && !a.is_empty() => {
            let i = rng.below(a.len());
            mutate_somewhere(rng, &mut a[i]);
        }
        _ => *v = random_json(rng, 0),
    }
}

/// Adds an unknown member somewhere.
fn add_unknown(rng: &mut Rng, v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            let children: Vec<String> = m
                .iter()
                .filter(|(_, c)| c.is_object() || c.is_array())
                .map(|(k, _)| k.clone())
                .collect();
            if !children.is_empty() && rng.chance(2) {
                let k = rng.pick(&children).clone();
                if let Some(child) = m.get_mut(&k) {
                    add_unknown(rng, child);
                }
            } else {
                m.insert(
                    format!("Unknown{}", rng.printable(4, 0)),
                    random_json(rng, 0),
                );
            }
        }
        serde_json::Value::Array(a) if !a.is_empty() => {
            let i = rng.below(a.len());
            add_unknown(rng, &mut a[i]);
        }
        _ => {}
    }
}

/// Replaces the first string value found (depth-first) with a huge string.
fn hugify(rng: &mut Rng, v: &mut serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => {
            let c = *rng.pick(&['a', 'é', '\u{1F600}', '"', '\\']);
            *s = std::iter::repeat_n(c, 1000 + rng.below(LIMIT / 8)).collect();
            true
        }
        serde_json::Value::Object(m) => m.values_mut().any(|c| hugify(rng, c)),
        serde_json::Value::Array(a) => a.iter_mut().any(|c| hugify(rng, c)),
        _ => false,
    }
}

struct Case {
    kind: &'static str,
    bytes: Vec<u8>,
    /// Whether a 2xx is a plausible answer (the mutation may have left the request valid).
    may_succeed: bool,
}

fn signed_request(port: u16, target: &str, body: &[u8], extra: &[(String, String)]) -> Vec<u8> {
    let host = format!("127.0.0.1:{port}");
    let now = SystemTime::now();
    let amz_date = remedy_sigv4::format_amz_date(now);
    let headers = [
        ("Host", host.as_str()),
        ("X-Amz-Date", amz_date.as_str()),
        ("X-Amz-Target", target),
        ("Content-Type", CONTENT_TYPE),
    ];
    let auth = remedy_sigv4::sign_request(
        "POST", "/", &headers, body, "test", "test", REGION, "config", now,
    );
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.push(("Authorization".into(), auth));
    all.extend_from_slice(extra);
    request_bytes("POST", "/", &all, body)
}

fn generate(rng: &mut Rng, port: u16) -> Case {
    let (op, template) = *rng.pick(TEMPLATES);
    let target = format!("StarlingDoveService.{op}");
    let parsed: serde_json::Value = if template.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_str(template).unwrap()
    };
    let body_of = |v: &serde_json::Value| serde_json::to_vec(v).unwrap();
    let case = |kind, bytes, may_succeed| Case {
        kind,
        bytes,
        may_succeed,
    };
    match rng.below(14) {
        0 => {
            let body = rng.bytes(1, 200);
            let body: Vec<u8> = body.into_iter().map(|b| b & 0x7f).collect();
            case("bad json", signed_request(port, &target, &body, &[]), false)
        }
        1 => {
            let full = body_of(&parsed);
            let cut = rng.below(full.len().max(1));
            // Cutting to nothing (or whitespace) is an empty body: valid for some operations.
            case(
                "truncated json",
                signed_request(port, &target, &full[..cut], &[]),
                cut == 0,
            )
        }
        2 => {
            let mut v = parsed.clone();
            for _ in 0..1 + rng.below(3) {
                mutate_somewhere(rng, &mut v);
            }
            case(
                "wrong types",
                signed_request(port, &target, &body_of(&v), &[]),
                true,
            )
        }
        3 => {
            let depth = 200 + rng.below(10_000);
            let (open, close) =
                *rng.pick(&[("[", "]"), ("{\"a\":", "}"), ("{\"ConfigRule\":[", "]}")]);
            let mut body = open.repeat(depth);
            if rng.chance(2) {
                body.push_str(&close.repeat(depth));
            }
            case(
                "deep nesting",
                signed_request(port, &target, body.as_bytes(), &[]),
                false,
            )
        }
        4 => {
            let mut v = parsed.clone();
            for _ in 0..1 + rng.below(4) {
                add_unknown(rng, &mut v);
            }
            case(
                "unknown members",
                signed_request(port, &target, &body_of(&v), &[]),
                true,
            )
        }
        5 => {
            let target = match rng.below(5) {
                0 => format!("StarlingDoveService.{}", rng.printable(1, 30)),
                1 => format!("{}.{op}", rng.printable(1, 30)),
                2 => format!("AmazonSSM.{op}"),
                3 => format!("StarlingDoveService.{}", op.to_lowercase()),
                _ => rng.printable(0, 60),
            };
            case(
                "unknown target",
                signed_request(port, &target, &body_of(&parsed), &[]),
                false,
            )
        }
        6 => {
            let mut v = parsed.clone();
            if !hugify(rng, &mut v) {
                if let serde_json::Value::Object(m) = &mut v {
                    m.insert("Huge".into(), serde_json::json!("h".repeat(LIMIT / 2)));
                }
            }
            // An unknown huge member is fine; a huge known one is a length violation.
            case(
                "huge string",
                signed_request(port, &target, &body_of(&v), &[]),
                true,
            )
        }
        7 => {
            let mut body = body_of(&parsed);
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(body.len() + 1);
                const BAD: &[&[u8]] = &[
                    &[0xff],
                    &[0xc3],
                    &[0xed, 0xa0, 0x80],
                    &[0xf4, 0x90, 0x80, 0x80],
                    &[0x00],
                    &[0xe2, 0x82],
                ];
                let bad = *rng.pick(BAD);
                body.splice(at..at, bad.iter().copied());
            }
            case(
                "invalid utf-8",
                signed_request(port, &target, &body, &[]),
                false,
            )
        }
        8 => {
            // Over the limit, declared (no body sent) or chunked (no end chunk sent).
            let host = format!("127.0.0.1:{port}");
            let mut req = format!("POST / HTTP/1.1\r\nHost: {host}\r\nX-Amz-Target: {target}\r\nContent-Type: {CONTENT_TYPE}\r\nConnection: close\r\n").into_bytes();
            if rng.chance(2) {
                req.extend_from_slice(
                    format!("Content-Length: {}\r\n\r\n", LIMIT + 1 + rng.below(1 << 30))
                        .as_bytes(),
                );
            } else {
                req.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                let mut sent = 0;
                while sent <= LIMIT {
                    let n = 1 + rng.below(LIMIT / 3);
                    req.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                    req.extend(std::iter::repeat_n(b'x', n));
                    req.extend_from_slice(b"\r\n");
                    sent += n;
                }
            }
            case("oversize body", req, false)
        }
        9 => {
            let body = body_of(&parsed);
            let host = format!("127.0.0.1:{port}");
            let date = remedy_sigv4::format_amz_date(SystemTime::now());
            let mut headers = vec![
                ("Host".to_string(), host),
                ("X-Amz-Target".to_string(), target.clone()),
                ("X-Amz-Date".to_string(), date.clone()),
            ];
            match rng.below(5) {
                0 => {}
                1 => headers.push(("Authorization".into(), String::from_utf8_lossy(&rng.header_value(1, 300)).into_owned())),
                2 => headers.push((
                    "Authorization".into(),
                    format!(
                        "AWS4-HMAC-SHA256 Credential={}/{}/{}/config/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
                        rng.printable(0, 20).replace([',', ' '], ""),
                        &date[..8],
                        rng.pick(&["us-east-1", "", "x"]),
                        rng.printable(64, 0).replace([',', ' '], "")
                    ),
                )),
                3 => headers.push((
                    "Authorization".into(),
                    format!(
                        "AWS4-HMAC-SHA256 Credential=test/{}/us-east-1/config/aws4_request, SignedHeaders=host;x-amz-date, Signature={:064x}",
                        &date[..8],
                        rng.next()
                    ),
                )),
                _ => {
                    let q = format!("/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Expires={}", rng.printable(10, 0).bytes().map(|b| format!("%{b:02X}")).collect::<String>(), rng.next());
                    let bytes = request_bytes("POST", &q, &headers, &body);
                    return case("garbled presign", bytes, false);
                }
            }
            case(
                "bad auth",
                request_bytes("POST", "/", &headers, &body),
                false,
            )
        }
        10 => {
            // Random extra headers (names and values of arbitrary bytes the HTTP grammar allows).
            let mut extra = Vec::new();
            for _ in 0..1 + rng.below(6) {
                let name = rng.header_name(1, 30);
                let value = rng.header_value(1, 200);
                extra.push((name, value));
            }
            let body = body_of(&parsed);
            let mut bytes = signed_request(port, &target, &body, &[]);
            // Insert them after the request line (they are unsigned, so they do not matter).
            let at = bytes.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
            let mut inject = Vec::new();
            for (n, v) in extra {
                if n.eq_ignore_ascii_case("content-length")
                    || n.eq_ignore_ascii_case("transfer-encoding")
                    || n.eq_ignore_ascii_case("connection")
                {
                    continue;
                }
                inject.extend_from_slice(n.as_bytes());
                inject.extend_from_slice(b": ");
                inject.extend_from_slice(&v);
                inject.extend_from_slice(b"\r\n");
            }
            bytes.splice(at..at, inject);
            // An unsigned extra header may collide with a signed one (host, x-amz-date, ...): 4xx.
            case("random headers", bytes, true)
        }
        11 => {
            // Garbage in a signed, meaningful header: the request stays correctly signed.
            let which = *rng.pick(&[
                "X-Amz-Target",
                "Content-Type",
                "X-Amz-Content-Sha256",
                "X-Amz-Security-Token",
                "Date",
            ]);
            let value = String::from_utf8_lossy(&rng.header_value(1, 80)).replace('\u{FFFD}', "?");
            let host = format!("127.0.0.1:{port}");
            let now = SystemTime::now();
            let amz_date = remedy_sigv4::format_amz_date(now);
            let body = body_of(&parsed);
            let mut headers: Vec<(&str, &str)> = vec![
                ("Host", &host),
                ("X-Amz-Date", &amz_date),
                ("Content-Type", CONTENT_TYPE),
            ];
            if which != "X-Amz-Target" {
                headers.push(("X-Amz-Target", &target));
            }
            headers.retain(|(k, _)| *k != which);
            headers.push((which, &value));
            let auth = remedy_sigv4::sign_request(
                "POST", "/", &headers, &body, "test", "test", REGION, "config", now,
            );
            let mut all: Vec<(String, String)> = headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            all.push(("Authorization".into(), auth));
            case(
                "garbage signed header",
                request_bytes("POST", "/", &all, &body),
                which != "X-Amz-Target" && which != "X-Amz-Content-Sha256",
            )
        }
        12 => {
            let numbers = [
                "1e400",
                "-1e400",
                "123456789012345678901234567890",
                "-0",
                "0.0000000000000000000000001",
                "1E2",
                "-9223372036854775809",
                "18446744073709551616",
                "NaN",
                "Infinity",
            ];
            let mut text = String::from_utf8(body_of(&parsed)).unwrap();
            // Put an extreme number where a value goes, or as the whole body.
            if let Some(pos) = text.find(':') {
                let end = text[pos..]
                    .find([',', '}'])
                    .map(|e| pos + e)
                    .unwrap_or(text.len());
                let n = *rng.pick(&numbers[..]);
                text.replace_range(pos + 1..end, n);
            } else {
                text = (*rng.pick(&numbers[..])).to_string();
            }
            case(
                "extreme numbers",
                signed_request(port, &target, text.as_bytes(), &[]),
                true,
            )
        }
        _ => case(
            "valid",
            signed_request(port, &target, &body_of(&parsed), &[]),
            true,
        ),
    }
}

/// What is wrong with the answer, if anything.
fn judge(case: &Case, r: &std::io::Result<Response>) -> Option<String> {
    let r = match r {
        Ok(r) => r,
        Err(e) => return Some(format!("no HTTP answer: {e}")),
    };
    match r.status {
        200..=299 if case.may_succeed => {
            if let Err(e) = check_common(r) {
                return Some(e);
            }
            match serde_json::from_slice::<serde_json::Value>(&r.body) {
                Ok(v) if v.is_object() => None,
                _ => Some(format!(
                    "2xx body is not a JSON object: {:?}",
                    String::from_utf8_lossy(&r.body)
                )),
            }
        }
        400..=499 => check_error_shape(r).err(),
        s => Some(format!(
            "status {s}: {}",
            String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
        )),
    }
}

#[test]
fn a_thousand_malformed_requests_get_4xx_and_the_server_survives() {
    let mut server = Server::start_with(&["--max-body-bytes", &LIMIT.to_string()]);
    let seed: u64 = std::env::var("REMEDY_MALFORMED_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_2024);
    let count: u64 = std::env::var("REMEDY_MALFORMED_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let port = server.port;
    let failures = Mutex::new(Vec::new());
    let tally = Mutex::new(std::collections::BTreeMap::<(&'static str, u16), usize>::new());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (failures, tally) = (&failures, &tally);
            s.spawn(move || {
                let mut rng = Rng::new(seed ^ (t + 1).wrapping_mul(0xA076_1D64_78BD_642F));
                let mut i = t;
                while i < count {
                    let case = generate(&mut rng, port);
                    let r = exchange(port, &case.bytes, Duration::from_secs(20));
                    *tally
                        .lock()
                        .unwrap()
                        .entry((case.kind, r.as_ref().map(|r| r.status).unwrap_or(0)))
                        .or_default() += 1;
                    if let Some(problem) = judge(&case, &r) {
                        let head =
                            String::from_utf8_lossy(&case.bytes[..case.bytes.len().min(600)])
                                .into_owned();
                        failures.lock().unwrap().push(format!(
                            "#{i} [{}] {problem}\n  request: {head:?}",
                            case.kind
                        ));
                    }
                    i += THREADS;
                }
            });
        }
    });
    let tally = tally.into_inner().unwrap();
    let total: usize = tally.values().sum();
    assert_eq!(total as u64, count);
    eprintln!("seed {seed}: (kind, status) → count: {tally:?}");
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "seed {seed}: {} of {count} requests were mishandled; the first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Every category ran and met both a refusal and (where possible) a success.
    for kind in [
        "bad json",
        "truncated json",
        "wrong types",
        "deep nesting",
        "unknown members",
        "unknown target",
        "huge string",
        "invalid utf-8",
        "oversize body",
        "bad auth",
        "random headers",
        "garbage signed header",
        "extreme numbers",
        "valid",
    ] {
        assert!(
            tally.keys().any(|(k, _)| *k == kind),
            "no {kind} case was generated"
        );
    }
    assert!(
        tally.iter().any(|((k, s), _)| *k == "valid" && *s == 200),
        "no valid request succeeded: {tally:?}"
    );
    assert!(
        tally.iter().any(|((_, s), _)| *s == 413),
        "no 413: {tally:?}"
    );

    // Still alive and well.
    assert!(server.is_running());
    let (status, _, body) = server.get("/health").unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_ok(&server.call("StarlingDoveService.DescribeConfigRules", "{}"));
    let rule = r#"{"ConfigRule":{"ConfigRuleName":"after-fuzz","Source":{"Owner":"AWS","SourceIdentifier":"S3_BUCKET_VERSIONING_ENABLED"}}}"#;
    assert_ok(&server.call("StarlingDoveService.PutConfigRule", rule));
}

#[test]
fn the_generator_is_deterministic() {
    let a: Vec<Vec<u8>> = {
        let mut rng = Rng::new(7);
        (0..50).map(|_| generate(&mut rng, 1).bytes).collect()
    };
    let b: Vec<Vec<u8>> = {
        let mut rng = Rng::new(7);
        (0..50).map(|_| generate(&mut rng, 1).bytes).collect()
    };
    // Signatures carry the current time; compare the parts that do not.
    let strip = |v: &Vec<u8>| {
        String::from_utf8_lossy(v)
            .lines()
            .filter(|l| !l.starts_with("X-Amz-Date") && !l.starts_with("Authorization"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (a, b): (Vec<_>, Vec<_>) = (a.iter().map(strip).collect(), b.iter().map(strip).collect());
    assert_eq!(a, b);
}
