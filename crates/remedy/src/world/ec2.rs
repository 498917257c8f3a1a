//! Amazon EC2: security groups (`AWS::EC2::SecurityGroup`, resourceId = `sg-…`) and the
//! account's EBS encryption-by-default setting (the account-level item `AWS::::Account`,
//! resourceId = the account id).
//!
//! | API | Reads / writes (`conf.` = configuration) |
//! |---|---|
//! | DescribeSecurityGroups | `conf.{groupId,groupName,description,ownerId,vpcId,tags[]{key,value},ipPermissions[],ipPermissionsEgress[]}`; each permission `{ipProtocol,fromPort,toPort,ipv4Ranges[]{cidrIp,description} (or the legacy flat ipRanges[]),ipv6Ranges[]{cidrIpv6,description},prefixListIds[]{prefixListId,description},userIdGroupPairs[]{groupId,groupName,userId,vpcId,…}}` becomes boto3's `{IpProtocol,FromPort,ToPort,IpRanges[]{CidrIp,Description},Ipv6Ranges[]{CidrIpv6,Description},PrefixListIds[],UserIdGroupPairs[]}`. `GroupIds`, `GroupNames` and `Filters` (`group-id`, `group-name`, `vpc-id`, `owner-id`, `description`; exact values) select groups |
//! | RevokeSecurityGroupIngress / RevokeSecurityGroupEgress | remove rules from `conf.ipPermissions` / `conf.ipPermissionsEgress` |
//! | AuthorizeSecurityGroupIngress / AuthorizeSecurityGroupEgress | add rules to the same lists |
//! | GetEbsEncryptionByDefault / EnableEbsEncryptionByDefault / DisableEbsEncryptionByDefault | the account item's `conf.ebsEncryptionByDefault` (false when not recorded; Enable/Disable record the account item when there is none yet — the account always exists in AWS) |
//!
//! Rules are matched as EC2 does: each requested `IpPermissions` entry is split into one rule per
//! source (CIDR, IPv6 CIDR, prefix list, group) and each must match a recorded rule exactly
//! (protocol — `tcp`/`6`, `udp`/`17`, `icmp`/`1`, `-1`/`all` are the same —, ports, source).
//! Revoking a rule that does not exist fails with `InvalidPermission.NotFound` and revokes
//! nothing, as in a non-default VPC (remedy cannot tell a default VPC from the item);
//! authorizing one that exists fails with `InvalidPermission.Duplicate`. The legacy top-level
//! `IpProtocol`/`FromPort`/`ToPort`/`CidrIp` form of RevokeSecurityGroupIngress is accepted too.
//! A group that is not recorded: `InvalidGroup.NotFound` "The security group 'sg-…' does not
//! exist".
//!
//! Security group rules (DescribeSecurityGroupRules, and revoking by `SecurityGroupRuleIds`):
//! the item records no rule ids, so each rule's id is derived from what it is — `sgr-` and 17
//! hex digits of a SHA-256 of (group id, direction, protocol, ports, source) — which keeps it
//! stable across reads and across re-recording the same rule. DescribeSecurityGroupRules
//! returns one entry per source in boto3's shape (`SecurityGroupRuleId, GroupId, GroupOwnerId,
//! IsEgress, IpProtocol, FromPort, ToPort` (-1 for all protocols), one of `CidrIpv4`,
//! `CidrIpv6`, `PrefixListId`, `ReferencedGroupInfo{GroupId,UserId}`, `Description`, `Tags`),
//! selected by `SecurityGroupRuleIds` and `Filters` `group-id` / `security-group-rule-id`. An
//! unknown rule id (asked for, or revoked) is `InvalidSecurityGroupRuleId.NotFound`, and a
//! revoke naming one revokes nothing.

use serde_json::{json, Map, Value};

use super::{rec_array, rec_bool, rec_str, ConfigWorld, Params, WorldError, WorldResult};

pub(crate) const SECURITY_GROUP: &str = "AWS::EC2::SecurityGroup";
pub(crate) const ACCOUNT: &str = "AWS::::Account";

