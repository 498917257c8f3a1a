//! The official AWS SigV4 test suite (as shipped by botocore), run through the verifier.
//!
//! For every case: the canonical request and string to sign built from the signed request
//! (`.sreq`) must equal `.creq` and `.sts`; `verify` must accept the `.sreq`; and, where every
//! header is signed, `sign_request` must reproduce `.authz`.
//!
//! botocore skips four cases; this suite runs all 34. The one adjustment: `normalize-path/get-space`
//! has a literal space in its request line, which is not valid HTTP and which `http::Uri` (and so
//! hyper) rejects before a verifier could see it. For that case the test checks that the request
//! is indeed rejected by `http`, and verifies the canonical request, string to sign and signature
//! from the raw pieces instead of calling `verify`. And `get-vanilla-with-session-token.sreq`
//! carries a wrong signature upstream (its `.authz` is right): the test checks that the shipped
//! `.sreq` is rejected and verifies it with the `.authz` signature.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use remedy_sigv4::{
    canonical_request, compute_signature, parse_authorization, sign_request, string_to_sign, verify,
};
use sha2::{Digest, Sha256};

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aws4_testsuite")
}

/// Every directory holding a `<name>/<name>.sreq`, as `(relative name, path stem)`.
fn cases() -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                let name = path.file_name().unwrap().to_str().unwrap().to_string();
                let stem = path.join(&name);
                if stem.with_extension("sreq").exists() {
                    let rel = path
                        .strip_prefix(root)
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .to_string();
                    out.push((rel, stem));
                }
                walk(&path, root, out);
            }
        }
    }
    let mut out = Vec::new();
    let root = suite_dir();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

fn read(stem: &Path, ext: &str) -> Vec<u8> {
    std::fs::read(stem.with_extension(ext)).unwrap()
}

fn read_text(stem: &Path, ext: &str) -> String {
    String::from_utf8(read(stem, ext))
        .unwrap()
        .replace('\r', "")
}

#[test]
fn suite_has_all_cases() {
    assert_eq!(cases().len(), 34);
}

#[test]
fn every_vector() {
    let mut failures = Vec::new();
    for (name, stem) in cases() {
        if let Err(e) = std::panic::catch_unwind(|| check_case(&name, &stem)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{name}: {msg}"));
        }
    }
    assert!(
        failures.is_empty(),
        "failing vectors:\n{}",
        failures.join("\n")
    );
}

fn check_case(name: &str, stem: &Path) {
    let mut sreq = RawRequest::parse(&read(stem, "sreq"));
    let authz = read_text(stem, "authz");
    let auth = parse_authorization(&authz).expect("authz parses");
    if name == "get-vanilla-with-session-token" {
        // Upstream defect: this `.sreq` carries a signature that is not the one in `.authz` (nor
        // any valid one; it is the token value rotated). `.authz` agrees with `.creq`/`.sts`, so
        // it is the truth; the `.sreq` as shipped must be rejected.
        let parts = sreq.to_parts().unwrap();
        assert_eq!(
            verify(&parts, &sreq.body, &Store, &options()),
            Err(remedy_sigv4::AuthError::SignatureDoesNotMatch)
        );
        sreq.set_header("Authorization", &authz);
    }
    assert_eq!(
        sreq.header("authorization"),
        Some(authz.as_str()),
        "sreq carries authz"
    );

    // Task 1 and 2 from the raw pieces.
    let headers: Vec<(&str, &[u8])> = sreq
        .headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("authorization"))
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let signed: Vec<&str> = auth.signed_headers.iter().map(String::as_str).collect();
    let payload_hash = hex::encode(Sha256::digest(&sreq.body));
    let creq = canonical_request(&sreq.method, &sreq.target, &headers, &signed, &payload_hash);
    assert_eq!(
        String::from_utf8(creq.clone()).unwrap(),
        read_text(stem, "creq"),
        "canonical request"
    );
    let sts = string_to_sign("20150830T123600Z", &auth.scope(), &creq);
    assert_eq!(sts, read_text(stem, "sts"), "string to sign");
    assert_eq!(
        compute_signature(SECRET, "20150830", REGION, SERVICE, &sts),
        auth.signature,
        "signature"
    );

    // The signing helper, where it signs exactly what the vector signed (all headers).
    let all_signed = headers.len() == signed.len();
    if all_signed {
        let str_headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (*n, std::str::from_utf8(v).unwrap()))
            .collect();
        let produced = sign_request(
            &sreq.method,
            &sreq.target,
            &str_headers,
            &sreq.body,
            ACCESS_KEY,
            SECRET,
            REGION,
            SERVICE,
            suite_time(),
        );
        assert_eq!(produced, authz, "sign_request");
    }

    // The verifier, on the request as hyper would deliver it.
    match sreq.to_parts() {
        Some(parts) => {
            let verified = verify(&parts, &sreq.body, &Store, &options())
                .unwrap_or_else(|e| panic!("verify: {e:?}"));
            assert_eq!(verified.access_key_id, ACCESS_KEY);
            assert_eq!(verified.account_id, ACCOUNT);
            assert_eq!(verified.region, REGION);
            assert_eq!(verified.service, SERVICE);
            assert_eq!(verified.signed_at, suite_time());
        }
        None => assert_eq!(
            name, "normalize-path/get-space",
            "only get-space is not valid HTTP"
        ),
    }
}
