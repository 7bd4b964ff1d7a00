"""Renderer benchmark: a synthetic 1,000-silo result rendered as HTML, SARIF, JUnit, Markdown and terminal text.

Targets: HTML under 1 s and under 5 MB (issue 13, with the fix-first table, the gate and the heat map; issue 4 asked
for 2 s and 10 MB); SARIF and JUnit under 1 s each. Run:

    python benchmarks/bench_reports.py [--silos 1000] [--repeat 3]

Prints the best of ``--repeat`` runs per format with the output size, and exits 1 when a target is missed.
The result comes from tests/reports/synthetic.py (contract-exact), with extra failing findings and boundary
crossings so the report is not mostly empty: every fifth silo fails a check, every tenth is unknown, and every
twentieth is readable by another silo's identity.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reports"))

from synthetic import make_result  # noqa: E402

TARGETS = {"html": (1.0, 5 * 1024 * 1024), "sarif": (1.0, None), "junit": (1.0, None)}


def heavy_result(n: int) -> dict:
    result = make_result(n)
    by_silo = {s["name"]: s for s in result["topology"]["silos"]}
    template_fail = next(f for f in result["findings"] if f["rule_id"] == "FL-PE-001" and f["status"] == "fail"
                         and not f["waiver"])
    template_unknown = next(f for f in result["findings"] if f["status"] == "unknown")
    crossing = next(e for e in result["access"] if e["relation"] == "other-silo")
    extra = []
    for i in range(4, n):
        silo = f"silo-{i}"
        st = by_silo[silo]["storage"]
        for every, template, status in ((5, template_fail, "fail"), (10, template_unknown, "unknown")):
            if i % every == 0:
                f = copy.deepcopy(template)
                f.update(silo=silo, resource_id=st["id"], status=status,
                         id=f"{f['rule_id']}:{hashlib.sha256(st['id'].lower().encode()).hexdigest()[:12]}",
                         message=f"{st['name']}: {template['message']}")
                extra.append(f)
        if i % 20 == 0:
            result["access"].append({**copy.deepcopy(crossing), "silo": silo, "storage_id": st["id"],
                                     "storage_name": st["name"], "principal_silo": f"silo-{i + 1}"})
    result["findings"].extend(extra)
    for f in extra:
        result["summary"]["by_status"][f["status"]] += 1
        result["summary"]["total"] += 1
        if "production" in f["blocks"]:
            result["verdict"]["production"]["blocking"].append(f["id"])
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--silos", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from flaudit.reports import html, junit, markdown, sarif, terminal

    t0 = time.perf_counter()
    result = heavy_result(args.silos)
    print(f"synthetic result: {args.silos} silos, {len(result['findings'])} findings, {len(result['access'])} "
          f"access edges, {len(result['network_paths'])} network paths (built in {time.perf_counter() - t0:.2f} s)")
    ok = True
    for name, mod in (("html", html), ("sarif", sarif), ("junit", junit), ("markdown", markdown),
                      ("terminal", terminal)):
        best, size = float("inf"), 0
        for _ in range(args.repeat):
            start = time.perf_counter()
            text = mod.render(result, color=False)
            best = min(best, time.perf_counter() - start)
            size = len(text.encode("utf-8"))
        limit_s, limit_bytes = TARGETS.get(name, (None, None))
        verdict = ""
        if limit_s is not None:
            good = best < limit_s and (limit_bytes is None or size < limit_bytes)
            ok &= good
            verdict = ("OK " if good else "MISSED ") + f"(target < {limit_s:.0f} s" + (
                f", < {limit_bytes // (1024 * 1024)} MB)" if limit_bytes else ")")
        print(f"{name:9s} {best * 1000:8.1f} ms  {size / 1024 / 1024:7.2f} MB  {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
