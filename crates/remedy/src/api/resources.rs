//! Recording and reading configuration items: PutResourceConfig, DeleteResourceConfig,
//! GetResourceConfigHistory, BatchGetResourceConfig, ListDiscoveredResources.
//!
//! Real AWS accepts only third-party types in PutResourceConfig. remedy also records AWS types,
//! because its rules evaluate them and its runbooks change them. Two input forms:
//!
//! * **plain** — any `SchemaVersionId`: `Configuration` is the resource's configuration document
//!   (a JSON object, at most 64 KiB), exactly as AWS takes it for custom types;
//! * **envelope** — `SchemaVersionId: "ConfigurationItem"`: `Configuration` is a whole
//!   configuration item in API or notification form (see `ci_input`), so `arn`,
//!   `supplementaryConfiguration`, `relationships`, `availabilityZone` and the rest can be set.

use remedy_wire::config::{
    BatchGetResourceConfigRequest, BatchGetResourceConfigResponse, ChronologicalOrder,
    DeleteResourceConfigRequest, GetResourceConfigHistoryRequest, GetResourceConfigHistoryResponse,
    ListDiscoveredResourcesRequest, ListDiscoveredResourcesResponse, PutResourceConfigRequest,
    ResourceIdentifier, ResourceType,
};
use serde_json::Value;

use super::{required, Empty};
use crate::app::App;
use crate::ci_input::parse_item;
use crate::domain::{is_deleted_status, NewConfigurationItem, STATUS_DELETED};
use crate::error::{ApiError, ApiResult};
use crate::pagination;
use crate::protocol::RequestContext;
use crate::store::{DiscoveredQuery, HistoryQuery, StoreError};

/// `SchemaVersionId` that marks the envelope input form.
pub const ENVELOPE_SCHEMA_VERSION: &str = "ConfigurationItem";
/// Largest plain `Configuration` document (AWS: 64 KB for custom configuration items).
pub const MAX_CONFIGURATION_BYTES: usize = 64 * 1024;
/// `resourceIds` per ListDiscoveredResources call.
pub const MAX_LISTED_IDS: usize = 20;

fn not_discovered(resource_type: &str, resource_id: &str) -> ApiError {
    ApiError::client(
        "ResourceNotDiscoveredException",
        format!("Resource {resource_id} of resourceType:{resource_type} is unknown or has not been discovered"),
    )
}

/// A type of the model's `ResourceType` enum or a well-formed third-party type: exactly the types
/// the read operations accept, so whatever is recorded can be read back.
fn check_resource_type(t: &str) -> ApiResult<()> {
    if crate::ci_input::recordable_resource_type(t) {
        return Ok(());
    }
    Err(ApiError::validation(format!(
        "The resource type {t} is not valid: expected an AWS resource type Config records, or a third-party \
         Provider::Service::Resource (alphanumeric segments) whose provider is not AWS or one of the reserved \
         amzn, amazon, alexa and custom."
    )))
}

