#!/usr/bin/env python3
"""Memory with a large store: RSS with 100,000 resources and 1,000,000 executions stored, and
whether it stays flat across repeated load runs (issue 7).

    python3 bench/footprint.py                                # 100k resources, 1M executions, 3 rounds
    python3 bench/footprint.py --resources 10000 --executions 100000 --rounds 2 --seconds 3

What it does, in order:
  1. starts `remedy serve` (release build) on a fresh data directory and bulk-imports N S3 bucket
     configuration items (versioning off) with `remedy import`;
  2. creates the managed rule S3_BUCKET_VERSIONING_ENABLED and waits until all N are judged
     NON_COMPLIANT, then puts its remediation configuration (AWS-ConfigureS3BucketVersioning);
  3. remediates the first `--real` buckets for real (StartRemediationExecution, 100 keys per call)
     and waits until every execution SUCCEEDED — real rows written by the engine;
  4. stops remedy and grows the execution table to `--executions` rows by copying those real
     SUCCEEDED rows (every column as the engine wrote it; new id and, round-robin, the key of
     another of the N buckets). Running a million runbooks through the API would take far longer
     than the footprint question needs; the rows are what remedy stores for a finished execution;
  5. restarts remedy on that directory: start to first 200, idle RSS 2 s later;
  6. runs `--rounds` rounds of load (remedy-bench, SigV4-signed, concurrency 64, `--seconds` per
     operation) over reads and writes that touch the big tables, reading RSS after each round:
     "flat" means the last round's RSS is within 10 % of the first round's.

Prints one markdown table (and the figures as JSON on stderr). Every process it starts is stopped
by its own pid.
"""
import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import ROOT, Client, body_of, free_port, load, loadavg, start_remedy  # noqa: E402

RULE = "footprint-versioning"


def bucket_item(i):
    name = f"fp-{i:06d}"
    return {"resourceType": "AWS::S3::Bucket", "resourceId": name, "resourceName": name,
            "arn": f"arn:aws:s3:::{name}", "awsRegion": "us-east-1", "configuration": {"name": name},
            "supplementaryConfiguration": {"BucketVersioningConfiguration": {"status": "Off"}}}


def ok(client, op, body):
    status, payload = client.call(op, body)
    if status != 200:
        raise RuntimeError(f"{op}: {status} {payload[:300]!r}")
    return json.loads(payload or b"{}")


