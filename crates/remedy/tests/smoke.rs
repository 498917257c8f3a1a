//! The shortest proof that the binary, the SDK and the harness fit together.

mod common;

use common::*;

#[tokio::test]
async fn sdk_round_trip_and_health() {
    let server = Server::start();
    let c = server.client();
    c.put_config_rule()
        .config_rule(managed_rule("smoke"))
        .send()
        .await
        .unwrap();
    let out = c
        .describe_config_rules()
        .config_rule_names("smoke")
        .send()
        .await
        .unwrap();
    let rule = &out.config_rules()[0];
    assert_eq!(rule.config_rule_name(), Some("smoke"));
    assert!(rule.config_rule_id().unwrap().starts_with("config-rule-"));
    let (status, _, body) = server.get("/health").unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("ok"));
    assert_eq!(server.get("/ready").unwrap().0, 200);
}
