//! `GET /metrics`: Prometheus text exposition format, version 0.0.4.
//!
//! Two sources, kept apart by cost:
//!
//! - **Requests**, counted by this process on the hot path ([`RequestMetrics`]): a counter per
//!   (service, operation, HTTP status) and a latency histogram per operation. The table is fixed
//!   at compile time from the models' operation lists and indexed by operation, so recording a
//!   request is three relaxed atomic additions: no lock, no allocation. An `X-Amz-Target` that is
//!   not an operation of a known service counts as `operation="unknown"` of that service (or of
//!   `service="unknown"`), and statuses outside the API's fixed set as `status="other"`: label
//!   cardinality stays bounded whatever clients send.
//! - **The store**, read at scrape time ([`crate::store::metrics`]): executions by state,
//!   leases, evaluation claims and backlog. On PostgreSQL every node reads the same tables, so
//!   these series are cluster-wide (each node reports the same values; aggregate them with `max`,
//!   not `sum`); the `remedy_node_*` series are this node's own share.
//!
//! Series of requests appear once observed, as with Prometheus client libraries. A store that
//! does not answer within [`STORE_TIMEOUT`] costs the scrape only its store series:
//! `remedy_store_up` says 0 and the request series are still served.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use remedy_wire::{config, ssm};

use crate::store::executions::{STATE_FAILED, STATE_IN_PROGRESS, STATE_QUEUED, STATE_SUCCEEDED};
use crate::store::metrics::StoreMetrics;
use crate::store::Store;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long a scrape waits for the store's counts.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(5);

const CONFIG_OPS: &[config::Operation] = config::Operation::ALL;
const SSM_OPS: &[ssm::Operation] = ssm::Operation::ALL;

/// Slot layout: Config's operations, Config's unknown, SSM's operations, SSM's unknown, and the
/// unknown service (no target, or a prefix remedy does not serve).
const CONFIG_UNKNOWN: usize = CONFIG_OPS.len();
const SSM_BASE: usize = CONFIG_UNKNOWN + 1;
const SSM_UNKNOWN: usize = SSM_BASE + SSM_OPS.len();
const UNKNOWN_SERVICE: usize = SSM_UNKNOWN + 1;
const SLOTS: usize = UNKNOWN_SERVICE + 1;

/// The HTTP statuses the API answers with, each counted apart (anything else: `other`).
const STATUSES: [u16; 8] = [200, 400, 403, 404, 413, 429, 500, 503];
const STATUS_SLOTS: usize = STATUSES.len() + 1;

/// Upper bounds of the latency histogram's buckets, in seconds (`+Inf` follows): from a cached
/// read (well under a millisecond) to a slow durable batch.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const BUCKET_SLOTS: usize = BUCKETS.len() + 1;

/// Bucket bounds in nanoseconds, for comparing with a request's duration without floats.
const BUCKET_NANOS: [u64; BUCKETS.len()] = {
    let mut out = [0u64; BUCKETS.len()];
    let mut i = 0;
    while i < BUCKETS.len() {
        out[i] = (BUCKETS[i] * 1e9) as u64;
        i += 1;
    }
    out
};

/// One operation's counters. Buckets are per bucket (not cumulative) and summed at render.
struct Slot {
    by_status: [AtomicU64; STATUS_SLOTS],
    buckets: [AtomicU64; BUCKET_SLOTS],
    sum_nanos: AtomicU64,
}

