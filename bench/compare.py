#!/usr/bin/env python3
"""remedy beside moto (and fakecloud, and a minimal hyper server) in one run: one markdown table.

    python3 bench/compare.py                       # 2 s per cell, concurrency 1, 8, 64
    python3 bench/compare.py --seconds 10 --out /tmp/compare.md
    python3 bench/compare.py --seconds 5 --full    # + evaluations/s, executions/s, RSS with a big store

What it does, in order:
  1. starts `remedy serve` (release build, fresh data directory), `moto_server`, `fakecloud` when it
     is on PATH, and the minimal hyper server (`../shared/bench/hello_server`, built by
     `../shared/bench/build_hello.sh` into /tmp/hello) when built; each on its own loopback port;
  2. measures remedy's time from process start to the first 200 of a signed DescribeConfigRules,
     and its idle RSS 2 s later (moto's too, the same way);
  3. seeds every Config server the same way: 100 rules bench-rule-000..099, the custom resource
     MyCompany::Bench::Thing/res-0, and the S3 bucket bench-bucket-0 (moto and fakecloud: through
     their S3 API, fakecloud with a running recorder, without which it lists no bucket; remedy:
     recorded with PutResourceConfig, since remedy has no S3 API); a server whose
     BatchGetResourceConfig does not then return the bucket sits out that operation's cells;
  4. runs the same operation with the same body (`bench/bodies/*.json`, copied from
     ../shared/bench/bodies) on every server through `remedy-bench` — a closed-loop load generator
     that signs every request with SigV4 — at each concurrency, interleaved server by server;
  5. runs the remedy-only cells (StartRemediationExecution with 100 keys, a new set each call;
     DescribeRemediationExecutionStatus for 25 keys), then restarts remedy on its now-populated
     data directory and measures start to first 200 again;
  6. prints one markdown table, each remedy figure beside moto's from the same run.

Every process it starts is stopped by its own pid at the end. Only the orchestration is Python;
the load is remedy-bench's.
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BODIES = os.path.join(HERE, "bodies")
PREFIX = "StarlingDoveService"

SHARED_OPS = [
    # (label, target, body file)
    ("PutConfigRule (upsert)", "PutConfigRule", "PutConfigRule.json"),
    ("DescribeConfigRules (100 rules present)", "DescribeConfigRules", "DescribeConfigRules.json"),
    ("DescribeConfigRules, 25 named rules", "DescribeConfigRules", "DescribeConfigRules25.json"),
    ("PutEvaluations (TestMode)", "PutEvaluations", "PutEvaluations.json"),
    ("PutResourceConfig", "PutResourceConfig", "PutResourceConfig.json"),
    ("BatchGetResourceConfig", "BatchGetResourceConfig", "BatchGetResourceConfig.json"),
]

REMEDIATION_RULE = "bench-remediate"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- SigV4 (orchestration requests only; the load is signed by remedy-bench) ----------------------

def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signed_headers(host, target, body, service="config", method="POST", path="/",
                   access_key="test", secret_key="test", region="us-east-1"):
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    headers = {"host": host, "x-amz-date": amz_date}
    if target:
        headers["x-amz-target"] = target
        headers["content-type"] = "application/x-amz-json-1.1"
    payload_hash = hashlib.sha256(body).hexdigest()
    if service == "s3":
        headers["x-amz-content-sha256"] = payload_hash
    names = sorted(headers)
    canonical = "\n".join([method, path, "", *[f"{k}:{headers[k]}" for k in names], "",
                           ";".join(names), payload_hash])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret_key).encode(), day), region), service), "aws4_request")
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={sig}")
    return headers


class Client:
    def __init__(self, port):
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, op, body, method="POST", path="/", service="config"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        target = f"{PREFIX}.{op}" if op else None
        h = signed_headers(self.host, target, body, service=service, method=method, path=path)
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
            return r.status, r.read()
        except (ConnectionError, http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            raise


def body_of(name):
    with open(os.path.join(BODIES, name), "rb") as f:
        return f.read()


# ---- servers ----------------------------------------------------------------------------------------

class Server:
    def __init__(self, name, argv, port, log_dir, env=None):
        self.name, self.argv, self.port = name, argv, port
        self.log = open(os.path.join(log_dir, f"{name}.log"), "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)

    def first_200(self, op="DescribeConfigRules", body=b"{}", timeout=30.0):
        """Seconds from Popen to the first 200 of a signed `op` (polls every 2 ms)."""
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see its log")
            try:
                status, _ = Client(self.port).call(op, body)
                if status == 200:
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.002)
        raise RuntimeError(f"{self.name} gave no 200 within {timeout} s")

    def rss_mib(self):
        """VmRSS of the process and its children, MiB."""
        total = 0
        pids = [self.proc.pid]
        try:
            out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
            pids += [int(p) for p in out.stdout.split()]
        except OSError:
            pass
        for pid in pids:
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024.0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_remedy(binary, data_dir, port, log_dir):
    return Server("remedy", [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir,
                             "--log", "error"], port, log_dir)


def seed(client, s3_via_api):
    base = json.loads(body_of("PutConfigRule.json"))
    for i in range(100):
        base["ConfigRule"]["ConfigRuleName"] = f"bench-rule-{i:03d}"
        st, p = client.call("PutConfigRule", base)
        assert st == 200, (client.port, st, p[:300])
    st, p = client.call("PutResourceConfig", body_of("PutResourceConfig.json"))
    assert st == 200, (client.port, st, p[:300])
    if s3_via_api:
        st, p = client.call(None, b"", method="PUT", path="/bench-bucket-0", service="s3")
        assert st == 200, (client.port, st, p[:300])
    else:
        st, p = client.call("PutResourceConfig", {
            "ResourceType": "AWS::S3::Bucket", "SchemaVersionId": "ConfigurationItem",
            "ResourceId": "bench-bucket-0",
            "Configuration": json.dumps({
                "resourceName": "bench-bucket-0", "arn": "arn:aws:s3:::bench-bucket-0",
                "availabilityZone": "Regional", "configuration": {"name": "bench-bucket-0"},
                "supplementaryConfiguration": {
                    "BucketVersioningConfiguration": {"status": "Enabled", "isMfaDeleteEnabled": None}}})})
        assert st == 200, (client.port, st, p[:300])


def start_recorder(client):
    """fakecloud lists an S3 bucket in BatchGetResourceConfig only once a recorder runs (FAKECLOUD.md)."""
    for op, body in [
        ("PutConfigurationRecorder", {"ConfigurationRecorder": {
            "name": "default", "roleARN": "arn:aws:iam::123456789012:role/config",
            "recordingGroup": {"allSupported": True}}}),
        ("PutDeliveryChannel", {"DeliveryChannel": {"name": "default", "s3BucketName": "bench-bucket-0"}}),
        ("StartConfigurationRecorder", {"ConfigurationRecorderName": "default"}),
    ]:
        st, p = client.call(op, body)
        assert st == 200, (client.port, op, st, p[:300])


def batch_get_returns_the_bucket(client):
    """Like for like: BatchGetResourceConfig's load body must find the bucket on every server."""
    st, p = client.call("BatchGetResourceConfig", body_of("BatchGetResourceConfig.json"))
    return st == 200 and len(json.loads(p).get("baseConfigurationItems") or []) == 1


