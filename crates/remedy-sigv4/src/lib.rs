//! Verification of AWS Signature Version 4 on requests that remedy receives.
//!
//! remedy answers the AWS Config API, so the callers are unmodified AWS SDKs and the AWS CLI.
//! They authenticate every request with SigV4, and they expect the errors AWS gives when that
//! fails (a skewed clock, for instance, is corrected only when the error says
//! `InvalidSignatureException: Signature expired`). This crate therefore re-computes signatures
//! exactly as AWS does and reports failures with AWS's codes, statuses and messages; see
//! [`AuthError`].
//!
//! It is a separate crate, with no I/O and no async, so it can be tested against the official AWS
//! test suite (`tests/aws4_testsuite`, shipped by botocore) and fuzzed in isolation. It relies on
//! a handful of small, well-kept crates (`hmac`, `sha2`, `hex`, `subtle`, `http`) and does its
//! own percent-encoding and date handling: both are a few dozen lines and the behaviour must be
//! SigV4's exactly, not a general library's.
//!
//! Both ways of carrying a signature are supported:
//!
//! * the `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header;
//! * presigned URLs (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
//!   `X-Amz-SignedHeaders`, `X-Amz-Signature` query parameters).
//!
//! Choices worth knowing:
//!
//! * **Canonical URI.** SDKs signing for any service but S3 take the path they put on the wire
//!   (already percent-encoded once), drop empty, `.` and `..` segments, and URI-encode the result
//!   *again* (`%20` on the wire is `%2520` in the canonical request). The verifier does the same
//!   to the path as received: normalise, then encode every byte outside `A-Za-z0-9-_.~/`,
//!   including `%`. This is what makes botocore, the Rust, Go and JS SDKs verify, and it is what
//!   the `normalize-path` vectors describe: their request lines carry the *unencoded* path
//!   (`/ሴ`, `/example/$delete`, `/example space/`) and the canonical URI is its encoding. S3's
//!   single encoding without normalisation is not offered: remedy serves no S3 API.
//! * **Canonical query.** The raw query is split on `&` and at the first `=` of each pair (no `=`
//!   means an empty value; empty pairs are dropped); keys and values are percent-decoded, with
//!   `+` read as a space as AWS services do, a `%` not followed by two hex digits kept as is,
//!   then re-encoded leaving only `A-Za-z0-9-_.~` bare, and sorted by key, then value.
//! * **Canonical headers.** Values are trimmed of spaces and tabs, inner runs of them become one
//!   space, repeated headers are joined with `,` in the order received. A signed header the
//!   request lacks contributes an empty value (the signature then fails). Without a `Host`
//!   header (HTTP/2), the URI's authority is used.
//! * A credential-scope date that differs from the request date is an
//!   `InvalidSignatureException` (403), as AWS answers it, not an `IncompleteSignatureException`.
//! * `x-amz-content-sha256`, when present, must be the body's SHA-256 (checked after the
//!   signature) or `UNSIGNED-PAYLOAD`, the latter only when that header is signed. Streaming
//!   (`STREAMING-…`) payloads are rejected: no Config operation uses them.
//! * A presigned URL may be used until `X-Amz-Date + X-Amz-Expires` (inclusive); it must not be
//!   dated further in the future than the allowed skew. An expired one is
//!   `InvalidSignatureException` 400 "Signature expired: …", like a stale header signature.
//! * `X-Amz-Security-Token` is accepted (and covered by the signature when signed) but plays no
//!   part in identifying the caller; the access key alone does.
//! * Nothing here panics on any input: bytes that are not what SigV4 expects yield an error or
//!   a canonical request that no honest client signed.

mod canonical;
mod error;
mod parse;
mod sign;
mod time;

use std::fmt;
use std::time::{Duration, SystemTime};

use http::header::{AUTHORIZATION, DATE, HOST};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use canonical::ALGORITHM;
pub use error::{AuthError, SIGNATURE_MISMATCH_MESSAGE};
pub use parse::{parse_authorization, ParsedAuthorization, MAX_SIGNED_HEADERS};
pub use sign::{compute_signature, presign_uri, sign_request};
pub use time::format_amz_date;

/// The largest `X-Amz-Expires` AWS allows: seven days.
pub const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;

/// The default allowed difference between the request time and the server clock.
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// A secret access key. `Debug` never shows it and equality is constant-time; the bytes are
/// overwritten (best effort) when it is dropped.
#[derive(Clone)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(secret: impl Into<String>) -> Self {
        SecretKey(secret.into())
    }

    /// The secret itself, for computing signatures.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretKey {
    fn from(s: String) -> Self {
        SecretKey(s)
    }
}

