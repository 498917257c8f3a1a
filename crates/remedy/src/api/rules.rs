//! PutConfigRule, DescribeConfigRules, DeleteConfigRule.
//!
//! A rule is created on first put (name required; id and ARN generated) and updated by name, id or
//! ARN afterwards. The checks AWS applies at put time — managed-rule identifiers and parameters,
//! source details per owner, scope combinations, output-only members — live here; the rule limit
//! and the remediation-configuration guard on delete are enforced atomically by the store.

use std::ops::Bound;

use rand::Rng;
use remedy_wire::config::{
    ConfigRule, ConfigRuleState, DeleteConfigRuleRequest, DescribeConfigRulesRequest,
    DescribeConfigRulesResponse, EvaluationMode, EvaluationModeConfiguration,
    MaximumExecutionFrequency, MessageType, Owner, PutConfigRuleRequest, Source,
};
use serde_json::Value;

use super::{required, Empty};
use crate::app::App;
use crate::domain::{RuleRecord, Scope, Tag};
use crate::error::{ApiError, ApiResult};
use crate::pagination;
use crate::protocol::RequestContext;
use crate::store::{RuleSelector, StoreError};

/// DescribeConfigRules page size (AWS does not document one; its console pages by 25).
const DESCRIBE_PAGE: usize = 25;

fn new_rule_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let suffix: String = (0..6)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("config-rule-{suffix}")
}