impl Default for Slot {
    fn default() -> Self {
        Self {
            by_status: std::array::from_fn(|_| AtomicU64::new(0)),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

/// Request counts and latencies of this process, by operation.
pub struct RequestMetrics {
    slots: Box<[Slot]>,
    started: std::time::SystemTime,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
            started: std::time::SystemTime::now(),
        }
    }
}

/// Which row of the table a request counts in: read from its `X-Amz-Target` before the request
/// is handed on, so the header is neither copied nor parsed twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation(usize);

impl Operation {
    /// The operation of an `X-Amz-Target` value (`<Prefix>.<Operation>`, as the request sent it).
    pub fn of_target(target: Option<&[u8]>) -> Self {
        Operation(slot_of(target))
    }
}

fn slot_of(target: Option<&[u8]>) -> usize {
    let Some(target) = target.and_then(|t| std::str::from_utf8(t).ok()) else {
        return UNKNOWN_SERVICE;
    };
    let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
    if prefix == config::TARGET_PREFIX {
        config::Operation::from_name(op).map_or(CONFIG_UNKNOWN, |o| o as usize)
    } else if prefix == ssm::TARGET_PREFIX {
        ssm::Operation::from_name(op).map_or(SSM_UNKNOWN, |o| SSM_BASE + o as usize)
    } else {
        UNKNOWN_SERVICE
    }
}

/// The (service, operation) labels of a slot.
fn labels_of(slot: usize) -> (&'static str, &'static str) {
    match slot {
        s if s < CONFIG_UNKNOWN => ("config", CONFIG_OPS[s].name()),
        CONFIG_UNKNOWN => ("config", "unknown"),
        s if s < SSM_UNKNOWN => ("ssm", SSM_OPS[s - SSM_BASE].name()),
        SSM_UNKNOWN => ("ssm", "unknown"),
        _ => ("unknown", "unknown"),
    }
}

impl RequestMetrics {
    /// Counts one answered API request: its operation, the status it was answered with and how
    /// long it took, from the first byte read to the response built.
    pub fn record(&self, operation: Operation, status: u16, elapsed: Duration) {
        let slot = &self.slots[operation.0];
        let status = STATUSES
            .iter()
            .position(|s| *s == status)
            .unwrap_or(STATUSES.len());
        slot.by_status[status].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKET_NANOS.partition_point(|bound| *bound < nanos);
        slot.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        slot.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String) {
        family(
            out,
            "remedy_requests_total",
            "counter",
            "API requests this node answered, by service, operation (X-Amz-Target; \"unknown\" for any other) and HTTP status.",
        );
        for (i, slot) in self.slots.iter().enumerate() {
            let (service, operation) = labels_of(i);
            for (j, n) in slot.by_status.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n == 0 {
                    continue;
                }
                let status = STATUSES.get(j).map(u16::to_string);
                let status = status.as_deref().unwrap_or("other");
                let _ = writeln!(
                    out,
                    "remedy_requests_total{{service=\"{service}\",operation=\"{operation}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let name = "remedy_request_duration_seconds";
        family(
            out,
            name,
            "histogram",
            "Time this node took to answer API requests, from reading the request to the built response, by service and operation.",
        );
        for (i, slot) in self.slots.iter().enumerate() {
            // One read of each bucket: the +Inf bucket and _count agree by construction.
            let buckets: Vec<u64> = slot
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect();
            let count: u64 = buckets.iter().sum();
            if count == 0 {
                continue;
            }
            let (service, operation) = labels_of(i);
            let labels = format!("service=\"{service}\",operation=\"{operation}\"");
            let mut cumulative = 0;
            for (j, n) in buckets.iter().enumerate() {
                cumulative += n;
                let le = BUCKETS.get(j).map_or("+Inf".to_string(), f64::to_string);
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
            }
            let sum = slot.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
            let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
        }
    }
}

/// `# HELP` and `# TYPE` of a metric family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One unlabelled sample, with its family lines.
fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

/// HELP text escaping of the format: backslash and line feed.
fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Label value escaping of the format: backslash, double quote and line feed.
fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The execution states always reported, 0 when none is in them (a series that vanishes when it
/// reaches zero breaks alerts and rates).
const EXECUTION_STATES: [&str; 4] = [
    STATE_QUEUED,
    STATE_IN_PROGRESS,
    STATE_SUCCEEDED,
    STATE_FAILED,
];

fn render_store(out: &mut String, m: &StoreMetrics) {
    family(
        out,
        "remedy_executions",
        "gauge",
        "Remediation and automation executions by state, counted in the database: on PostgreSQL the whole cluster's (every node reports the same values).",
    );
    let known = EXECUTION_STATES.iter().map(|s| {
        let n = m
            .executions_by_state
            .iter()
            .find(|(state, _)| state == s)
            .map_or(0, |(_, n)| *n);
        (s.to_string(), n)
    });
    let others = m
        .executions_by_state
        .iter()
        .filter(|(state, _)| !EXECUTION_STATES.contains(&state.as_str()))
        .cloned();
    for (state, n) in known.chain(others) {
        let _ = writeln!(
            out,
            "remedy_executions{{state=\"{}\"}} {n}",
            escape_label(&state)
        );
    }
    gauge(
        out,
        "remedy_executions_leased",
        "Executions a worker holds an unexpired lease on (running a step now), cluster-wide.",
        m.executions_leased,
    );
    gauge(
        out,
        "remedy_node_executions_leased",
        "Executions this node's workers hold a lease on.",
        m.executions_leased_by_node,
    );
    family(
        out,
        "remedy_evaluation_jobs",
        "gauge",
        "Evaluation jobs not yet finished, cluster-wide: pending (the backlog waiting for an engine) and claimed (being evaluated).",
    );
    let _ = writeln!(
        out,
        "remedy_evaluation_jobs{{state=\"pending\"}} {}",
        m.evaluation_jobs_pending
    );
    let _ = writeln!(
        out,
        "remedy_evaluation_jobs{{state=\"claimed\"}} {}",
        m.evaluation_jobs_claimed
    );
    gauge(
        out,
        "remedy_node_evaluation_jobs_claimed",
        "Evaluation jobs this node has claimed and not finished.",
        m.evaluation_jobs_claimed_by_node,
    );
    if let Some(node) = &m.node {
        family(
            out,
            "remedy_node_info",
            "gauge",
            "This node's id on the shared database (what its leases and claims record).",
        );
        let _ = writeln!(out, "remedy_node_info{{node=\"{}\"}} 1", escape_label(node));
    }
}

/// Resident memory and open file descriptors from /proc (Linux); `None` elsewhere.
fn process_stats() -> (Option<u64>, Option<u64>) {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|kb| kb * 1024)
        });
    let fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as u64);
    (rss, fds)
}