def wait_for(db, sql, target, what, timeout=1800):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = db.execute(sql).fetchone()[0]
        if n >= target:
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def grow_executions(db_path, total, resources):
    """Copies the finished rows until the table holds `total`; returns the row count."""
    db = sqlite3.connect(db_path)
    cols = [r[1] for r in db.execute("PRAGMA table_info(remediation_executions)")]
    copied = [c for c in cols if c not in ("seq", "id", "resource_id", "client_token")]
    real = db.execute("SELECT COUNT(*) FROM remediation_executions").fetchone()[0]
    if real == 0:
        raise RuntimeError("no real executions to copy")
    need = total - real
    chunk = 100_000
    done = 0
    while done < need:
        n = min(chunk, need - done)
        # Row k of this chunk copies real row (k mod real) as bucket (offset + k) mod resources.
        db.execute(f"""
            WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < {n}),
                 src AS (SELECT row_number() OVER (ORDER BY seq) - 1 AS r, * FROM remediation_executions
                         WHERE state = 'SUCCEEDED' LIMIT {real})
            INSERT INTO remediation_executions (id, resource_id, client_token, {", ".join(copied)})
            SELECT printf('%08x-fp00-4000-8000-%012x', {done} + k.i, {done} + k.i),
                   printf('fp-%06d', ({done} + k.i) % {resources}), NULL,
                   {", ".join("src." + c for c in copied)}
            FROM k JOIN src ON src.r = k.i % {real}""")
        db.commit()
        done += n
        print(f"  executions stored: {real + done:,}", file=sys.stderr, flush=True)
    rows = db.execute("SELECT COUNT(*) FROM remediation_executions").fetchone()[0]
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resources", type=int, default=100_000)
    ap.add_argument("--executions", type=int, default=1_000_000)
    ap.add_argument("--real", type=int, default=2_000, help="executions run through the engine for real")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0, help="load per operation per round")
    ap.add_argument("--remedy", default=None)
    ap.add_argument("--bench", default=None)
    ap.add_argument("--out", default=None, help="also write the markdown here")
    a = ap.parse_args()
    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    remedy_bin = a.remedy or os.path.join(target_dir, "release", "remedy")
    bench_bin = a.bench or os.path.join(target_dir, "release", "remedy-bench")
    for b in (remedy_bin, bench_bin):
        if not os.path.exists(b):
            sys.exit(f"{b} not found: cargo build --release -p remedy -p remedy-bench")
    real = min(a.real - a.real % 100, a.resources - a.resources % 100)

    work = tempfile.mkdtemp(prefix="remedy-footprint-")
    data, logs = os.path.join(work, "data"), os.path.join(work, "logs")
    os.makedirs(logs)
    db_path = os.path.join(data, "remedy.db")
    facts = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cores": os.cpu_count(),
             "load_before": loadavg(), "resources": a.resources, "seconds": a.seconds}
    server = None
    try:
        server = start_remedy(remedy_bin, data, free_port(), logs)
        server.first_200()
        client = Client(server.port)
        items = os.path.join(work, "items.jsonl")
        with open(items, "w") as f:
            for i in range(a.resources):
                f.write(json.dumps(bucket_item(i)) + "\n")
        t = time.monotonic()
        subprocess.run([remedy_bin, "import", items, "--data-dir", data], check=True, stdout=subprocess.DEVNULL)
        facts["import_s"] = time.monotonic() - t
        print(f"  imported {a.resources:,} resources in {facts['import_s']:.1f} s", file=sys.stderr, flush=True)

        ok(client, "PutConfigRule", {"ConfigRule": {"ConfigRuleName": RULE, "Source": {
            "Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"}}})
        ro = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        wait_for(ro, "SELECT COUNT(*) FROM evaluation_results WHERE compliance_type='NON_COMPLIANT'",
                 a.resources, "every bucket judged")
        ok(client, "PutRemediationConfigurations", {"RemediationConfigurations": [{
            "ConfigRuleName": RULE, "TargetType": "SSM_DOCUMENT", "TargetId": "AWS-ConfigureS3BucketVersioning",
            "Parameters": {"BucketName": {"ResourceValue": {"Value": "RESOURCE_ID"}},
                           "AutomationAssumeRole": {"StaticValue": {"Values": ["arn:aws:iam::000000000000:role/r"]}}},
            "ExecutionControls": {"SsmControls": {"ConcurrentExecutionRatePercentage": 100,
                                                  "ErrorPercentage": 100}}}]})
        for batch in range(real // 100):
            out = ok(client, "StartRemediationExecution", {"ConfigRuleName": RULE, "ResourceKeys": [
                {"resourceType": "AWS::S3::Bucket", "resourceId": f"fp-{batch * 100 + k:06d}"} for k in range(100)]})
            if out.get("FailedItems"):
                raise RuntimeError(f"start failed: {out['FailedItems'][:1]}")
        wait_for(ro, "SELECT COUNT(*) FROM remediation_executions WHERE state='SUCCEEDED'", real,
                 "the real executions")
        ro.close()
        server.stop()
        server = None

        facts["executions"] = grow_executions(db_path, a.executions, a.resources)
        facts["db_mib"] = os.path.getsize(db_path) / 2**20

        server = start_remedy(remedy_bin, data, free_port(), logs)
        facts["first_200_ms"] = server.first_200() * 1000
        time.sleep(2)
        facts["idle_rss_mib"] = server.rss_mib()

        keys = [{"resourceType": "AWS::S3::Bucket", "resourceId": f"fp-{k * 3989 % a.resources:06d}"}
                for k in range(25)]
        cells = [
            ("DescribeRemediationExecutionStatus", json.dumps({"ConfigRuleName": RULE, "ResourceKeys": keys})),
            ("DescribeComplianceByConfigRule", json.dumps({"ConfigRuleNames": [RULE]})),
            ("BatchGetResourceConfig", json.dumps({"resourceKeys": keys[:10]})),
            ("ListDiscoveredResources", json.dumps({"resourceType": "AWS::S3::Bucket", "limit": 100})),
            ("PutResourceConfig", body_of("PutResourceConfig.json").decode()),
        ]
        rounds = []
        for r in range(a.rounds):
            results = {}
            for target, body in cells:
                results[target] = load(bench_bin, server.port, target, body, 64, a.seconds)
                print(f"  round {r + 1} {target:40} {results[target]}", file=sys.stderr, flush=True)
            rounds.append({"rss_mib": server.rss_mib(), "results": results})
        facts["load_after"] = loadavg()
    finally:
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    first, last = rounds[0]["rss_mib"], rounds[-1]["rss_mib"]
    flat = abs(last - first) <= 0.10 * first
    lines = [
        f"Run {facts['date']}, {facts['cores']} cores, load average {facts['load_before']} before and "
        f"{facts['load_after']} after; {facts['resources']:,} resources and {facts['executions']:,} "
        f"executions stored (database {facts['db_mib']:,.0f} MiB); {a.seconds:g} s per operation per "
        "round at concurrency 64.",
        "",
        "| measure | remedy |",
        "|---|---:|",
        f"| start to first 200 on this data directory (ms) | {facts['first_200_ms']:.0f} |",
        f"| idle RSS 2 s after first 200 (MiB) | {facts['idle_rss_mib']:.1f} |",
    ]
    for i, rd in enumerate(rounds):
        rps = ", ".join(f"{k} {v.get('rps', 0):,.0f}" for k, v in rd["results"].items())
        lines.append(f"| RSS after load round {i + 1} (MiB; req/s: {rps}) | {rd['rss_mib']:.1f} |")
    lines.append(f"| flat across rounds (last within 10 % of first) | {'yes' if flat else 'no'} |")
    md = "\n".join(lines)
    print(md)
    print(json.dumps({**facts, "rounds": rounds, "flat": flat}), file=sys.stderr)
    if a.out:
        with open(a.out, "w") as f:
            f.write(md + "\n")


if __name__ == "__main__":
    sys.exit(main())