pub async fn put_config_rule(
    app: &App,
    ctx: &RequestContext,
    req: PutConfigRuleRequest,
) -> ApiResult<Empty> {
    let scope = &ctx.scope;
    let mut rule = required(req.config_rule, "ConfigRule")?;
    if rule.config_rule_arn.is_none() && rule.config_rule_id.is_none() {
        return put_config_rule_by_name(app, ctx, rule, req.tags).await;
    }
    let existing = find_existing(app, scope, &rule).await?;

    check_output_only_members(&rule)?;
    check_source(app, &rule)?;
    check_scope(&rule)?;
    apply_defaults(app, &mut rule);

    match existing {
        Some(current) => {
            if let Some(name) = &rule.config_rule_name {
                if name != &current.name {
                    return Err(ApiError::invalid_parameter(format!(
                        "The ConfigRuleName '{name}' does not match the rule identified by ConfigRuleId/ConfigRuleArn ('{}'). A rule cannot be renamed.",
                        current.name
                    )));
                }
            }
            // Tags are applied only at creation; later puts ignore them (AWS documents this).
            let record = finish(rule, current.name, current.id, current.arn);
            app.store
                .update_rule(scope, &record)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => ApiError::no_such_config_rule(&record.name),
                    e => e.into(),
                })?;
            Ok(Empty {})
        }
        None => {
            let name = rule.config_rule_name.clone().ok_or_else(|| {
                ApiError::invalid_parameter(
                    "ConfigRuleName is required when creating a new ConfigRule.",
                )
            })?;
            let id = new_rule_id();
            let arn = scope.config_arn(&format!("config-rule/{id}"));
            let record = finish(rule, name.clone(), id, arn);
            let tags: Vec<Tag> = req
                .tags
                .unwrap_or_default()
                .into_iter()
                .map(|t| Tag {
                    key: t.key.unwrap_or_default(),
                    value: t.value.unwrap_or_default(),
                })
                .collect();
            match app.store.insert_rule(scope, &record, &tags, app.settings.max_rules).await {
                Ok(()) => Ok(Empty {}),
                Err(StoreError::LimitExceeded(max)) => Err(ApiError::client(
                    "MaxNumberOfConfigRulesExceededException",
                    format!("Failed to put config rule '{name}' because the maximum number of config rules: {max} is reached."),
                )),
                // A concurrent put created it first: this put is an update of that rule.
                Err(StoreError::AlreadyExists) => {
                    let current = app
                        .store
                        .get_rule(scope, &RuleSelector::Name(name.clone()))
                        .await?
                        .ok_or_else(|| ApiError::no_such_config_rule(&name))?;
                    let record = finish(record.rule, current.name, current.id, current.arn);
                    app.store.update_rule(scope, &record).await?;
                    Ok(Empty {})
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// A put that names its rule (no ARN, no id): a create or an update decided inside the store's
/// one write, so the durable write is not preceded by a read (issue 7).
async fn put_config_rule_by_name(
    app: &App,
    ctx: &RequestContext,
    mut rule: ConfigRule,
    tags: Option<Vec<remedy_wire::config::Tag>>,
) -> ApiResult<Empty> {
    let scope = &ctx.scope;
    let name = rule.config_rule_name.clone().ok_or_else(|| {
        ApiError::invalid_parameter("ConfigRuleName is required when creating a new ConfigRule.")
    })?;
    check_output_only_members(&rule)?;
    check_source(app, &rule)?;
    check_scope(&rule)?;
    apply_defaults(app, &mut rule);
    let id = new_rule_id();
    let arn = scope.config_arn(&format!("config-rule/{id}"));
    let record = finish(rule, name.clone(), id, arn);
    // Tags are applied only at creation; later puts ignore them (AWS documents this).
    let tags: Vec<Tag> = tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| Tag {
            key: t.key.unwrap_or_default(),
            value: t.value.unwrap_or_default(),
        })
        .collect();
    match app
        .store
        .put_rule_by_name(scope, &record, &tags, app.settings.max_rules)
        .await
    {
        Ok(()) => Ok(Empty {}),
        Err(StoreError::LimitExceeded(max)) => Err(ApiError::client(
            "MaxNumberOfConfigRulesExceededException",
            format!("Failed to put config rule '{name}' because the maximum number of config rules: {max} is reached."),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Which stored rule a put addresses, if any. An ARN or id that names nothing is an error: they
/// can only be given to update.
async fn find_existing(
    app: &App,
    scope: &Scope,
    rule: &ConfigRule,
) -> ApiResult<Option<RuleRecord>> {
    let by_identity = match (&rule.config_rule_arn, &rule.config_rule_id) {
        (Some(arn), _) => Some(RuleSelector::Arn(arn.clone())),
        (None, Some(id)) => Some(RuleSelector::Id(id.clone())),
        (None, None) => None,
    };
    if let Some(selector) = by_identity {
        return match app.store.get_rule(scope, &selector).await? {
            Some(r) => Ok(Some(r)),
            None => Err(ApiError::invalid_parameter(
                "ConfigRule Arn and Id can not be specified when creating a new ConfigRule. Please remove them and try again, or specify an existing rule to update.",
            )),
        };
    }
    match &rule.config_rule_name {
        Some(name) => Ok(app
            .store
            .get_rule(scope, &RuleSelector::Name(name.clone()))
            .await?),
        None => Err(ApiError::invalid_parameter(
            "ConfigRuleName is required when creating a new ConfigRule.",
        )),
    }
}

fn finish(mut rule: ConfigRule, name: String, id: String, arn: String) -> RuleRecord {
    rule.config_rule_name = Some(name.clone());
    rule.config_rule_id = Some(id.clone());
    rule.config_rule_arn = Some(arn.clone());
    rule.config_rule_state = Some(ConfigRuleState::Active);
    RuleRecord {
        name,
        id,
        arn,
        rule,
    }
}

fn check_output_only_members(rule: &ConfigRule) -> ApiResult<()> {
    if let Some(state) = &rule.config_rule_state {
        if *state != ConfigRuleState::Active {
            return Err(ApiError::invalid_parameter(format!(
                "The ConfigRuleState {state} is invalid. Only the following values are permitted: ACTIVE"
            )));
        }
    }
    if rule.created_by.is_some() {
        return Err(ApiError::invalid_parameter(
            "AWS Config populates the CreatedBy field automatically when a service-linked rule is created; it cannot be set.",
        ));
    }
    Ok(())
}

/// Parses `InputParameters`, which must hold a JSON object.
fn input_parameters(rule: &ConfigRule) -> ApiResult<serde_json::Map<String, Value>> {
    match rule.input_parameters.as_deref() {
        None | Some("") => Ok(serde_json::Map::new()),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(ApiError::invalid_parameter(format!(
                "Invalid json {text} passed in the InputParameters field"
            ))),
        },
    }
}

fn check_source(app: &App, rule: &ConfigRule) -> ApiResult<()> {
    let source = rule.source.clone().unwrap_or_default();
    let details = source.source_details.clone().unwrap_or_default();
    let params = input_parameters(rule)?;
    let owner = source
        .owner
        .clone()
        .unwrap_or(Owner::Unrecognized(String::new()));
    if owner != Owner::CustomPolicy && source.custom_policy_details.is_some() {
        return Err(ApiError::invalid_parameter(
            "CustomPolicyDetails can be specified only when the owner is CUSTOM_POLICY.",
        ));
    }
    match owner {
        Owner::Aws => check_managed_source(app, rule, &source, &params),
        Owner::CustomLambda => {
            let Some(identifier) = source
                .source_identifier
                .as_deref()
                .filter(|s| !s.is_empty())
            else {
                return Err(ApiError::invalid_parameter(
                    "SourceIdentifier (the Lambda function ARN) is required when the owner is CUSTOM_LAMBDA.",
                ));
            };
            if !identifier.starts_with("arn:") || !identifier.contains(":lambda:") {
                return Err(ApiError::invalid_parameter(format!(
                    "The sourceIdentifier {identifier} is invalid. When the owner is CUSTOM_LAMBDA it must be a Lambda function ARN."
                )));
            }
            if details.is_empty() {
                return Err(ApiError::invalid_parameter(
                    "SourceDetails should be provided if the owner is CUSTOM_LAMBDA.",
                ));
            }
            check_source_details(&source, false)
        }
        Owner::CustomPolicy => {
            let Some(policy) = &source.custom_policy_details else {
                return Err(ApiError::invalid_parameter(
                    "CustomPolicyDetails is required when the owner is CUSTOM_POLICY.",
                ));
            };
            crate::evaluation::guard::validate_policy(policy.policy_text.as_deref().unwrap_or(""))
                .map_err(|e| {
                    ApiError::invalid_parameter(format!("The policy text is invalid: {e}"))
                })?;
            check_source_details(&source, true)
        }
        Owner::Unrecognized(_) => Ok(()), // validation already reported it
    }
}

fn check_managed_source(
    app: &App,
    rule: &ConfigRule,
    source: &Source,
    params: &serde_json::Map<String, Value>,
) -> ApiResult<()> {
    let identifier = source.source_identifier.as_deref().unwrap_or("");
    let Some(managed) = app.managed_rules.get(identifier) else {
        return Err(ApiError::invalid_parameter(format!(
            "The sourceIdentifier {identifier} is invalid. Please refer to the documentation for a list of valid sourceIdentifiers that can be used when AWS is the Owner."
        )));
    };
    if source
        .source_details
        .as_ref()
        .is_some_and(|d| !d.is_empty())
    {
        return Err(ApiError::invalid_parameter(
            "SourceDetails should be null/empty if the owner is AWS. SourceDetails should be provided if the owner is CUSTOM_LAMBDA.",
        ));
    }
    let unknown: Vec<&str> = params
        .keys()
        .filter(|k| !managed.parameters.iter().any(|p| &p.name == *k))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::invalid_parameter(format!(
            "Unknown parameters provided in the inputParameters: {}.",
            unknown.join(", ")
        )));
    }
    let missing: Vec<&str> = managed
        .parameters
        .iter()
        .filter(|p| !p.optional && p.default.is_none() && !params.contains_key(&p.name))
        .map(|p| p.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::invalid_parameter(format!(
            "The required parameter [{}] is not present in the inputParameters",
            missing.join(", ")
        )));
    }
    if rule.maximum_execution_frequency.is_some() && !managed.periodic {
        return Err(ApiError::invalid_parameter(
            "A maximum execution frequency for this rule is not allowed because only a change in resources triggers this managed rule.",
        ));
    }
    if !managed.change && rule.scope.as_ref().is_some_and(scope_is_set) {
        return Err(ApiError::invalid_parameter(
            "Scope is not supported for this managed rule because it is triggered only periodically.",
        ));
    }
    Ok(())
}

fn scope_is_set(scope: &remedy_wire::config::Scope) -> bool {
    scope
        .compliance_resource_types
        .as_ref()
        .is_some_and(|t| !t.is_empty())
        || scope.tag_key.is_some()
        || scope.tag_value.is_some()
        || scope.compliance_resource_id.is_some()
}

fn check_source_details(source: &Source, policy: bool) -> ApiResult<()> {
    for d in source.source_details.iter().flatten() {
        let kind = d.message_type.clone();
        if policy
            && !matches!(
                kind,
                None | Some(MessageType::ConfigurationItemChangeNotification)
                    | Some(MessageType::OversizedConfigurationItemChangeNotification)
            )
        {
            return Err(ApiError::invalid_parameter(
                "Only ConfigurationItemChangeNotification and OversizedConfigurationItemChangeNotification message types are supported for CUSTOM_POLICY rules.",
            ));
        }
        if d.maximum_execution_frequency.is_some()
            && !matches!(kind, Some(MessageType::ScheduledNotification))
        {
            return Err(ApiError::invalid_parameter(
                "A MaximumExecutionFrequency can be set only on a SourceDetail whose MessageType is ScheduledNotification.",
            ));
        }
    }
    Ok(())
}

fn check_scope(rule: &ConfigRule) -> ApiResult<()> {
    let Some(scope) = &rule.scope else {
        return Ok(());
    };
    let types = scope.compliance_resource_types.as_deref().unwrap_or(&[]);
    if scope.tag_value.is_some() && scope.tag_key.is_none() {
        return Err(ApiError::invalid_parameter(
            "Scope TagValue cannot be specified without a TagKey.",
        ));
    }
    if scope.tag_key.is_some() && !types.is_empty() {
        return Err(ApiError::invalid_parameter(
            "Scope cannot combine ComplianceResourceTypes with TagKey/TagValue: choose resource types or tags.",
        ));
    }
    if scope.compliance_resource_id.is_some() && types.len() != 1 {
        return Err(ApiError::invalid_parameter(
            "A ComplianceResourceId in the Scope requires exactly one ComplianceResourceTypes entry.",
        ));
    }
    Ok(())
}

/// A managed rule that only runs periodically: the one kind whose rule-level
/// `MaximumExecutionFrequency` AWS defaults. Custom rules carry their frequency per SourceDetail,
/// so a rule-level default there would contradict (and shadow) what the caller set.
fn is_periodic_managed(app: &App, rule: &ConfigRule) -> bool {
    let source = rule.source.as_ref();
    match source.and_then(|s| s.owner.clone()) {
        Some(Owner::Aws) => source
            .and_then(|s| s.source_identifier.as_deref())
            .and_then(|id| app.managed_rules.get(id))
            .is_some_and(|m| m.periodic && !m.change),
        _ => false,
    }
}

fn apply_defaults(app: &App, rule: &mut ConfigRule) {
    if rule.evaluation_modes.as_ref().is_none_or(|m| m.is_empty()) {
        rule.evaluation_modes = Some(vec![EvaluationModeConfiguration {
            mode: Some(EvaluationMode::Detective),
        }]);
    }
    if rule.maximum_execution_frequency.is_none() && is_periodic_managed(app, rule) {
        rule.maximum_execution_frequency = Some(MaximumExecutionFrequency::TwentyFourHours);
    }
}

/// DescribeConfigRules from request body to response body. Without an evaluation-mode filter
/// the stored rules' JSON is the answer as it stands, so it is copied into the response rather
/// than decoded into `ConfigRule`s and encoded again (which was most of the operation's cost:
/// issue 7's profile), from the account's rules kept in memory (`App::rule_bodies`, checked
/// against the store on every call). With a filter the rules must be read, so it is the typed
/// path.
pub async fn describe_config_rules_encoded(
    app: &App,
    ctx: &RequestContext,
    body: &[u8],
) -> ApiResult<Vec<u8>> {
    let req: DescribeConfigRulesRequest = remedy_wire::decode(body)?;
    if req
        .filters
        .as_ref()
        .is_some_and(|f| f.evaluation_mode.is_some())
    {
        return Ok(remedy_wire::encode(
            &describe_config_rules(app, ctx, req).await?,
        ));
    }
    let scope = &ctx.scope;
    let rules = app
        .rule_bodies
        .get(app.store.as_ref(), scope, || {
            crate::rule_sets::load_bodies(app.store.as_ref(), scope)
        })
        .await?;
    let names = req.config_rule_names.unwrap_or_default();
    let (bodies, next_token) = if !names.is_empty() {
        let bodies = names
            .iter()
            .map(|name| {
                rules
                    .get(name)
                    .map(String::as_str)
                    .ok_or_else(|| ApiError::no_such_config_rule(name))
            })
            .collect::<ApiResult<Vec<&str>>>()?;
        (bodies, None)
    } else {
        const OP: &str = "DescribeConfigRules";
        let after: Option<String> = pagination::decode(OP, req.next_token.as_deref())?;
        let from = match &after {
            Some(name) => Bound::Excluded(name.as_str()),
            None => Bound::Unbounded,
        };
        let rows: Vec<(&String, &String)> = rules
            .range::<str, _>((from, Bound::Unbounded))
            .take(DESCRIBE_PAGE + 1)
            .collect();
        let (rows, token) = pagination::page(OP, rows, DESCRIBE_PAGE, |(name, _)| *name);
        (
            rows.into_iter().map(|(_, body)| body.as_str()).collect(),
            token,
        )
    };
    let mut out = Vec::with_capacity(32 + bodies.iter().map(|b| b.len() + 1).sum::<usize>());
    out.extend_from_slice(b"{\"ConfigRules\":[");
    for (i, b) in bodies.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b.as_bytes());
    }
    out.push(b']');
    if let Some(token) = next_token {
        out.extend_from_slice(b",\"NextToken\":");
        out.extend_from_slice(&remedy_wire::encode(&token));
    }
    out.push(b'}');
    Ok(out)
}

