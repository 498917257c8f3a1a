//! PutRemediationExceptions, DescribeRemediationExceptions, DeleteRemediationExceptions.
//!
//! An exception is keyed by (rule, resource type, resource id) and blocks only automatic
//! remediation. Once its `ExpirationTime` passes it is gone: reads never return it and deletes
//! treat it as absent. Note the key shape here is the Pascal-case `RemediationExceptionResourceKey`.

use std::collections::BTreeSet;

use remedy_wire::config::{
    DeleteRemediationExceptionsRequest, DeleteRemediationExceptionsResponse,
    DescribeRemediationExceptionsRequest, DescribeRemediationExceptionsResponse,
    FailedDeleteRemediationExceptionsBatch, PutRemediationExceptionsRequest,
    PutRemediationExceptionsResponse, RemediationException, RemediationExceptionResourceKey,
};

use super::required;
use crate::app::App;
use crate::domain::{ExceptionKey, RemediationExceptionRecord};
use crate::error::{ApiError, ApiResult};
use crate::pagination;
use crate::protocol::RequestContext;
use crate::store::RuleSelector;

/// DescribeRemediationExceptions page size when `Limit` is absent or 0.
const DEFAULT_LIMIT: usize = 25;

fn to_keys(keys: &[RemediationExceptionResourceKey]) -> ApiResult<Vec<ExceptionKey>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let (Some(t), Some(i)) = (k.resource_type.as_ref(), k.resource_id.as_ref()) else {
            return Err(ApiError::invalid_parameter(
                "Each resource key of a remediation exception needs both ResourceType and ResourceId.",
            ));
        };
        let key = ExceptionKey {
            resource_type: t.clone(),
            resource_id: i.clone(),
        };
        if seen.insert(key.clone()) {
            out.push(key);
        }
    }
    Ok(out)
}

fn to_wire(r: RemediationExceptionRecord) -> RemediationException {
    RemediationException {
        config_rule_name: Some(r.rule_name),
        resource_type: Some(r.resource_type),
        resource_id: Some(r.resource_id),
        message: r.message,
        expiration_time: r.expiration_time,
    }
}

pub async fn put(
    app: &App,
    ctx: &RequestContext,
    req: PutRemediationExceptionsRequest,
) -> ApiResult<PutRemediationExceptionsResponse> {
    let scope = &ctx.scope;
    let rule_name = required(req.config_rule_name, "ConfigRuleName")?;
    let keys = to_keys(&required(req.resource_keys, "ResourceKeys")?)?;
    let rule = app
        .store
        .get_rule(scope, &RuleSelector::Name(rule_name.clone()))
        .await?
        .ok_or_else(|| ApiError::no_such_config_rule(&rule_name))?;
    if rule.rule.created_by.is_some() {
        return Err(ApiError::invalid_parameter(format!(
            "The ConfigRule '{rule_name}' is a service-linked rule; remediation exceptions cannot be added to it."
        )));
    }
    if let Some(expiry) = req.expiration_time {
        if expiry <= crate::time::now() {
            return Err(ApiError::invalid_parameter(
                "ExpirationTime must be in the future.",
            ));
        }
    }
    let records: Vec<RemediationExceptionRecord> = keys
        .into_iter()
        .map(|k| RemediationExceptionRecord {
            rule_name: rule_name.clone(),
            resource_type: k.resource_type,
            resource_id: k.resource_id,
            message: req.message.clone(),
            expiration_time: req.expiration_time,
        })
        .collect();
    let (records, failed_batches) =
        super::compliance::exception_candidates(app, scope, records).await?;
    app.store
        .put_remediation_exceptions(scope, &records)
        .await?;
    Ok(PutRemediationExceptionsResponse {
        failed_batches: Some(failed_batches),
    })
}

pub async fn describe(
    app: &App,
    ctx: &RequestContext,
    req: DescribeRemediationExceptionsRequest,
) -> ApiResult<DescribeRemediationExceptionsResponse> {
    const OP: &str = "DescribeRemediationExceptions";
    let rule_name = required(req.config_rule_name, "ConfigRuleName")?;
    let now = crate::time::now();
    if let Some(keys) = req.resource_keys {
        // A batch lookup: no paging.
        let keys = to_keys(&keys)?;
        let found = app
            .store
            .list_remediation_exceptions(&ctx.scope, &rule_name, Some(&keys), None, keys.len(), now)
            .await?;
        return Ok(DescribeRemediationExceptionsResponse {
            remediation_exceptions: Some(found.into_iter().map(to_wire).collect()),
            next_token: None,
        });
    }
    let limit = match req.limit {
        None | Some(0) => DEFAULT_LIMIT,
        Some(n) => n as usize,
    };
    let after: Option<(String, String)> = pagination::decode(OP, req.next_token.as_deref())?;
    let after = after.map(|(t, i)| ExceptionKey {
        resource_type: t,
        resource_id: i,
    });
    let rows = app
        .store
        .list_remediation_exceptions(&ctx.scope, &rule_name, None, after.as_ref(), limit + 1, now)
        .await?;
    let (rows, next_token) = pagination::page(OP, rows, limit, |r| {
        (r.resource_type.clone(), r.resource_id.clone())
    });
    Ok(DescribeRemediationExceptionsResponse {
        remediation_exceptions: Some(rows.into_iter().map(to_wire).collect()),
        next_token,
    })
}

pub async fn delete(
    app: &App,
    ctx: &RequestContext,
    req: DeleteRemediationExceptionsRequest,
) -> ApiResult<DeleteRemediationExceptionsResponse> {
    let rule_name = required(req.config_rule_name, "ConfigRuleName")?;
    let keys = to_keys(&required(req.resource_keys, "ResourceKeys")?)?;
    let deleted = app
        .store
        .delete_remediation_exceptions(&ctx.scope, &rule_name, &keys, crate::time::now())
        .await?;
    let missing: Vec<RemediationExceptionResourceKey> = keys
        .into_iter()
        .zip(&deleted)
        .filter(|(_, d)| !**d)
        .map(|(k, _)| RemediationExceptionResourceKey {
            resource_type: Some(k.resource_type),
            resource_id: Some(k.resource_id),
        })
        .collect();
    if !deleted.iter().any(|d| *d) {
        return Err(ApiError::client(
            "NoSuchRemediationExceptionException",
            format!(
                "No remediation exception exists for the given resource keys of rule {rule_name}."
            ),
        ));
    }
    let failed_batches = if missing.is_empty() {
        Vec::new()
    } else {
        vec![FailedDeleteRemediationExceptionsBatch {
            failure_message: Some(
                "No remediation exception exists for these resource keys.".into(),
            ),
            failed_items: Some(missing),
        }]
    };
    Ok(DeleteRemediationExceptionsResponse {
        failed_batches: Some(failed_batches),
    })
}
