//! AWS IAM: users (`AWS::IAM::User`, resourceId = the user id `AIDA…`, found by `UserName` =
//! `conf.userName` or the item's resource name) and the account password policy (the
//! account-level item `AWS::::Account`, resourceId = the account id).
//!
//! | API | Reads / writes (`conf.` = configuration) |
//! |---|---|
//! | GetUser | `conf.{path,userName,userId,arn,createDate,permissionsBoundary,tags}` → `{"User": {...}}` |
//! | ListUserPolicies / DeleteUserPolicy | `conf.userPolicyList[]{policyName,policyDocument}` (Delete of an unknown policy → `NoSuchEntity`) |
//! | ListAttachedUserPolicies / DetachUserPolicy | `conf.attachedManagedPolicies[]{policyName,policyArn}` (Detach of an unattached policy → `NoSuchEntity`) |
//! | GetAccountPasswordPolicy / UpdateAccountPasswordPolicy / DeleteAccountPasswordPolicy | the account item's `conf.passwordPolicy{minimumPasswordLength,requireSymbols,requireNumbers,requireUppercaseCharacters,requireLowercaseCharacters,allowUsersToChangePassword,expirePasswords,maxPasswordAge,passwordReusePrevention,hardExpiry}`. Update replaces the whole policy; omitted settings take IAM's defaults (length 8, everything else off) |
//!
//! Missing users: `NoSuchEntity` "The user with name <name> cannot be found."; no password
//! policy: `NoSuchEntity` "The Password Policy with domain name <account> cannot be found."

use serde_json::{json, Map, Value};

use super::{rec_array, rec_str, ConfigWorld, Params, WorldError, WorldResult};
use crate::domain::ConfigurationItem;

pub(crate) const USER: &str = "AWS::IAM::User";
const ACCOUNT: &str = "AWS::::Account";

pub(super) const APIS: &[&str] = &[
    "DeleteAccountPasswordPolicy",
    "DeleteUserPolicy",
    "DetachUserPolicy",
    "GetAccountPasswordPolicy",
    "GetUser",
    "ListAttachedUserPolicies",
    "ListUserPolicies",
    "UpdateAccountPasswordPolicy",
];

/// (API member, configuration member, is boolean, default).
const POLICY_FIELDS: &[(&str, &str, bool, i64)] = &[
    ("MinimumPasswordLength", "minimumPasswordLength", false, 8),
    ("RequireSymbols", "requireSymbols", true, 0),
    ("RequireNumbers", "requireNumbers", true, 0),
    (
        "RequireUppercaseCharacters",
        "requireUppercaseCharacters",
        true,
        0,
    ),
    (
        "RequireLowercaseCharacters",
        "requireLowercaseCharacters",
        true,
        0,
    ),
    (
        "AllowUsersToChangePassword",
        "allowUsersToChangePassword",
        true,
        0,
    ),
    ("MaxPasswordAge", "maxPasswordAge", false, 0),
    (
        "PasswordReusePrevention",
        "passwordReusePrevention",
        false,
        0,
    ),
    ("HardExpiry", "hardExpiry", true, 0),
];

pub(super) async fn call(w: &ConfigWorld, api: &str, p: Params<'_>) -> WorldResult<Value> {
    let account = w.scope().account.clone();
    let no_policy = || {
        WorldError::new(
            "NoSuchEntity",
            format!("The Password Policy with domain name {account} cannot be found."),
        )
    };
    match api {
        "GetAccountPasswordPolicy" => {
            let policy = w
                .current(ACCOUNT, &account)
                .await?
                .and_then(|ci| {
                    super::decoded(&ci.configuration)
                        .get("passwordPolicy")
                        .map(super::decoded)
                })
                .filter(Value::is_object)
                .ok_or_else(no_policy)?;
            Ok(json!({ "PasswordPolicy": super::pascal(&policy, &[]) }))
        }
        "UpdateAccountPasswordPolicy" => {
            let mut policy = Map::new();
            for (member, field, boolean, default) in POLICY_FIELDS {
                let v = if *boolean {
                    Value::Bool(p.opt_bool(member)?.unwrap_or(false))
                } else {
                    json!(p.opt_i64(member)?.unwrap_or(*default))
                };
                policy.insert(field.to_string(), v);
            }
            let max_age = policy
                .get("maxPasswordAge")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            policy.insert("expirePasswords".into(), json!(max_age > 0));
            w.update(ACCOUNT, &account, true, no_policy, |doc| {
                doc.set_conf("passwordPolicy", Value::Object(policy.clone()));
                Ok(())
            })
            .await?;
            Ok(json!({}))
        }
        "DeleteAccountPasswordPolicy" => {
            w.update(ACCOUNT, &account, false, no_policy, |doc| {
                if doc.conf("passwordPolicy").is_none() {
                    return Err(no_policy());
                }
                doc.set_conf("passwordPolicy", Value::Null);
                Ok(())
            })
            .await?;
            Ok(json!({}))
        }
        _ => user_call(w, api, p).await,
    }
}

