//! The step-wise interpreter against the in-memory TestWorld.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use remedy_automation::test_util::{block_on, ManualClock, TestWorld};
use remedy_automation::{
    interpolate, run_next_step, AutomationExecutionStatus as S, ExecutionContext, ExecutionState,
    ResolvedParameters, Runbook, StepResult, Variables, World, WorldError,
};
use serde_json::{json, Value};

const T0: i64 = 1_709_212_455_000; // 2024-02-29T13:14:15Z

fn ctx() -> ExecutionContext {
    ExecutionContext::new(
        "11111111-2222-3333-4444-555555555555",
        "123456789012",
        "eu-west-1",
    )
}

fn start(doc: &str, params: &[(&str, &[&str])]) -> (Runbook, ExecutionState) {
    let rb = Runbook::parse(doc).unwrap_or_else(|e| panic!("{e}"));
    let given: BTreeMap<String, Vec<String>> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect();
    let p = rb.resolve_parameters(&given).unwrap();
    let st = ExecutionState::new(&rb, p);
    (rb, st)
}

/// Runs to the end, jumping the clock to each wake-up time; returns the final status and how
/// many times run_next_step was called.
fn run(
    rb: &Runbook,
    st: &mut ExecutionState,
    world: &dyn World,
    clock: &ManualClock,
) -> (S, usize) {
    let c = ctx();
    for calls in 1..10_000 {
        // Round-trip the state through JSON now and then, as the engine's store does.
        if calls % 7 == 1 {
            let text = serde_json::to_string(&*st).unwrap();
            *st = serde_json::from_str(&text).unwrap();
        }
        match block_on(run_next_step(rb, st, &c, world, clock)) {
            StepResult::Continue => {}
            StepResult::Waiting { until } => clock.set_ms(until),
            StepResult::Ended(s) => {
                assert_eq!(s, st.status);
                assert!(st.end_time_ms.is_some());
                return (s, calls);
            }
        }
    }
    panic!("did not end");
}

fn names(st: &ExecutionState) -> Vec<(String, S)> {
    st.steps
        .iter()
        .map(|r| (r.step_name.clone(), r.status))
        .collect()
}

fn n(pairs: &[(&str, S)]) -> Vec<(String, S)> {
    pairs.iter().map(|(a, b)| (a.to_string(), *b)).collect()
}

