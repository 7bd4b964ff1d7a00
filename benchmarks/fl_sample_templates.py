"""Expand every ARM template of a directory (the Azure ML FL sample's mlops/arm/*.json) and summarise it.

For each template: the time it took, resource counts by type, anything flaudit could not evaluate, and,
when the audit pipeline is available, both verdicts, what blocks production, the network paths into each
silo's storage and any access that crosses a silo boundary.

    python benchmarks/fl_sample_templates.py /tmp/flsample_arm [--param name=value ...] [--no-audit]

The templates are public (Azure-Samples/azure-ml-federated-learning); they are not copied into this
repository: download them to a directory first.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from flaudit.errors import FlauditError
from flaudit.inventory import Inventory
from flaudit.sources.template import expand_into


def audit(inv: Inventory) -> dict | None:
    try:
        from flaudit.audit import run_audit
    except ImportError as exc:  # the audit pipeline is optional for this script
        print(f"  (audit skipped: {exc})")
        return None
    return run_audit(inv, None)


PLACEHOLDERS = {"string": "placeholder", "securestring": "placeholder", "int": 1, "bool": False, "array": [],
                "object": {}, "secureobject": {}}


def required_placeholders(path: Path, given: list[str]) -> list[str]:
    """--param values for required parameters nobody gave (e.g. a jumpbox admin password), so it expands."""
    try:
        template = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return []
    names = {g.partition("=")[0].lower() for g in given}
    out = []
    for name, decl in (template.get("parameters") or {}).items() if isinstance(template, dict) else []:
        if isinstance(decl, dict) and "defaultValue" not in decl and name.lower() not in names:
            value = PLACEHOLDERS.get(str(decl.get("type", "string")).lower(), "placeholder")
            out.append(f"{name}={value if isinstance(value, str) else json.dumps(value)}")
    return out


def summarise(path: Path, params: list[str], with_audit: bool) -> bool:
    inv = Inventory()
    start = time.perf_counter()
    filled = required_placeholders(path, params)
    try:
        n = expand_into(inv, path, params=params + filled)
    except FlauditError as exc:
        print(f"== {path.name}: ERROR {exc}")
        return False
    took = time.perf_counter() - start
    print(f"== {path.name}: {n} resources flaudit reads, {sum(inv.ignored_types.values())} of other types, "
          f"{len(inv.unsupported)} unsupported ({took:.2f} s)")
    counts = Counter(r["type"] for r in inv.resources.values())
    if filled:
        print(f"  required parameters filled with placeholders: {', '.join(filled)}")
    for rtype, count in sorted(counts.items(), key=lambda kv: kv[0].lower()):
        print(f"  {count:4d}  {rtype}")
    for rtype, count in sorted(inv.ignored_types.items()):
        print(f"  {count:4d}  {rtype} (not read by the rules)")
    for item in inv.unsupported:
        print(f"  UNSUPPORTED {item['resource_id'] or '-'}: {item['message']}")
    if with_audit:
        result = audit(inv)
        if result is not None:
            verdict = result["verdict"]
            print(f"  verdict: prototype {verdict['prototype']['status']}, production "
                  f"{verdict['production']['status']}")
            by_id = {f["id"]: f for f in result["findings"]}
            blocking = Counter(by_id[b]["rule_id"] + " " + by_id[b]["title"] for b in verdict["production"]["blocking"]
                               if b in by_id)
            for rule, count in sorted(blocking.items()):
                print(f"    blocks production: {rule} (x{count})")
            paths = Counter((p["silo"], p["path_kind"], p["status"]) for p in result.get("network_paths", []))
            for (silo, kind, status), count in sorted(paths.items(), key=lambda kv: tuple(map(str, kv[0]))):
                print(f"    network path into {silo} storage: {kind} ({status}) x{count}")
            crossing = [e for e in result.get("access", []) if e.get("crosses_boundary")]
            print(f"    access edges into silo storage: {len(result.get('access', []))}, crossing a silo "
                  f"boundary: {len(crossing)}")
            for e in crossing:  # role edges name the storage account; path edges (access[] path_kind) their source
                target = e.get("storage_name") or e.get("target_id", "").rsplit("/", 1)[-1]
                via = f" [{e['path_kind']} path, {e['rule_id']}]" if e.get("path_kind") else ""
                print(f"      {e['principal_name']} ({e['relation']}) -> {target}: {e['kinds']}{via}")
    return not inv.unsupported


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("directory", type=Path)
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--no-audit", action="store_true")
    args = ap.parse_args()
    files = sorted(p for p in args.directory.glob("*.json") if p.is_file())
    if not files:
        print(f"{args.directory}: no *.json templates", file=sys.stderr)
        return 2
    clean = [summarise(p, args.param, not args.no_audit) for p in files]
    print(f"\n{sum(clean)}/{len(files)} templates expanded with no unsupported constructs")
    return 0 if all(clean) else 1


if __name__ == "__main__":
    raise SystemExit(main())
