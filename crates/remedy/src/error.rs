//! The one error type every API path returns, and its AWS wire form.
//!
//! AWS JSON 1.1 errors are `{"__type": "<Code>", "message": "..."}` with `x-amzn-ErrorType` and an
//! HTTP status (400 for every modelled Config fault). Handlers build an [`ApiError`] with one of the
//! named constructors; `protocol` renders it. Internal failures are logged with their detail and
//! reach the client only as a generic `InternalFailure`.

use std::borrow::Cow;

use http::StatusCode;

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: Cow<'static, str>,
    pub message: String,
    pub status: StatusCode,
}

impl ApiError {
    pub fn new(
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
        status: StatusCode,
    ) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            status,
        }
    }

    /// A 400 client fault with the given AWS error code.
    pub fn client(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, message, StatusCode::BAD_REQUEST)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::client("ValidationException", message)
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        Self::client("SerializationException", message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::client("InvalidParameterValueException", message)
    }

    pub fn invalid_next_token() -> Self {
        Self::client(
            "InvalidNextTokenException",
            "The nextToken provided is invalid",
        )
    }

    pub fn no_such_config_rule(name: &str) -> Self {
        Self::client(
            "NoSuchConfigRuleException",
            format!("The ConfigRule '{name}' provided in the request is invalid. Please check the configRule name"),
        )
    }

    pub fn no_such_remediation_configuration(rule: &str) -> Self {
        Self::client(
            "NoSuchRemediationConfigurationException",
            format!("No RemediationConfiguration for rule exists: {rule}"),
        )
    }

    pub fn unknown_operation(target: &str) -> Self {
        Self::client(
            "UnknownOperationException",
            if target.is_empty() {
                "Missing X-Amz-Target header: the operation to call is unknown".to_string()
            } else {
                format!("Operation {target} is not supported by this endpoint")
            },
        )
    }

    /// A server fault whose detail is logged, never returned.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal failure");
        Self::new(
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
            StatusCode::INTERNAL_SERVER_ERROR,
        )
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(
            "ServiceUnavailable",
            message,
            StatusCode::SERVICE_UNAVAILABLE,
        )
    }

    /// The JSON body AWS clients parse.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"__type": self.code, "message": self.message}))
            .unwrap_or_else(|_| b"{}".to_vec())
    }
}

impl From<StoreError> for ApiError {
    /// Store outcomes that carry business meaning are mapped by the handlers before this runs;
    /// anything reaching here is unexpected.
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<remedy_wire::DecodeError> for ApiError {
    fn from(e: remedy_wire::DecodeError) -> Self {
        match e {
            remedy_wire::DecodeError::Serialization(m) => ApiError::serialization(m),
            remedy_wire::DecodeError::Validation(m) => ApiError::validation(m),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
