//! TagResource, UntagResource, ListTagsForResource on taggable Config resources (rules so far).
//!
//! Tagging merges: keys not mentioned stay, mentioned keys take the new value; more than 50 tags
//! on one resource is refused whole.

use remedy_wire::config::{
    ListTagsForResourceRequest, ListTagsForResourceResponse, TagResourceRequest,
    UntagResourceRequest,
};

use super::{required, Empty};
use crate::app::App;
use crate::domain::Tag;
use crate::error::{ApiError, ApiResult};
use crate::pagination;
use crate::protocol::RequestContext;
use crate::store::StoreError;

/// Tags per resource (AWS Config's documented limit).
pub const MAX_TAGS: usize = 50;

fn not_found(arn: &str) -> ApiError {
    ApiError::client(
        "ResourceNotFoundException",
        format!("ResourceArn '{arn}' does not exist"),
    )
}

pub async fn tag_resource(
    app: &App,
    ctx: &RequestContext,
    req: TagResourceRequest,
) -> ApiResult<Empty> {
    let arn = required(req.resource_arn, "ResourceArn")?;
    let tags: Vec<Tag> = required(req.tags, "Tags")?
        .into_iter()
        .map(|t| Tag {
            key: t.key.unwrap_or_default(),
            value: t.value.unwrap_or_default(),
        })
        .collect();
    if let Some(t) = tags.iter().find(|t| t.key.is_empty()) {
        return Err(ApiError::validation(format!(
            "Tag keys must not be empty (value '{}').",
            t.value
        )));
    }
    match app
        .store
        .tag_resource(&ctx.scope, &arn, &tags, MAX_TAGS)
        .await
    {
        Ok(()) => Ok(Empty {}),
        Err(StoreError::NotFound) => Err(not_found(&arn)),
        Err(StoreError::LimitExceeded(max)) => Err(ApiError::client(
            "TooManyTagsException",
            format!("The resource {arn} would have more than {max} tags."),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn untag_resource(
    app: &App,
    ctx: &RequestContext,
    req: UntagResourceRequest,
) -> ApiResult<Empty> {
    let arn = required(req.resource_arn, "ResourceArn")?;
    let keys = required(req.tag_keys, "TagKeys")?;
    match app.store.untag_resource(&ctx.scope, &arn, &keys).await {
        Ok(()) => Ok(Empty {}),
        Err(StoreError::NotFound) => Err(not_found(&arn)),
        Err(e) => Err(e.into()),
    }
}

pub async fn list_tags_for_resource(
    app: &App,
    ctx: &RequestContext,
    req: ListTagsForResourceRequest,
) -> ApiResult<ListTagsForResourceResponse> {
    const OP: &str = "ListTagsForResource";
    let arn = required(req.resource_arn, "ResourceArn")?;
    let limit = match req.limit {
        None | Some(0) => MAX_TAGS,
        Some(n) => (n as usize).min(MAX_TAGS),
    };
    let after: Option<String> = pagination::decode(OP, req.next_token.as_deref())?;
    let rows = match app
        .store
        .list_tags(&ctx.scope, &arn, after.as_deref(), limit + 1)
        .await
    {
        Ok(rows) => rows,
        Err(StoreError::NotFound) => return Err(not_found(&arn)),
        Err(e) => return Err(e.into()),
    };
    let (rows, next_token) = pagination::page(OP, rows, limit, |t| t.key.clone());
    Ok(ListTagsForResourceResponse {
        tags: Some(
            rows.into_iter()
                .map(|t| remedy_wire::config::Tag {
                    key: Some(t.key),
                    value: Some(t.value),
                })
                .collect(),
        ),
        next_token,
    })
}
