"""Renderer benchmark: a synthetic 1,000-silo result rendered as HTML, SARIF, JUnit, Markdown and terminal text.

Two results, both from tests/reports/synthetic.py (contract-exact):

``heavy``  extra failing findings and boundary crossings so the report is not mostly empty: every fifth silo
           fails a check, every tenth is unknown, and every twentieth is readable by another silo's identity
           (about 4k findings);
``fleet``  the same plus 48 passing findings per silo, each with evidence, over 12 rules: about 52k findings,
           the shape of a real 1,000-silo scan (``bench_cli.py``), where passes are almost everything.

Targets: HTML under 1 s and under 5 MB for ``heavy`` (issue 13, with the fix-first table, the gate and the heat
map; issue 4 asked for 2 s and 10 MB), and under 2 s and 1 MB for ``fleet`` (issue 14: the HTML at 1,000 silos
does not carry every pass); SARIF and JUnit under 1 s each for ``heavy``. Run:

    python benchmarks/bench_reports.py [--silos 1000] [--repeat 3] [--cases heavy,fleet]

Prints the best of ``--repeat`` runs per format with the output size (and, for HTML, the size of its largest
sections), and exits 1 when a target is missed.
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

TARGETS = {"heavy": {"html": (1.0, 5 * 1024 * 1024), "sarif": (1.0, None), "junit": (1.0, None)},
           "fleet": {"html": (2.0, 1024 * 1024)}}
PASS_RULES = 12
PASSES_PER_SILO = 48


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


def fleet_result(n: int) -> dict:
    """``heavy_result`` plus PASSES_PER_SILO passing findings per silo, each with one property evidence item, spread
    over PASS_RULES rules of every area: a real scan's 52 findings per silo, almost all of them passes."""
    from synthetic import RULES

    from flaudit.findings import AREAS

    result = heavy_result(n)
    for k in range(PASS_RULES):
        rid = f"FL-BENCH-{k:03d}"
        result["rules"].append({**copy.deepcopy(RULES[0]), "id": rid, "title": f"Benchmark pass rule {k}",
                                "area": AREAS[k % len(AREAS)]})
    per_rule = PASSES_PER_SILO // PASS_RULES
    for silo in result["topology"]["silos"]:
        st = silo["storage"]["id"]
        for k in range(PASS_RULES):
            for j in range(per_rule):
                res = f"{st}/blobServices/default/containers/c{j}"
                result["findings"].append({
                    "id": f"FL-BENCH-{k:03d}:{hashlib.sha256(res.lower().encode()).hexdigest()[:12]}",
                    "rule_id": f"FL-BENCH-{k:03d}", "title": f"Benchmark pass rule {k}",
                    "area": AREAS[k % len(AREAS)], "severity": "medium", "status": "pass", "blocks": ["production"],
                    "resource_id": res, "silo": silo["name"], "subject": None,
                    "message": f"Container c{j} of {silo['storage']['name']} keeps its public access off.",
                    "evidence": [{"kind": "property", "resource_id": res, "path": "properties.publicAccess",
                                  "value": "None"}],
                    "waiver": None, "location": None})
                result["summary"]["by_status"]["pass"] += 1
                result["summary"]["total"] += 1
    return result


def _sections(text: str) -> str:
    """Bytes per top-level section of the HTML report, largest first."""
    ids = ("verdict", "matrix", "diagram", "findings", "passed", "metadata")
    pos = {i: text.find(f'<section id="{i}"') for i in ids}
    order = sorted((p, i) for i, p in pos.items() if p >= 0) + [(len(text), "")]
    sizes = {order[k][1]: order[k + 1][0] - order[k][0] for k in range(len(order) - 1)}
    return ", ".join(f"{i} {n / 1024:.0f} KB" for i, n in sorted(sizes.items(), key=lambda kv: -kv[1])[:4])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--silos", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cases", default="heavy,fleet")
    args = ap.parse_args()

    from flaudit.reports import html, junit, markdown, sarif, terminal

    ok = True
    for case in args.cases.split(","):
        t0 = time.perf_counter()
        result = {"heavy": heavy_result, "fleet": fleet_result}[case](args.silos)
        passes = sum(1 for f in result["findings"] if f["status"] == "pass")
        print(f"{case}: synthetic result of {args.silos} silos, {len(result['findings'])} findings ({passes} pass), "
              f"{len(result['access'])} access edges, {len(result['network_paths'])} network paths "
              f"(built in {time.perf_counter() - t0:.2f} s)")
        for name, mod in (("html", html), ("sarif", sarif), ("junit", junit), ("markdown", markdown),
                          ("terminal", terminal)):
            best, size, text = float("inf"), 0, ""
            for _ in range(args.repeat):
                start = time.perf_counter()
                text = mod.render(result, color=False)
                best = min(best, time.perf_counter() - start)
                size = len(text.encode("utf-8"))
            limit_s, limit_bytes = TARGETS[case].get(name, (None, None))
            verdict = ""
            if limit_s is not None:
                good = best < limit_s and (limit_bytes is None or size < limit_bytes)
                ok &= good
                verdict = ("OK " if good else "MISSED ") + f"(target < {limit_s:.0f} s" + (
                    f", < {limit_bytes / (1024 * 1024):g} MB)" if limit_bytes else ")")
            extra = f"  [{_sections(text)}]" if name == "html" else ""
            print(f"  {name:9s} {best * 1000:8.1f} ms  {size / 1024 / 1024:7.2f} MB  {verdict}{extra}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