async fn user_call(w: &ConfigWorld, api: &str, p: Params<'_>) -> WorldResult<Value> {
    let name = p.str("UserName")?;
    let not_found = || {
        WorldError::new(
            "NoSuchEntity",
            format!("The user with name {name} cannot be found."),
        )
    };
    let ci = find_user(w, name).await?.ok_or_else(not_found)?;
    let conf = super::decoded(&ci.configuration);
    match api {
        "GetUser" => {
            let mut user = Map::new();
            for (field, member) in [
                ("path", "Path"),
                ("userName", "UserName"),
                ("userId", "UserId"),
                ("arn", "Arn"),
                ("createDate", "CreateDate"),
            ] {
                if let Some(v) = conf.get(field).filter(|v| !v.is_null()) {
                    user.insert(member.into(), v.clone());
                }
            }
            user.entry("UserName").or_insert_with(|| json!(name));
            user.entry("UserId")
                .or_insert_with(|| json!(ci.resource_id));
            if let Some(b) = conf.get("permissionsBoundary").filter(|v| v.is_object()) {
                user.insert("PermissionsBoundary".into(), super::pascal(b, &[]));
            }
            let tags: Vec<Value> = rec_array(conf.get("tags"))
                .iter()
                .map(|t| super::pascal(t, &[]))
                .collect();
            if !tags.is_empty() {
                user.insert("Tags".into(), Value::Array(tags));
            }
            Ok(json!({ "User": user }))
        }
        "ListUserPolicies" => {
            let names: Vec<&str> = rec_array(conf.get("userPolicyList"))
                .iter()
                .filter_map(|x| rec_str(x.get("policyName")))
                .collect();
            Ok(json!({ "PolicyNames": names, "IsTruncated": false }))
        }
        "ListAttachedUserPolicies" => {
            let list: Vec<Value> = rec_array(conf.get("attachedManagedPolicies"))
                .iter()
                .map(|x| super::pascal(x, &[]))
                .collect();
            Ok(json!({ "AttachedPolicies": list, "IsTruncated": false }))
        }
        "DeleteUserPolicy" | "DetachUserPolicy" => {
            let (list_key, param, field) = if api == "DeleteUserPolicy" {
                ("userPolicyList", "PolicyName", "policyName")
            } else {
                ("attachedManagedPolicies", "PolicyArn", "policyArn")
            };
            let target = p.str(param)?.to_string();
            w.update(USER, &ci.resource_id, false, not_found, |doc| {
                let list: Vec<Value> = doc
                    .conf(list_key)
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default();
                let kept: Vec<Value> = list
                    .iter()
                    .filter(|x| rec_str(x.get(field)) != Some(target.as_str()))
                    .cloned()
                    .collect();
                if kept.len() == list.len() {
                    return Err(WorldError::new(
                        "NoSuchEntity",
                        if api == "DeleteUserPolicy" {
                            format!("The user policy with name {target} cannot be found.")
                        } else {
                            format!("Policy {target} was not found.")
                        },
                    ));
                }
                doc.set_conf(list_key, Value::Array(kept));
                Ok(())
            })
            .await?;
            Ok(json!({}))
        }
        _ => Err(super::unsupported("iam", api)),
    }
}

async fn find_user(w: &ConfigWorld, name: &str) -> WorldResult<Option<ConfigurationItem>> {
    let matches = |ci: &ConfigurationItem| {
        rec_str(super::decoded(&ci.configuration).get("userName")).or(ci.resource_name.as_deref())
            == Some(name)
    };
    if let Some(ci) = w
        .all_current(USER, Some(name))
        .await?
        .into_iter()
        .find(|ci| matches(ci))
    {
        return Ok(Some(ci));
    }
    Ok(w.all_current(USER, None).await?.into_iter().find(matches))
}
