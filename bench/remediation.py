#!/usr/bin/env python3
"""Remediation throughput: StartRemediationExecution with 100 keys, and executions completed per
second end to end for a 2-step runbook (AWS-ConfigureS3BucketVersioning: PutBucketVersioning, then
an assert that reads it back).

Starts a release `remedy serve` on a fresh data directory, records N unversioned buckets, creates
S3_BUCKET_VERSIONING_ENABLED and waits until all N are NON_COMPLIANT, puts the remediation
configuration (100 % concurrency), then issues N/100 StartRemediationExecution calls of 100 keys
and measures (a) the calls' rate and (b) the time until every execution is SUCCEEDED (read from the
SQLite file, read-only).

usage: python3 bench/remediation.py [--resources 5000] [--binary target/release/remedy]
"""
import argparse, json, os, socket, sqlite3, subprocess, sys, tempfile, time

import boto3
from botocore.config import Config


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--resources", type=int, default=5000)
    ap.add_argument("--binary", default="target/release/remedy")
    a = ap.parse_args()
    n = a.resources - a.resources % 100

    data = tempfile.mkdtemp(prefix="remedy-rembench-")
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    server = subprocess.Popen([a.binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data,
                               "--log", "error"])
    try:
        c = boto3.client("config", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                         aws_access_key_id="test", aws_secret_access_key="test",
                         config=Config(retries={"max_attempts": 10}))
        for _ in range(200):
            try:
                c.describe_config_rules(); break
            except Exception:
                time.sleep(0.05)
        items = os.path.join(data, "items.jsonl")
        with open(items, "w") as f:
            for i in range(n):
                f.write(json.dumps({
                    "resourceType": "AWS::S3::Bucket", "resourceId": f"b-{i:06d}", "resourceName": f"b-{i:06d}",
                    "awsRegion": "us-east-1", "configuration": {"name": f"b-{i:06d}"},
                    "supplementaryConfiguration": {"BucketVersioningConfiguration": {"status": "Off"}}}) + "\n")
        subprocess.run([a.binary, "import", items, "--data-dir", data], check=True, stdout=subprocess.DEVNULL)
        c.put_config_rule(ConfigRule={"ConfigRuleName": "versioning", "Source": {
            "Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"}})
        db = sqlite3.connect(f"file:{os.path.join(data, 'remedy.db')}?mode=ro", uri=True)
        while db.execute("SELECT COUNT(*) FROM evaluation_results WHERE compliance_type='NON_COMPLIANT'").fetchone()[0] < n:
            time.sleep(0.05)
        c.put_remediation_configurations(RemediationConfigurations=[{
            "ConfigRuleName": "versioning", "TargetType": "SSM_DOCUMENT", "TargetId": "AWS-ConfigureS3BucketVersioning",
            "Parameters": {"BucketName": {"ResourceValue": {"Value": "RESOURCE_ID"}},
                           "AutomationAssumeRole": {"StaticValue": {"Values": ["arn:aws:iam::000000000000:role/r"]}}},
            "ExecutionControls": {"SsmControls": {"ConcurrentExecutionRatePercentage": 100, "ErrorPercentage": 100}}}])
        t0 = time.time()
        for batch in range(n // 100):
            keys = [{"resourceType": "AWS::S3::Bucket", "resourceId": f"b-{batch * 100 + k:06d}"} for k in range(100)]
            out = c.start_remediation_execution(ConfigRuleName="versioning", ResourceKeys=keys)
            assert not out.get("FailedItems"), out
        start_s = time.time() - t0
        while db.execute("SELECT COUNT(*) FROM remediation_executions WHERE state='SUCCEEDED'").fetchone()[0] < n:
            failed = db.execute("SELECT COUNT(*) FROM remediation_executions WHERE state='FAILED'").fetchone()[0]
            assert failed == 0, f"{failed} executions failed"
            time.sleep(0.02)
        done_s = time.time() - t0
        print(json.dumps({"executions": n, "start_calls": n // 100, "start_calls_per_second": round(n / 100 / start_s, 1),
                          "keys_queued_per_second": round(n / start_s), "all_succeeded_seconds": round(done_s, 2),
                          "executions_completed_per_second": round(n / done_s)}))
    finally:
        server.terminate(); server.wait()


if __name__ == "__main__":
    sys.exit(main())
