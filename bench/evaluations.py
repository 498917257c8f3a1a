#!/usr/bin/env python3
"""Evaluation throughput: N S3 buckets x R managed rules after a bulk import.

Starts a release `remedy serve` on a fresh data directory, bulk-imports N bucket configuration
items with `remedy import` (beside the running server), then creates R rules on AWS::S3::Bucket at
once and measures the time until all N*R verdicts are stored and the evaluation queue is empty
(read from the SQLite file), then counts the verdicts again through the API.

usage: python3 bench/evaluations.py [--resources 10000] [--rules 10] [--binary target/release/remedy]
"""
import argparse, json, os, socket, sqlite3, subprocess, sys, tempfile, time

import boto3
from botocore.config import Config

IDENTIFIERS = [
    "S3_BUCKET_VERSIONING_ENABLED", "S3_BUCKET_LOGGING_ENABLED",
    "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED", "S3_BUCKET_PUBLIC_READ_PROHIBITED",
    "S3_BUCKET_PUBLIC_WRITE_PROHIBITED", "S3_BUCKET_SSL_REQUESTS_ONLY",
    "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
]


def bucket(i):
    return {
        "resourceType": "AWS::S3::Bucket", "resourceId": f"bucket-{i:06d}", "resourceName": f"bucket-{i:06d}",
        "arn": f"arn:aws:s3:::bucket-{i:06d}", "awsRegion": "us-east-1", "availabilityZone": "Regional",
        "configuration": {"name": f"bucket-{i:06d}"},
        "supplementaryConfiguration": {
            "BucketVersioningConfiguration": {"status": "Enabled" if i % 2 else "Off", "isMfaDeleteEnabled": None},
            "BucketLoggingConfiguration": {"destinationBucketName": None, "logFilePrefix": None},
            "PublicAccessBlockConfiguration": {"blockPublicAcls": True, "ignorePublicAcls": True,
                                               "blockPublicPolicy": True, "restrictPublicBuckets": bool(i % 3)},
        },
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--resources", type=int, default=10000)
    ap.add_argument("--rules", type=int, default=10)
    ap.add_argument("--binary", default="target/release/remedy")
    a = ap.parse_args()

    data = tempfile.mkdtemp(prefix="remedy-evalbench-")
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    server = subprocess.Popen([a.binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data,
                               "--log", "warn"])
    try:
        client = boto3.client("config", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test",
                              config=Config(retries={"max_attempts": 10}))
        for _ in range(200):
            try:
                client.describe_config_rules(); break
            except Exception:
                time.sleep(0.05)
        items = os.path.join(data, "items.jsonl")
        with open(items, "w") as f:
            for i in range(a.resources):
                f.write(json.dumps(bucket(i)) + "\n")
        t = time.time()
        subprocess.run([a.binary, "import", items, "--data-dir", data], check=True, stdout=subprocess.DEVNULL)
        import_s = time.time() - t

        t0 = time.time()
        names = []
        for r in range(a.rules):
            name = f"rule-{r:02d}"
            client.put_config_rule(ConfigRule={"ConfigRuleName": name, "Source": {
                "Owner": "AWS", "SourceIdentifier": IDENTIFIERS[r % len(IDENTIFIERS)]}})
            names.append(name)
        # Done when every (rule, bucket) pair has a stored verdict and the queue is empty; read
        # straight from the database (read-only; WAL lets it run beside the server).
        db = sqlite3.connect(f"file:{os.path.join(data, 'remedy.db')}?mode=ro", uri=True)
        target = a.resources * a.rules
        while True:
            stored = db.execute("SELECT COUNT(*) FROM evaluation_results").fetchone()[0]
            queued = db.execute("SELECT COUNT(*) FROM evaluation_queue").fetchone()[0]
            if stored >= target and queued == 0:
                break
            time.sleep(0.02)
        elapsed = time.time() - t0
        # Every rule judged every bucket?
        judged = 0
        for name in names:
            token = None
            while True:
                kw = {"ConfigRuleName": name, "Limit": 100}
                if token: kw["NextToken"] = token
                page = client.get_compliance_details_by_config_rule(
                    ComplianceTypes=["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"], **kw)
                judged += len(page["EvaluationResults"])
                token = page.get("NextToken")
                if not token: break
        print(json.dumps({"resources": a.resources, "rules": a.rules, "import_seconds": round(import_s, 2),
                          "evaluation_seconds": round(elapsed, 2), "verdicts": judged,
                          "evaluations_per_second": round(judged / elapsed)}))
    finally:
        server.terminate(); server.wait()


if __name__ == "__main__":
    sys.exit(main())
