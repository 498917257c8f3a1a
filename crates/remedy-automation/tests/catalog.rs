//! Every built-in runbook parses, validates, and remediates a small stateful fake of the
//! resources it touches. The fakes answer with boto3 shapes, the way the real world must.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use remedy_automation::test_util::{block_on, ManualClock, TestWorld};
use remedy_automation::{
    builtin, builtin_names, builtin_source, required_world_apis, run_next_step,
    AutomationExecutionStatus, ExecutionContext, ExecutionState, StepResult,
};
use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::123456789012:role/Remediation";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

type State = Arc<Mutex<Value>>;

/// A world whose handlers share one JSON state.
struct Fake {
    state: State,
    world: TestWorld,
}

impl Fake {
    fn new(initial: Value) -> Fake {
        Fake {
            state: Arc::new(Mutex::new(initial)),
            world: TestWorld::new(),
        }
    }
    fn on(
        mut self,
        service: &str,
        api: &str,
        f: impl Fn(&mut Value, &Value) -> Value + Send + Sync + 'static,
    ) -> Fake {
        let st = self.state.clone();
        self.world = self.world.on(service, api, move |input| {
            Ok(f(&mut st.lock().unwrap(), input))
        });
        self
    }
    fn state(&self) -> Value {
        self.state.lock().unwrap().clone()
    }
}

fn run(name: &str, params: &[(&str, &[&str])], fake: &Fake) -> ExecutionState {
    let rb = builtin(name).unwrap_or_else(|| panic!("{name} is not built in"));
    let given: BTreeMap<String, Vec<String>> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect();
    let p = rb
        .resolve_parameters(&given)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut st = ExecutionState::new(rb, p);
    let ctx = ExecutionContext::new("exec-1", "123456789012", "us-east-1");
    let clock = ManualClock::new(1_700_000_000_000);
    for _ in 0..100 {
        match block_on(run_next_step(rb, &mut st, &ctx, &fake.world, &clock)) {
            StepResult::Continue => {}
            StepResult::Waiting { until } => clock.set_ms(until),
            StepResult::Ended(s) => {
                assert_eq!(
                    s,
                    AutomationExecutionStatus::Success,
                    "{name} ended {s:?}: {:?}\nsteps: {:#?}",
                    st.failure_message,
                    st.steps
                );
                // Every (service, api) it called is in the published list.
                let required = required_world_apis();
                for c in fake.world.calls() {
                    assert!(
                        required.contains(&(c.service.clone(), c.api.clone())),
                        "{}:{}",
                        c.service,
                        c.api
                    );
                }
                return st;
            }
        }
    }
    panic!("{name} did not end");
}

#[test]
fn catalog_lists_the_required_runbooks_and_apis() {
    let want = [
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
    ];
    let have: BTreeSet<&str> = builtin_names().into_iter().collect();
    assert_eq!(have, want.into_iter().collect());
    for n in want {
        let rb = builtin(n).unwrap();
        assert!(std::ptr::eq(rb, builtin(n).unwrap()), "parsed once");
        assert!(
            builtin_source(n).unwrap().contains(n),
            "{n}'s description names it"
        );
        assert!(rb.parameter("AutomationAssumeRole").is_some(), "{n}");
        assert_eq!(rb.assume_role(), Some("{{ AutomationAssumeRole }}"));
    }
    assert!(builtin("AWS-Nope").is_none());
    let apis: Vec<String> = required_world_apis()
        .into_iter()
        .map(|(s, a)| format!("{s}:{a}"))
        .collect();
    assert_eq!(
        apis,
        [
            "cloudtrail:GetTrail",
            "cloudtrail:UpdateTrail",
            "dynamodb:DescribeContinuousBackups",
            "dynamodb:DescribeTable",
            "dynamodb:UpdateContinuousBackups",
            "dynamodb:UpdateTable",
            "ec2:DescribeSecurityGroupRules",
            "ec2:DescribeSecurityGroups",
            "ec2:EnableEbsEncryptionByDefault",
            "ec2:GetEbsEncryptionByDefault",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
            "kms:CancelKeyDeletion",
            "kms:DescribeKey",
            "kms:EnableKeyRotation",
            "kms:GetKeyRotationStatus",
            "s3:GetBucketEncryption",
            "s3:GetBucketLogging",
            "s3:GetBucketVersioning",
            "s3:GetPublicAccessBlock",
            "s3:PutBucketEncryption",
            "s3:PutBucketLogging",
            "s3:PutBucketVersioning",
            "s3:PutPublicAccessBlock",
        ]
    );
}

