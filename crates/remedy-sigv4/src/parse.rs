//! Parsing of the `Authorization` header and of the credential scope shared with presigned URLs.
//!
//! Parsing is strict about structure (AWS rejects the same things with
//! `IncompleteSignatureException`) and never echoes what it rejects: the offending text could be
//! anything, including a secret pasted by mistake.

use crate::canonical::ALGORITHM;
use crate::error::AuthError;

/// More signed headers than any real client sends; bounds the work done per request.
pub const MAX_SIGNED_HEADERS: usize = 128;

/// The contents of a SigV4 `Authorization` header (or of the equivalent presigned-URL
/// parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuthorization {
    /// The access key id, first element of `Credential`.
    pub access_key_id: String,
    /// The scope date, `YYYYMMDD` (checked to be eight digits).
    pub scope_date: String,
    /// The scope region.
    pub region: String,
    /// The scope service.
    pub service: String,
    /// The signed header names, lower-cased, in the order the client listed them.
    pub signed_headers: Vec<String>,
    /// The signature as sent (expected: 64 lower-case hex digits).
    pub signature: String,
}

impl ParsedAuthorization {
    /// `<date>/<region>/<service>/aws4_request`.
    pub fn scope(&self) -> String {
        crate::canonical::scope(&self.scope_date, &self.region, &self.service)
    }
}

/// The four parts of a credential scope plus the access key.
pub(crate) struct CredentialScope {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
}

/// Parses `AKID/YYYYMMDD/region/service/aws4_request`.
pub(crate) fn parse_credential(value: &str) -> Result<CredentialScope, AuthError> {
    let parts: Vec<&str> = value.split('/').collect();
    let [akid, date, region, service, terminator] = parts.as_slice() else {
        return Err(AuthError::incomplete(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term.",
        ));
    };
    if akid.is_empty() {
        return Err(AuthError::incomplete(
            "Credential must name an access key id.",
        ));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuthError::incomplete(
            "Credential should be scoped to a valid date (YYYYMMDD).",
        ));
    }
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(AuthError::incomplete(
            "Credential should be scoped to a valid region.",
        ));
    }
    if service.is_empty()
        || !service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(AuthError::incomplete(
            "Credential should be scoped to a valid service.",
        ));
    }
    if *terminator != "aws4_request" {
        return Err(AuthError::incomplete(
            "Credential should be scoped with a valid terminator: 'aws4_request'.",
        ));
    }
    Ok(CredentialScope {
        access_key_id: (*akid).to_string(),
        date: (*date).to_string(),
        region: (*region).to_string(),
        service: (*service).to_string(),
    })
}

/// Parses `host;x-amz-date;...` into lower-cased names.
pub(crate) fn parse_signed_headers(value: &str) -> Result<Vec<String>, AuthError> {
    let names: Vec<String> = value.split(';').map(str::to_ascii_lowercase).collect();
    if names.len() > MAX_SIGNED_HEADERS {
        return Err(AuthError::incomplete(format!(
            "SignedHeaders lists more than {MAX_SIGNED_HEADERS} headers."
        )));
    }
    if names.iter().any(|n| {
        n.is_empty()
            || !n
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b':' | b',' | b'='))
    }) {
        return Err(AuthError::incomplete(
            "SignedHeaders must be a ';'-separated list of header names.",
        ));
    }
    Ok(names)
}

