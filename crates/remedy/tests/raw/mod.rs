//! Raw-request helpers shared by the protocol, auth, malformed-input and server tests: requests
//! are built byte by byte (signed with `remedy_sigv4`, then optionally tampered with) and the
//! answers are checked for the AWS JSON 1.1 error shape a client relies on.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use crate::common::{parse_response, Response, Server, REGION};

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The headers of a request signed as an SDK would sign it: `Host`, `X-Amz-Date`, `X-Amz-Target`
/// (when not empty), `Content-Type`, then `Authorization`.
#[allow(clippy::too_many_arguments)]
pub fn signed_headers(
    server: &Server,
    uri: &str,
    target: &str,
    body: &[u8],
    key: &str,
    secret: &str,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Vec<(String, String)> {
    let host = format!("127.0.0.1:{}", server.port);
    let amz_date = remedy_sigv4::format_amz_date(time);
    let mut headers: Vec<(&str, &str)> = vec![("Host", &host), ("X-Amz-Date", &amz_date)];
    if !target.is_empty() {
        headers.push(("X-Amz-Target", target));
    }
    headers.push(("Content-Type", CONTENT_TYPE));
    let auth = remedy_sigv4::sign_request(
        "POST", uri, &headers, body, key, secret, region, service, time,
    );
    let mut out: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    out.push(("Authorization".into(), auth));
    out
}

/// `test`/`test`, us-east-1, `config`, now, `POST /`.
pub fn default_signed(server: &Server, target: &str, body: &[u8]) -> Vec<(String, String)> {
    signed_headers(
        server,
        "/",
        target,
        body,
        "test",
        "test",
        REGION,
        "config",
        SystemTime::now(),
    )
}

/// Replaces (or adds) a header, keeping its position.
pub fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    match headers
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
    {
        Some(h) => h.1 = value.to_string(),
        None => headers.push((name.to_string(), value.to_string())),
    }
}

pub fn remove_header(headers: &mut Vec<(String, String)>, name: &str) {
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
}

/// The bytes of an HTTP/1.1 request with exactly these headers plus `Content-Length` and
/// `Connection: close`.
pub fn request_bytes(
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut req = format!("{method} {uri} HTTP/1.1\r\n").into_bytes();
    for (k, v) in headers {
        req.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    req.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    req.extend_from_slice(body);
    req
}

/// Sends `method uri` with these headers and body; panics when no HTTP answer comes back.
pub fn send(
    server: &Server,
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Response {
    let (status, headers, body) = server
        .send_raw(&request_bytes(method, uri, headers, body))
        .unwrap_or_else(|e| panic!("{method} {uri}: no HTTP answer: {e}"));
    Response {
        status,
        headers,
        body,
    }
}

/// Sends a signed `POST /` (`test`/`test`).
pub fn call(server: &Server, target: &str, body: &[u8]) -> Response {
    send(
        server,
        "POST",
        "/",
        &default_signed(server, target, body),
        body,
    )
}

/// Writes `bytes`, then reads the answer until the server closes the connection.
pub fn exchange(port: u16, bytes: &[u8], timeout: Duration) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(bytes)?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let (status, headers, body) = parse_response(&buf)?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What every answer of the AWS endpoint carries: a UUID request id and the JSON 1.1 type.
pub fn check_common(r: &Response) -> Result<(), String> {
    match r.header("x-amzn-RequestId") {
        Some(id) if is_uuid(id) => {}
        other => return Err(format!("x-amzn-RequestId is {other:?}, not a UUID")),
    }
    match r.header("content-type") {
        Some(CONTENT_TYPE) => Ok(()),
        other => Err(format!("content-type is {other:?}")),
    }
}

/// Checks the AWS JSON error shape and returns `(__type, message)`.
pub fn check_error_shape(r: &Response) -> Result<(String, String), String> {
    check_common(r)?;
    let v: serde_json::Value = serde_json::from_slice(&r.body).map_err(|e| {
        format!(
            "error body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&r.body)
        )
    })?;
    let obj = v
        .as_object()
        .ok_or_else(|| format!("error body is not an object: {v}"))?;
    let ty = obj
        .get("__type")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("no __type in {v}"))?;
    let message = obj
        .get("message")
        .and_then(|m| m.as_str())
        .ok_or_else(|| format!("no message in {v}"))?;
    if obj.len() != 2 {
        return Err(format!(
            "error body has members beyond __type and message: {v}"
        ));
    }
    match r.header("x-amzn-ErrorType") {
        Some(h) if h.split(':').next() == Some(ty) => {}
        other => return Err(format!("x-amzn-ErrorType is {other:?}, __type is {ty}")),
    }
    Ok((ty.to_string(), message.to_string()))
}

/// Asserts an AWS-shaped error with this status and code; returns the message.
#[track_caller]
pub fn assert_error(r: &Response, status: u16, code: &str) -> String {
    let (ty, message) =
        check_error_shape(r).unwrap_or_else(|e| panic!("{e} (status {})", r.status));
    assert_eq!(
        (r.status, ty.as_str()),
        (status, code),
        "unexpected answer; message: {message}"
    );
    message
}

/// Asserts a 200 with a JSON object body; returns it.
#[track_caller]
pub fn assert_ok(r: &Response) -> serde_json::Value {
    assert_eq!(
        r.status,
        200,
        "expected 200, got {}: {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    check_common(r).unwrap();
    let v = r.json();
    assert!(v.is_object(), "success body is not an object: {v}");
    v
}