#[test]
fn outputs_via_selectors_feed_later_steps_with_their_types() {
    let doc = r#"
schemaVersion: '0.3'
parameters:
  Bucket: {type: String}
outputs: [Describe.Status, Describe.Names]
mainSteps:
  - name: Describe
    action: aws:executeAwsApi
    inputs: {Service: S3, Api: GetThings, Bucket: '{{ Bucket }}'}
    outputs:
      - {Name: Status, Selector: $.Status, Type: String}
      - {Name: Count, Selector: '$.Rules[1].Count', Type: Integer}
      - {Name: Enabled, Selector: $.Enabled, Type: Boolean}
      - {Name: Names, Selector: '$.Rules[*].Name', Type: StringList}
      - {Name: Rules, Selector: $.Rules, Type: MapList}
      - {Name: Tags, Selector: $.Tags, Type: StringMap}
      - {Name: EnabledText, Selector: $.Enabled, Type: String}
      - {Name: Absent, Selector: $.Nope, Type: String}
  - name: Use
    action: aws:executeAwsApi
    inputs:
      Service: s3
      Api: UseThings
      Rules: '{{ Describe.Rules }}'
      Count: '{{ Describe.Count }}'
      Enabled: '{{ Describe.Enabled }}'
      Names: '{{ Describe.Names }}'
      Tags: '{{ Describe.Tags }}'
      Text: 'status={{Describe.Status}} count={{ Describe.Count }} on={{ Describe.Enabled }} names={{ Describe.Names }}'
      Where: '{{ global:ACCOUNT_ID }}/{{ global:REGION }}/{{ global:AWS_PARTITION }}/{{ global:DATE }}/{{ global:DATE_TIME }}/{{ automation:EXECUTION_ID }}'
"#;
    let (rb, mut st) = start(doc, &[("Bucket", &["b1"])]);
    let world = TestWorld::new()
        .respond(
            "s3",
            "GetThings",
            json!({"Status": "Enabled", "Enabled": true, "Tags": {"a": "b"},
                   "Rules": [{"Name": "r1", "Count": 1}, {"Name": "r2", "Count": 2}]}),
        )
        .respond("s3", "UseThings", json!({}));
    let clock = ManualClock::new(T0);
    assert_eq!(run(&rb, &mut st, &world, &clock).0, S::Success);
    let calls = world.calls();
    assert_eq!(calls[0].service, "s3", "service names are lower-cased");
    assert_eq!(
        calls[0].input,
        json!({"Bucket": "b1"}),
        "Service/Api are not passed on"
    );
    let used = &calls[1].input;
    assert_eq!(
        used["Rules"],
        json!([{"Name": "r1", "Count": 1}, {"Name": "r2", "Count": 2}])
    );
    assert_eq!(used["Count"], json!(2));
    assert_eq!(used["Enabled"], json!(true));
    assert_eq!(used["Names"], json!(["r1", "r2"]));
    assert_eq!(used["Tags"], json!({"a": "b"}));
    assert_eq!(
        used["Text"],
        json!(r#"status=Enabled count=2 on=True names=["r1","r2"]"#)
    );
    assert_eq!(
        used["Where"],
        json!("123456789012/eu-west-1/aws/2024-02-29/2024-02-29_13.14.15/11111111-2222-3333-4444-555555555555")
    );
    let out = &st.outputs["Describe"];
    assert_eq!(
        out["EnabledText"],
        json!("True"),
        "booleans stringify the Python way"
    );
    assert!(
        !out.contains_key("Absent"),
        "a selector matching nothing sets no output"
    );
    assert_eq!(
        st.steps[1].inputs["Count"],
        json!(2),
        "records keep resolved inputs"
    );
    let doc_out = st.document_outputs(&rb);
    assert_eq!(doc_out["Describe.Status"], ["Enabled"]);
    assert_eq!(doc_out["Describe.Names"], ["r1", "r2"]);
}

#[test]
fn output_type_mismatch_fails_the_step() {
    let doc = r#"
schemaVersion: '0.3'
mainSteps:
  - name: A
    action: aws:executeAwsApi
    inputs: {Service: s3, Api: Get}
    outputs: [{Name: N, Selector: $.X, Type: Integer}]
"#;
    let (rb, mut st) = start(doc, &[]);
    let world = TestWorld::new().respond("s3", "Get", json!({"X": "many"}));
    assert_eq!(
        run(&rb, &mut st, &world, &ManualClock::new(T0)).0,
        S::Failed
    );
    let m = st.steps[0].failure_message.clone().unwrap();
    assert!(
        m.contains("Output N (selector $.X) could not be converted to Integer"),
        "{m}"
    );
}

#[test]
fn unknown_reference_fails_the_step_with_its_name() {
    let doc = r#"
schemaVersion: '0.3'
mainSteps:
  - name: A
    action: aws:executeAwsApi
    inputs: {Service: s3, Api: Get, Bucket: 'x-{{ Missing }}'}
  - name: B
    action: aws:executeAwsApi
    inputs: {Service: s3, Api: Get, Bucket: '{{ Later.Thing }}'}
  - name: Later
    action: aws:executeAwsApi
    inputs: {Service: s3, Api: Get}
    outputs: [{Name: Thing, Selector: $.T, Type: String}]
"#;
    let (rb, mut st) = start(doc, &[]);
    let world = TestWorld::new().respond("s3", "Get", json!({}));
    assert_eq!(
        run(&rb, &mut st, &world, &ManualClock::new(T0)).0,
        S::Failed
    );
    let m = st.steps[0].failure_message.clone().unwrap();
    assert!(
        m.contains("{{ Missing }}") && m.contains("no parameter Missing"),
        "{m}"
    );
    assert!(
        st.failure_message
            .clone()
            .unwrap()
            .contains("Step A failed"),
        "{:?}",
        st.failure_message
    );
    assert_eq!(world.calls().len(), 0);

    let doc2 = doc.replace("Bucket: 'x-{{ Missing }}'", "Bucket: x");
    let (rb, mut st) = start(&doc2, &[]);
    assert_eq!(
        run(&rb, &mut st, &world, &ManualClock::new(T0)).0,
        S::Failed
    );
    let m = st.steps[1].failure_message.clone().unwrap();
    assert!(m.contains("step Later has not run"), "{m}");
}

#[test]
fn interpolate_directly() {
    let params = ResolvedParameters(BTreeMap::from([
        ("L".to_string(), json!(["a", "b"])),
        ("I".to_string(), json!(7)),
    ]));
    let outputs = BTreeMap::new();
    let vars = Variables {
        parameters: &params,
        step_outputs: &outputs,
        account_id: "1",
        region: "cn-north-1",
        partition: "aws-cn",
        execution_id: "e",
        now_ms: T0,
    };
    let v = interpolate(
        &json!({"k{{L}}": ["{{L}}", " {{ I }} ", "{{I}}-{{ L }}", 5]}),
        &vars,
    )
    .unwrap();
    assert_eq!(v, json!({"k{{L}}": [["a", "b"], 7, r#"7-["a","b"]"#, 5]}));
    let e = interpolate(&json!("{{ global:NOPE }}"), &vars).unwrap_err();
    assert!(e.0.contains("global variables are ACCOUNT_ID"), "{e}");
    let e = interpolate(&json!("{{ automation:FOO }}"), &vars).unwrap_err();
    assert!(e.0.contains("EXECUTION_ID"), "{e}");
    assert_eq!(
        ExecutionContext::new("e", "1", "cn-north-1").partition,
        "aws-cn"
    );
    assert_eq!(
        ExecutionContext::new("e", "1", "us-gov-west-1").partition,
        "aws-us-gov"
    );
}

const FLOW: &str = r#"
schemaVersion: '0.3'
parameters:
  Path: {type: String}
mainSteps:
  - name: Choose
    action: aws:branch
    inputs:
      Choices:
        - NextStep: Fail
          Variable: '{{ Path }}'
          StringEquals: fail
        - NextStep: Jump
          And:
            - {Variable: '{{ Path }}', StartsWith: ju}
            - Not: {Variable: '{{ Path }}', EndsWith: x}
      Default: Normal
  - name: Normal
    action: aws:executeAwsApi
    nextStep: Done
    inputs: {Service: s3, Api: Ok}
  - name: Jump
    action: aws:executeAwsApi
    isEnd: true
    inputs: {Service: s3, Api: Ok}
  - name: Fail
    action: aws:executeAwsApi
    onFailure: step:Recover
    inputs: {Service: s3, Api: Boom}
  - name: Done
    action: aws:executeAwsApi
    isEnd: true
    inputs: {Service: s3, Api: Ok}
  - name: Recover
    action: aws:executeAwsApi
    inputs: {Service: s3, Api: Ok}
"#;

fn flow_world() -> TestWorld {
    TestWorld::new().respond("s3", "Ok", json!({})).fail(
        "s3",
        "Boom",
        "NoSuchBucket",
        "The specified bucket does not exist",
    )
}

#[test]
fn branch_default_next_step_and_is_end() {
    let world = flow_world();
    let (rb, mut st) = start(FLOW, &[("Path", &["normal"])]);
    let (status, calls) = run(&rb, &mut st, &world, &ManualClock::new(T0));
    assert_eq!(status, S::Success);
    assert_eq!(
        names(&st),
        n(&[
            ("Choose", S::Success),
            ("Normal", S::Success),
            ("Done", S::Success)
        ])
    );
    assert_eq!(
        calls, 3,
        "one call per step; the last one ends the execution"
    );
    assert_eq!(st.steps[0].next_step.as_deref(), Some("Normal"));
    assert_eq!(st.steps[2].next_step, None);

    let (rb, mut st) = start(FLOW, &[("Path", &["jump"])]);
    assert_eq!(
        run(&rb, &mut st, &world, &ManualClock::new(T0)).0,
        S::Success
    );
    assert_eq!(
        names(&st),
        n(&[("Choose", S::Success), ("Jump", S::Success)])
    );

    // "jux" fails the Not, so the Default applies.
    let (rb, mut st) = start(FLOW, &[("Path", &["jux"])]);
    run(&rb, &mut st, &world, &ManualClock::new(T0));
    assert_eq!(st.steps[1].step_name, "Normal");
}

#[test]
fn on_failure_step_runs_recovery_but_critical_failure_fails_the_execution() {
    let world = flow_world();
    let (rb, mut st) = start(FLOW, &[("Path", &["fail"])]);
    assert_eq!(
        run(&rb, &mut st, &world, &ManualClock::new(T0)).0,
        S::Failed
    );
    assert_eq!(
        names(&st),
        n(&[
            ("Choose", S::Success),
            ("Fail", S::Failed),
            ("Recover", S::Success)
        ])
    );
    assert_eq!(
        st.steps[1].failure_message.as_deref(),
        Some("An error occurred (NoSuchBucket) when calling the Boom operation: The specified bucket does not exist")
    );
    assert!(st
        .failure_message
        .clone()
        .unwrap()
        .contains("Step Fail failed and is critical"));

    // Not critical: the recovery path decides.
    let doc = FLOW.replace(
        "    onFailure: step:Recover\n",
        "    onFailure: step:Recover\n    isCritical: false\n",
    );
    let (rb, mut st) = start(&doc, &[("Path", &["fail"])]);
    assert_eq!(
        run(&rb, &mut st, &world, &ManualClock::new(T0)).0,
        S::Success
    );
    assert_eq!(st.steps[2].step_name, "Recover");
}

#[test]
fn on_failure_continue_and_abort() {
    let world = flow_world();
    let doc = FLOW.replace("onFailure: step:Recover", "onFailure: Continue");
    let (rb, mut st) = start(&doc, &[("Path", &["fail"])]);
    assert_eq!(
        run(&rb, &mut st, &world, &ManualClock::new(T0)).0,
        S::Success,
        "Continue is not critical"
    );
    assert_eq!(
        names(&st),
        n(&[
            ("Choose", S::Success),
            ("Fail", S::Failed),
            ("Done", S::Success)
        ])
    );

    let doc = FLOW.replace("onFailure: step:Recover", "onFailure: Abort");
    let (rb, mut st) = start(&doc, &[("Path", &["fail"])]);
    assert_eq!(
        run(&rb, &mut st, &world, &ManualClock::new(T0)).0,
        S::Failed
    );
    assert_eq!(
        names(&st),
        n(&[("Choose", S::Success), ("Fail", S::Failed)])
    );
    assert_eq!(
        st.failure_message.as_deref(),
        Some("Step Fail failed (Failed): An error occurred (NoSuchBucket) when calling the Boom operation: The specified bucket does not exist")
    );
    // Once ended, further calls just report the end.
    let c = ctx();
    let again = block_on(run_next_step(
        &rb,
        &mut st,
        &c,
        &world,
        &ManualClock::new(T0),
    ));
    assert_eq!(again, StepResult::Ended(S::Failed));
}

fn flaky(failures: usize) -> (TestWorld, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let world = TestWorld::new().on("s3", "Flaky", move |_| {
        if c.fetch_add(1, Ordering::SeqCst) < failures {
            Err(WorldError::new(
                "SlowDown",
                "Please reduce your request rate.",
            ))
        } else {
            Ok(json!({"ok": true}))
        }
    });
    (world, count)
}

#[test]
fn max_attempts_retries_within_one_step() {
    let doc = r#"
schemaVersion: '0.3'
mainSteps:
  - name: A
    action: aws:executeAwsApi
    maxAttempts: 3
    inputs: {Service: s3, Api: Flaky}
"#;
    let (world, count) = flaky(2);
    let (rb, mut st) = start(doc, &[]);
    assert_eq!(
        run(&rb, &mut st, &world, &ManualClock::new(T0)),
        (S::Success, 1)
    );
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert_eq!(st.steps[0].attempt, 3);

    let (world, count) = flaky(5);
    let (rb, mut st) = start(doc, &[]);
    assert_eq!(
        run(&rb, &mut st, &world, &ManualClock::new(T0)).0,
        S::Failed
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        3,
        "three attempts, then the step fails"
    );
    assert!(st.steps[0]
        .failure_message
        .clone()
        .unwrap()
        .contains("(SlowDown)"));
}

#[test]
fn timeout_seconds() {
    let doc = r#"
schemaVersion: '0.3'
mainSteps:
  - name: A
    action: aws:executeAwsApi
    timeoutSeconds: 5
    maxAttempts: 2
    inputs: {Service: s3, Api: Slow}
"#;
    // A call that never answers is cut off at the timeout (and retried).
    let world = TestWorld::new().hang("s3", "Slow");
    let (rb, mut st) = start(doc, &[]);
    let clock = ManualClock::new(T0);
    assert_eq!(run(&rb, &mut st, &world, &clock).0, S::TimedOut);
    assert_eq!(world.call_count("s3", "Slow"), 2);
    assert_eq!(st.steps[0].status, S::TimedOut);
    assert!(st.steps[0]
        .failure_message
        .clone()
        .unwrap()
        .contains("did not complete within 5 seconds"));

    // A call that answers too late also counts as timed out.
    let clock = ManualClock::new(T0);
    let c2 = clock.clone();
    let world = TestWorld::new().on("s3", "Slow", move |_| {
        c2.advance_ms(6_000);
        Ok(json!({}))
    });
    let (rb, mut st) = start(doc, &[]);
    assert_eq!(run(&rb, &mut st, &world, &clock).0, S::TimedOut);
    assert_eq!(st.status.remediation_execution_state(), "FAILED");
}

#[test]
fn sleep_returns_waiting_and_resumes_after_the_time() {
    let doc = r#"
schemaVersion: '0.3'
mainSteps:
  - name: Nap
    action: aws:sleep
    inputs: {Duration: PT10S}
  - name: After
    action: aws:executeAwsApi
    inputs: {Service: s3, Api: Ok}
  - name: PastTimestamp
    action: aws:sleep
    inputs: {Timestamp: '2020-01-01T00:00:00Z'}
"#;
    let (rb, mut st) = start(doc, &[]);
    let world = TestWorld::new().respond("s3", "Ok", json!({}));
    let clock = ManualClock::new(T0);
    let c = ctx();
    assert_eq!(
        block_on(run_next_step(&rb, &mut st, &c, &world, &clock)),
        StepResult::Waiting { until: T0 + 10_000 }
    );
    assert_eq!(st.status, S::InProgress);
    assert_eq!(st.steps[0].status, S::InProgress);
    assert_eq!(st.current_step_name(), Some("Nap"));

    // The engine persists the state and "restarts" 4 s later: the sleep is not restarted.
    let mut st: ExecutionState =
        serde_json::from_str(&serde_json::to_string(&st).unwrap()).unwrap();
    clock.advance_ms(4_000);
    assert_eq!(
        block_on(run_next_step(&rb, &mut st, &c, &world, &clock)),
        StepResult::Waiting { until: T0 + 10_000 }
    );
    assert_eq!(world.calls().len(), 0);
    assert_eq!(st.steps_executed, 1);

    clock.set_ms(T0 + 10_000);
    assert_eq!(
        block_on(run_next_step(&rb, &mut st, &c, &world, &clock)),
        StepResult::Continue
    );
    assert_eq!(st.steps[0].status, S::Success);
    assert_eq!(st.steps[0].end_time_ms, Some(T0 + 10_000));
    assert_eq!(
        block_on(run_next_step(&rb, &mut st, &c, &world, &clock)),
        StepResult::Continue
    );
    // A timestamp in the past continues at once, and the last step ends the execution.
    assert_eq!(
        block_on(run_next_step(&rb, &mut st, &c, &world, &clock)),
        StepResult::Ended(S::Success)
    );
}

#[test]
fn cancel_a_waiting_execution() {
    let doc = "schemaVersion: '0.3'\nmainSteps:\n  - {name: Nap, action: 'aws:sleep', inputs: {Duration: PT1H}}\n";
    let (rb, mut st) = start(doc, &[]);
    let clock = ManualClock::new(T0);
    block_on(run_next_step(
        &rb,
        &mut st,
        &ctx(),
        &TestWorld::new(),
        &clock,
    ));
    st.cancel(T0 + 1);
    assert_eq!(st.status, S::Cancelled);
    assert_eq!(st.steps[0].status, S::Cancelled);
    assert_eq!(
        block_on(run_next_step(
            &rb,
            &mut st,
            &ctx(),
            &TestWorld::new(),
            &clock
        )),
        StepResult::Ended(S::Cancelled)
    );
}

#[test]
fn wait_for_polls_until_the_value_appears_or_times_out() {
    let doc = r#"
schemaVersion: '0.3'
mainSteps:
  - name: WaitActive
    action: aws:waitForAwsResourceProperty
    timeoutSeconds: 60
    inputs:
      Service: dynamodb
      Api: DescribeTable
      TableName: t
      PropertySelector: $.Table.TableStatus
      DesiredValues: [ACTIVE]
"#;
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let world = TestWorld::new().on("dynamodb", "DescribeTable", move |_| {
        let n = p.fetch_add(1, Ordering::SeqCst);
        Ok(json!({"Table": {"TableStatus": if n < 3 { "UPDATING" } else { "ACTIVE" }}}))
    });
    let (rb, mut st) = start(doc, &[]);
    let clock = ManualClock::new(T0);
    let c = ctx();
    assert_eq!(
        block_on(run_next_step(&rb, &mut st, &c, &world, &clock)),
        StepResult::Waiting { until: T0 + 5_000 }
    );
    assert_eq!(run(&rb, &mut st, &world, &clock).0, S::Success);
    assert_eq!(polls.load(Ordering::SeqCst), 4);
    assert_eq!(st.steps_executed, 1);
    assert_eq!(clock_now(&clock), T0 + 15_000);

    // Never ACTIVE: TimedOut after timeoutSeconds.
    let world = TestWorld::new().respond(
        "dynamodb",
        "DescribeTable",
        json!({"Table": {"TableStatus": "UPDATING"}}),
    );
    let (rb, mut st) = start(doc, &[]);
    let clock = ManualClock::new(T0);
    assert_eq!(run(&rb, &mut st, &world, &clock).0, S::TimedOut);
    assert_eq!(clock_now(&clock), T0 + 60_000);
    assert!(st.steps[0]
        .failure_message
        .clone()
        .unwrap()
        .contains("timed out after 60 seconds"));
}

fn clock_now(c: &ManualClock) -> i64 {
    use remedy_automation::Clock;
    c.now_ms()
}

#[test]
fn runaway_loop_is_bounded() {
    let doc = r#"
schemaVersion: '0.3'
mainSteps:
  - name: Ping
    action: aws:executeAwsApi
    nextStep: Loop
    inputs: {Service: s3, Api: Ok}
  - name: Loop
    action: aws:branch
    inputs:
      Choices:
        - {NextStep: Ping, Variable: '{{ automation:EXECUTION_ID }}', StartsWith: '1'}
"#;
    let (rb, mut st) = start(doc, &[]);
    let world = TestWorld::new().respond("s3", "Ok", json!({}));
    let (status, _) = run(&rb, &mut st, &world, &ManualClock::new(T0));
    assert_eq!(status, S::Failed);
    assert_eq!(st.steps_executed, 1000);
    assert_eq!(world.call_count("s3", "Ok"), 500);
    let m = st.failure_message.clone().unwrap();
    assert!(m.contains("maximum") && m.contains("loop"), "{m}");
}

#[test]
fn assert_compares_booleans_as_python_strings() {
    let doc = r#"
schemaVersion: '0.3'
parameters:
  Want: {type: Boolean, default: true}
mainSteps:
  - name: Literal
    action: aws:assertAwsResourceProperty
    inputs: {Service: kms, Api: GetKeyRotationStatus, KeyId: k, PropertySelector: $.KeyRotationEnabled, DesiredValues: ['True']}
  - name: FromParameter
    action: aws:assertAwsResourceProperty
    inputs: {Service: kms, Api: GetKeyRotationStatus, KeyId: k, PropertySelector: $.KeyRotationEnabled, DesiredValues: ['{{ Want }}']}
"#;
    let world = TestWorld::new().respond(
        "kms",
        "GetKeyRotationStatus",
        json!({"KeyRotationEnabled": true}),
    );
    let (rb, mut st) = start(doc, &[]);
    assert_eq!(
        run(&rb, &mut st, &world, &ManualClock::new(T0)).0,
        S::Success
    );

    let world = TestWorld::new().respond(
        "kms",
        "GetKeyRotationStatus",
        json!({"KeyRotationEnabled": false}),
    );
    let (rb, mut st) = start(doc, &[]);
    assert_eq!(
        run(&rb, &mut st, &world, &ManualClock::new(T0)).0,
        S::Failed
    );
    assert_eq!(
        st.steps[0].failure_message.as_deref(),
        Some("The property $.KeyRotationEnabled has value [False], which is not one of the desired values [True].")
    );
    // Lower-case "true" does not match a Python-style True.
    let doc2 = doc.replace("DesiredValues: ['True']", "DesiredValues: ['true']");
    let world = TestWorld::new().respond(
        "kms",
        "GetKeyRotationStatus",
        json!({"KeyRotationEnabled": true}),
    );
    let (rb, mut st) = start(&doc2, &[]);
    assert_eq!(
        run(&rb, &mut st, &world, &ManualClock::new(T0)).0,
        S::Failed
    );
    // A missing property is a clear failure.
    let world = TestWorld::new().respond("kms", "GetKeyRotationStatus", json!({}));
    let (rb, mut st) = start(doc, &[]);
    assert_eq!(
        run(&rb, &mut st, &world, &ManualClock::new(T0)).0,
        S::Failed
    );
    assert!(st.steps[0]
        .failure_message
        .clone()
        .unwrap()
        .contains("was not found in the response"));
}

#[test]
fn branch_operators_evaluate() {
    let doc = r#"
schemaVersion: '0.3'
parameters:
  N: {type: Integer}
  B: {type: Boolean}
  S: {type: String}
  L: {type: StringList, default: []}
mainSteps:
  - name: Pick
    action: aws:branch
    inputs:
      Choices:
        - {NextStep: Numeric, And: [{Variable: '{{N}}', NumericGreater: 5}, {Variable: '{{N}}', NumericLesserOrEquals: '10'}]}
        - {NextStep: Bool, Variable: '{{B}}', BooleanEquals: true}
        - {NextStep: Str, Or: [{Variable: '{{S}}', EqualsIgnoreCase: HELLO}, {Variable: '{{L}}', Contains: x}]}
    isEnd: true
  - {name: Numeric, action: 'aws:sleep', isEnd: true, inputs: {Duration: PT0S}}
  - {name: Bool, action: 'aws:sleep', isEnd: true, inputs: {Duration: PT0S}}
  - {name: Str, action: 'aws:sleep', isEnd: true, inputs: {Duration: PT0S}}
"#;
    type Case<'a> = (&'a str, &'a str, &'a str, &'a [&'a str], Option<&'a str>);
    let cases: &[Case] = &[
        ("7", "false", "", &[], Some("Numeric")),
        ("11", "true", "", &[], Some("Bool")),
        ("1", "false", "hello", &[], Some("Str")),
        ("1", "false", "", &["y", "x"], Some("Str")),
        ("1", "false", "", &["y"], None),
    ];
    for (nv, bv, sv, lv, want) in cases {
        let (rb, mut st) = start(doc, &[("N", &[nv]), ("B", &[bv]), ("S", &[sv]), ("L", lv)]);
        assert_eq!(
            run(&rb, &mut st, &TestWorld::new(), &ManualClock::new(T0)).0,
            S::Success
        );
        assert_eq!(
            st.steps.get(1).map(|r| r.step_name.as_str()),
            *want,
            "{nv} {bv} {sv} {lv:?}"
        );
    }
    // A non-numeric value in a numeric comparison fails the branch step.
    let doc2 = doc.replace("NumericGreater: 5", "NumericGreater: five");
    let (rb, mut st) = start(
        &doc2,
        &[("N", &["7"]), ("B", &["true"]), ("S", &["s"]), ("L", &[])],
    );
    assert_eq!(
        run(&rb, &mut st, &TestWorld::new(), &ManualClock::new(T0)).0,
        S::Failed
    );
    let m = st.steps[0].failure_message.clone().unwrap();
    assert!(m.contains("NumericGreater compares numbers"), "{m}");
}

#[test]
fn unsupported_api_names_what_the_world_answers() {
    let doc = "schemaVersion: '0.3'\nmainSteps:\n  - {name: A, action: 'aws:executeAwsApi', inputs: {Service: iam, Api: DeleteUser}}\n";
    let (rb, mut st) = start(doc, &[]);
    let world = TestWorld::new().respond("s3", "Ok", json!({}));
    run(&rb, &mut st, &world, &ManualClock::new(T0));
    let m = st.steps[0].failure_message.clone().unwrap();
    assert!(
        m.starts_with(
            "An error occurred (UnsupportedOperation) when calling the DeleteUser operation"
        ),
        "{m}"
    );
    assert!(m.contains("s3:Ok"), "{m}");
}

#[test]
fn assume_role_is_interpolated() {
    let doc = "schemaVersion: '0.3'\nassumeRole: '{{ Role }}'\nparameters:\n  Role: {type: String, default: ''}\nmainSteps:\n  - {name: A, action: 'aws:sleep', inputs: {Duration: PT0S}}\n";
    let (rb, st) = start(doc, &[("Role", &["arn:aws:iam::123456789012:role/r"])]);
    assert_eq!(
        st.assume_role(&rb, &ctx(), T0).as_deref(),
        Some("arn:aws:iam::123456789012:role/r")
    );
    let (rb, st) = start(doc, &[]);
    assert_eq!(st.assume_role(&rb, &ctx(), T0), None);
    let _: Value = serde_json::to_value(&st).unwrap();
}