def seed_remediation(client):
    """A remediation configuration, and 25 keys started once (what DescribeRemediationExecutionStatus reads)."""
    st, p = client.call("PutConfigRule", {"ConfigRule": {
        "ConfigRuleName": REMEDIATION_RULE,
        "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"}}})
    assert st == 200, (st, p[:300])
    st, p = client.call("PutRemediationConfigurations", {"RemediationConfigurations": [{
        "ConfigRuleName": REMEDIATION_RULE, "TargetType": "SSM_DOCUMENT",
        "TargetId": "AWS-ConfigureS3BucketVersioning",
        "Parameters": {"BucketName": {"ResourceValue": {"Value": "RESOURCE_ID"}},
                       "AutomationAssumeRole": {"StaticValue": {"Values": ["arn:aws:iam::000000000000:role/r"]}}},
        "ExecutionControls": {"SsmControls": {"ConcurrentExecutionRatePercentage": 100, "ErrorPercentage": 100}}}]})
    assert st == 200, (st, p[:300])
    st, p = client.call("StartRemediationExecution", describe_status_body())
    assert st == 200, (st, p[:300])


def describe_status_body():
    return {"ConfigRuleName": REMEDIATION_RULE,
            "ResourceKeys": [{"resourceType": "AWS::S3::Bucket", "resourceId": f"described-{k:02d}"}
                             for k in range(25)]}


