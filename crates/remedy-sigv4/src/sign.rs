//! Signature computation, shared by the verifier and by the signing helpers.
//!
//! The helpers ([`sign_request`], [`presign_uri`]) exist so that tests and benchmarks in other
//! crates can produce requests a real SDK would send, without pulling an AWS SDK in. They build
//! the canonical request with the very same code the verifier uses; the independent check that
//! this code is right is the AWS test suite in `tests/aws4_testsuite`.

use std::sync::Mutex;
use std::time::SystemTime;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::canonical::{self, uri_encode, ALGORITHM};
use crate::time::format_amz_date;
use crate::SecretKey;

type HmacSha256 = Hmac<Sha256>;

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC is defined for keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub(crate) fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut k_secret = Vec::with_capacity(4 + secret.len());
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let k_date = hmac_sha256(&k_secret, date.as_bytes());
    k_secret.fill(0);
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// A derived signing key, ready to sign: the HMAC state after its key block.
struct CachedKey {
    secret: SecretKey,
    date: String,
    region: String,
    service: String,
    mac: HmacSha256,
}

/// Signing keys derived recently. A key depends only on the secret, the day, the region and the
/// service, so a client's requests of one day all share it; deriving it is four HMACs, most of
/// a verification's hashing (issue 7's profile). AWS SDKs cache it the same way. Small and
/// scanned linearly: a server sees few distinct credentials in a day.
static KEY_CACHE: Mutex<Vec<CachedKey>> = Mutex::new(Vec::new());
const KEY_CACHE_ENTRIES: usize = 16;

fn signing_mac(secret: &str, date: &str, region: &str, service: &str) -> HmacSha256 {
    if let Ok(cache) = KEY_CACHE.lock() {
        if let Some(hit) = cache.iter().find(|k| {
            k.date == date
                && k.region == region
                && k.service == service
                && bool::from(k.secret.expose().as_bytes().ct_eq(secret.as_bytes()))
        }) {
            return hit.mac.clone();
        }
    }
    let key = signing_key(secret, date, region, service);
    let mac = HmacSha256::new_from_slice(&key).expect("HMAC accepts keys of any length");
    if let Ok(mut cache) = KEY_CACHE.lock() {
        if cache.len() >= KEY_CACHE_ENTRIES {
            cache.remove(0);
        }
        cache.push(CachedKey {
            secret: SecretKey::new(secret),
            date: date.to_string(),
            region: region.to_string(),
            service: service.to_string(),
            mac: mac.clone(),
        });
    }
    mac
}

/// The hex signature of a string to sign.
pub fn compute_signature(
    secret: &str,
    scope_date: &str,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> String {
    let mut mac = signing_mac(secret, scope_date, region, service);
    mac.update(string_to_sign.as_bytes());
    crate::hex_lower(&mac.finalize().into_bytes())
}

fn split_target(uri: &str) -> (&str, &str) {
    let uri = uri.split_once('#').map_or(uri, |(before, _)| before);
    uri.split_once('?').unwrap_or((uri, ""))
}

/// Lower-cased, sorted, de-duplicated names of the given headers.
fn header_names(headers: &[(&str, &str)]) -> Vec<String> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn payload_hash(headers: &[(&str, &str)], body: &[u8]) -> String {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-content-sha256"))
        .map_or_else(
            || crate::hex_lower(&Sha256::digest(body)),
            |(_, v)| v.trim().to_string(),
        )
}

/// Signs a request the way an AWS SDK does and returns the `Authorization` header value.
///
/// * `uri`: the request-target as it will be sent (`/path?query`, already percent-encoded);
/// * `headers`: every header to sign, which must include `Host` and `X-Amz-Date` (with the value
///   [`format_amz_date`]`(time)`, which the helper does not add for you); all of them are signed;
/// * `body`: the request body; its SHA-256 is signed unless an `x-amz-content-sha256` header is
///   given, whose value is then used as the payload hash.
#[allow(clippy::too_many_arguments)]
pub fn sign_request(
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    time: SystemTime,
) -> String {
    let amz_date = format_amz_date(time);
    let date = &amz_date[..8];
    let (path, query) = split_target(uri);
    let signed = header_names(headers);
    let raw_headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    let creq = canonical::build_canonical_request(
        method,
        path,
        query,
        &raw_headers,
        &signed,
        &payload_hash(headers, body),
        false,
    );
    let scope = canonical::scope(date, region, service);
    let sts = canonical::build_string_to_sign(&amz_date, &scope, &creq);
    let signature = compute_signature(secret, date, region, service, &sts);
    format!(
        "{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={}, Signature={signature}",
        signed.join(";")
    )
}

/// Presigns a request: returns `uri` with the `X-Amz-*` query parameters and `X-Amz-Signature`
/// appended, as SDK presigners for non-S3 services produce it.
///
/// `headers` are the headers the request will carry that should be signed (at least `Host`);
/// the payload hash is the SHA-256 of `body` (empty for the usual presigned GET). `expires_secs`
/// goes into `X-Amz-Expires` unchecked, so tests can produce invalid values too.
#[allow(clippy::too_many_arguments)]
pub fn presign_uri(
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    time: SystemTime,
    expires_secs: u64,
) -> String {
    let amz_date = format_amz_date(time);
    let date = &amz_date[..8];
    let scope = canonical::scope(date, region, service);
    let signed = header_names(headers);
    let (path, query) = split_target(uri);
    let credential = format!("{access_key}/{scope}");
    let auth_params = [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", credential.as_str()),
        ("X-Amz-Date", amz_date.as_str()),
        ("X-Amz-Expires", &expires_secs.to_string()),
        ("X-Amz-SignedHeaders", &signed.join(";")),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", uri_encode(v.as_bytes(), false)))
    .collect::<Vec<_>>()
    .join("&");
    let query = if query.is_empty() {
        auth_params
    } else {
        format!("{query}&{auth_params}")
    };
    let raw_headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    let creq = canonical::build_canonical_request(
        method,
        path,
        &query,
        &raw_headers,
        &signed,
        &payload_hash(headers, body),
        true,
    );
    let sts = canonical::build_string_to_sign(&amz_date, &scope, &creq);
    let signature = compute_signature(secret, date, region, service, &sts);
    format!("{path}?{query}&X-Amz-Signature={signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_two_digits_per_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(crate::hex_lower(&bytes), hex::encode(&bytes));
        assert_eq!(crate::hex_lower(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(crate::hex_lower(&[]), "");
    }

    #[test]
    fn derives_the_documented_signing_key() {
        // The example from the AWS SigV4 documentation ("Examples of how to derive a signing key").
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn cached_keys_sign_as_freshly_derived_ones_and_never_across_secrets() {
        let fresh = |secret: &str, date: &str| {
            hex::encode(hmac_sha256(
                &signing_key(secret, date, "us-east-1", "config"),
                b"string to sign",
            ))
        };
        let cases = [
            ("secret-a", "20260101"),
            ("secret-b", "20260101"),
            ("secret-a", "20260102"),
        ];
        // Twice round, so the second round is answered from the cache; more distinct keys than
        // the cache holds, so eviction is exercised too.
        for _ in 0..2 {
            for (secret, date) in cases {
                let got = compute_signature(secret, date, "us-east-1", "config", "string to sign");
                assert_eq!(got, fresh(secret, date));
            }
            for i in 0..KEY_CACHE_ENTRIES + 2 {
                let secret = format!("other-{i}");
                let got =
                    compute_signature(&secret, "20260101", "us-east-1", "config", "string to sign");
                assert_eq!(got, fresh(&secret, "20260101"));
            }
        }
    }
}