/// Parses an `Authorization` header value of the form
/// `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=<hex>`.
///
/// Parameters may be separated by `,` with optional white space, in any order; unknown
/// parameters are ignored. Never panics.
pub fn parse_authorization(value: &str) -> Result<ParsedAuthorization, AuthError> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let (algorithm, rest) = match value.find([' ', '\t']) {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, ""),
    };
    if algorithm != ALGORITHM {
        return Err(AuthError::incomplete(format!(
            "Unsupported authorization algorithm; only {ALGORITHM} is accepted."
        )));
    }

    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim_matches(|c| c == ' ' || c == '\t');
        if part.is_empty() {
            continue;
        }
        let Some((key, val)) = part.split_once('=') else {
            return Err(AuthError::incomplete(
                "Authorization header parameters must be key=value pairs (missing equal-sign).",
            ));
        };
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(val).is_some() {
            return Err(AuthError::incomplete(format!(
                "Authorization header has more than one '{key}' parameter."
            )));
        }
    }

    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed_headers = signed_headers.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("Signature"))?;

    let scope = parse_credential(credential)?;
    let signed_headers = parse_signed_headers(signed_headers)?;
    Ok(ParsedAuthorization {
        access_key_id: scope.access_key_id,
        scope_date: scope.date,
        region: scope.region,
        service: scope.service,
        signed_headers,
        signature: signature.to_string(),
    })
}

fn missing(param: &str) -> AuthError {
    AuthError::incomplete(format!(
        "Authorization header requires '{param}' parameter."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    fn msg(v: &str) -> String {
        match parse_authorization(v) {
            Err(AuthError::IncompleteSignature(m)) => m,
            other => panic!("{v}: {other:?}"),
        }
    }

    #[test]
    fn parses_good_header() {
        let p = parse_authorization(GOOD).unwrap();
        assert_eq!(p.access_key_id, "AKIDEXAMPLE");
        assert_eq!(p.scope_date, "20150830");
        assert_eq!(p.region, "us-east-1");
        assert_eq!(p.service, "service");
        assert_eq!(p.signed_headers, ["host", "x-amz-date"]);
        assert_eq!(p.scope(), "20150830/us-east-1/service/aws4_request");
        // Order and spacing do not matter.
        let q = parse_authorization(
            "AWS4-HMAC-SHA256 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31,SignedHeaders=Host;X-Amz-Date,Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request",
        )
        .unwrap();
        assert_eq!(p, q);
    }

    #[test]
    fn says_what_is_wrong() {
        assert!(msg("AWS4-HMAC-SHA512 Credential=a").contains("algorithm"));
        assert!(msg("AWS AKID:sig").contains("algorithm"));
        assert!(msg("").contains("algorithm"));
        assert_eq!(
            msg("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host"),
            "Authorization header requires 'Signature' parameter."
        );
        assert_eq!(
            msg("AWS4-HMAC-SHA256 Signature=ab, SignedHeaders=host"),
            "Authorization header requires 'Credential' parameter."
        );
        assert_eq!(
            msg("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, Signature=ab"),
            "Authorization header requires 'SignedHeaders' parameter."
        );
        assert_eq!(
            msg("AWS4-HMAC-SHA256 Credential=A/20150830//service/aws4_request, SignedHeaders=host, Signature=ab"),
            "Credential should be scoped to a valid region."
        );
        assert!(msg("AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/service, SignedHeaders=host, Signature=ab").contains("5 slash"));
        assert!(msg("AWS4-HMAC-SHA256 Credential=A/2015083/us-east-1/service/aws4_request, SignedHeaders=host, Signature=ab").contains("date"));
        assert!(msg("AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/service/aws5_request, SignedHeaders=host, Signature=ab").contains("terminator"));
        assert!(msg("AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/service/aws4_request, SignedHeaders=host;;x, Signature=ab").contains("SignedHeaders"));
        assert!(msg("AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=ab, Signature=cd").contains("more than one"));
        assert!(msg("AWS4-HMAC-SHA256 Credential").contains("equal-sign"));
    }

    #[test]
    fn never_echoes_input() {
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        for v in [
            format!("AWS4-HMAC-SHA256 Credential={secret}"),
            format!("AWS4-HMAC-SHA256 {secret}"),
            format!("{secret} Credential=x"),
        ] {
            assert!(!msg(&v).contains("EXAMPLEKEY"));
        }
    }
}