fn s3_public_access() -> Fake {
    Fake::new(json!({}))
        .on("s3", "PutPublicAccessBlock", |st, i| {
            assert_eq!(i["Bucket"], "bucket-1");
            st["pab"] = i["PublicAccessBlockConfiguration"].clone();
            json!({})
        })
        .on(
            "s3",
            "GetPublicAccessBlock",
            |st, _| json!({"PublicAccessBlockConfiguration": st["pab"]}),
        )
}

#[test]
fn disable_s3_bucket_public_read_write() {
    let f = s3_public_access();
    run(
        "AWS-DisableS3BucketPublicReadWrite",
        &[("S3BucketName", &["bucket-1"])],
        &f,
    );
    assert_eq!(
        f.state()["pab"],
        json!({"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true})
    );
}

#[test]
fn configure_s3_bucket_public_access_block() {
    let f = s3_public_access();
    run(
        "AWSConfigRemediation-ConfigureS3BucketPublicAccessBlock",
        &[
            ("BucketName", &["bucket-1"]),
            ("AutomationAssumeRole", &[ROLE]),
            ("BlockPublicPolicy", &["false"]),
        ],
        &f,
    );
    assert_eq!(
        f.state()["pab"],
        json!({"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": false, "RestrictPublicBuckets": true}),
        "Boolean parameters reach the API as booleans"
    );
    // The role is required for the AWSConfigRemediation-* runbooks.
    let rb = builtin("AWSConfigRemediation-ConfigureS3BucketPublicAccessBlock").unwrap();
    let e = rb
        .resolve_parameters(&BTreeMap::from([(
            "BucketName".to_string(),
            vec!["bucket-1".to_string()],
        )]))
        .unwrap_err();
    assert_eq!(
        e.message,
        "Missing required parameter: AutomationAssumeRole in user inputs."
    );
}

fn s3_encryption() -> Fake {
    Fake::new(json!({}))
        .on("s3", "PutBucketEncryption", |st, i| {
            st["sse"] = i["ServerSideEncryptionConfiguration"].clone();
            json!({})
        })
        .on(
            "s3",
            "GetBucketEncryption",
            |st, _| json!({"ServerSideEncryptionConfiguration": st["sse"]}),
        )
}

#[test]
fn enable_s3_bucket_encryption() {
    let f = s3_encryption();
    run(
        "AWS-EnableS3BucketEncryption",
        &[("BucketName", &["bucket-1"])],
        &f,
    );
    assert_eq!(
        f.state()["sse"],
        json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    );

    let f = s3_encryption();
    let st = run(
        "AWS-EnableS3BucketEncryption",
        &[
            ("BucketName", &["bucket-1"]),
            ("SSEAlgorithm", &["aws:kms"]),
            ("KMSMasterKey", &[KEY_ARN]),
        ],
        &f,
    );
    assert_eq!(
        f.state()["sse"]["Rules"][0]["ApplyServerSideEncryptionByDefault"],
        json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN})
    );
    assert_eq!(st.steps[1].step_name, "PutBucketEncryptionWithKey");
}

#[test]
fn configure_s3_bucket_versioning() {
    let f = Fake::new(json!({"Status": null}))
        .on("s3", "PutBucketVersioning", |st, i| {
            st["Status"] = i["VersioningConfiguration"]["Status"].clone();
            json!({})
        })
        .on("s3", "GetBucketVersioning", |st, _| st.clone());
    run(
        "AWS-ConfigureS3BucketVersioning",
        &[("BucketName", &["bucket-1"])],
        &f,
    );
    assert_eq!(f.state()["Status"], "Enabled");
}