/// The whole exposition: this node's request series, the store's counts (bounded by
/// [`STORE_TIMEOUT`]) and process basics.
pub async fn render(requests: &RequestMetrics, store: &dyn Store) -> String {
    let mut out = String::with_capacity(16 * 1024);
    requests.render(&mut out);

    let began = Instant::now();
    let snapshot = tokio::time::timeout(STORE_TIMEOUT, store.metrics_snapshot(crate::time::now()))
        .await
        .map_err(|_| format!("no answer within {} s", STORE_TIMEOUT.as_secs()))
        .and_then(|r| r.map_err(|e| e.to_string()));
    let took = began.elapsed().as_secs_f64();
    match &snapshot {
        Ok(m) => render_store(&mut out, m),
        Err(e) => tracing::warn!(error = %e, "metrics: the store's counts are unavailable"),
    }
    gauge(
        &mut out,
        "remedy_store_up",
        "1 when the store answered this scrape's counts, 0 when it did not (its series are then absent).",
        u8::from(snapshot.is_ok()),
    );
    gauge(
        &mut out,
        "remedy_store_scrape_duration_seconds",
        "How long the store took to count for this scrape.",
        took,
    );

    family(
        &mut out,
        "remedy_build_info",
        "gauge",
        "The running remedy version (always 1).",
    );
    let _ = writeln!(
        out,
        "remedy_build_info{{version=\"{}\"}} 1",
        escape_label(env!("CARGO_PKG_VERSION"))
    );
    let (rss, fds) = process_stats();
    if let Some(rss) = rss {
        gauge(
            &mut out,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            rss,
        );
    }
    if let Some(fds) = fds {
        gauge(
            &mut out,
            "process_open_fds",
            "Number of open file descriptors.",
            fds,
        );
    }
    let started = requests
        .started
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    gauge(
        &mut out,
        "process_start_time_seconds",
        "When this node started serving, in seconds since the Unix epoch.",
        started,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_index_their_slots() {
        // `op as usize` indexes the table: it must be the operation's place in the list.
        for (i, op) in CONFIG_OPS.iter().enumerate() {
            assert_eq!(*op as usize, i);
            let target = format!("{}.{}", config::TARGET_PREFIX, op.name());
            assert_eq!(slot_of(Some(target.as_bytes())), i);
            assert_eq!(labels_of(i), ("config", op.name()));
        }
        for (i, op) in SSM_OPS.iter().enumerate() {
            assert_eq!(*op as usize, i);
            let target = format!("{}.{}", ssm::TARGET_PREFIX, op.name());
            assert_eq!(slot_of(Some(target.as_bytes())), SSM_BASE + i);
            assert_eq!(labels_of(SSM_BASE + i), ("ssm", op.name()));
        }
        let unknown = [
            (
                Some(&b"StarlingDoveService.PutDeliveryChannel"[..]),
                ("config", "unknown"),
            ),
            (Some(b"StarlingDoveService"), ("config", "unknown")),
            (Some(b"AmazonSSM.SendCommand"), ("ssm", "unknown")),
            (Some(b"DynamoDB_20120810.GetItem"), ("unknown", "unknown")),
            (Some(b"\xff\xfe"), ("unknown", "unknown")),
            (None, ("unknown", "unknown")),
        ];
        for (target, labels) in unknown {
            assert_eq!(labels_of(slot_of(target)), labels, "{target:?}");
        }
    }

    #[test]
    fn durations_land_in_their_bucket_and_the_sum() {
        let m = RequestMetrics::default();
        let target = Operation::of_target(Some(b"StarlingDoveService.PutConfigRule"));
        m.record(target, 200, Duration::from_micros(300)); // le 0.0005
        m.record(target, 200, Duration::from_micros(500)); // le 0.0005 (bounds are inclusive)
        m.record(target, 400, Duration::from_millis(7)); // le 0.01
        m.record(target, 418, Duration::from_secs(60)); // +Inf, status other
        let mut out = String::new();
        m.render(&mut out);
        let op = "service=\"config\",operation=\"PutConfigRule\"";
        for line in [
            format!("remedy_requests_total{{{op},status=\"200\"}} 2"),
            format!("remedy_requests_total{{{op},status=\"400\"}} 1"),
            format!("remedy_requests_total{{{op},status=\"other\"}} 1"),
            format!("remedy_request_duration_seconds_bucket{{{op},le=\"0.0005\"}} 2"),
            format!("remedy_request_duration_seconds_bucket{{{op},le=\"0.005\"}} 2"),
            format!("remedy_request_duration_seconds_bucket{{{op},le=\"0.01\"}} 3"),
            format!("remedy_request_duration_seconds_bucket{{{op},le=\"10\"}} 3"),
            format!("remedy_request_duration_seconds_bucket{{{op},le=\"+Inf\"}} 4"),
            format!("remedy_request_duration_seconds_sum{{{op}}} 60.0078"),
            format!("remedy_request_duration_seconds_count{{{op}}} 4"),
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
        // Operations never called have no series.
        assert!(!out.contains("DeleteConfigRule"), "{out}");
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape_help("a\\b\nc \"q\""), "a\\\\b\\nc \"q\"");
    }
}
