//! The built-in runbooks: our own YAML documents under `runbooks/`, with AWS's document names and
//! parameters (spec §5), embedded in the binary and parsed once. They use only the actions this
//! runtime supports; where AWS's version runs an `aws:executeScript`, ours makes the same API
//! calls with `aws:executeAwsApi` / assert / waitFor / branch steps.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use crate::document::Runbook;

macro_rules! runbooks {
    ($($name:literal),* $(,)?) => {
        const SOURCES: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../runbooks/", $name, ".yaml")))),*
        ];
    };
}

runbooks!(
    "AWS-DisableS3BucketPublicReadWrite",
    "AWS-EnableS3BucketEncryption",
    "AWS-ConfigureS3BucketVersioning",
    "AWS-ConfigureS3BucketLogging",
    "AWSConfigRemediation-ConfigureS3BucketPublicAccessBlock",
    "AWS-DisableIncomingSSHOnPort22",
    "AWSConfigRemediation-RemoveUnrestrictedSourceIngressRules",
    "AWSConfigRemediation-RemoveVPCDefaultSecurityGroupRules",
    "AWSConfigRemediation-EnableKeyRotation",
    "AWSConfigRemediation-CancelKeyDeletion",
    "AWSConfigRemediation-EnableCloudTrailLogFileValidation",
    "AWSConfigRemediation-EnablePITRForDynamoDbTable",
    "AWSConfigRemediation-EnableEncryptionOnDynamoDbTable",
    "AWSConfigRemediation-EnableEbsEncryptionByDefault",
);

fn catalog() -> &'static BTreeMap<&'static str, Runbook> {
    static CATALOG: OnceLock<BTreeMap<&'static str, Runbook>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(name, text)| {
                let rb = Runbook::parse(text)
                    .unwrap_or_else(|e| panic!("built-in runbook {name} is invalid: {e}"));
                (*name, rb)
            })
            .collect()
    })
}

/// A built-in runbook by its AWS document name.
pub fn builtin(name: &str) -> Option<&'static Runbook> {
    catalog().get(name)
}

/// The built-in runbook names, sorted.
pub fn builtin_names() -> Vec<&'static str> {
    catalog().keys().copied().collect()
}

/// The YAML text of a built-in runbook (for GetDocument's `Content`).
pub fn builtin_source(name: &str) -> Option<&'static str> {
    SOURCES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Every `(service, api)` the built-in runbooks call: what the world must emulate.
pub fn required_world_apis() -> BTreeSet<(String, String)> {
    catalog().values().flat_map(Runbook::api_calls).collect()
}