#[test]
fn configure_s3_bucket_logging() {
    for (grantee_type, field, extra) in [
        (
            "Group",
            "URI",
            (
                "GranteeUri",
                "http://acs.amazonaws.com/groups/s3/LogDelivery",
            ),
        ),
        ("CanonicalUser", "ID", ("GranteeId", "abc123")),
        (
            "AmazonCustomerByEmail",
            "EmailAddress",
            ("GranteeEmailAddress", "a@example.com"),
        ),
    ] {
        let f = Fake::new(json!({}))
            .on("s3", "PutBucketLogging", |st, i| {
                *st = i["BucketLoggingStatus"].clone();
                json!({})
            })
            .on("s3", "GetBucketLogging", |st, _| st.clone());
        run(
            "AWS-ConfigureS3BucketLogging",
            &[
                ("BucketName", &["bucket-1"]),
                ("TargetBucket", &["logs-bucket"]),
                ("TargetPrefix", &["bucket-1/"]),
                ("GrantedPermission", &["READ"]),
                ("GranteeType", &[grantee_type]),
                (extra.0, &[extra.1]),
            ],
            &f,
        );
        let grant = &f.state()["LoggingEnabled"]["TargetGrants"][0];
        assert_eq!(grant["Grantee"]["Type"], grantee_type);
        assert_eq!(grant["Grantee"][field], extra.1);
        assert_eq!(grant["Permission"], "READ");
        assert_eq!(f.state()["LoggingEnabled"]["TargetPrefix"], "bucket-1/");
    }
}

/// Security-group rules in DescribeSecurityGroupRules form.
fn sg_fake(rules: Value) -> Fake {
    Fake::new(rules)
        .on("ec2", "DescribeSecurityGroupRules", |st, i| {
            assert_eq!(i["Filters"][0]["Name"], "group-id");
            json!({"SecurityGroupRules": st.clone()})
        })
        .on("ec2", "RevokeSecurityGroupIngress", |st, i| {
            let ids: Vec<Value> = i["SecurityGroupRuleIds"].as_array().unwrap().clone();
            st.as_array_mut()
                .unwrap()
                .retain(|r| !ids.contains(&r["SecurityGroupRuleId"]));
            json!({"Return": true})
        })
}