pub(super) const APIS: &[&str] = &[
    "AuthorizeSecurityGroupEgress",
    "AuthorizeSecurityGroupIngress",
    "DescribeSecurityGroupRules",
    "DescribeSecurityGroups",
    "DisableEbsEncryptionByDefault",
    "EnableEbsEncryptionByDefault",
    "GetEbsEncryptionByDefault",
    "RevokeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
];

fn group_not_found(id: &str) -> WorldError {
    WorldError::new(
        "InvalidGroup.NotFound",
        format!("The security group '{id}' does not exist"),
    )
}

pub(super) async fn call(w: &ConfigWorld, api: &str, p: Params<'_>) -> WorldResult<Value> {
    match api {
        "DescribeSecurityGroups" => describe(w, p).await,
        "DescribeSecurityGroupRules" => describe_rules(w, p).await,
        "RevokeSecurityGroupIngress" => {
            change_rules(w, p, Direction::Ingress, Action::Revoke).await
        }
        "RevokeSecurityGroupEgress" => change_rules(w, p, Direction::Egress, Action::Revoke).await,
        "AuthorizeSecurityGroupIngress" => {
            change_rules(w, p, Direction::Ingress, Action::Authorize).await
        }
        "AuthorizeSecurityGroupEgress" => {
            change_rules(w, p, Direction::Egress, Action::Authorize).await
        }
        "GetEbsEncryptionByDefault" => {
            let account = w.scope().account.clone();
            let enabled = match w.current(ACCOUNT, &account).await? {
                Some(ci) => {
                    rec_bool(super::decoded(&ci.configuration).get("ebsEncryptionByDefault"))
                        == Some(true)
                }
                None => false,
            };
            Ok(json!({ "EbsEncryptionByDefault": enabled }))
        }
        "EnableEbsEncryptionByDefault" | "DisableEbsEncryptionByDefault" => {
            let on = api == "EnableEbsEncryptionByDefault";
            let account = w.scope().account.clone();
            w.update(
                ACCOUNT,
                &account,
                true,
                || WorldError::new("InternalFailure", "the account item is missing"),
                |doc| {
                    doc.set_conf("ebsEncryptionByDefault", Value::Bool(on));
                    Ok(())
                },
            )
            .await?;
            Ok(json!({ "EbsEncryptionByDefault": on }))
        }
        _ => Err(super::unsupported("ec2", api)),
    }
}

// ---- DescribeSecurityGroups --------------------------------------------------------------------

async fn describe(w: &ConfigWorld, p: Params<'_>) -> WorldResult<Value> {
    let ids = p.opt_str_list("GroupIds")?.unwrap_or_default();
    let names = p.opt_str_list("GroupNames")?.unwrap_or_default();
    let mut filters: Vec<(String, Vec<String>)> = Vec::new();
    for f in p.opt_obj_list("Filters")?.unwrap_or_default() {
        let name = f.str("Name")?.to_string();
        if !matches!(
            name.as_str(),
            "group-id" | "group-name" | "vpc-id" | "owner-id" | "description"
        ) {
            return Err(WorldError::new(
                "InvalidParameterValue",
                format!("The filter '{name}' is invalid (remedy's world filters security groups by group-id, group-name, vpc-id, owner-id and description)"),
            ));
        }
        filters.push((name, f.opt_str_list("Values")?.unwrap_or_default()));
    }
    let groups = if ids.is_empty() {
        let all = w.all_current(SECURITY_GROUP, None).await?;
        for n in &names {
            if !all
                .iter()
                .any(|ci| group_name(ci).as_deref() == Some(n.as_str()))
            {
                return Err(group_not_found(n));
            }
        }
        all.into_iter()
            .filter(|ci| {
                names.is_empty() || names.iter().any(|n| group_name(ci).as_deref() == Some(n))
            })
            .collect::<Vec<_>>()
    } else {
        let mut out = Vec::new();
        for id in &ids {
            check_group_id(id)?;
            let ci = w
                .current(SECURITY_GROUP, id)
                .await?
                .ok_or_else(|| group_not_found(id))?;
            if !names.is_empty() && !names.iter().any(|n| group_name(&ci).as_deref() == Some(n)) {
                continue;
            }
            out.push(ci);
        }
        out
    };
    let shaped: Vec<Value> = groups
        .iter()
        .map(group_shape)
        .filter(|g| {
            filters.iter().all(|(name, values)| {
                let member = match name.as_str() {
                    "group-id" => "GroupId",
                    "group-name" => "GroupName",
                    "vpc-id" => "VpcId",
                    "owner-id" => "OwnerId",
                    _ => "Description",
                };
                let v = g.get(member).and_then(Value::as_str).unwrap_or("");
                values.iter().any(|x| x == v)
            })
        })
        .collect();
    Ok(json!({ "SecurityGroups": shaped }))
}

