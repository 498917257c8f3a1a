//! Why a request was not authenticated, in the terms AWS JSON services answer with.
//!
//! Each variant maps to the error code (`__type`), HTTP status and message that AWS services
//! speaking the JSON protocols return, so SDK retry and clock-skew logic behaves as it does
//! against AWS (botocore and the Rust SDK, for example, correct their clock when they see
//! `InvalidSignatureException` with "Signature expired"). Messages never contain a secret, a
//! signature or an echo of the `Authorization` header.

/// The message AWS gives for a signature that does not match.
pub const SIGNATURE_MISMATCH_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// A request that could not be authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Neither an `Authorization` header nor an `X-Amz-Algorithm` query parameter.
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    /// The authentication information is malformed or incomplete; the message says what.
    #[error("{0}")]
    IncompleteSignature(String),
    /// The access key is not known to the credential store.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// Well-formed, but scoped to the wrong service or to a date other than the request's.
    #[error("{0}")]
    InvalidScope(String),
    /// The request time is older than the allowed skew, or a presigned URL has expired.
    #[error("{0}")]
    SignatureExpired(String),
    /// The request time is further in the future than the allowed skew.
    #[error("{0}")]
    SignatureNotYetCurrent(String),
    /// The signature does not match the one computed with the credential's secret.
    #[error("{}", SIGNATURE_MISMATCH_MESSAGE)]
    SignatureDoesNotMatch,
    /// The signature matched, but the body's SHA-256 differs from `x-amz-content-sha256`.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    PayloadHashMismatch,
}

impl AuthError {
    /// The AWS error code (the JSON `__type`).
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            AuthError::IncompleteSignature(_) => "IncompleteSignatureException",
            AuthError::UnrecognizedClient => "UnrecognizedClientException",
            AuthError::InvalidScope(_)
            | AuthError::SignatureExpired(_)
            | AuthError::SignatureNotYetCurrent(_)
            | AuthError::SignatureDoesNotMatch
            | AuthError::PayloadHashMismatch => "InvalidSignatureException",
        }
    }

    /// The HTTP status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::MissingAuthenticationToken
            | AuthError::InvalidScope(_)
            | AuthError::SignatureDoesNotMatch => 403,
            AuthError::IncompleteSignature(_)
            | AuthError::UnrecognizedClient
            | AuthError::SignatureExpired(_)
            | AuthError::SignatureNotYetCurrent(_)
            | AuthError::PayloadHashMismatch => 400,
        }
    }

    /// The human-readable message (the JSON `message`).
    pub fn message(&self) -> String {
        self.to_string()
    }

    pub(crate) fn incomplete(msg: impl Into<String>) -> Self {
        AuthError::IncompleteSignature(msg.into())
    }
}