fn rule(
    id: &str,
    egress: bool,
    proto: &str,
    port: i64,
    cidr4: Option<&str>,
    cidr6: Option<&str>,
) -> Value {
    let mut r = json!({"SecurityGroupRuleId": id, "GroupId": "sg-0123", "IsEgress": egress,
                       "IpProtocol": proto, "FromPort": port, "ToPort": port});
    if let Some(c) = cidr4 {
        r["CidrIpv4"] = json!(c);
    }
    if let Some(c) = cidr6 {
        r["CidrIpv6"] = json!(c);
    }
    r
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["SecurityGroupRuleId"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn disable_incoming_ssh_on_port_22() {
    let f = sg_fake(json!([
        rule("sgr-1", false, "tcp", 22, Some("0.0.0.0/0"), None),
        rule("sgr-2", false, "tcp", 22, None, Some("::/0")),
        rule("sgr-3", false, "tcp", 22, Some("10.0.0.0/8"), None),
        rule("sgr-4", false, "tcp", 443, Some("0.0.0.0/0"), None),
        rule("sgr-5", true, "-1", -1, Some("0.0.0.0/0"), None),
    ]));
    run(
        "AWS-DisableIncomingSSHOnPort22",
        &[("SecurityGroupIds", &["sg-0123"])],
        &f,
    );
    assert_eq!(ids(&f.state()), ["sgr-3", "sgr-4", "sgr-5"]);
    // Nothing to revoke: ends at the branch, still Success.
    let st = run(
        "AWS-DisableIncomingSSHOnPort22",
        &[("SecurityGroupIds", &["sg-0123"])],
        &f,
    );
    assert_eq!(st.steps.len(), 2);
    assert_eq!(f.world.call_count("ec2", "RevokeSecurityGroupIngress"), 1);
}

#[test]
fn remove_unrestricted_source_ingress_rules() {
    let f = sg_fake(json!([
        rule("sgr-1", false, "tcp", 3389, Some("0.0.0.0/0"), None),
        rule("sgr-2", false, "udp", 53, None, Some("::/0")),
        rule("sgr-3", false, "tcp", 22, Some("10.0.0.0/8"), None),
        rule("sgr-5", true, "-1", -1, Some("0.0.0.0/0"), None),
    ]));
    let params: &[(&str, &[&str])] = &[
        ("SecurityGroupId", &["sg-0123"]),
        ("AutomationAssumeRole", &[ROLE]),
    ];
    run(
        "AWSConfigRemediation-RemoveUnrestrictedSourceIngressRules",
        params,
        &f,
    );
    assert_eq!(ids(&f.state()), ["sgr-3", "sgr-5"]);
    let st = run(
        "AWSConfigRemediation-RemoveUnrestrictedSourceIngressRules",
        params,
        &f,
    );
    let path: Vec<&str> = st.steps.iter().map(|r| r.step_name.as_str()).collect();
    assert_eq!(
        path,
        [
            "FindUnrestrictedIngressRules",
            "AnythingToRevoke",
            "VerifyNoUnrestrictedIngressRules",
            "CheckVerification"
        ]
    );
}

#[test]
fn remove_vpc_default_security_group_rules() {
    let perm = json!({"IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                      "UserIdGroupPairs": [{"GroupId": "sg-0123", "UserId": "123456789012"}]});
    let egress = json!({"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
                        "PrefixListIds": [], "UserIdGroupPairs": []});
    let f = Fake::new(json!({"GroupId": "sg-0123", "GroupName": "default", "IpPermissions": [perm], "IpPermissionsEgress": [egress]}))
        .on("ec2", "DescribeSecurityGroups", |st, i| {
            assert_eq!(i["GroupIds"], json!(["sg-0123"]));
            json!({"SecurityGroups": [st.clone()]})
        })
        .on("ec2", "RevokeSecurityGroupIngress", |st, i| {
            let gone = i["IpPermissions"].as_array().unwrap().clone();
            st["IpPermissions"].as_array_mut().unwrap().retain(|p| !gone.contains(p));
            json!({"Return": true})
        })
        .on("ec2", "RevokeSecurityGroupEgress", |st, i| {
            let gone = i["IpPermissions"].as_array().unwrap().clone();
            st["IpPermissionsEgress"].as_array_mut().unwrap().retain(|p| !gone.contains(p));
            json!({"Return": true})
        });
    let params: &[(&str, &[&str])] =
        &[("GroupId", &["sg-0123"]), ("AutomationAssumeRole", &[ROLE])];
    let st = run(
        "AWSConfigRemediation-RemoveVPCDefaultSecurityGroupRules",
        params,
        &f,
    );
    assert_eq!(f.state()["IpPermissions"], json!([]));
    assert_eq!(f.state()["IpPermissionsEgress"], json!([]));
    let rb = builtin("AWSConfigRemediation-RemoveVPCDefaultSecurityGroupRules").unwrap();
    assert_eq!(st.document_outputs(rb).len(), 2);

    // Not the default group: the first assertion fails the execution before any change.
    let f2 = Fake::new(json!({"GroupId": "sg-0123", "GroupName": "web", "IpPermissions": [], "IpPermissionsEgress": []}))
        .on("ec2", "DescribeSecurityGroups", |st, _| json!({"SecurityGroups": [st.clone()]}));
    let rb = builtin("AWSConfigRemediation-RemoveVPCDefaultSecurityGroupRules").unwrap();
    let p = rb
        .resolve_parameters(
            &params
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
        )
        .unwrap();
    let mut st = ExecutionState::new(rb, p);
    let ctx = ExecutionContext::new("e", "123456789012", "us-east-1");
    let r = block_on(run_next_step(
        rb,
        &mut st,
        &ctx,
        &f2.world,
        &ManualClock::new(0),
    ));
    assert_eq!(r, StepResult::Ended(AutomationExecutionStatus::Failed));
    assert!(st.failure_message.unwrap().contains("[web]"));
}

#[test]
fn kms_runbooks() {
    let f = Fake::new(json!({"rotation": false, "state": "PendingDeletion"}))
        .on("kms", "EnableKeyRotation", |st, i| {
            assert_eq!(i["KeyId"], "1234abcd-12ab-34cd-56ef-1234567890ab");
            st["rotation"] = json!(true);
            json!({})
        })
        .on(
            "kms",
            "GetKeyRotationStatus",
            |st, _| json!({"KeyRotationEnabled": st["rotation"]}),
        )
        .on("kms", "CancelKeyDeletion", |st, i| {
            st["state"] = json!("Disabled");
            json!({"KeyId": i["KeyId"]})
        })
        .on(
            "kms",
            "DescribeKey",
            |st, _| json!({"KeyMetadata": {"KeyState": st["state"]}}),
        );
    let params: &[(&str, &[&str])] = &[
        ("KeyId", &["1234abcd-12ab-34cd-56ef-1234567890ab"]),
        ("AutomationAssumeRole", &[ROLE]),
    ];
    run("AWSConfigRemediation-EnableKeyRotation", params, &f);
    run("AWSConfigRemediation-CancelKeyDeletion", params, &f);
    assert_eq!(f.state(), json!({"rotation": true, "state": "Disabled"}));
}

#[test]
fn cloudtrail_log_file_validation() {
    let f = Fake::new(json!({"Name": "management-events", "LogFileValidationEnabled": false}))
        .on("cloudtrail", "UpdateTrail", |st, i| {
            assert_eq!(i["EnableLogFileValidation"], json!(true));
            st["LogFileValidationEnabled"] = i["EnableLogFileValidation"].clone();
            st.clone()
        })
        .on(
            "cloudtrail",
            "GetTrail",
            |st, _| json!({"Trail": st.clone()}),
        );
    run(
        "AWSConfigRemediation-EnableCloudTrailLogFileValidation",
        &[
            ("TrailName", &["management-events"]),
            ("AutomationAssumeRole", &[ROLE]),
        ],
        &f,
    );
    assert_eq!(f.state()["LogFileValidationEnabled"], json!(true));
}

#[test]
fn dynamodb_runbooks() {
    let f = Fake::new(json!({"pitr": "DISABLED", "sse": null, "polls": 0}))
        .on("dynamodb", "UpdateContinuousBackups", |st, i| {
            assert_eq!(i["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], json!(true));
            st["pitr"] = json!("ENABLED");
            json!({})
        })
        .on("dynamodb", "DescribeContinuousBackups", |st, _| {
            json!({"ContinuousBackupsDescription": {"ContinuousBackupsStatus": "ENABLED",
                   "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": st["pitr"]}}})
        })
        .on("dynamodb", "UpdateTable", |st, i| {
            st["sse"] = json!({"Status": "UPDATING", "SSEType": "KMS", "KMSMasterKeyArn": i["SSESpecification"]["KMSMasterKeyId"]});
            json!({})
        })
        .on("dynamodb", "DescribeTable", |st, _| {
            // Becomes ENABLED on the second poll.
            let polls = st["polls"].as_i64().unwrap() + 1;
            st["polls"] = json!(polls);
            if polls >= 2 {
                st["sse"]["Status"] = json!("ENABLED");
            }
            json!({"Table": {"TableName": "orders", "SSEDescription": st["sse"]}})
        });
    run(
        "AWSConfigRemediation-EnablePITRForDynamoDbTable",
        &[
            ("TableName", &["orders"]),
            ("AutomationAssumeRole", &[ROLE]),
        ],
        &f,
    );
    let st = run(
        "AWSConfigRemediation-EnableEncryptionOnDynamoDbTable",
        &[
            ("TableName", &["orders"]),
            ("KMSKeyId", &[KEY_ARN]),
            ("AutomationAssumeRole", &[ROLE]),
        ],
        &f,
    );
    assert_eq!(f.state()["pitr"], "ENABLED");
    assert_eq!(f.state()["sse"]["KMSMasterKeyArn"], KEY_ARN);
    assert_eq!(st.steps[1].step_name, "WaitForEncryption");
    assert!(
        st.steps[1].end_time_ms > Some(st.steps[1].start_time_ms),
        "it waited between polls"
    );
}

#[test]
fn ebs_encryption_by_default() {
    let f = Fake::new(json!(false))
        .on("ec2", "EnableEbsEncryptionByDefault", |st, i| {
            assert_eq!(i, &json!({}));
            *st = json!(true);
            json!({"EbsEncryptionByDefault": true})
        })
        .on(
            "ec2",
            "GetEbsEncryptionByDefault",
            |st, _| json!({"EbsEncryptionByDefault": st.clone()}),
        );
    run(
        "AWSConfigRemediation-EnableEbsEncryptionByDefault",
        &[("AutomationAssumeRole", &[ROLE])],
        &f,
    );
    assert_eq!(f.state(), json!(true));
}
