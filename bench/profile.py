#!/usr/bin/env python3
"""Instructions per request (callgrind) or a CPU profile (perf) of remedy, per operation.

    python3 bench/profile.py callgrind [--requests 2000] [--only PutConfigRule]
    python3 bench/profile.py perf --seconds 5 --concurrency 64 --only "25 named"

callgrind: starts the release `remedy serve` under `valgrind --tool=callgrind --instr-atstart=no`,
seeds the state `compare.py` seeds, then for each operation switches collection on, sends a fixed
number of signed requests with remedy-bench (concurrency 8 by default), switches it off and divides
the instructions executed by every thread of the server by the number of requests. Unlike req/s,
this count does not move with the machine's load, so it shows what an optimisation saved.

perf: starts the server normally and records `perf record -g` of it during each operation's load;
the reports go to --out-dir (default /tmp/remedy-profile).
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402


def ops():
    out = [(label, target, compare.body_of(f).decode()) for label, target, f in compare.SHARED_OPS]
    # Describe first: the executions Start queues keep the engine busy long after the cell.
    out.append(("DescribeRemediationExecutionStatus, 25 keys", "DescribeRemediationExecutionStatus",
                compare.json.dumps(compare.describe_status_body())))
    out.append(("StartRemediationExecution, 100 keys", "StartRemediationExecution",
                compare.start_body_template()))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["callgrind", "perf"])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--only", default="")
    ap.add_argument("--out-dir", default="/tmp/remedy-profile")
    ap.add_argument("--remedy", default=None, help="remedy binary (default: the release build)")
    a = ap.parse_args()
    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(compare.ROOT, "target"))
    remedy_bin = a.remedy or os.path.join(target_dir, "release", "remedy")
    bench_bin = os.path.join(target_dir, "release", "remedy-bench")
    os.makedirs(a.out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="remedy-profile-")
    port = compare.free_port()
    argv = [remedy_bin, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir",
            os.path.join(work, "data"), "--log", "error"]
    if a.mode == "callgrind":
        cg_out = os.path.join(a.out_dir, "callgrind.out.%p")
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={cg_out}"] + argv
    server = compare.Server("remedy", argv, port, a.out_dir)
    only = [s.strip().lower() for s in a.only.split(",") if s.strip()]
    try:
        server.first_200(timeout=120)
        client = compare.Client(port)
        compare.seed(client, s3_via_api=False)
        compare.seed_remediation(client)
        pid = server.proc.pid
        for label, target, body in ops():
            if only and not any(s in label.lower() for s in only):
                continue
            slug = "".join(ch if ch.isalnum() else "_" for ch in label)[:40]
            if a.mode == "callgrind":
                # Warm up (statement caches, allocator) outside the measured window.
                bench(bench_bin, port, target, body, a.concurrency, 600, requests=200)
                for f in glob.glob(os.path.join(a.out_dir, f"callgrind.out.{pid}*")):
                    os.remove(f)
                dumped = os.path.join(a.out_dir, f"callgrind-{slug}.out")
                subprocess.run(["callgrind_control", "-z", str(pid)], check=True, capture_output=True)
                subprocess.run(["callgrind_control", "-i", "on", str(pid)], check=True, capture_output=True)
                r = bench(bench_bin, port, target, body, a.concurrency, 600, requests=a.requests)
                subprocess.run(["callgrind_control", "-i", "off", str(pid)], check=True, capture_output=True)
                subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
                time.sleep(0.5)
                total = 0
                for f in glob.glob(os.path.join(a.out_dir, f"callgrind.out.{pid}.*")):
                    os.replace(f, dumped)
                    f = dumped
                    with open(f) as fh:
                        for line in fh:
                            if line.startswith("totals:"):
                                total += int(line.split()[1])
                n = r["ok"] + r["failed"]
                print(f"{label:45} {n:6} requests  {total / max(n, 1):12,.0f} instructions/request"
                      f"  ({r['failed']} non-200)", flush=True)
            else:
                data = os.path.join(a.out_dir, f"perf-{slug}.data")
                rec = subprocess.Popen(["perf", "record", "-g", "-F", "999", "-o", data, "-p", str(pid)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                r = bench(bench_bin, port, target, body, a.concurrency, a.seconds)
                rec.send_signal(2)
                rec.wait(30)
                report = os.path.join(a.out_dir, f"perf-{slug}.txt")
                with open(report, "w") as fh:
                    subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                                    "--percent-limit", "0.5", "-g", "none"], stdout=fh, stderr=subprocess.DEVNULL)
                print(f"{label:45} {r['rps']:9,.0f} req/s  p99 {r['p99_ms']:.2f} ms  -> {report}", flush=True)
    finally:
        server.stop()


def bench(bench_bin, port, target, body, conc, seconds, requests=None):
    argv = [bench_bin, "--endpoint", f"127.0.0.1:{port}", "--target", target, "--body", body,
            "--concurrency", str(conc), "--seconds", str(seconds)]
    if requests:
        argv += ["--requests", str(requests)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    return compare.json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