fn item_from_request(
    ctx: &RequestContext,
    req: PutResourceConfigRequest,
) -> ApiResult<NewConfigurationItem> {
    let resource_type = required(req.resource_type, "ResourceType")?;
    let resource_id = required(req.resource_id, "ResourceId")?;
    let configuration = required(req.configuration, "Configuration")?;
    check_resource_type(&resource_type)?;
    let tags = req.tags.unwrap_or_default();
    if req.schema_version_id.as_deref() == Some(ENVELOPE_SCHEMA_VERSION) {
        let mut value: Value = serde_json::from_str(&configuration)
            .map_err(|e| ApiError::validation(format!("Configuration is not valid JSON: {e}")))?;
        let obj = value.as_object_mut().ok_or_else(|| {
            ApiError::validation("Configuration must hold a configuration item object.")
        })?;
        for (member, expected) in [
            ("resourceType", &resource_type),
            ("resourceId", &resource_id),
        ] {
            match obj.get(member).and_then(Value::as_str) {
                None => {
                    obj.insert(member.to_string(), Value::String(expected.clone()));
                }
                Some(v) if v == expected => {}
                Some(v) => {
                    return Err(ApiError::validation(format!(
                        "The configuration item's {member} '{v}' does not match the request's '{expected}'."
                    )))
                }
            }
        }
        let parsed = parse_item(&value)
            .map_err(|e| ApiError::validation(format!("Invalid configuration item: {e}")))?;
        if parsed
            .account
            .as_ref()
            .is_some_and(|a| a != &ctx.scope.account)
            || parsed
                .region
                .as_ref()
                .is_some_and(|r| r != &ctx.scope.region)
        {
            return Err(ApiError::validation(
                "The configuration item names another account or region than the credential signing the request.",
            ));
        }
        let mut item = parsed.item;
        if item.resource_name.is_none() {
            item.resource_name = req.resource_name;
        }
        item.tags.extend(tags);
        return Ok(item);
    }
    if configuration.len() > MAX_CONFIGURATION_BYTES {
        return Err(ApiError::validation(format!(
            "Configuration is {} bytes; the limit is {MAX_CONFIGURATION_BYTES}.",
            configuration.len()
        )));
    }
    let document = match serde_json::from_str::<Value>(&configuration) {
        Ok(v @ Value::Object(_)) => v,
        _ => return Err(ApiError::validation("Configuration must be a JSON object.")),
    };
    Ok(NewConfigurationItem {
        resource_type,
        resource_id,
        resource_name: req.resource_name,
        arn: None,
        availability_zone: None,
        resource_creation_time: None,
        capture_time: None,
        status: None,
        configuration: document,
        supplementary_configuration: Default::default(),
        tags,
        relationships: Vec::new(),
    })
}