pub async fn describe_config_rules(
    app: &App,
    ctx: &RequestContext,
    req: DescribeConfigRulesRequest,
) -> ApiResult<DescribeConfigRulesResponse> {
    let scope = &ctx.scope;
    let mode = req.filters.as_ref().and_then(|f| f.evaluation_mode.clone());
    let matches_filter = |r: &RuleRecord| match &mode {
        None => true,
        Some(m) => r
            .rule
            .evaluation_modes
            .iter()
            .flatten()
            .any(|c| c.mode.as_ref() == Some(m)),
    };
    let names = req.config_rule_names.unwrap_or_default();
    if !names.is_empty() {
        let mut rules = Vec::with_capacity(names.len());
        for rule in super::existing_rules(app, scope, &names).await? {
            if matches_filter(&rule) {
                rules.push(rule.rule);
            }
        }
        return Ok(DescribeConfigRulesResponse {
            config_rules: Some(rules),
            next_token: None,
        });
    }
    const OP: &str = "DescribeConfigRules";
    const BATCH: usize = 100;
    let mut after: Option<String> = pagination::decode(OP, req.next_token.as_deref())?;
    let mut matched = Vec::new();
    // Filters apply after the keyset read, so read on until one row more than a page matched.
    // Without a filter every row matches: one page and one row are all there is to read.
    let batch_size = if mode.is_none() {
        DESCRIBE_PAGE + 1
    } else {
        BATCH
    };
    loop {
        let batch = app
            .store
            .list_rules(scope, after.as_deref(), batch_size)
            .await?;
        let exhausted = batch.len() < batch_size;
        for r in batch {
            after = Some(r.name.clone());
            if matches_filter(&r) {
                matched.push(r);
            }
            if matched.len() > DESCRIBE_PAGE {
                break;
            }
        }
        if exhausted || matched.len() > DESCRIBE_PAGE {
            break;
        }
    }
    let (rules, next_token) = pagination::page(OP, matched, DESCRIBE_PAGE, |r| r.name.clone());
    Ok(DescribeConfigRulesResponse {
        config_rules: Some(rules.into_iter().map(|r| r.rule).collect()),
        next_token,
    })
}

pub async fn delete_config_rule(
    app: &App,
    ctx: &RequestContext,
    req: DeleteConfigRuleRequest,
) -> ApiResult<Empty> {
    let name = required(req.config_rule_name, "ConfigRuleName")?;
    match app.store.delete_rule(&ctx.scope, &name).await {
        Ok(()) => Ok(Empty {}),
        Err(StoreError::NotFound) => Err(ApiError::no_such_config_rule(&name)),
        Err(StoreError::RuleHasRemediationConfiguration) => Err(ApiError::client(
            "ResourceInUseException",
            format!("The rule {name} currently has a RemediationConfiguration. Please delete the RemediationConfiguration and try again."),
        )),
        Err(e) => Err(e.into()),
    }
}
