#!/usr/bin/env python3
"""Remediation throughput: StartRemediationExecution with 100 keys, and executions completed per
second end to end for a 2-step runbook (AWS-ConfigureS3BucketVersioning: PutBucketVersioning, then
an assert that reads it back).

Starts release `remedy serve` nodes on a fresh store, records N unversioned buckets (`remedy
import`), creates S3_BUCKET_VERSIONING_ENABLED and waits until all N are NON_COMPLIANT, puts the
remediation configuration (100 % concurrency), then issues N/100 StartRemediationExecution calls of
100 keys (round-robin over the nodes) and measures (a) the calls' rate and (b) the time until every
execution is SUCCEEDED (read from the store directly: the SQLite file read-only, or `psql`).

The store is a SQLite data directory (one node), or with --database-url ADMIN_URL a PostgreSQL
database created for the run on that server (and dropped after it), shared by --nodes N nodes.

usage: python3 bench/remediation.py [--resources 5000] [--binary target/release/remedy]
                                    [--database-url postgres://postgres@127.0.0.1:5432/postgres --nodes 3]
"""
import argparse, json, os, re, socket, sqlite3, subprocess, sys, tempfile, time, uuid

import boto3
from botocore.config import Config


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    return port


def with_database(url, name):
    """`url` with its database name replaced (the query string kept)."""
    base, sep, query = url.partition("?")
    m = re.match(r"^([a-z]+://[^/]*)", base)
    return f"{m.group(1)}/{name}{sep}{query}"


def psql(url, sql):
    out = subprocess.run(["psql", url, "-Atqc", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


class Session:
    """One psql session kept open for the whole run and opened before the nodes start: the
    counting never needs a new connection, so it goes on even when the nodes' pools hold every
    connection the server allows (a run sized past max_connections on purpose)."""

    def __init__(self, url):
        self.p = subprocess.Popen(["psql", url, "-Atq", "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)

    def count(self, sql):
        self.p.stdin.write(sql.rstrip(";") + ";\n")
        self.p.stdin.flush()
        return int(self.p.stdout.readline())

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--resources", type=int, default=5000)
    ap.add_argument("--binary", default="target/release/remedy")
    ap.add_argument("--database-url", help="PostgreSQL server to create the run's database on")
    ap.add_argument("--nodes", type=int, default=1, help="nodes sharing the database (PostgreSQL only)")
    a = ap.parse_args()
    n = a.resources - a.resources % 100
    assert a.nodes == 1 or a.database_url, "--nodes > 1 needs --database-url"

    data = tempfile.mkdtemp(prefix="remedy-rembench-")
    if a.database_url:
        name = f"remedy_bench_{uuid.uuid4().hex}"
        psql(a.database_url, f'CREATE DATABASE "{name}"')
        url = with_database(a.database_url, name)
        store = ["--database-url", url]
        session = Session(url)
        count = session.count
    else:
        store = []  # each node's own data directory (one node)
    servers, clients = [], []
    try:
        for i in range(a.nodes):
            port = free_port()
            servers.append(subprocess.Popen([a.binary, "serve", "--listen", f"127.0.0.1:{port}",
                                             "--data-dir", os.path.join(data, f"node{i}"), *store,
                                             "--log", os.environ.get("REMEDY_BENCH_LOG", "error")]))
            c = boto3.client("config", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                             aws_access_key_id="test", aws_secret_access_key="test",
                             config=Config(retries={"max_attempts": 10}))
            for _ in range(200):
                try:
                    c.describe_config_rules(); break
                except Exception:
                    time.sleep(0.05)
            clients.append(c)
        if not a.database_url:
            # The node made its data directory; read its SQLite file read-only.
            store = ["--data-dir", os.path.join(data, "node0")]
            db = sqlite3.connect(f"file:{os.path.join(data, 'node0', 'remedy.db')}?mode=ro", uri=True)
            count = lambda sql: db.execute(sql).fetchone()[0]
        c = clients[0]
        items = os.path.join(data, "items.jsonl")
        with open(items, "w") as f:
            for i in range(n):
                f.write(json.dumps({
                    "resourceType": "AWS::S3::Bucket", "resourceId": f"b-{i:06d}", "resourceName": f"b-{i:06d}",
                    "awsRegion": "us-east-1", "configuration": {"name": f"b-{i:06d}"},
                    "supplementaryConfiguration": {"BucketVersioningConfiguration": {"status": "Off"}}}) + "\n")
        subprocess.run([a.binary, "import", items, *store], check=True, stdout=subprocess.DEVNULL)
        c.put_config_rule(ConfigRule={"ConfigRuleName": "versioning", "Source": {
            "Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"}})
        while count("SELECT COUNT(*) FROM evaluation_results WHERE compliance_type='NON_COMPLIANT'") < n:
            time.sleep(0.05)
        c.put_remediation_configurations(RemediationConfigurations=[{
            "ConfigRuleName": "versioning", "TargetType": "SSM_DOCUMENT", "TargetId": "AWS-ConfigureS3BucketVersioning",
            "Parameters": {"BucketName": {"ResourceValue": {"Value": "RESOURCE_ID"}},
                           "AutomationAssumeRole": {"StaticValue": {"Values": ["arn:aws:iam::000000000000:role/r"]}}},
            "ExecutionControls": {"SsmControls": {"ConcurrentExecutionRatePercentage": 100, "ErrorPercentage": 100}}}])
        t0 = time.time()
        for batch in range(n // 100):
            keys = [{"resourceType": "AWS::S3::Bucket", "resourceId": f"b-{batch * 100 + k:06d}"} for k in range(100)]
            out = clients[batch % len(clients)].start_remediation_execution(ConfigRuleName="versioning", ResourceKeys=keys)
            assert not out.get("FailedItems"), out
        start_s = time.time() - t0
        while count("SELECT COUNT(*) FROM remediation_executions WHERE state='SUCCEEDED'") < n:
            failed = count("SELECT COUNT(*) FROM remediation_executions WHERE state='FAILED'")
            assert failed == 0, f"{failed} executions failed"
            time.sleep(0.02)
        done_s = time.time() - t0
        print(json.dumps({"store": "postgresql" if a.database_url else "sqlite", "nodes": a.nodes,
                          "executions": n, "start_calls": n // 100, "start_calls_per_second": round(n / 100 / start_s, 1),
                          "keys_queued_per_second": round(n / start_s), "all_succeeded_seconds": round(done_s, 2),
                          "executions_completed_per_second": round(n / done_s),
                          "load_average_1m": round(os.getloadavg()[0], 2)}))
    finally:
        for s in servers:
            s.terminate()
        for s in servers:
            s.wait()
        if a.database_url:
            session.close()
            psql(a.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
