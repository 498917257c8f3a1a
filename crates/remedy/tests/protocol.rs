//! The AWS JSON 1.1 envelope as a client sees it: headers, error shapes, routing by
//! `X-Amz-Target`, framework validation and the body-size limit. Requests are raw and signed
//! with `remedy_sigv4`, so anything an SDK would refuse to send can be sent.

mod common;
mod raw;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use raw::*;

const RULE: &str = r#"{"ConfigRule":{"ConfigRuleName":"proto-rule","Source":{"Owner":"AWS","SourceIdentifier":"S3_BUCKET_VERSIONING_ENABLED"}}}"#;

#[test]
fn success_has_json_content_type_and_a_request_id() {
    let server = Server::start();
    let a = call(
        &server,
        "StarlingDoveService.PutConfigRule",
        RULE.as_bytes(),
    );
    assert_eq!(assert_ok(&a), serde_json::json!({}));
    assert!(
        a.header("x-amzn-ErrorType").is_none(),
        "a success carries no error type"
    );
    let b = call(&server, "StarlingDoveService.DescribeConfigRules", b"{}");
    let v = assert_ok(&b);
    assert_eq!(v["ConfigRules"][0]["ConfigRuleName"], "proto-rule");
    let (ida, idb) = (
        a.header("x-amzn-RequestId").unwrap(),
        b.header("x-amzn-RequestId").unwrap(),
    );
    assert_ne!(ida, idb, "request ids are per request");
}

#[test]
fn errors_are_aws_shaped_with_a_request_id() {
    let server = Server::start();
    let r = call(
        &server,
        "StarlingDoveService.DeleteConfigRule",
        br#"{"ConfigRuleName":"absent"}"#,
    );
    let message = assert_error(&r, 400, "NoSuchConfigRuleException");
    assert!(message.contains("absent"), "{message}");
    // Ids differ between errors too.
    let r2 = call(
        &server,
        "StarlingDoveService.DeleteConfigRule",
        br#"{"ConfigRuleName":"absent"}"#,
    );
    assert_error(&r2, 400, "NoSuchConfigRuleException");
    assert_ne!(r.header("x-amzn-RequestId"), r2.header("x-amzn-RequestId"));
}

#[test]
fn unknown_targets_are_unknown_operations() {
    let server = Server::start();
    for target in [
        "StarlingDoveService.Nope",
        "Bogus.X",
        "StarlingDoveService",
        "StarlingDoveService.",
        "starlingdoveservice.PutConfigRule",
    ] {
        let r = call(&server, target, b"{}");
        let message = assert_error(&r, 400, "UnknownOperationException");
        assert!(!message.is_empty(), "{target}");
    }
    // No X-Amz-Target at all (signed without one).
    let r = call(&server, "", b"{}");
    let message = assert_error(&r, 400, "UnknownOperationException");
    assert!(message.contains("X-Amz-Target"), "{message}");
    // Unsigned, with no target: still the operation error, not an auth error.
    let r = send(&server, "POST", "/", &[], b"{}");
    assert_error(&r, 400, "UnknownOperationException");
}

#[test]
fn bodies_that_are_not_json_objects_are_serialization_errors() {
    let server = Server::start();
    let cases: &[&[u8]] = &[
        b"not json",
        b"{\"ConfigRuleName\":",
        b"[]",
        br#"[{"ConfigRuleName":"x"}]"#,
        b"\"a string\"",
        b"42",
        b"null",
        br#"{"ConfigRuleName":"x"} trailing"#,
    ];
    for body in cases {
        let r = call(&server, "StarlingDoveService.DeleteConfigRule", body);
        assert_error(&r, 400, "SerializationException");
    }
}

