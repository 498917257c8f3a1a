//! Arbitrary bytes as an `Authorization` header value and as a request-target / query string,
//! through `parse_authorization` and `verify`. Neither may panic, whatever the input.
//!
//! Input layout: `<authorization> NUL <request-target> NUL <body>`; missing pieces are empty.
//! The whole input is also tried as a header value and as a query string on its own, so the
//! fuzzer reaches both signature forms without having to discover the separators.

#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use remedy_sigv4::{
    parse_authorization, verify, Credential, CredentialStore, SecretKey, VerifyOptions,
};

struct Store;

impl CredentialStore for Store {
    fn lookup(&self, access_key_id: &str) -> Option<Credential> {
        (access_key_id == "AKIDEXAMPLE").then(|| Credential {
            access_key_id: access_key_id.to_string(),
            secret: SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            account_id: "123456789012".to_string(),
        })
    }
}

fn options() -> VerifyOptions {
    VerifyOptions {
        expected_service: "service".to_string(),
        max_skew: Duration::from_secs(900),
        // 20150830T123600Z, the time of the AWS test suite.
        now: UNIX_EPOCH + Duration::from_secs(1_440_938_160),
        must_sign: vec!["x-amz-target".to_string()],
    }
}

/// Builds the request as hyper would hand it over, if `http` accepts the pieces at all.
fn request(target: &[u8], authorization: Option<&[u8]>) -> Option<http::request::Parts> {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(http::Uri::try_from(target).ok()?)
        .header("host", "example.amazonaws.com")
        .header("x-amz-date", "20150830T123600Z");
    if let Some(value) = authorization {
        builder = builder.header(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_bytes(value).ok()?,
        );
    }
    Some(builder.body(()).ok()?.into_parts().0)
}

fn check(target: &[u8], authorization: Option<&[u8]>, body: &[u8]) {
    if let Some(parts) = request(target, authorization) {
        let _ = verify(&parts, body, &Store, &options());
    }
}

fn with_prefix(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.extend_from_slice(rest);
    v
}

fuzz_target!(|data: &[u8]| {
    // The whole input, as a header value.
    let _ = parse_authorization(&String::from_utf8_lossy(data));
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_authorization(s);
    }
    check(b"/", Some(data), b"");

    // The whole input, as a path-and-query and as a query string (presigned form).
    check(&with_prefix(b"/", data), None, b"");
    check(&with_prefix(b"/?", data), None, b"");

    // Split form.
    let mut pieces = data.splitn(3, |&b| b == 0);
    let authorization = pieces.next().unwrap_or_default();
    let target = pieces.next().unwrap_or_default();
    let body = pieces.next().unwrap_or_default();
    let target = with_prefix(b"/", target);
    check(&target, Some(authorization), body);
    check(&target, None, body);
});
