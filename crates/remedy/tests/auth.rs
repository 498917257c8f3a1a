//! SigV4 as a client sees it, over raw requests: which requests are refused, with which AWS
//! error, and which credentials map to which account.

mod common;
mod raw;

use std::time::{Duration, SystemTime};

use common::*;
use raw::*;

const DESCRIBE: &str = "StarlingDoveService.DescribeConfigRules";

fn signed_at(server: &Server, time: SystemTime) -> Vec<(String, String)> {
    signed_headers(
        server, "/", DESCRIBE, b"{}", "test", "test", REGION, "config", time,
    )
}

#[test]
fn a_correctly_signed_request_is_accepted() {
    let server = Server::start();
    assert_ok(&send(
        &server,
        "POST",
        "/",
        &default_signed(&server, DESCRIBE, b"{}"),
        b"{}",
    ));
}

#[test]
fn a_request_without_authorization_is_refused() {
    let server = Server::start();
    let mut headers = default_signed(&server, DESCRIBE, b"{}");
    remove_header(&mut headers, "Authorization");
    let message = assert_error(
        &send(&server, "POST", "/", &headers, b"{}"),
        403,
        "MissingAuthenticationTokenException",
    );
    assert!(!message.is_empty());
    // Not even a date.
    let headers = vec![("X-Amz-Target".to_string(), DESCRIBE.to_string())];
    assert_error(
        &send(&server, "POST", "/", &headers, b"{}"),
        403,
        "MissingAuthenticationTokenException",
    );
}

#[test]
fn garbled_authorization_headers_are_incomplete_signatures() {
    let server = Server::start();
    let good = default_signed(&server, DESCRIBE, b"{}");
    let auth = good
        .iter()
        .find(|(k, _)| k == "Authorization")
        .unwrap()
        .1
        .clone();
    let signature = auth.rsplit("Signature=").next().unwrap().to_string();
    let date = remedy_sigv4::format_amz_date(SystemTime::now());
    let day = &date[..8];
    let variants = [
        "garbage".to_string(),
        "".to_string(),
        "Bearer abc.def.ghi".to_string(),
        "AWS4-HMAC-SHA256".to_string(),
        "AWS4-HMAC-SHA1 Credential=test/20240101/us-east-1/config/aws4_request, SignedHeaders=host, Signature=00".to_string(),
        format!("AWS4-HMAC-SHA256 Credential=test/{day}/us-east-1/config/aws4_request, SignedHeaders=host;x-amz-date"),
        format!("AWS4-HMAC-SHA256 Credential=test/{day}/us-east-1/config/aws4_request, Signature={signature}"),
        format!("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature={signature}"),
        format!("AWS4-HMAC-SHA256 Credential=test, SignedHeaders=host;x-amz-date, Signature={signature}"),
        format!("AWS4-HMAC-SHA256 Credential=test/{day}/us-east-1/config, SignedHeaders=host;x-amz-date, Signature={signature}"),
        format!("AWS4-HMAC-SHA256 Credential=test/notadate/us-east-1/config/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"),
        format!("AWS4-HMAC-SHA256 Credential=test/{day}/us-east-1/config/aws4_request, SignedHeaders=, Signature={signature}"),
        format!("AWS4-HMAC-SHA256 Credential=test/{day}/us-east-1/config/aws4_request SignedHeaders=host Signature={signature}"),
        format!("AWS4-HMAC-SHA256 Credential=test/{day}/us-east-1/config/aws4_request, SignedHeaders=host;x-amz-date, Signature="),
        format!("AWS4-HMAC-SHA256 Credential=test/{day}/us-east-1/config/aws4_request, Credential=test/{day}/us-east-1/config/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"),
        // Host or X-Amz-Date not signed.
        format!("AWS4-HMAC-SHA256 Credential=test/{day}/us-east-1/config/aws4_request, SignedHeaders=x-amz-date, Signature={signature}"),
        format!("AWS4-HMAC-SHA256 Credential=test/{day}/us-east-1/config/aws4_request, SignedHeaders=host, Signature={signature}"),
    ];
    for v in &variants {
        let mut headers = good.clone();
        set_header(&mut headers, "Authorization", v);
        let r = send(&server, "POST", "/", &headers, b"{}");
        let (ty, message) = check_error_shape(&r).unwrap_or_else(|e| panic!("{v}: {e}"));
        assert_eq!(
            (r.status, ty.as_str()),
            (400, "IncompleteSignatureException"),
            "{v}: {message}"
        );
        assert!(
            !message.contains(&signature),
            "the message echoes the signature: {message}"
        );
    }
    // Two Authorization headers.
    let mut headers = good.clone();
    headers.push(("Authorization".into(), auth.clone()));
    assert_error(
        &send(&server, "POST", "/", &headers, b"{}"),
        400,
        "IncompleteSignatureException",
    );
    // A signed request with no date at all.
    let mut headers = good.clone();
    remove_header(&mut headers, "X-Amz-Date");
    assert_error(
        &send(&server, "POST", "/", &headers, b"{}"),
        400,
        "IncompleteSignatureException",
    );
}

