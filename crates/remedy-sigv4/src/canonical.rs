//! The canonical request (SigV4 "task 1") and the string to sign ("task 2").
//!
//! Everything here works on bytes as received and never fails: odd percent escapes are kept
//! literally, non-UTF-8 header values are hashed as the bytes they are. A malformed request then
//! simply produces a canonical request no honest client signed, and verification fails with a
//! signature mismatch rather than a panic.
//!
//! ## Canonical URI (the choice made for the path)
//!
//! SDKs signing for any service other than S3 take the path they are about to put on the wire
//! (already percent-encoded once), remove `.`/`..` segments and empty segments, and URI-encode
//! the result *again* (so `%20` on the wire becomes `%2520` in the canonical request). The
//! verifier therefore takes the path exactly as received, applies the same normalisation and
//! encodes every byte outside `A-Za-z0-9-_.~/` (including `%`). This is what makes signatures
//! from botocore, the Rust, Go and JS SDKs verify, and it is what the `normalize-path` vectors
//! describe: their request lines carry the *unencoded* path (`/example space/`, `/ሴ`,
//! `/example/$delete`) and the canonical URI is its encoding. S3-style single encoding without
//! normalisation is not offered: remedy serves no S3 API.
//!
//! ## Canonical query string
//!
//! The raw query is split on `&`, each pair at its first `=` (a missing `=` means an empty value),
//! keys and values are percent-decoded (`+` is read as a space, as form decoding and the AWS
//! services do) and re-encoded with only `A-Za-z0-9-_.~` left bare, then sorted by key and value.
//! Empty pairs (`a=1&&b=2`) are dropped.

use sha2::{Digest, Sha256};

/// The only algorithm SigV4 defines.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Bytes left unencoded by SigV4's URI encoding.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends the SigV4 URI encoding of `bytes` (upper-case `%XY`), keeping `/` if asked to.
pub(crate) fn uri_encode_into(out: &mut Vec<u8>, bytes: &[u8], keep_slash: bool) {
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b);
        } else {
            out.extend_from_slice(&[
                b'%',
                HEX_UPPER[usize::from(b >> 4)],
                HEX_UPPER[usize::from(b & 0xF)],
            ]);
        }
    }
}

/// The SigV4 URI encoding of `bytes` as a `String` (the output is always ASCII).
pub(crate) fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    uri_encode_into(&mut out, bytes, keep_slash);
    out.into_iter().map(char::from).collect()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes a query component. `+` becomes a space; a `%` not followed by two hex digits
/// is kept as a literal `%` (and will be re-encoded as `%25`).
pub(crate) fn query_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                if let (Some(h), Some(l)) = (hex_val(s[i + 1]), hex_val(s[i + 2])) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Splits a raw query string into decoded `(key, value)` pairs, in the order received.
pub(crate) fn parse_query(raw: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw.as_bytes()
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (query_decode(&pair[..eq]), query_decode(&pair[eq + 1..])),
            None => (query_decode(pair), Vec::new()),
        })
        .collect()
}

/// The canonical query string. With `exclude_signature`, the `X-Amz-Signature` parameter (which
/// cannot sign itself) is left out, as for presigned URLs.
pub(crate) fn canonical_query(raw: &str, exclude_signature: bool) -> String {
    let mut pairs: Vec<(String, String)> = parse_query(raw)
        .into_iter()
        .filter(|(k, _)| !(exclude_signature && k == b"X-Amz-Signature"))
        .map(|(k, v)| (uri_encode(&k, false), uri_encode(&v, false)))
        .collect();
    pairs.sort_unstable();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Removes empty, `.` and `..` segments; keeps a leading and (when segments remain) a trailing `/`.
fn normalize_path(path: &[u8]) -> Vec<u8> {
    let mut segments: Vec<&[u8]> = Vec::new();
    for seg in path.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = Vec::with_capacity(path.len() + 1);
    if path.first() == Some(&b'/') || path.is_empty() {
        out.push(b'/');
    }
    out.extend_from_slice(&segments.join(&b'/'));
    if path.last() == Some(&b'/') && !segments.is_empty() {
        out.push(b'/');
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// The canonical URI for a non-S3 service: normalise the path as received, then encode it.
pub(crate) fn canonical_uri(path: &[u8]) -> String {
    uri_encode(&normalize_path(path), true)
}

/// Trims spaces and tabs and collapses internal runs of them to one space.
fn trim_header_value(out: &mut Vec<u8>, value: &[u8]) {
    let mut pending_space = false;
    let mut wrote = false;
    for &b in value {
        if b == b' ' || b == b'\t' {
            pending_space = wrote;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
            wrote = true;
        }
    }
}

/// Builds the canonical request.
///
/// * `path`/`query`: as received (query without the `?`);
/// * `headers`: every header of the request, any name case, repeated names allowed, in the order
///   received (the order of values of one name matters);
/// * `signed_headers`: lower-case names, in the order the client listed them;
/// * `payload_hash`: hex SHA-256 of the body, or the `x-amz-content-sha256` value.
pub(crate) fn build_canonical_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &[u8])],
    signed_headers: &[String],
    payload_hash: &str,
    exclude_signature: bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + path.len() + query.len());
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(path.as_bytes()).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(query, exclude_signature).as_bytes());
    out.push(b'\n');
    for name in signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut first = true;
        for (_, value) in headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
            if !first {
                out.push(b',');
            }
            first = false;
            trim_header_value(&mut out, value);
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    out
}

/// `<date>/<region>/<service>/aws4_request`.
pub(crate) fn scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// The string to sign for a canonical request.
pub(crate) fn build_string_to_sign(
    amz_date: &str,
    scope: &str,
    canonical_request: &[u8],
) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        crate::hex_lower(&Sha256::digest(canonical_request))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_paths() {
        for (input, want) in [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/./example", "/example"),
            ("//example//", "/example/"),
            ("/a/b/../c/", "/a/c/"),
            ("/../../a", "/a"),
            ("/a/.", "/a"),
            ("*", "*"),
        ] {
            assert_eq!(
                String::from_utf8(normalize_path(input.as_bytes())).unwrap(),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn encodes_uri() {
        assert_eq!(canonical_uri(b"/example space/"), "/example%20space/");
        assert_eq!(canonical_uri("/ሴ".as_bytes()), "/%E1%88%B4");
        assert_eq!(canonical_uri(b"/a%20b"), "/a%2520b");
        assert_eq!(canonical_uri(b"/$x~y"), "/%24x~y");
    }

    #[test]
    fn decodes_query_leniently() {
        assert_eq!(query_decode(b"a%20b+c"), b"a b c");
        assert_eq!(query_decode(b"%"), b"%");
        assert_eq!(query_decode(b"%4"), b"%4");
        assert_eq!(query_decode(b"%zz%41"), b"%zzA");
        assert_eq!(query_decode(b"x%41"), b"xA");
        assert_eq!(query_decode(b"%e1%88%b4"), "ሴ".as_bytes());
    }

    #[test]
    fn canonical_query_sorts_and_encodes() {
        assert_eq!(
            canonical_query("b=2&a=1&a=0&c&&%7e=%2F", false),
            "a=0&a=1&b=2&c=&~=%2F"
        );
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&X-Amz-Date=1", true),
            "X-Amz-Date=1"
        );
    }

    #[test]
    fn trims_header_values() {
        let mut out = Vec::new();
        trim_header_value(&mut out, b"  a \t  b   c  ");
        assert_eq!(out, b"a b c");
        out.clear();
        trim_header_value(&mut out, b"   ");
        assert_eq!(out, b"");
    }
}
