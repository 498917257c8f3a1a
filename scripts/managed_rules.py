#!/usr/bin/env python3
"""Regenerate crates/remedy/data/managed-rules.json, remedy's catalog of AWS managed-rule identifiers.

Source: the managed-rule table that moto ships (moto/config/resources/aws_managed_rules.json.gz,
Apache-2.0), itself scraped from AWS's "List of AWS Config Managed Rules" pages. We keep only the
facts remedy needs to validate PutConfigRule: identifier, parameters (name, optional, type,
default), resource types and trigger kinds.

Usage: pip download --no-deps moto -d /tmp/moto && python3 scripts/managed_rules.py /tmp/moto/moto-*.whl
"""
import glob, gzip, json, sys, zipfile

wheel = sys.argv[1] if len(sys.argv) > 1 else sorted(glob.glob("/tmp/moto*/moto-*.whl"))[-1]
rules = json.loads(gzip.decompress(zipfile.ZipFile(wheel).read(
    "moto/config/resources/aws_managed_rules.json.gz")))["ManagedRules"]

out = []
for ident in sorted(rules):
    r = rules[ident]
    trig = r.get("Trigger type") or ""
    out.append({
        "id": ident,
        "change": "Configuration changes" in trig,
        "periodic": "Periodic" in trig,
        "resourceTypes": [t.strip() for t in (r.get("Resource Types") or "").split(",") if t.strip()],
        "parameters": [
            {k: v for k, v in {"name": p["Name"], "optional": bool(p.get("Optional")),
                               "type": p.get("Type"), "default": p.get("Default")}.items() if v is not None}
            for p in r.get("Parameters", [])
        ],
    })
with open("crates/remedy/data/managed-rules.json", "w") as f:
    json.dump(out, f, separators=(",", ":"), sort_keys=True)
    f.write("\n")
print(f"{len(out)} managed rules written")