#[test]
fn an_unknown_access_key_is_unrecognized() {
    let server = Server::start();
    let headers = signed_headers(
        &server,
        "/",
        DESCRIBE,
        b"{}",
        "AKIDNOBODY",
        "test",
        REGION,
        "config",
        SystemTime::now(),
    );
    let message = assert_error(
        &send(&server, "POST", "/", &headers, b"{}"),
        400,
        "UnrecognizedClientException",
    );
    assert_eq!(
        message,
        "The security token included in the request is invalid."
    );
}

#[test]
fn a_wrong_secret_is_an_invalid_signature() {
    let server = Server::start();
    let headers = signed_headers(
        &server,
        "/",
        DESCRIBE,
        b"{}",
        "test",
        "not-the-secret",
        REGION,
        "config",
        SystemTime::now(),
    );
    let message = assert_error(
        &send(&server, "POST", "/", &headers, b"{}"),
        403,
        "InvalidSignatureException",
    );
    assert!(
        message.starts_with("The request signature we calculated does not match"),
        "{message}"
    );
}

#[test]
fn a_request_changed_after_signing_is_refused() {
    let server = Server::start();
    let body = br#"{"ConfigRuleNames":[]}"#;
    let good = signed_headers(
        &server,
        "/",
        DESCRIBE,
        body,
        "test",
        "test",
        REGION,
        "config",
        SystemTime::now(),
    );
    // The untouched request works, so each refusal below is caused by its one change.
    assert_ok(&send(&server, "POST", "/", &good, body));

    let mismatch = |r: Response, what: &str| {
        let (ty, message) = check_error_shape(&r).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            (r.status, ty.as_str()),
            (403, "InvalidSignatureException"),
            "{what}: {message}"
        );
    };
    mismatch(send(&server, "POST", "/x", &good, body), "path");
    mismatch(send(&server, "POST", "/?a=b", &good, body), "query");
    mismatch(send(&server, "POST", "/%78", &good, body), "encoded path");
    mismatch(
        send(&server, "POST", "/", &good, br#"{"ConfigRuleNames":["x"]}"#),
        "body",
    );
    mismatch(
        send(&server, "POST", "/", &good, br#"{"ConfigRuleNames":[] }"#),
        "body whitespace",
    );

    let mut h = good.clone();
    set_header(
        &mut h,
        "X-Amz-Target",
        "StarlingDoveService.DeleteConfigRule",
    );
    mismatch(send(&server, "POST", "/", &h, body), "target");

    let mut h = good.clone();
    let date = h.iter().find(|(k, _)| k == "X-Amz-Date").unwrap().1.clone();
    let later = remedy_sigv4::format_amz_date(SystemTime::now() + Duration::from_secs(1));
    let other = if later != date {
        later
    } else {
        remedy_sigv4::format_amz_date(SystemTime::now() - Duration::from_secs(1))
    };
    set_header(&mut h, "X-Amz-Date", &other);
    mismatch(send(&server, "POST", "/", &h, body), "date");

    let mut h = good.clone();
    set_header(&mut h, "Host", "localhost");
    mismatch(send(&server, "POST", "/", &h, body), "host");

    let mut h = good.clone();
    set_header(&mut h, "Content-Type", "application/json");
    mismatch(send(&server, "POST", "/", &h, body), "content type");

    let mut h = good.clone();
    let auth = h
        .iter()
        .find(|(k, _)| k == "Authorization")
        .unwrap()
        .1
        .clone();
    let last = auth.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &auth[..auth.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    set_header(&mut h, "Authorization", &flipped);
    mismatch(send(&server, "POST", "/", &h, body), "signature");

    // Region changed in the scope (signature computed for us-east-1).
    let mut h = good.clone();
    set_header(
        &mut h,
        "Authorization",
        &auth.replacen("/us-east-1/", "/eu-west-1/", 1),
    );
    mismatch(send(&server, "POST", "/", &h, body), "region");

    // A mutation of the method is refused too, though it lands on another answer.
    let r = send(&server, "PUT", "/", &good, body);
    check_error_shape(&r).unwrap();
    assert!((400..500).contains(&r.status));
}

#[test]
fn x_amz_date_must_be_within_the_allowed_skew() {
    let server = Server::start();
    let now = SystemTime::now();
    let minutes = |m: u64| Duration::from_secs(m * 60);
    assert_ok(&send(
        &server,
        "POST",
        "/",
        &signed_at(&server, now - minutes(10)),
        b"{}",
    ));
    assert_ok(&send(
        &server,
        "POST",
        "/",
        &signed_at(&server, now + minutes(10)),
        b"{}",
    ));
    let old = send(
        &server,
        "POST",
        "/",
        &signed_at(&server, now - minutes(20)),
        b"{}",
    );
    let message = assert_error(&old, 400, "InvalidSignatureException");
    assert!(message.starts_with("Signature expired:"), "{message}");
    assert!(message.contains("15 min"), "{message}");
    let future = send(
        &server,
        "POST",
        "/",
        &signed_at(&server, now + minutes(20)),
        b"{}",
    );
    let message = assert_error(&future, 400, "InvalidSignatureException");
    assert!(
        message.starts_with("Signature not yet current:"),
        "{message}"
    );
}

#[test]
fn the_skew_is_configurable() {
    let server = Server::start_with(&["--max-clock-skew-seconds", "300"]);
    let now = SystemTime::now();
    assert_ok(&send(
        &server,
        "POST",
        "/",
        &signed_at(&server, now - Duration::from_secs(240)),
        b"{}",
    ));
    let r = send(
        &server,
        "POST",
        "/",
        &signed_at(&server, now - Duration::from_secs(600)),
        b"{}",
    );
    let message = assert_error(&r, 400, "InvalidSignatureException");
    assert!(
        message.starts_with("Signature expired:") && message.contains("5 min"),
        "{message}"
    );
    let r = send(
        &server,
        "POST",
        "/",
        &signed_at(&server, now + Duration::from_secs(600)),
        b"{}",
    );
    assert_error(&r, 400, "InvalidSignatureException");
}

fn presigned(
    server: &Server,
    body: &[u8],
    secret: &str,
    time: SystemTime,
    expires: u64,
) -> (String, Vec<(String, String)>) {
    let host = format!("127.0.0.1:{}", server.port);
    let headers = [
        ("Host", host.as_str()),
        ("X-Amz-Target", DESCRIBE),
        ("Content-Type", CONTENT_TYPE),
    ];
    let uri = remedy_sigv4::presign_uri(
        "POST", "/", &headers, body, "test", secret, REGION, "config", time, expires,
    );
    (
        uri,
        headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[test]
fn presigned_requests_are_accepted_until_they_expire() {
    let server = Server::start();
    let now = SystemTime::now();
    let (uri, headers) = presigned(&server, b"{}", "test", now, 300);
    assert!(uri.contains("X-Amz-Signature="), "{uri}");
    assert_ok(&send(&server, "POST", &uri, &headers, b"{}"));

    // Expired (signed 10 minutes ago for 60 seconds).
    let (uri, headers) = presigned(&server, b"{}", "test", now - Duration::from_secs(600), 60);
    let message = assert_error(
        &send(&server, "POST", &uri, &headers, b"{}"),
        400,
        "InvalidSignatureException",
    );
    assert!(message.starts_with("Signature expired"), "{message}");

    // Wrong secret; changed body; an added parameter.
    let (uri, headers) = presigned(&server, b"{}", "nope", now, 300);
    assert_error(
        &send(&server, "POST", &uri, &headers, b"{}"),
        403,
        "InvalidSignatureException",
    );
    let (uri, headers) = presigned(&server, b"{}", "test", now, 300);
    assert_error(
        &send(&server, "POST", &uri, &headers, b"{ }"),
        403,
        "InvalidSignatureException",
    );
    assert_error(
        &send(&server, "POST", &format!("{uri}&a=b"), &headers, b"{}"),
        403,
        "InvalidSignatureException",
    );

    // Both an Authorization header and a presigned query.
    let mut both = headers.clone();
    both.push((
        "Authorization".into(),
        "AWS4-HMAC-SHA256 Credential=x".into(),
    ));
    assert_error(
        &send(&server, "POST", &uri, &both, b"{}"),
        400,
        "IncompleteSignatureException",
    );
}

const KEY_A: &str = "AKIDALPHAEXAMPLE";
const SECRET_A: &str = "alpha/Secret+Key0000000000000000000000AA";
const KEY_B: &str = "AKIDBRAVOEXAMPLE";
const SECRET_B: &str = "bravo/Secret+Key0000000000000000000000BB";

fn with_credentials_file() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.toml");
    std::fs::write(
        &path,
        format!(
            "[[credential]]\naccess_key_id = \"{KEY_A}\"\nsecret_access_key = \"{SECRET_A}\"\naccount_id = \"111111111111\"\n\n\
             [[credential]]\naccess_key_id = \"{KEY_B}\"\nsecret_access_key = \"{SECRET_B}\"\naccount_id = \"222222222222\"\n"
        ),
    )
    .unwrap();
    let server = Server::start_with(&["--credentials", path.to_str().unwrap()]);
    (server, dir)
}

#[test]
fn each_key_of_a_credentials_file_acts_in_its_own_account() {
    let (server, _dir) = with_credentials_file();
    let rule = br#"{"ConfigRule":{"ConfigRuleName":"owned-by-a","Source":{"Owner":"AWS","SourceIdentifier":"S3_BUCKET_VERSIONING_ENABLED"}}}"#;
    assert_ok(&server.call_signed(
        "StarlingDoveService.PutConfigRule",
        rule,
        KEY_A,
        SECRET_A,
        REGION,
        "config",
    ));

    let as_a = assert_ok(&server.call_signed(DESCRIBE, b"{}", KEY_A, SECRET_A, REGION, "config"));
    let rules = as_a["ConfigRules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["ConfigRuleName"], "owned-by-a");
    let arn = rules[0]["ConfigRuleArn"].as_str().unwrap();
    assert!(arn.contains(":111111111111:"), "{arn}");

    let as_b = assert_ok(&server.call_signed(DESCRIBE, b"{}", KEY_B, SECRET_B, REGION, "config"));
    assert_eq!(
        as_b["ConfigRules"].as_array().map(Vec::len).unwrap_or(0),
        0,
        "B sees A's rule: {as_b}"
    );
    let r = server.call_signed(
        DESCRIBE,
        br#"{"ConfigRuleNames":["owned-by-a"]}"#,
        KEY_B,
        SECRET_B,
        REGION,
        "config",
    );
    assert_error(&r, 400, "NoSuchConfigRuleException");
    let r = server.call_signed(
        "StarlingDoveService.DeleteConfigRule",
        br#"{"ConfigRuleName":"owned-by-a"}"#,
        KEY_B,
        SECRET_B,
        REGION,
        "config",
    );
    assert_error(&r, 400, "NoSuchConfigRuleException");

    // B's own rule lands in B's account.
    let rule_b = br#"{"ConfigRule":{"ConfigRuleName":"owned-by-b","Source":{"Owner":"AWS","SourceIdentifier":"S3_BUCKET_VERSIONING_ENABLED"}}}"#;
    assert_ok(&server.call_signed(
        "StarlingDoveService.PutConfigRule",
        rule_b,
        KEY_B,
        SECRET_B,
        REGION,
        "config",
    ));
    let as_b = assert_ok(&server.call_signed(DESCRIBE, b"{}", KEY_B, SECRET_B, REGION, "config"));
    assert!(as_b["ConfigRules"][0]["ConfigRuleArn"]
        .as_str()
        .unwrap()
        .contains(":222222222222:"));
    let as_a = assert_ok(&server.call_signed(DESCRIBE, b"{}", KEY_A, SECRET_A, REGION, "config"));
    assert_eq!(as_a["ConfigRules"].as_array().unwrap().len(), 1);
}

#[test]
fn a_credentials_file_replaces_the_default_credential() {
    let (server, _dir) = with_credentials_file();
    // A's key with B's secret.
    let r = server.call_signed(DESCRIBE, b"{}", KEY_A, SECRET_B, REGION, "config");
    assert_error(&r, 403, "InvalidSignatureException");
    // The built-in test/test is gone.
    let r = server.call_signed(DESCRIBE, b"{}", "test", "test", REGION, "config");
    assert_error(&r, 400, "UnrecognizedClientException");
    // Keys are case-sensitive.
    let r = server.call_signed(
        DESCRIBE,
        b"{}",
        &KEY_A.to_lowercase(),
        SECRET_A,
        REGION,
        "config",
    );
    assert_error(&r, 400, "UnrecognizedClientException");
}

#[test]
fn an_unsigned_x_amz_target_is_refused() {
    // Signed with no target at all, then given one: whoever holds the request could aim it at
    // any operation, so the target must be covered by the signature.
    let server = Server::start();
    let mut headers = default_signed(&server, "", b"{}");
    set_header(&mut headers, "X-Amz-Target", DESCRIBE);
    let res = send(&server, "POST", "/", &headers, b"{}");
    assert_eq!(res.status, 400);
    assert_eq!(res.error_type(), "IncompleteSignatureException");
    assert_eq!(res.message(), "SignedHeaders must include 'x-amz-target'.");
}