impl From<&str> for SecretKey {
    fn from(s: &str) -> Self {
        SecretKey(s.to_string())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SecretKey {}

impl Drop for SecretKey {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}

/// An access key known to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub secret: SecretKey,
    /// The account that requests signed with this key act in.
    pub account_id: String,
}

/// Where access keys are looked up.
pub trait CredentialStore: Send + Sync {
    fn lookup(&self, access_key_id: &str) -> Option<Credential>;
}

/// What a request is checked against.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The service name the credential scope must name (`config` for AWS Config).
    pub expected_service: String,
    /// The largest allowed difference between the request time and `now` (default 15 minutes).
    pub max_skew: Duration,
    /// The server's clock; injected so tests control it.
    pub now: SystemTime,
    /// Lower-case names of headers that, when a request carries them, must be signed — e.g.
    /// `x-amz-target`, which selects the operation of an AWS JSON request: left unsigned, a
    /// captured request could be replayed against another operation.
    pub must_sign: Vec<String>,
}

impl VerifyOptions {
    /// Options for `service` with the default skew and the current time.
    pub fn new(expected_service: impl Into<String>) -> Self {
        VerifyOptions {
            expected_service: expected_service.into(),
            max_skew: DEFAULT_MAX_SKEW,
            now: SystemTime::now(),
            must_sign: Vec::new(),
        }
    }
}

impl Default for VerifyOptions {
    /// No expected service (every request then fails the scope check: set it), 15 minutes of
    /// skew, the current time.
    fn default() -> Self {
        VerifyOptions::new("")
    }
}

/// Who signed a request that verified, and for where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key_id: String,
    /// The account of the credential.
    pub account_id: String,
    /// The region of the credential scope.
    pub region: String,
    /// The service of the credential scope (equal to `VerifyOptions::expected_service`).
    pub service: String,
    /// The request time (`X-Amz-Date`, or `Date`).
    pub signed_at: SystemTime,
}

/// The signature claim of a request, from its header or its query string.
struct Claim {
    auth: ParsedAuthorization,
    /// The timestamp as it goes into the string to sign (`YYYYMMDD'T'HHMMSS'Z'`).
    amz_date: String,
    signed_at: SystemTime,
    /// `X-Amz-Expires` of a presigned URL.
    expires: Option<u64>,
}

impl Claim {
    fn presigned(&self) -> bool {
        self.expires.is_some()
    }
}

/// The only value of header `name`; an error if it is repeated or not visible ASCII.
fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, AuthError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::incomplete(format!(
            "The request has more than one '{name}' header."
        )));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| AuthError::incomplete(format!("The '{name}' header is not valid ASCII.")))
}

fn require_signed(auth: &ParsedAuthorization, name: &str) -> Result<(), AuthError> {
    if auth.signed_headers.iter().any(|h| h == name) {
        Ok(())
    } else {
        Err(AuthError::incomplete(format!(
            "SignedHeaders must include '{name}'."
        )))
    }
}

const BAD_DATE: &str = "X-Amz-Date must be in ISO 8601 basic format (YYYYMMDD'T'HHMMSS'Z').";