def start_body_template():
    # `{i}` is replaced by remedy-bench with a per-request counter: 100 new keys per call.
    keys = ",".join('{"resourceType":"AWS::S3::Bucket","resourceId":"b-{i}-%02d"}' % k for k in range(100))
    return '{"ConfigRuleName":"%s","ResourceKeys":[%s]}' % (REMEDIATION_RULE, keys)


# ---- load ---------------------------------------------------------------------------------------------

def load(bench, port, target, body, conc, seconds):
    argv = [bench, "--endpoint", f"127.0.0.1:{port}", "--target", target, "--body", body,
            "--concurrency", str(conc), "--seconds", str(seconds)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        return {"error": out.stderr.strip()[-300:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt_cell(r):
    if r is None:
        return "—"
    if "error" in r:
        return "error"
    s = f"{r['rps']:,.0f} ({r['p50_ms']:.2f} / {r['p99_ms']:.2f})"
    if r.get("failed"):
        s += f" {r['failed']} non-200"
    return s


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0, help="duration of each cell (default 2)")
    ap.add_argument("--concurrency", default="1,8,64")
    ap.add_argument("--remedy", default=None, help="remedy binary (default: the release build)")
    ap.add_argument("--bench", default=None, help="remedy-bench binary (default: the release build)")
    ap.add_argument("--moto", default=shutil.which("moto_server"), help="moto_server ('' to skip)")
    ap.add_argument("--fakecloud", default=shutil.which("fakecloud"), help="fakecloud binary ('' to skip)")
    ap.add_argument("--hello", default="/tmp/hello/target/release/hello",
                    help="minimal hyper server (../shared/bench/build_hello.sh builds it); skipped if absent")
    ap.add_argument("--only", default="", help="comma-separated substrings of operation labels to run")
    ap.add_argument("--out", default=None, help="also write the markdown here")
    ap.add_argument("--full", action="store_true",
                    help="also run the remedy-only end-to-end measures after the table: evaluations/s "
                         "(bench/evaluations.py), executions/s (bench/remediation.py) and RSS with a large "
                         "store (bench/footprint.py)")
    a = ap.parse_args()

    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    remedy_bin = a.remedy or os.path.join(target_dir, "release", "remedy")
    bench_bin = a.bench or os.path.join(target_dir, "release", "remedy-bench")
    for b in (remedy_bin, bench_bin):
        if not os.path.exists(b):
            sys.exit(f"{b} not found: cargo build --release -p remedy -p remedy-bench")
    concs = [int(c) for c in a.concurrency.split(",")]
    only = [s.strip().lower() for s in a.only.split(",") if s.strip()]
    selected = lambda label: not only or any(s in label.lower() for s in only)  # noqa: E731

    work = tempfile.mkdtemp(prefix="remedy-compare-")
    log_dir = os.path.join(work, "logs")
    os.makedirs(log_dir)
    data_dir = os.path.join(work, "remedy-data")
    servers = {}
    facts = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
             "cores": os.cpu_count(), "load_before": loadavg(), "seconds": a.seconds}
    startup = {}
    try:
        # remedy first and alone, so its start-up and idle RSS are not disturbed by the others.
        remedy = start_remedy(remedy_bin, data_dir, free_port(), log_dir)
        servers["remedy"] = remedy
        startup["remedy"] = {"first_200_s": remedy.first_200()}
        time.sleep(2)
        startup["remedy"]["idle_rss_mib"] = remedy.rss_mib()
        if a.moto:
            port = free_port()
            moto = Server("moto", [a.moto, "-H", "127.0.0.1", "-p", str(port)], port, log_dir)
            servers["moto"] = moto
            startup["moto"] = {"first_200_s": moto.first_200()}
            time.sleep(2)
            startup["moto"]["idle_rss_mib"] = moto.rss_mib()
        if a.fakecloud:
            port = free_port()
            fc = Server("fakecloud", [a.fakecloud, "--addr", f"127.0.0.1:{port}", "--log-level", "warn"],
                        port, log_dir)
            servers["fakecloud"] = fc
            startup["fakecloud"] = {"first_200_s": fc.first_200()}
            time.sleep(2)
            startup["fakecloud"]["idle_rss_mib"] = fc.rss_mib()
        if a.hello and os.path.exists(a.hello):
            port = free_port()
            servers["hello"] = Server("hello", [a.hello, f"127.0.0.1:{port}"], port, log_dir)
            servers["hello"].first_200()

        not_like_for_like = set()
        for name, srv in servers.items():
            if name != "hello":
                seed(Client(srv.port), s3_via_api=(name in ("moto", "fakecloud")))
                if name == "fakecloud":
                    start_recorder(Client(srv.port))
                if not batch_get_returns_the_bucket(Client(srv.port)):
                    not_like_for_like.add(name)
                    print(f"{name}: BatchGetResourceConfig does not return the bucket; its cells are skipped",
                          file=sys.stderr, flush=True)
        seed_remediation(Client(remedy.port))

        names = list(servers)
        results = {}
        for label, target, body_file in SHARED_OPS:
            if not selected(label):
                continue
            body = body_of(body_file).decode()
            for c in concs:
                for name in names:
                    if target == "BatchGetResourceConfig" and name in not_like_for_like:
                        continue
                    results[(label, c, name)] = load(bench_bin, servers[name].port, target, body, c, a.seconds)
                    print(f"{label:45} c={c:<3} {name:10} {fmt_cell(results[(label, c, name)])}",
                          file=sys.stderr, flush=True)

        # Describe first: the executions Start queues keep remedy's engine busy after the cell.
        remedy_only = [
            ("DescribeRemediationExecutionStatus, 25 keys", "DescribeRemediationExecutionStatus",
             json.dumps(describe_status_body())),
            ("StartRemediationExecution, 100 keys", "StartRemediationExecution", start_body_template()),
        ]
        for label, target, body in remedy_only:
            if not selected(label):
                continue
            for c in concs:
                for name in ["remedy"] + (["hello"] if "hello" in servers else []):
                    results[(label, c, name)] = load(bench_bin, servers[name].port, target, body, c, a.seconds)
                    print(f"{label:45} c={c:<3} {name:10} {fmt_cell(results[(label, c, name)])}",
                          file=sys.stderr, flush=True)

        rss_after = {n: s.rss_mib() for n, s in servers.items()}
        # Restart remedy on the populated data directory: start to first 200 on existing data.
        remedy.stop()
        remedy = start_remedy(remedy_bin, data_dir, free_port(), log_dir)
        servers["remedy"] = remedy
        startup["remedy"]["existing_first_200_s"] = remedy.first_200()
        time.sleep(2)
        startup["remedy"]["existing_idle_rss_mib"] = remedy.rss_mib()
        facts["load_after"] = loadavg()
    finally:
        for s in servers.values():
            s.stop()

    md = render(facts, servers, startup, results, rss_after, concs, remedy_bin, a)
    if a.full:
        md += "\n" + end_to_end(remedy_bin, bench_bin)
    print(md)
    if a.out:
        with open(a.out, "w") as f:
            f.write(md)
    shutil.rmtree(work, ignore_errors=True)


def render(facts, servers, startup, results, rss_after, concs, remedy_bin, a):
    peers = [n for n in ("moto", "fakecloud", "hello") if n in servers]
    lines = [
        f"Run {facts['date']}, {facts['cores']} cores, load average {facts['load_before']} before and "
        f"{facts.get('load_after', '?')} after; {facts['seconds']:g} s per cell; "
        "cells are req/s (p50 / p99 ms); every request SigV4-signed by remedy-bench.",
        "",
    ]
    head = ["operation", "conc", "remedy"] + peers + (["remedy ÷ moto"] if "moto" in peers else [])
    if "fakecloud" in peers:
        head.append("remedy ÷ fakecloud")
    if "hello" in peers:
        head.append("remedy ÷ hello")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    labels = []
    for (label, _c, _n) in results:
        if label not in labels:
            labels.append(label)
    for label in labels:
        for c in concs:
            r = results.get((label, c, "remedy"))
            if r is None:
                continue
            row = [label, str(c), fmt_cell(r)]
            for p in peers:
                row.append(fmt_cell(results.get((label, c, p))) if (label, c, p) in results else "n/a")
            for p in [p for p in ("moto", "fakecloud", "hello") if p in peers]:
                q = results.get((label, c, p))
                if q and "rps" in q and q["rps"] > 0 and "rps" in r:
                    ratio = r["rps"] / q["rps"]
                    row.append(f"{ratio * 100:.0f} %" if p == "hello" else f"{ratio:,.1f}×")
                else:
                    row.append("—")
            lines.append("| " + " | ".join(row) + " |")
    others = [p for p in peers if p != "hello"]

    def row(label, remedy_value, peer_values):
        return "| " + " | ".join([label, remedy_value] + peer_values) + " |"

    def startup_of(key, scale, fmt):
        return [fmt.format(startup[p][key] * scale) if key in startup.get(p, {}) else "—" for p in others]

    lines += ["", "| " + " | ".join(["measure", "remedy"] + others) + " |",
              "|---|" + "---:|" * (1 + len(others))]
    rem = startup.get("remedy", {})
    lines.append(row("start to first 200, fresh data dir (ms)", "{:.0f}".format(rem["first_200_s"] * 1000),
                     startup_of("first_200_s", 1000, "{:.0f}")))
    if "existing_first_200_s" in rem:
        lines.append(row("start to first 200, existing data dir (ms)",
                         "{:.0f}".format(rem["existing_first_200_s"] * 1000), ["—"] * len(others)))
    lines.append(row("idle RSS 2 s after first 200 (MiB)", "{:.1f}".format(rem["idle_rss_mib"]),
                     startup_of("idle_rss_mib", 1, "{:.1f}")))
    if "existing_idle_rss_mib" in rem:
        lines.append(row("RSS 2 s after a restart on the run's data (MiB; the engine is still running the "
                         "executions the Start cells queued)", "{:.1f}".format(rem["existing_idle_rss_mib"]),
                         ["—"] * len(others)))
    lines.append(row("RSS after all load cells (MiB)", "{:.1f}".format(rss_after.get("remedy", 0)),
                     ["{:.1f}".format(rss_after[p]) if p in rss_after else "—" for p in others]))
    return "\n".join(lines) + "\n"


def end_to_end(remedy_bin, bench_bin):
    """The remedy-only measures no peer can run, each by its own script, as one more table."""
    def script(name, *args):
        argv = [sys.executable, os.path.join(HERE, name), *args]
        print(f"running {' '.join(argv[1:])}", file=sys.stderr, flush=True)
        out = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
        if out.returncode != 0:
            return None, out.stderr.strip()[-300:]
        return out.stdout, None

    lines = ["| end to end (remedy alone, SQLite) | figure |", "|---|---:|"]
    out, err = script("evaluations.py", "--binary", remedy_bin, "--resources", "10000", "--rules", "10")
    if out:
        e = json.loads(out.strip().splitlines()[-1])
        lines.append(f"| evaluations per second ({e['resources']:,} buckets × {e['rules']} managed rules, "
                     f"after a bulk import) | {e['evaluations_per_second']:,} |")
    else:
        lines.append(f"| evaluations per second | failed: {err} |")
    out, err = script("remediation.py", "--binary", remedy_bin, "--resources", "5000")
    if out:
        r = json.loads(out.strip().splitlines()[-1])
        lines.append(f"| executions completed per second ({r['executions']:,} executions of a 2-step runbook) "
                     f"| {r['executions_completed_per_second']:,} |")
        lines.append(f"| StartRemediationExecution calls per second (100 keys each, one client) "
                     f"| {r['start_calls_per_second']:,} |")
    else:
        lines.append(f"| executions completed per second | failed: {err} |")
    out, err = script("footprint.py", "--remedy", remedy_bin, "--bench", bench_bin)
    lines += ["", out.strip() if out else f"footprint failed: {err}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
