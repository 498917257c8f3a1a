//! TagResource, UntagResource and ListTagsForResource on config rules, through the official SDK.

mod common;

use common::config::types::Tag;
use common::*;

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

fn numbered(range: std::ops::Range<usize>) -> Vec<Tag> {
    range
        .map(|i| tag(&format!("key-{i:02}"), &format!("value-{i}")))
        .collect()
}

async fn rule_arn(c: &config::Client, name: &str) -> String {
    let out = c
        .describe_config_rules()
        .config_rule_names(name)
        .send()
        .await
        .unwrap();
    out.config_rules()[0].config_rule_arn().unwrap().to_string()
}

/// Every tag of a resource, through the SDK paginator.
async fn all_tags(c: &config::Client, arn: &str) -> Vec<(String, String)> {
    let pages: Vec<_> = c
        .list_tags_for_resource()
        .resource_arn(arn)
        .into_paginator()
        .send()
        .collect()
        .await;
    pages
        .into_iter()
        .flat_map(|p| p.unwrap().tags().to_vec())
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn tag_untag_list_round_trip() {
    let server = Server::start();
    let c = server.client();

    // Tags given at creation are listed; on a later put they are ignored.
    c.put_config_rule()
        .config_rule(managed_rule("tagged"))
        .tags(tag("team", "security"))
        .tags(tag("env", "prod"))
        .send()
        .await
        .unwrap();
    let arn = rule_arn(&c, "tagged").await;
    assert_eq!(
        all_tags(&c, &arn).await,
        pairs(&[("env", "prod"), ("team", "security")])
    );
    c.put_config_rule()
        .config_rule(managed_rule("tagged"))
        .tags(tag("team", "changed"))
        .tags(tag("added", "on-update"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        all_tags(&c, &arn).await,
        pairs(&[("env", "prod"), ("team", "security")])
    );

    // TagResource merges: new keys are added, existing keys take the new value.
    c.tag_resource()
        .resource_arn(&arn)
        .tags(tag("team", "platform"))
        .tags(tag("cost-center", "42"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        all_tags(&c, &arn).await,
        pairs(&[("cost-center", "42"), ("env", "prod"), ("team", "platform")])
    );

    // UntagResource removes the named keys; unknown keys are ignored.
    c.untag_resource()
        .resource_arn(&arn)
        .tag_keys("env")
        .tag_keys("not-there")
        .send()
        .await
        .unwrap();
    assert_eq!(
        all_tags(&c, &arn).await,
        pairs(&[("cost-center", "42"), ("team", "platform")])
    );

    // Tags belong to one rule.
    c.put_config_rule()
        .config_rule(managed_rule("plain"))
        .send()
        .await
        .unwrap();
    let plain = rule_arn(&c, "plain").await;
    let out = c
        .list_tags_for_resource()
        .resource_arn(&plain)
        .send()
        .await
        .unwrap();
    assert!(out.tags().is_empty());
    assert_eq!(out.next_token(), None);

    // An empty value is a value.
    c.tag_resource()
        .resource_arn(&plain)
        .tags(tag("flag", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(all_tags(&c, &plain).await, pairs(&[("flag", "")]));

    // Unknown ARNs, for all three operations.
    let ghost = "arn:aws:config:us-east-1:000000000000:config-rule/config-rule-zzzzzz";
    let err = c
        .tag_resource()
        .resource_arn(ghost)
        .tags(tag("a", "b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    assert_eq!(
        error_message(&err),
        format!("ResourceArn '{ghost}' does not exist")
    );
    let err = c
        .untag_resource()
        .resource_arn(ghost)
        .tag_keys("a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    let err = c
        .list_tags_for_resource()
        .resource_arn(ghost)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    // A rule's ARN is not visible from another region.
    let west = server.client_as("test", "test", "us-west-2");
    let err = west
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");

    // Model constraints: empty tag lists, empty keys.
    let err = c
        .tag_resource()
        .resource_arn(&arn)
        .set_tags(Some(vec![]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    let err = c
        .untag_resource()
        .resource_arn(&arn)
        .set_tag_keys(Some(vec![]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    let res = server.call(
        "StarlingDoveService.TagResource",
        &serde_json::json!({"ResourceArn": arn, "Tags": [{"Key": "", "Value": "v"}]}).to_string(),
    );
    assert_eq!(res.error_type(), "ValidationException");
    assert_eq!(
        res.message(),
        "1 validation error detected: Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
    assert_eq!(
        all_tags(&c, &arn).await,
        pairs(&[("cost-center", "42"), ("team", "platform")])
    );
}

#[tokio::test]
async fn tag_limits_and_paging() {
    let server = Server::start();
    let c = server.client();
    c.put_config_rule()
        .config_rule(managed_rule("r"))
        .send()
        .await
        .unwrap();
    let arn = rule_arn(&c, "r").await;

    // 45 existing + 5 new = 50: fine.
    c.tag_resource()
        .resource_arn(&arn)
        .set_tags(Some(numbered(0..45)))
        .send()
        .await
        .unwrap();
    c.tag_resource()
        .resource_arn(&arn)
        .set_tags(Some(numbered(45..50)))
        .send()
        .await
        .unwrap();
    assert_eq!(all_tags(&c, &arn).await.len(), 50);
    // Re-tagging existing keys at the limit is a merge, not growth.
    c.tag_resource()
        .resource_arn(&arn)
        .tags(tag("key-00", "new"))
        .send()
        .await
        .unwrap();
    // One more key: too many, and nothing of that call is applied.
    let err = c
        .tag_resource()
        .resource_arn(&arn)
        .tags(tag("key-01", "should-not-stick"))
        .tags(tag("key-50", "one-too-many"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "TooManyTagsException");
    assert!(
        error_message(&err).contains("50"),
        "{}",
        error_message(&err)
    );
    let tags = all_tags(&c, &arn).await;
    assert_eq!(tags.len(), 50);
    assert_eq!(tags[0], ("key-00".to_string(), "new".to_string()));
    assert_eq!(tags[1], ("key-01".to_string(), "value-1".to_string()));
    assert!(!tags.iter().any(|(k, _)| k == "key-50"));

    // 51 in one call is a model violation.
    let err = c
        .tag_resource()
        .resource_arn(&arn)
        .set_tags(Some(numbered(0..51)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");

    // Paging with Limit 20 over 50 tags: 20 / 20 / 10, in key order.
    let mut sizes = Vec::new();
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .list_tags_for_resource()
            .resource_arn(&arn)
            .limit(20)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        sizes.push(out.tags().len());
        keys.extend(out.tags().iter().map(|t| t.key().unwrap().to_string()));
        match out.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(sizes, vec![20, 20, 10]);
    let expected: Vec<String> = (0..50).map(|i| format!("key-{i:02}")).collect();
    assert_eq!(keys, expected);
    // The SDK paginator with the same limit.
    let pages: Vec<_> = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .limit(20)
        .into_paginator()
        .send()
        .collect()
        .await;
    let sizes: Vec<_> = pages.into_iter().map(|p| p.unwrap().tags().len()).collect();
    assert_eq!(sizes, vec![20, 20, 10]);
    // Default page: all 50 at once.
    let out = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(out.tags().len(), 50);
    assert_eq!(out.next_token(), None);

    // Limit above the model maximum, and a token that is not ours.
    let err = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .limit(101)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    assert_eq!(
        error_message(&err),
        "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"
    );
    let err = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .next_token("bogus")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidNextTokenException");

    // Untag many at once; 51 keys is a model violation.
    let fifty_one: Vec<String> = (0..51).map(|i| format!("key-{i:02}")).collect();
    let err = c
        .untag_resource()
        .resource_arn(&arn)
        .set_tag_keys(Some(fifty_one.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    c.untag_resource()
        .resource_arn(&arn)
        .set_tag_keys(Some(fifty_one[..40].to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(all_tags(&c, &arn).await.len(), 10);

    // Creation with 50 tags, then TagResource with one more key: too many.
    c.put_config_rule()
        .config_rule(managed_rule("full"))
        .set_tags(Some(numbered(0..50)))
        .send()
        .await
        .unwrap();
    let full = rule_arn(&c, "full").await;
    assert_eq!(all_tags(&c, &full).await.len(), 50);
    let err = c
        .tag_resource()
        .resource_arn(&full)
        .tags(tag("extra", "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "TooManyTagsException");
}