// ---- security group rules ----------------------------------------------------------------------

fn rule_not_found(id: &str) -> WorldError {
    WorldError::new(
        "InvalidSecurityGroupRuleId.NotFound",
        format!("The security group rule ID '{id}' does not exist"),
    )
}

/// The rule's id: derived from the group and what the rule is, so it is the same on every read
/// and after the rule is recorded again.
fn rule_id(group_id: &str, direction: Direction, r: &Rule) -> String {
    use sha2::{Digest, Sha256};
    let (from, to) = r.ports();
    let source = match &r.source {
        Source::V4(c) => format!("v4:{c}"),
        Source::V6(c) => format!("v6:{c}"),
        Source::PrefixList(c) => format!("pl:{c}"),
        Source::Group(c) => format!("sg:{c}"),
    };
    let dir = match direction {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    };
    let text = format!(
        "{group_id}|{dir}|{}|{}|{}|{source}",
        r.protocol,
        from.map_or("".into(), |v| v.to_string()),
        to.map_or("".into(), |v| v.to_string()),
    );
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sgr-{}", &hex[..17])
}

/// Every rule of a recorded group, with its id.
fn group_rules(conf: &Value, group_id: &str, direction: Direction) -> Vec<(String, Rule)> {
    let key = match direction {
        Direction::Ingress => "ipPermissions",
        Direction::Egress => "ipPermissionsEgress",
    };
    let mut out: Vec<(String, Rule)> = Vec::new();
    for r in rec_array(conf.get(key)).iter().flat_map(recorded_rules) {
        let id = rule_id(group_id, direction, &r);
        if !out.iter().any(|(i, _)| *i == id) {
            out.push((id, r));
        }
    }
    out
}

/// One rule as boto3's DescribeSecurityGroupRules returns it.
fn rule_shape(id: &str, group_id: &str, owner: &str, direction: Direction, r: &Rule) -> Value {
    let (from, to) = match r.ports() {
        (None, None) if r.protocol == "-1" => (Some(-1), Some(-1)),
        other => other,
    };
    let mut m = Map::new();
    m.insert("SecurityGroupRuleId".into(), json!(id));
    m.insert("GroupId".into(), json!(group_id));
    m.insert("GroupOwnerId".into(), json!(owner));
    m.insert("IsEgress".into(), json!(direction == Direction::Egress));
    m.insert("IpProtocol".into(), json!(r.protocol));
    if let Some(f) = from {
        m.insert("FromPort".into(), json!(f));
    }
    if let Some(t) = to {
        m.insert("ToPort".into(), json!(t));
    }
    match &r.source {
        Source::V4(c) => {
            m.insert("CidrIpv4".into(), json!(c));
        }
        Source::V6(c) => {
            m.insert("CidrIpv6".into(), json!(c));
        }
        Source::PrefixList(c) => {
            m.insert("PrefixListId".into(), json!(c));
        }
        Source::Group(c) => {
            let mut g = Map::new();
            g.insert("GroupId".into(), json!(c));
            if let Some(u) = rec_str(r.recorded.get("userId")) {
                g.insert("UserId".into(), json!(u));
            }
            m.insert("ReferencedGroupInfo".into(), Value::Object(g));
        }
    }
    if let Some(d) = rec_str(r.recorded.get("description")) {
        m.insert("Description".into(), json!(d));
    }
    m.insert("Tags".into(), json!([]));
    Value::Object(m)
}