pub async fn put_resource_config(
    app: &App,
    ctx: &RequestContext,
    req: PutResourceConfigRequest,
) -> ApiResult<Empty> {
    let item = item_from_request(ctx, req)?;
    match app
        .store
        .record_configuration_item(&ctx.scope, item, Some(app.settings.max_custom_resources))
        .await
    {
        Ok(_) => Ok(Empty {}),
        Err(StoreError::LimitExceeded(max)) => Err(ApiError::client(
            "MaxActiveResourcesExceededException",
            format!("The maximum of {max} active custom resources has been reached; delete some before recording more."),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete_resource_config(
    app: &App,
    ctx: &RequestContext,
    req: DeleteResourceConfigRequest,
) -> ApiResult<Empty> {
    let resource_type = required(req.resource_type, "ResourceType")?;
    let resource_id = required(req.resource_id, "ResourceId")?;
    let latest = app
        .store
        .latest_configuration_item(&ctx.scope, &resource_type, &resource_id)
        .await?
        .filter(|ci| !is_deleted_status(&ci.status))
        .ok_or_else(|| not_discovered(&resource_type, &resource_id))?;
    let tombstone = NewConfigurationItem {
        resource_type,
        resource_id,
        resource_name: latest.resource_name,
        arn: latest.arn,
        availability_zone: latest.availability_zone,
        resource_creation_time: latest.resource_creation_time,
        capture_time: None,
        status: Some(STATUS_DELETED.to_string()),
        configuration: Value::Null,
        supplementary_configuration: Default::default(),
        tags: Default::default(),
        relationships: Vec::new(),
    };
    app.store
        .record_configuration_item(&ctx.scope, tombstone, None)
        .await?;
    Ok(Empty {})
}

pub async fn get_history(
    app: &App,
    ctx: &RequestContext,
    req: GetResourceConfigHistoryRequest,
) -> ApiResult<GetResourceConfigHistoryResponse> {
    const OP: &str = "GetResourceConfigHistory";
    let resource_type = required(req.resource_type, "resourceType")?
        .as_str()
        .to_string();
    let resource_id = required(req.resource_id, "resourceId")?;
    if let (Some(earlier), Some(later)) = (req.earlier_time, req.later_time) {
        if earlier > later {
            return Err(ApiError::client(
                "InvalidTimeRangeException",
                "The earlierTime can not be later than the laterTime.",
            ));
        }
    }
    if app
        .store
        .latest_configuration_item(&ctx.scope, &resource_type, &resource_id)
        .await?
        .is_none()
    {
        return Err(not_discovered(&resource_type, &resource_id));
    }
    let limit = match req.limit {
        None | Some(0) => 10,
        Some(n) => n as usize,
    };
    let forward = matches!(req.chronological_order, Some(ChronologicalOrder::Forward));
    let after_state_id: Option<i64> = pagination::decode(OP, req.next_token.as_deref())?;
    let query = HistoryQuery {
        resource_type,
        resource_id,
        earlier_time: req.earlier_time,
        later_time: req.later_time,
        forward,
        after_state_id,
        limit: limit + 1,
    };
    let rows = app.store.configuration_history(&ctx.scope, &query).await?;
    let (rows, next_token) = pagination::page(OP, rows, limit, |ci| ci.state_id);
    Ok(GetResourceConfigHistoryResponse {
        configuration_items: Some(rows.iter().map(|ci| ci.to_wire()).collect()),
        next_token,
    })
}

pub async fn batch_get(
    app: &App,
    ctx: &RequestContext,
    req: BatchGetResourceConfigRequest,
) -> ApiResult<BatchGetResourceConfigResponse> {
    let keys = required(req.resource_keys, "resourceKeys")?;
    let mut items = Vec::with_capacity(keys.len());
    for key in keys {
        let (Some(t), Some(id)) = (key.resource_type.as_ref(), key.resource_id.as_ref()) else {
            continue;
        };
        if let Some(ci) = app
            .store
            .latest_configuration_item(&ctx.scope, t.as_str(), id)
            .await?
        {
            if !is_deleted_status(&ci.status) {
                items.push(ci.to_wire_base());
            }
        }
    }
    Ok(BatchGetResourceConfigResponse {
        base_configuration_items: Some(items),
        unprocessed_resource_keys: Some(Vec::new()),
    })
}

pub async fn list_discovered(
    app: &App,
    ctx: &RequestContext,
    req: ListDiscoveredResourcesRequest,
) -> ApiResult<ListDiscoveredResourcesResponse> {
    const OP: &str = "ListDiscoveredResources";
    let resource_type = required(req.resource_type, "resourceType")?
        .as_str()
        .to_string();
    let resource_ids = req.resource_ids.unwrap_or_default();
    if !resource_ids.is_empty() && req.resource_name.is_some() {
        return Err(ApiError::validation(
            "Both Resource ID and Resource Name cannot be specified in the request",
        ));
    }
    if resource_ids.len() > MAX_LISTED_IDS {
        return Err(ApiError::validation(format!(
            "The specified list had more than {MAX_LISTED_IDS} resource ID's. It must have '{MAX_LISTED_IDS}' or less items"
        )));
    }
    let limit = match req.limit {
        None | Some(0) => 100,
        Some(n) => n as usize,
    };
    let query = DiscoveredQuery {
        resource_type: resource_type.clone(),
        resource_ids,
        resource_name: req.resource_name,
        include_deleted: req.include_deleted_resources.unwrap_or(false),
        after_id: pagination::decode(OP, req.next_token.as_deref())?,
        limit: limit + 1,
    };
    let rows = app
        .store
        .list_discovered_resources(&ctx.scope, &query)
        .await?;
    let (rows, next_token) = pagination::page(OP, rows, limit, |r| r.resource_id.clone());
    Ok(ListDiscoveredResourcesResponse {
        resource_identifiers: Some(
            rows.into_iter()
                .map(|r| ResourceIdentifier {
                    resource_type: Some(ResourceType::from_wire(&r.resource_type)),
                    resource_id: Some(r.resource_id),
                    resource_name: r.resource_name,
                    resource_deletion_time: r.deletion_time,
                })
                .collect(),
        ),
        next_token,
    })
}