#[test]
fn members_of_the_wrong_type_are_serialization_errors() {
    let server = Server::start();
    let cases: &[(&str, &str)] = &[
        (
            "StarlingDoveService.DeleteConfigRule",
            r#"{"ConfigRuleName":5}"#,
        ),
        (
            "StarlingDoveService.DeleteConfigRule",
            r#"{"ConfigRuleName":{"a":1}}"#,
        ),
        (
            "StarlingDoveService.DeleteConfigRule",
            r#"{"ConfigRuleName":["x"]}"#,
        ),
        (
            "StarlingDoveService.DescribeConfigRules",
            r#"{"ConfigRuleNames":"x"}"#,
        ),
        (
            "StarlingDoveService.DescribeConfigRules",
            r#"{"ConfigRuleNames":[1]}"#,
        ),
        ("StarlingDoveService.PutConfigRule", r#"{"ConfigRule":"x"}"#),
        ("StarlingDoveService.PutConfigRule", r#"{"ConfigRule":[]}"#),
        (
            "StarlingDoveService.GetResourceConfigHistory",
            r#"{"resourceType":"AWS::S3::Bucket","resourceId":"b","limit":"ten"}"#,
        ),
        (
            "StarlingDoveService.GetResourceConfigHistory",
            r#"{"resourceType":"AWS::S3::Bucket","resourceId":"b","limit":1.5}"#,
        ),
        (
            "StarlingDoveService.GetResourceConfigHistory",
            r#"{"resourceType":"AWS::S3::Bucket","resourceId":"b","laterTime":"yesterday"}"#,
        ),
    ];
    for (target, body) in cases {
        let r = call(&server, target, body.as_bytes());
        let (ty, message) = check_error_shape(&r).unwrap();
        assert_eq!(
            (r.status, ty.as_str()),
            (400, "SerializationException"),
            "{target} {body}: {message}"
        );
    }
}

#[test]
fn missing_required_members_are_validation_errors() {
    let server = Server::start();
    for body in [&b"{}"[..], b"", b"  \n", br#"{"ConfigRuleName":null}"#] {
        let r = call(&server, "StarlingDoveService.DeleteConfigRule", body);
        let message = assert_error(&r, 400, "ValidationException");
        assert_eq!(
            message,
            "1 validation error detected: Value null at 'configRuleName' failed to satisfy constraint: Member must not be null",
            "body {:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn several_violations_are_reported_together() {
    let server = Server::start();
    let r = call(
        &server,
        "StarlingDoveService.GetResourceConfigHistory",
        b"{}",
    );
    let message = assert_error(&r, 400, "ValidationException");
    assert_eq!(
        message,
        "2 validation errors detected: \
         Value null at 'resourceType' failed to satisfy constraint: Member must not be null; \
         Value null at 'resourceId' failed to satisfy constraint: Member must not be null"
    );

    // Nested: one remediation configuration lacking all three of its required members, plus a
    // name that is too long.
    let long = "n".repeat(129);
    let body = format!(
        r#"{{"RemediationConfigurations":[{{}}, {{"ConfigRuleName":"{long}","TargetType":"SSM_DOCUMENT","TargetId":"doc"}}]}}"#
    );
    let r = call(
        &server,
        "StarlingDoveService.PutRemediationConfigurations",
        body.as_bytes(),
    );
    let message = assert_error(&r, 400, "ValidationException");
    assert!(
        message.starts_with("4 validation errors detected: "),
        "{message}"
    );
    for path in [
        "remediationConfigurations.1.member.configRuleName",
        "remediationConfigurations.1.member.targetType",
        "remediationConfigurations.1.member.targetId",
    ] {
        assert!(
            message.contains(&format!(
                "Value null at '{path}' failed to satisfy constraint: Member must not be null"
            )),
            "{path}: {message}"
        );
    }
    assert!(
        message.contains(&format!(
            "Value '{long}' at 'remediationConfigurations.2.member.configRuleName' failed to satisfy constraint: Member must have length less than or equal to 128"
        )),
        "{message}"
    );
}

#[test]
fn unknown_members_are_ignored() {
    let server = Server::start();
    let body = r#"{"Unknown":1,"ConfigRule":{"ConfigRuleName":"extra","Whatever":[1,{"x":null}],"Source":{"Owner":"AWS","SourceIdentifier":"S3_BUCKET_VERSIONING_ENABLED","Nope":true}},"Tags":null}"#;
    assert_ok(&call(
        &server,
        "StarlingDoveService.PutConfigRule",
        body.as_bytes(),
    ));
    let v = assert_ok(&call(
        &server,
        "StarlingDoveService.DescribeConfigRules",
        br#"{"ConfigRuleNames":["extra"],"more":"ignored"}"#,
    ));
    assert_eq!(v["ConfigRules"][0]["ConfigRuleName"], "extra");
    assert!(v["ConfigRules"][0].get("Whatever").is_none());
}

#[test]
fn operation_without_input_accepts_an_empty_body() {
    let server = Server::start();
    for body in [&b""[..], b"{}"] {
        let r = call(&server, "StarlingDoveService.DescribeConfigRules", body);
        assert_ok(&r);
    }
}

#[test]
fn other_methods_and_paths_get_aws_shaped_errors() {
    let server = Server::start();
    let r = send(
        &server,
        "GET",
        "/",
        &default_signed(&server, "StarlingDoveService.DescribeConfigRules", b""),
        b"",
    );
    let (_, _) = check_error_shape(&r).unwrap();
    assert!((400..500).contains(&r.status), "{}", r.status);
    let r = send(&server, "PUT", "/anything", &[], b"{}");
    check_error_shape(&r).unwrap();
    assert!((400..500).contains(&r.status), "{}", r.status);
}

#[test]
fn an_endpoint_url_with_a_path_prefix_works() {
    let server = Server::start();
    let body = b"{}";
    let headers = signed_headers(
        &server,
        "/prefix/config",
        "StarlingDoveService.DescribeConfigRules",
        body,
        "test",
        "test",
        REGION,
        "config",
        SystemTime::now(),
    );
    assert_ok(&send(&server, "POST", "/prefix/config", &headers, body));
}

// ---- body size -------------------------------------------------------------------------------

fn limited() -> Server {
    Server::start_with(&["--max-body-bytes", "1024"])
}

/// A DescribeConfigRules body of exactly `len` bytes (valid JSON, padded with an unknown member).
fn padded_body(len: usize) -> Vec<u8> {
    let head = r#"{"pad":""#;
    let tail = r#""}"#;
    let mut body = head.as_bytes().to_vec();
    body.extend(std::iter::repeat_n(b'x', len - head.len() - tail.len()));
    body.extend_from_slice(tail.as_bytes());
    assert_eq!(body.len(), len);
    body
}

#[test]
fn a_body_at_the_limit_passes_and_one_byte_more_is_refused() {
    let server = limited();
    let at = padded_body(1024);
    assert_ok(&call(
        &server,
        "StarlingDoveService.DescribeConfigRules",
        &at,
    ));
    let over = padded_body(1025);
    let r = call(&server, "StarlingDoveService.DescribeConfigRules", &over);
    let message = assert_error(&r, 413, "RequestEntityTooLargeException");
    assert!(message.contains("1024"), "{message}");
}

#[test]
fn a_declared_length_over_the_limit_is_refused_without_reading_the_body() {
    let server = limited();
    let body = padded_body(2000);
    let mut headers = default_signed(&server, "StarlingDoveService.DescribeConfigRules", &body);
    headers.push(("Content-Length".into(), "10000000".into()));
    // Headers only: the 10 MB never come. The answer must come anyway, promptly.
    let mut req = b"POST / HTTP/1.1\r\n".to_vec();
    for (k, v) in &headers {
        req.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let started = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&req).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read until the whole answer is there (the connection may stay open).
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => panic!(
                "no answer to an oversize declaration ({e}); got {:?}",
                String::from_utf8_lossy(&buf)
            ),
        }
        if let Ok((_, h, b)) = parse_response(&buf) {
            let len = h
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse::<usize>().ok());
            if len == Some(b.len()) {
                break;
            }
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let (status, headers, body) = parse_response(&buf).unwrap();
    assert_error(
        &Response {
            status,
            headers,
            body,
        },
        413,
        "RequestEntityTooLargeException",
    );
}

#[test]
fn a_chunked_body_over_the_limit_is_refused() {
    let server = limited();
    let headers = default_signed(&server, "StarlingDoveService.DescribeConfigRules", b"{}");
    let mut req = b"POST / HTTP/1.1\r\n".to_vec();
    for (k, v) in &headers {
        req.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    req.extend_from_slice(b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    // 5 chunks of 300 bytes: the limit is crossed by the fourth. No terminating chunk is sent, so
    // the server must decide on what it has read.
    for _ in 0..4 {
        req.extend_from_slice(format!("{:x}\r\n{}\r\n", 300, " ".repeat(300)).as_bytes());
    }
    let r = exchange(server.port, &req, Duration::from_secs(5)).expect("an answer");
    assert_error(&r, 413, "RequestEntityTooLargeException");

    // A chunked body under the limit goes through.
    let body = br#"{"ConfigRuleNames":[]}"#;
    let headers = default_signed(&server, "StarlingDoveService.DescribeConfigRules", body);
    let mut req = b"POST / HTTP/1.1\r\n".to_vec();
    for (k, v) in &headers {
        req.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    req.extend_from_slice(b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    let (a, b) = body.split_at(7);
    for part in [a, b] {
        req.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        req.extend_from_slice(part);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let r = exchange(server.port, &req, Duration::from_secs(5)).expect("an answer");
    assert_ok(&r);
}

#[test]
fn an_oversize_body_for_an_unknown_target_is_still_answered() {
    let server = limited();
    let body = padded_body(1000);
    let r = call(&server, "Bogus.X", &body);
    assert_error(&r, 400, "UnknownOperationException");
    let r = call(&server, "Bogus.X", &padded_body(1500));
    assert_error(&r, 413, "RequestEntityTooLargeException");
}

// ---- SSM routing -----------------------------------------------------------------------------

#[test]
fn ssm_targets_are_routed_with_their_own_signing_name() {
    let server = Server::start();
    let body = br#"{"Name":"AWS-PublishSNSNotification"}"#;
    let r = server.call_signed("AmazonSSM.GetDocument", body, "test", "test", REGION, "ssm");
    // Routed to GetDocument: not a document of this account, nor a built-in runbook.
    let message = assert_error(&r, 400, "InvalidDocument");
    assert!(message.contains("AWS-PublishSNSNotification"), "{message}");

    let r = server.call_signed(
        "AmazonSSM.NoSuchSsmOperation",
        body,
        "test",
        "test",
        REGION,
        "ssm",
    );
    assert_error(&r, 400, "UnknownOperationException");

    // Signed for Config: refused by the signature check, before any routing.
    let r = server.call_signed(
        "AmazonSSM.GetDocument",
        body,
        "test",
        "test",
        REGION,
        "config",
    );
    let message = assert_error(&r, 403, "InvalidSignatureException");
    assert!(message.contains("'ssm'"), "{message}");

    // And the other way round.
    let r = server.call_signed(
        "StarlingDoveService.DescribeConfigRules",
        b"{}",
        "test",
        "test",
        REGION,
        "ssm",
    );
    let message = assert_error(&r, 403, "InvalidSignatureException");
    assert!(message.contains("'config'"), "{message}");
}