async fn describe_rules(w: &ConfigWorld, p: Params<'_>) -> WorldResult<Value> {
    let wanted_ids = p.opt_str_list("SecurityGroupRuleIds")?.unwrap_or_default();
    let mut group_ids: Option<Vec<String>> = None;
    let mut rule_ids: Option<Vec<String>> = None;
    for f in p.opt_obj_list("Filters")?.unwrap_or_default() {
        let name = f.str("Name")?;
        let values = f.opt_str_list("Values")?.unwrap_or_default();
        let slot = match name {
            "group-id" => &mut group_ids,
            "security-group-rule-id" => &mut rule_ids,
            _ => {
                return Err(WorldError::new(
                    "InvalidParameterValue",
                    format!("The filter '{name}' is invalid (remedy's world filters security group rules by group-id and security-group-rule-id)"),
                ))
            }
        };
        slot.get_or_insert_with(Vec::new).extend(values);
    }
    let groups = w.all_current(SECURITY_GROUP, None).await?;
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for ci in &groups {
        let shaped = group_shape(ci);
        let gid = shaped["GroupId"]
            .as_str()
            .unwrap_or(&ci.resource_id)
            .to_string();
        if group_ids.as_ref().is_some_and(|g| !g.contains(&gid)) {
            continue;
        }
        let owner = shaped["OwnerId"]
            .as_str()
            .unwrap_or(&ci.account_id)
            .to_string();
        let conf = super::decoded(&ci.configuration);
        for direction in [Direction::Ingress, Direction::Egress] {
            for (id, r) in group_rules(&conf, &gid, direction) {
                if rule_ids.as_ref().is_some_and(|x| !x.contains(&id)) {
                    continue;
                }
                if !wanted_ids.is_empty() && !wanted_ids.contains(&id) {
                    continue;
                }
                seen.push(id.clone());
                out.push(rule_shape(&id, &gid, &owner, direction, &r));
            }
        }
    }
    if let Some(missing) = wanted_ids.iter().find(|i| !seen.contains(i)) {
        return Err(rule_not_found(missing));
    }
    Ok(json!({ "SecurityGroupRules": out }))
}

fn check_group_id(id: &str) -> WorldResult<()> {
    if id.starts_with("sg-") && id.len() > 3 {
        Ok(())
    } else {
        Err(WorldError::new(
            "InvalidGroupId.Malformed",
            format!("Invalid id: \"{id}\" (expecting \"sg-...\")"),
        ))
    }
}

fn group_name(ci: &crate::domain::ConfigurationItem) -> Option<String> {
    rec_str(super::decoded(&ci.configuration).get("groupName"))
        .map(str::to_string)
        .or_else(|| ci.resource_name.clone())
}

/// A recorded group as boto3's DescribeSecurityGroups returns it.
pub(crate) fn group_shape(ci: &crate::domain::ConfigurationItem) -> Value {
    let conf = super::decoded(&ci.configuration);
    let mut g = Map::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            g.insert(k.to_string(), json!(v));
        }
    };
    put("Description", rec_str(conf.get("description")));
    put(
        "GroupName",
        rec_str(conf.get("groupName")).or(ci.resource_name.as_deref()),
    );
    put(
        "OwnerId",
        rec_str(conf.get("ownerId")).or(Some(&ci.account_id)),
    );
    put(
        "GroupId",
        rec_str(conf.get("groupId")).or(Some(&ci.resource_id)),
    );
    put("VpcId", rec_str(conf.get("vpcId")));
    g.insert(
        "IpPermissions".into(),
        Value::Array(
            rec_array(conf.get("ipPermissions"))
                .iter()
                .map(permission_shape)
                .collect(),
        ),
    );
    g.insert(
        "IpPermissionsEgress".into(),
        Value::Array(
            rec_array(conf.get("ipPermissionsEgress"))
                .iter()
                .map(permission_shape)
                .collect(),
        ),
    );
    let tags: Vec<Value> = rec_array(conf.get("tags"))
        .iter()
        .filter_map(|t| {
            Some(json!({"Key": t.get("key")?.as_str()?, "Value": t.get("value").and_then(Value::as_str).unwrap_or("")}))
        })
        .collect();
    if !tags.is_empty() {
        g.insert("Tags".into(), Value::Array(tags));
    }
    Value::Object(g)
}