fn header_claim(value: &str, headers: &HeaderMap) -> Result<Claim, AuthError> {
    let auth = parse_authorization(value)?;
    let (amz_date, signed_at) = if let Some(v) = single_header(headers, "x-amz-date")? {
        let t = time::parse_amz_date(v).ok_or_else(|| AuthError::incomplete(BAD_DATE))?;
        require_signed(&auth, "x-amz-date")?;
        (v.to_string(), t)
    } else if let Some(v) = single_header(headers, DATE.as_str())? {
        let t = time::parse_amz_date(v)
            .or_else(|| time::parse_http_date(v))
            .ok_or_else(|| {
                AuthError::incomplete(
                    "The Date header must be in ISO 8601 basic format or an HTTP date.",
                )
            })?;
        require_signed(&auth, "date")?;
        (time::format_amz_date(t), t)
    } else {
        return Err(AuthError::incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    };
    require_signed(&auth, "host")?;
    Ok(Claim {
        auth,
        amz_date,
        signed_at,
        expires: None,
    })
}

fn query_claim(pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<Claim, AuthError> {
    let param = |name: &str| -> Result<&str, AuthError> {
        let mut found = pairs.iter().filter(|(k, _)| k == name.as_bytes());
        let Some((_, value)) = found.next() else {
            return Err(AuthError::incomplete(format!(
                "AWS query-string parameters must include '{name}'. Re-examine the query-string parameters."
            )));
        };
        if found.next().is_some() {
            return Err(AuthError::incomplete(format!(
                "The query-string parameter '{name}' appears more than once."
            )));
        }
        std::str::from_utf8(value).map_err(|_| {
            AuthError::incomplete(format!(
                "The query-string parameter '{name}' is not valid UTF-8."
            ))
        })
    };
    if param("X-Amz-Algorithm")? != ALGORITHM {
        return Err(AuthError::incomplete(format!(
            "Unsupported X-Amz-Algorithm; only {ALGORITHM} is accepted."
        )));
    }
    let scope = parse::parse_credential(param("X-Amz-Credential")?)?;
    let amz_date = param("X-Amz-Date")?;
    let signed_at =
        time::parse_amz_date(amz_date).ok_or_else(|| AuthError::incomplete(BAD_DATE))?;
    let expires = param("X-Amz-Expires")?;
    let expires = expires
        .parse::<u64>()
        .ok()
        .filter(|e| (1..=MAX_PRESIGNED_EXPIRES_SECS).contains(e) && expires.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            AuthError::incomplete(format!(
                "X-Amz-Expires must be a whole number of seconds from 1 to {MAX_PRESIGNED_EXPIRES_SECS}."
            ))
        })?;
    let signed_headers = parse::parse_signed_headers(param("X-Amz-SignedHeaders")?)?;
    let signature = param("X-Amz-Signature")?;
    if signature.is_empty() {
        return Err(AuthError::incomplete(
            "The query-string parameter 'X-Amz-Signature' is empty.",
        ));
    }
    let auth = ParsedAuthorization {
        access_key_id: scope.access_key_id,
        scope_date: scope.date,
        region: scope.region,
        service: scope.service,
        signed_headers,
        signature: signature.to_string(),
    };
    require_signed(&auth, "host")?;
    Ok(Claim {
        auth,
        amz_date: amz_date.to_string(),
        signed_at,
        expires: Some(expires),
    })
}

fn describe_skew(skew: Duration) -> String {
    if skew.subsec_nanos() == 0 && skew.as_secs().is_multiple_of(60) {
        format!("{} min.", skew.as_secs() / 60)
    } else {
        format!("{} sec.", skew.as_secs())
    }
}

fn check_time(claim: &Claim, opts: &VerifyOptions) -> Result<(), AuthError> {
    let now = opts.now;
    let skew = opts.max_skew;
    let now_text = time::format_amz_date(now);
    match now.duration_since(claim.signed_at) {
        // Signed in the past: too old for a header signature; presigned URLs have their own limit.
        Ok(age) => match claim.expires {
            None if age > skew => Err(AuthError::SignatureExpired(format!(
                "Signature expired: {} is now earlier than {} ({now_text} - {})",
                claim.amz_date,
                time::format_amz_date(now.checked_sub(skew).unwrap_or(std::time::UNIX_EPOCH)),
                describe_skew(skew)
            ))),
            Some(expires) if age > Duration::from_secs(expires) => {
                let until = claim
                    .signed_at
                    .checked_add(Duration::from_secs(expires))
                    .unwrap_or(claim.signed_at);
                Err(AuthError::SignatureExpired(format!(
                    "Signature expired: the presigned request was valid until {} ({} + {expires} s); it is now {now_text}.",
                    time::format_amz_date(until),
                    claim.amz_date
                )))
            }
            _ => Ok(()),
        },
        // Signed in the future.
        Err(e) if e.duration() > skew => Err(AuthError::SignatureNotYetCurrent(format!(
            "Signature not yet current: {} is still later than {} ({now_text} + {})",
            claim.amz_date,
            time::format_amz_date(now.checked_add(skew).unwrap_or(now)),
            describe_skew(skew)
        ))),
        Err(_) => Ok(()),
    }
}

fn is_hex_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The payload hash to put in the canonical request, and whether the body must be checked
/// against it afterwards.
fn payload_hash(
    headers: &HeaderMap,
    body: &[u8],
    auth: &ParsedAuthorization,
) -> Result<(String, bool), AuthError> {
    match single_header(headers, "x-amz-content-sha256")? {
        None => Ok((hex_lower(&Sha256::digest(body)), false)),
        Some("UNSIGNED-PAYLOAD") => {
            require_signed(auth, "x-amz-content-sha256")
                .map_err(|_| AuthError::incomplete("UNSIGNED-PAYLOAD is accepted only when 'x-amz-content-sha256' is a signed header."))?;
            Ok(("UNSIGNED-PAYLOAD".to_string(), false))
        }
        Some(v) if is_hex_sha256(v) => Ok((v.to_string(), true)),
        Some(_) => Err(AuthError::incomplete(
            "x-amz-content-sha256 must be the hex SHA-256 of the body or UNSIGNED-PAYLOAD; streaming payloads are not supported.",
        )),
    }
}

/// Lower-case hex of a digest or MAC, written straight into one string (`hex::encode` goes
/// through a `char` iterator: three encodings per verification were 5 % of the cheapest
/// request's instructions, issue 7's profile).
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Verifies the SigV4 signature of a request.
///
/// `parts.uri` is the request-target as received (`/path?query`); `body` is the whole body.
/// The checks run in this order, and the first failure is returned: presence of a signature,
/// its syntax, the scope's date and service, the request time against `opts.now`, the access
/// key, the payload hash header, the signature itself, and finally the body against
/// `x-amz-content-sha256`.
pub fn verify(
    parts: &http::request::Parts,
    body: &[u8],
    store: &dyn CredentialStore,
    opts: &VerifyOptions,
) -> Result<Verified, AuthError> {
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    let query_pairs = canonical::parse_query(query);
    let presigned = query_pairs.iter().any(|(k, _)| k == b"X-Amz-Algorithm");

    let mut auth_values = parts.headers.get_all(AUTHORIZATION).iter();
    let claim = match (auth_values.next(), presigned) {
        (None, false) => return Err(AuthError::MissingAuthenticationToken),
        (Some(_), true) => {
            return Err(AuthError::incomplete(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.",
            ))
        }
        (Some(value), false) => {
            if auth_values.next().is_some() {
                return Err(AuthError::incomplete(
                    "The request has more than one Authorization header.",
                ));
            }
            let value = value.to_str().map_err(|_| {
                AuthError::incomplete("The Authorization header is not valid ASCII.")
            })?;
            header_claim(value, &parts.headers)?
        }
        (None, true) => query_claim(&query_pairs)?,
    };
    for name in &opts.must_sign {
        if parts.headers.contains_key(name.as_str()) {
            require_signed(&claim.auth, name)?;
        }
    }
    let auth = &claim.auth;

    let request_day = claim.amz_date.get(..8).unwrap_or_default();
    if auth.scope_date != request_day {
        return Err(AuthError::InvalidScope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{request_day}', from '{}'.",
            auth.scope_date, claim.amz_date
        )));
    }
    if auth.service != opts.expected_service {
        return Err(AuthError::InvalidScope(format!(
            "Credential should be scoped to correct service: '{}'.",
            opts.expected_service
        )));
    }
    check_time(&claim, opts)?;

    let credential = store
        .lookup(&auth.access_key_id)
        .ok_or(AuthError::UnrecognizedClient)?;
    let (payload_hash, check_body) = payload_hash(&parts.headers, body, auth)?;

    let mut headers: Vec<(&str, &[u8])> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    if !parts.headers.contains_key(HOST) {
        // HTTP/2 carries the host in `:authority`, which ends up in the URI.
        if let Some(authority) = parts.uri.authority() {
            headers.push(("host", authority.as_str().as_bytes()));
        }
    }
    let creq = canonical::build_canonical_request(
        parts.method.as_str(),
        path,
        query,
        &headers,
        &auth.signed_headers,
        &payload_hash,
        claim.presigned(),
    );
    let sts = canonical::build_string_to_sign(&claim.amz_date, &auth.scope(), &creq);
    let expected = compute_signature(
        credential.secret.expose(),
        &auth.scope_date,
        &auth.region,
        &auth.service,
        &sts,
    );
    if !bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        return Err(AuthError::SignatureDoesNotMatch);
    }
    if check_body && !payload_hash.eq_ignore_ascii_case(&hex_lower(&Sha256::digest(body))) {
        return Err(AuthError::PayloadHashMismatch);
    }

    Ok(Verified {
        access_key_id: auth.access_key_id.clone(),
        account_id: credential.account_id.clone(),
        region: auth.region.clone(),
        service: auth.service.clone(),
        signed_at: claim.signed_at,
    })
}

/// The canonical request (SigV4 task 1) for a request given as raw pieces, as the verifier
/// builds it for the `Authorization`-header form. Exposed for tests and for debugging clients.
///
/// `request_target` is `/path?query` as sent; `headers` are all request headers in the order
/// received; `signed_headers` the names from `SignedHeaders`.
pub fn canonical_request(
    method: &str,
    request_target: &str,
    headers: &[(&str, &[u8])],
    signed_headers: &[&str],
    payload_hash: &str,
) -> Vec<u8> {
    let (path, query) = request_target
        .split_once('?')
        .unwrap_or((request_target, ""));
    let signed: Vec<String> = signed_headers
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    canonical::build_canonical_request(method, path, query, headers, &signed, payload_hash, false)
}

/// The string to sign (SigV4 task 2) for a canonical request; `scope` is
/// `<date>/<region>/<service>/aws4_request`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    canonical::build_string_to_sign(amz_date, scope, canonical_request)
}
