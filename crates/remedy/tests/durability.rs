//! Acknowledged writes survive SIGKILL: a burst of concurrent PutConfigRule and PutResourceConfig
//! calls, `kill -9` right after the last acknowledgement, a restart on the same data directory,
//! and every acknowledged write is there.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::config::types::{ResourceKey, ResourceType};
use common::*;
use serde_json::{json, Value};

const RULES: usize = 150;
const RESOURCES: usize = 150;
const TYPE: &str = "MyCompany::Widget::Thing";

/// What a burst wrote and had acknowledged.
#[derive(Default)]
struct Acked {
    rules: BTreeSet<String>,
    /// resource id → the `n` of the last acknowledged configuration.
    resources: BTreeMap<String, i64>,
}

/// Fires `RULES` rule puts and `RESOURCES` resource puts at once (the odd resources twice, in
/// order), returning what the server acknowledged.
async fn burst(c: &config::Client, round: usize) -> Acked {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..RULES {
        let c = c.clone();
        tasks.spawn(async move {
            let name = format!("rule-{round}-{i}");
            c.put_config_rule()
                .config_rule(managed_rule(&name))
                .send()
                .await
                .map(|_| (Some(name), None))
                .map_err(|e| format!("{}", config::error::DisplayErrorContext(e)))
        });
    }
    for i in 0..RESOURCES {
        let c = c.clone();
        tasks.spawn(async move {
            let id = format!("thing-{round}-{i}");
            let times = if i % 2 == 1 { 2 } else { 1 };
            let mut last = 0;
            for n in 1..=times {
                c.put_resource_config()
                    .resource_type(TYPE)
                    .schema_version_id("1")
                    .resource_id(&id)
                    .configuration(json!({"round": round, "i": i, "n": n}).to_string())
                    .send()
                    .await
                    .map_err(|e| format!("{}", config::error::DisplayErrorContext(e)))?;
                last = n;
            }
            Ok((None, Some((id, last))))
        });
    }
    let mut acked = Acked::default();
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            Ok((rule, resource)) => {
                acked.rules.extend(rule);
                if let Some((id, n)) = resource {
                    acked.resources.insert(id, n);
                }
            }
            Err(e) => panic!("a write failed: {e}"),
        }
    }
    acked
}

async fn all_rule_names(c: &config::Client) -> BTreeSet<String> {
    let pages: Vec<_> = c
        .describe_config_rules()
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    pages
        .iter()
        .flat_map(|p| {
            p.config_rules()
                .iter()
                .filter_map(|r| r.config_rule_name().map(str::to_string))
        })
        .collect()
}

async fn assert_all_there(c: &config::Client, acked: &Acked) {
    let names = all_rule_names(c).await;
    let missing: Vec<_> = acked.rules.difference(&names).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged rules lost, e.g. {:?}",
        missing.len(),
        missing.first()
    );

    let ids: Vec<&String> = acked.resources.keys().collect();
    for chunk in ids.chunks(100) {
        let keys: Vec<ResourceKey> = chunk
            .iter()
            .map(|id| {
                ResourceKey::builder()
                    .resource_type(ResourceType::from(TYPE))
                    .resource_id(id.as_str())
                    .build()
                    .unwrap()
            })
            .collect();
        let out = c
            .batch_get_resource_config()
            .set_resource_keys(Some(keys))
            .send()
            .await
            .unwrap();
        let got: BTreeMap<String, i64> = out
            .base_configuration_items()
            .iter()
            .map(|b| {
                let doc: Value = serde_json::from_str(b.configuration().unwrap()).unwrap();
                (
                    b.resource_id().unwrap().to_string(),
                    doc["n"].as_i64().unwrap(),
                )
            })
            .collect();
        for id in chunk {
            assert_eq!(
                got.get(*id),
                acked.resources.get(*id),
                "resource {id}: latest acknowledged configuration"
            );
        }
    }
    // Both acknowledged versions of a twice-written resource are in its history.
    let twice = acked
        .resources
        .iter()
        .find(|(_, n)| **n == 2)
        .map(|(id, _)| id.clone())
        .unwrap();
    let out = c
        .get_resource_config_history()
        .resource_type(ResourceType::from(TYPE))
        .resource_id(&twice)
        .send()
        .await
        .unwrap();
    assert_eq!(out.configuration_items().len(), 2, "{twice}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    let mut server = Server::start();
    let mut all = Acked::default();
    for round in 0..2 {
        let c = server.client();
        let acked = burst(&c, round).await;
        // SIGKILL as soon as the last acknowledgement arrived: no graceful shutdown, no checkpoint.
        server.kill();
        assert_eq!(acked.rules.len(), RULES);
        assert_eq!(acked.resources.len(), RESOURCES);
        all.rules.extend(acked.rules);
        all.resources.extend(acked.resources);

        server.restart();
        let c = server.client();
        assert_all_there(&c, &all).await;
        assert_eq!(
            all_rule_names(&c).await.len(),
            all.rules.len(),
            "no unacknowledged rules appeared"
        );
        let listed: Vec<_> = c
            .list_discovered_resources()
            .resource_type(ResourceType::from(TYPE))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap();
        assert_eq!(listed.len(), all.resources.len());
    }
}