fn permission_shape(p: &Value) -> Value {
    let mut out = Map::new();
    let protocol = match p.get("ipProtocol") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "-1".to_string(),
    };
    out.insert("IpProtocol".into(), json!(protocol));
    for (ci, api) in [("fromPort", "FromPort"), ("toPort", "ToPort")] {
        if let Some(n) = p.get(ci).filter(|v| !v.is_null()) {
            out.insert(api.into(), n.clone());
        }
    }
    let v4: Vec<Value> = if p.get("ipv4Ranges").is_some_and(Value::is_array) {
        rec_array(p.get("ipv4Ranges"))
            .iter()
            .map(|r| super::pascal(r, &[]))
            .collect()
    } else {
        rec_array(p.get("ipRanges"))
            .iter()
            .map(|r| match r {
                Value::String(s) => json!({ "CidrIp": s }),
                other => super::pascal(other, &[]),
            })
            .collect()
    };
    out.insert("IpRanges".into(), Value::Array(v4));
    for (ci, api) in [
        ("ipv6Ranges", "Ipv6Ranges"),
        ("prefixListIds", "PrefixListIds"),
        ("userIdGroupPairs", "UserIdGroupPairs"),
    ] {
        out.insert(
            api.into(),
            Value::Array(
                rec_array(p.get(ci))
                    .iter()
                    .map(|r| super::pascal(r, &[]))
                    .collect(),
            ),
        );
    }
    Value::Object(out)
}

// ---- rule changes ------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Revoke,
    Authorize,
}

/// Where a rule's traffic comes from (ingress) or goes to (egress).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    V4(String),
    V6(String),
    PrefixList(String),
    Group(String),
}

/// One rule: a protocol, a port range and one source.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    protocol: String,
    from: Option<i64>,
    to: Option<i64>,
    source: Source,
    /// The source's entry as the item records it (camelCase), for authorize.
    recorded: Value,
}

impl Rule {
    fn same(&self, other: &Rule) -> bool {
        self.protocol == other.protocol
            && self.ports() == other.ports()
            && self.source == other.source
    }

    fn ports(&self) -> (Option<i64>, Option<i64>) {
        if self.protocol == "-1" {
            (None, None)
        } else {
            (self.from, self.to)
        }
    }

    fn describe(&self) -> String {
        let peer = match &self.source {
            Source::V4(c) | Source::V6(c) | Source::PrefixList(c) | Source::Group(c) => c,
        };
        let proto = if self.protocol == "-1" {
            "ALL".to_string()
        } else {
            self.protocol.to_ascii_uppercase()
        };
        let (f, t) = self.ports();
        format!(
            "peer: {peer}, {proto}, from port: {}, to port: {}, ALLOW",
            f.map_or("None".into(), |v| v.to_string()),
            t.map_or("None".into(), |v| v.to_string())
        )
    }
}

fn normalize_protocol(p: &str) -> String {
    match p.trim().to_ascii_lowercase().as_str() {
        "6" | "tcp" => "tcp".into(),
        "17" | "udp" => "udp".into(),
        "1" | "icmp" => "icmp".into(),
        "58" | "icmpv6" => "icmpv6".into(),
        "-1" | "all" => "-1".into(),
        other => other.into(),
    }
}

fn recorded_protocol(p: &Value) -> String {
    match p.get("ipProtocol") {
        Some(Value::String(s)) => normalize_protocol(s),
        Some(Value::Number(n)) => normalize_protocol(&n.to_string()),
        _ => "-1".into(),
    }
}

