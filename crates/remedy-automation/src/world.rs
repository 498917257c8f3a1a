//! The boundary between runbooks and resources.
//!
//! Every `aws:executeAwsApi`, `aws:assertAwsResourceProperty` and `aws:waitForAwsResourceProperty`
//! step becomes one [`World::call`] with boto3's names: `service` is the boto3 client name
//! (`s3`, `ec2`, `kms`, `cloudtrail`, `dynamodb`), `api` the PascalCase operation
//! (`PutBucketVersioning`), `input` the request members with boto3 parameter names, and the
//! response is shaped as boto3 returns it (`{"Status": "Enabled"}`). The `remedy` crate's world
//! answers from recorded configuration items; tests use `test_util::TestWorld`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An AWS-style error from the world (`NoSuchBucket`, `InvalidGroup.NotFound`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct WorldError {
    pub code: String,
    pub message: String,
}

impl WorldError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> WorldError {
        WorldError {
            code: code.into(),
            message: message.into(),
        }
    }
    /// The step failure message, worded like SSM's (botocore's `ClientError` text).
    pub fn step_message(&self, api: &str) -> String {
        format!(
            "An error occurred ({}) when calling the {api} operation: {}",
            self.code, self.message
        )
    }
}

/// Emulated AWS APIs. Implementations must make mutating calls idempotent: the engine may run an
/// interrupted step again after a crash.
#[async_trait]
pub trait World: Send + Sync {
    async fn call(&self, service: &str, api: &str, input: Value) -> Result<Value, WorldError>;
}
