//! Helpers shared by the integration tests: a raw HTTP/1.1 request parser good enough for the
//! AWS test-suite files, and an in-memory credential store.

#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use remedy_sigv4::{Credential, CredentialStore, SecretKey, VerifyOptions};

pub const ACCESS_KEY: &str = "AKIDEXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
pub const SERVICE: &str = "service";
/// 20150830T123600Z
pub const TIME_SECS: u64 = 1_440_938_160;

pub fn suite_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(TIME_SECS)
}

pub fn options_at(now: SystemTime) -> VerifyOptions {
    VerifyOptions {
        expected_service: SERVICE.to_string(),
        max_skew: Duration::from_secs(15 * 60),
        now,
        must_sign: Vec::new(),
    }
}

pub fn options() -> VerifyOptions {
    options_at(suite_time())
}

pub struct Store;

impl CredentialStore for Store {
    fn lookup(&self, access_key_id: &str) -> Option<Credential> {
        (access_key_id == ACCESS_KEY).then(|| Credential {
            access_key_id: ACCESS_KEY.to_string(),
            secret: SecretKey::new(SECRET),
            account_id: ACCOUNT.to_string(),
        })
    }
}

/// A request as written in a test-suite file.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: String,
    /// The request-target exactly as on the request line (may contain a space).
    pub target: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// Parses `METHOD target HTTP/1.1`, header lines (obs-fold continuation lines are unfolded
    /// into one space, as RFC 9112 permits a recipient to do), an empty line and the body.
    pub fn parse(text: &[u8]) -> RawRequest {
        let text = String::from_utf8(text.to_vec()).expect("suite files are UTF-8");
        let text = text.replace("\r\n", "\n");
        let (head, body) = match text.find("\n\n") {
            Some(i) => (&text[..i], &text[i + 2..]),
            None => (text.as_str(), ""),
        };
        let mut lines = head.split('\n');
        let request_line = lines.next().unwrap();
        let (method, rest) = request_line.split_once(' ').unwrap();
        let (target, _version) = rest.rsplit_once(' ').unwrap();
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                let last = headers.last_mut().expect("continuation without header");
                last.1.push(b' ');
                last.1.extend_from_slice(line.trim().as_bytes());
            } else if !line.is_empty() {
                let (name, value) = line.split_once(':').unwrap();
                headers.push((name.to_string(), value.trim().as_bytes().to_vec()));
            }
        }
        RawRequest {
            method: method.to_string(),
            target: target.to_string(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| std::str::from_utf8(v).unwrap())
    }

    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers
            .push((name.to_string(), value.as_bytes().to_vec()));
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The request as hyper would hand it over, or `None` if `http` rejects it.
    pub fn to_parts(&self) -> Option<http::request::Parts> {
        let mut builder = http::Request::builder()
            .method(http::Method::from_bytes(self.method.as_bytes()).ok()?)
            .uri(http::Uri::try_from(self.target.as_str()).ok()?);
        for (name, value) in &self.headers {
            builder = builder.header(
                http::HeaderName::from_bytes(name.as_bytes()).ok()?,
                http::HeaderValue::from_bytes(value).ok()?,
            );
        }
        Some(builder.body(()).ok()?.into_parts().0)
    }
}