fn recorded_port(p: &Value, key: &str) -> Option<i64> {
    match p.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The rules of one recorded permission entry.
fn recorded_rules(p: &Value) -> Vec<Rule> {
    let protocol = recorded_protocol(p);
    let (from, to) = (recorded_port(p, "fromPort"), recorded_port(p, "toPort"));
    let rule = |source: Source, recorded: Value| Rule {
        protocol: protocol.clone(),
        from,
        to,
        source,
        recorded,
    };
    let mut out: Vec<Rule> = Vec::new();
    let mut push = |r: Rule| {
        if !out.iter().any(|o| o.same(&r)) {
            out.push(r);
        }
    };
    for r in rec_array(p.get("ipv4Ranges")) {
        if let Some(c) = rec_str(r.get("cidrIp")) {
            push(rule(Source::V4(c.into()), r.clone()));
        }
    }
    for r in rec_array(p.get("ipRanges")) {
        let c = match r {
            Value::String(s) => Some(s.as_str()),
            other => rec_str(other.get("cidrIp")),
        };
        if let Some(c) = c {
            push(rule(Source::V4(c.into()), json!({ "cidrIp": c })));
        }
    }
    for r in rec_array(p.get("ipv6Ranges")) {
        if let Some(c) = rec_str(r.get("cidrIpv6")) {
            push(rule(Source::V6(c.into()), r.clone()));
        }
    }
    for r in rec_array(p.get("prefixListIds")) {
        if let Some(c) = rec_str(r.get("prefixListId")) {
            push(rule(Source::PrefixList(c.into()), r.clone()));
        }
    }
    for r in rec_array(p.get("userIdGroupPairs")) {
        if let Some(c) = rec_str(r.get("groupId")).or_else(|| rec_str(r.get("groupName"))) {
            push(rule(Source::Group(c.into()), r.clone()));
        }
    }
    out
}

/// The rules a request names.
fn requested_rules(p: Params<'_>, direction: Direction) -> WorldResult<Vec<Rule>> {
    let mut out = Vec::new();
    let permissions = p.opt_obj_list("IpPermissions")?.unwrap_or_default();
    if permissions.is_empty() && direction == Direction::Ingress && p.has("IpProtocol") {
        // The legacy flat form: IpProtocol, FromPort, ToPort, CidrIp.
        let protocol = normalize_protocol(p.str("IpProtocol")?);
        let cidr = p.str("CidrIp")?;
        out.push(Rule {
            protocol,
            from: p.opt_i64("FromPort")?,
            to: p.opt_i64("ToPort")?,
            source: Source::V4(cidr.to_string()),
            recorded: json!({ "cidrIp": cidr }),
        });
        return Ok(out);
    }
    if permissions.is_empty() {
        return Err(WorldError::new(
            "MissingParameter",
            "The request must contain the parameter ipPermissions",
        ));
    }
    for perm in permissions {
        let protocol = normalize_protocol(perm.str("IpProtocol")?);
        let from = perm.opt_i64("FromPort")?;
        let to = perm.opt_i64("ToPort")?;
        let before = out.len();
        let mut add = |source: Source, recorded: Value| {
            out.push(Rule {
                protocol: protocol.clone(),
                from,
                to,
                source,
                recorded,
            })
        };
        for r in perm.opt_obj_list("IpRanges")?.unwrap_or_default() {
            let c = r.str("CidrIp")?;
            add(
                Source::V4(c.into()),
                description(json!({ "cidrIp": c }), r.opt_str("Description")?),
            );
        }
        for r in perm.opt_obj_list("Ipv6Ranges")?.unwrap_or_default() {
            let c = r.str("CidrIpv6")?;
            add(
                Source::V6(c.into()),
                description(json!({ "cidrIpv6": c }), r.opt_str("Description")?),
            );
        }
        for r in perm.opt_obj_list("PrefixListIds")?.unwrap_or_default() {
            let c = r.str("PrefixListId")?;
            add(
                Source::PrefixList(c.into()),
                description(json!({ "prefixListId": c }), r.opt_str("Description")?),
            );
        }
        for r in perm.opt_obj_list("UserIdGroupPairs")?.unwrap_or_default() {
            let id = r.opt_str("GroupId")?;
            let name = r.opt_str("GroupName")?;
            let Some(key) = id.or(name) else {
                return Err(WorldError::new(
                    "MissingParameter",
                    "A UserIdGroupPair needs a GroupId or a GroupName",
                ));
            };
            let mut rec =
                json!({ "groupId": id, "groupName": name, "userId": r.opt_str("UserId")? });
            rec.as_object_mut().unwrap().retain(|_, v| !v.is_null());
            add(
                Source::Group(key.into()),
                description(rec, r.opt_str("Description")?),
            );
        }
        if out.len() == before {
            return Err(WorldError::new(
                "InvalidParameterValue",
                format!(
                    "The IpPermissions entry for protocol {protocol} names no source (IpRanges, Ipv6Ranges, PrefixListIds or UserIdGroupPairs)"
                ),
            ));
        }
    }
    Ok(out)
}

fn description(mut v: Value, d: Option<&str>) -> Value {
    if let Some(d) = d {
        v.as_object_mut()
            .unwrap()
            .insert("description".into(), json!(d));
    }
    v
}

async fn change_rules(
    w: &ConfigWorld,
    p: Params<'_>,
    direction: Direction,
    action: Action,
) -> WorldResult<Value> {
    let id = match (p.opt_str("GroupId")?, p.opt_str("GroupName")?) {
        (Some(id), _) => {
            check_group_id(id)?;
            id.to_string()
        }
        (None, Some(name)) if direction == Direction::Ingress => w
            .all_current(SECURITY_GROUP, None)
            .await?
            .into_iter()
            .find(|ci| group_name(ci).as_deref() == Some(name))
            .map(|ci| ci.resource_id)
            .ok_or_else(|| group_not_found(name))?,
        _ => {
            return Err(WorldError::new(
                "MissingParameter",
                "The request must contain the parameter groupId",
            ))
        }
    };
    let by_ids = match p.opt_str_list("SecurityGroupRuleIds")? {
        Some(ids) if !ids.is_empty() && !p.has("IpPermissions") => {
            if action == Action::Authorize {
                return Err(WorldError::new(
                    "InvalidParameterValue",
                    "SecurityGroupRuleIds is not a parameter of AuthorizeSecurityGroup*; name the rules with IpPermissions",
                ));
            }
            Some(ids)
        }
        _ => None,
    };
    let requested = match by_ids {
        Some(_) => Vec::new(),
        None => requested_rules(p, direction)?,
    };
    let group_id = id.clone();
    let key = match direction {
        Direction::Ingress => "ipPermissions",
        Direction::Egress => "ipPermissionsEgress",
    };
    let not_found_id = id.clone();
    w.update(
        SECURITY_GROUP,
        &id,
        false,
        move || group_not_found(&not_found_id),
        |doc| {
            let entries: Vec<Value> = doc
                .conf(key)
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            let existing: Vec<Rule> = entries.iter().flat_map(recorded_rules).collect();
            let requested = match &by_ids {
                None => requested.clone(),
                Some(ids) => {
                    let conf = json!({ key: entries.clone() });
                    let known = group_rules(&conf, &group_id, direction);
                    let mut picked = Vec::new();
                    for i in ids {
                        let (_, r) = known
                            .iter()
                            .find(|(k, _)| k == i)
                            .ok_or_else(|| rule_not_found(i))?;
                        picked.push(r.clone());
                    }
                    picked
                }
            };
            let updated = match action {
                Action::Revoke => {
                    if let Some(r) = requested
                        .iter()
                        .find(|r| !existing.iter().any(|e| e.same(r)))
                    {
                        return Err(WorldError::new(
                            "InvalidPermission.NotFound",
                            format!(
                                "The specified rule does not exist in this security group ({}).",
                                r.describe()
                            ),
                        ));
                    }
                    revoke(entries, &requested)
                }
                Action::Authorize => {
                    if let Some(r) = requested
                        .iter()
                        .find(|r| existing.iter().any(|e| e.same(r)))
                    {
                        return Err(WorldError::new(
                            "InvalidPermission.Duplicate",
                            format!("the specified rule \"{}\" already exists", r.describe()),
                        ));
                    }
                    authorize(entries, &requested)
                }
            };
            doc.set_conf(key, Value::Array(updated));
            Ok(())
        },
    )
    .await?;
    Ok(json!({ "Return": true }))
}

/// The entries without the requested rules; entries left without a source are dropped.
fn revoke(entries: Vec<Value>, requested: &[Rule]) -> Vec<Value> {
    entries
        .into_iter()
        .filter_map(|mut entry| {
            let protocol = recorded_protocol(&entry);
            let (from, to) = (
                recorded_port(&entry, "fromPort"),
                recorded_port(&entry, "toPort"),
            );
            let matches = |source: Source| {
                let probe = Rule {
                    protocol: protocol.clone(),
                    from,
                    to,
                    source,
                    recorded: Value::Null,
                };
                requested.iter().any(|r| r.same(&probe))
            };
            let obj = entry.as_object_mut()?;
            let mut sources_left = 0;
            for key in [
                "ipv4Ranges",
                "ipRanges",
                "ipv6Ranges",
                "prefixListIds",
                "userIdGroupPairs",
            ] {
                let Some(Value::Array(items)) = obj.get_mut(key) else {
                    continue;
                };
                items.retain(|r| {
                    let source = match key {
                        "ipv4Ranges" => rec_str(r.get("cidrIp")).map(|c| Source::V4(c.into())),
                        "ipRanges" => match r {
                            Value::String(s) => Some(Source::V4(s.clone())),
                            o => rec_str(o.get("cidrIp")).map(|c| Source::V4(c.into())),
                        },
                        "ipv6Ranges" => rec_str(r.get("cidrIpv6")).map(|c| Source::V6(c.into())),
                        "prefixListIds" => {
                            rec_str(r.get("prefixListId")).map(|c| Source::PrefixList(c.into()))
                        }
                        _ => rec_str(r.get("groupId"))
                            .or_else(|| rec_str(r.get("groupName")))
                            .map(|c| Source::Group(c.into())),
                    };
                    !source.is_some_and(&matches)
                });
                if key != "ipRanges" {
                    sources_left += items.len();
                }
            }
            let legacy_only = !obj.contains_key("ipv4Ranges")
                && rec_array(obj.get("ipRanges")).iter().next().is_some();
            (sources_left > 0 || legacy_only).then_some(entry)
        })
        .collect()
}

/// The entries with the requested rules added: to an entry of the same protocol and ports, or
/// in a new entry.
fn authorize(mut entries: Vec<Value>, requested: &[Rule]) -> Vec<Value> {
    for r in requested {
        let (from, to) = r.ports();
        let pos = entries.iter().position(|e| {
            recorded_protocol(e) == r.protocol
                && (r.protocol == "-1"
                    || (recorded_port(e, "fromPort"), recorded_port(e, "toPort")) == (from, to))
        });
        let idx = match pos {
            Some(i) => i,
            None => {
                let mut e = json!({
                    "ipProtocol": r.protocol,
                    "ipRanges": [], "ipv4Ranges": [], "ipv6Ranges": [],
                    "prefixListIds": [], "userIdGroupPairs": [],
                });
                if let (Some(f), Some(t)) = (from, to) {
                    e["fromPort"] = json!(f);
                    e["toPort"] = json!(t);
                }
                entries.push(e);
                entries.len() - 1
            }
        };
        let obj = entries[idx]
            .as_object_mut()
            .expect("permission entries are objects");
        if !obj.contains_key("ipv4Ranges") {
            // Only the legacy flat list is recorded: give it its structured twin first.
            let v4: Vec<Value> = rec_array(obj.get("ipRanges"))
                .iter()
                .filter_map(|c| c.as_str().map(|c| json!({ "cidrIp": c })))
                .collect();
            obj.insert("ipv4Ranges".into(), Value::Array(v4));
        }
        let mut push = |key: &str, v: Value| match obj.get_mut(key) {
            Some(Value::Array(a)) => a.push(v),
            _ => {
                obj.insert(key.to_string(), Value::Array(vec![v]));
            }
        };
        match &r.source {
            Source::V4(c) => {
                push("ipv4Ranges", r.recorded.clone());
                push("ipRanges", json!(c));
            }
            Source::V6(_) => push("ipv6Ranges", r.recorded.clone()),
            Source::PrefixList(_) => push("prefixListIds", r.recorded.clone()),
            Source::Group(_) => push("userIdGroupPairs", r.recorded.clone()),
        }
    }
    entries
}
