"""Model building + rule evaluation at scale: 1,000 silos and 100,000 role assignments in under 2 s.

Prints the time for growing deployments so linear growth can be checked (compare ratios within one run; this
machine is noisy), and the start-up time of ``flaudit --help``.

    python benchmarks/bench_engine.py [--silos 1000] [--assignments 100000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import uuid

from flaudit.config import parse_config
from flaudit.engine import load_rules, run_rules
from flaudit.inventory import Inventory
from flaudit.result import build_result
from flaudit.samples import generate
from flaudit.topology import build_deployment

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"


def _assignment(scope: str, role: str, principal: str) -> dict:
    name = str(uuid.uuid4())
    return {"id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"roleDefinitionId": f"/subscriptions/{generate.SUB}/providers/Microsoft.Authorization/"
                                               f"roleDefinitions/{role}",
                           "principalId": str(uuid.uuid4()), "principalType": "User", "scope": scope}}


def deployment(n_silos: int, n_assignments: int) -> tuple[Inventory, object]:
    """The hardened posture with ``n_silos`` silos, padded with role assignments a real subscription has:
    most on unrelated resources, some Reader at resource-group/subscription scope, a few data readers on the
    silos' storage (which the rules then report)."""
    resources = generate.Builder("hardened", n_silos).build()
    have = sum(1 for r in resources if r["type"] == "Microsoft.Authorization/roleAssignments")
    rg = generate.rg_id()
    storage = [r["id"] for r in resources if r["type"] == "Microsoft.Storage/storageAccounts"]
    extra = max(0, n_assignments - have)
    for i in range(extra):
        bucket = i % 100
        if bucket < 90:  # unrelated resources in the subscription
            scope = f"/subscriptions/{generate.SUB}/resourceGroups/rg-app{i % 500}/providers/Microsoft.Web/sites/app{i}"
            role = READER
        elif bucket < 95:
            scope = rg if i % 50 else f"/subscriptions/{generate.SUB}"
            role = READER
        else:
            scope = storage[i % len(storage)]
            role = BLOB_READER
        resources.append(_assignment(scope, role, str(i)))
    inv = Inventory()
    inv.extend(resources)
    inv.collected = {(rg.lower(), t) for t in generate.COLLECTED_TYPES}
    return inv, parse_config(generate.fl_config(n_silos), "bench")


def time_audit(n_silos: int, n_assignments: int) -> float:
    """Time the phases of one audit: model (topology + RBAC and network indexes), rules (with access edges
    and network paths), and the result (inventory digest, sorting, serialisable dicts)."""
    inv, cfg = deployment(n_silos, n_assignments)
    t0 = time.perf_counter()
    d = build_deployment(inv, cfg)
    d.rbac, d.network  # noqa: B018 - build the indexes here so their cost is counted as model building
    t1 = time.perf_counter()
    rules = load_rules()
    findings = run_rules(d, rules)
    access, paths = d.access_edges(), d.network_paths()
    t2 = time.perf_counter()
    result = build_result(findings=findings, profile="production", inventory=inv, topology=d.topology_dict(),
                          access=access, network_paths=paths, rules=rules)
    t3 = time.perf_counter()
    print(f"  silos={n_silos:5d} assignments={n_assignments:7d} resources={len(inv.resources):7d} "
          f"findings={len(result['findings']):6d}  model {t1 - t0:5.2f} s + rules {t2 - t1:5.2f} s "
          f"= {t2 - t0:5.2f} s;  result assembly (digest, JSON-ready dicts) {t3 - t2:5.2f} s")
    return t2 - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--silos", type=int, default=1000)
    ap.add_argument("--assignments", type=int, default=100_000)
    args = ap.parse_args()
    print("model building + evaluation (target: < 2 s at 1,000 silos / 100,000 assignments, linear growth)")
    times = {}
    for frac in (0.25, 0.5, 1.0):
        n, a = int(args.silos * frac), int(args.assignments * frac)
        times[frac] = time_audit(n, a)
    print(f"  model + rules growth 25% -> 100%: x{times[1.0] / times[0.25]:.1f} for x4 the size (linear: about x4)")
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "flaudit", "--help"], check=True, capture_output=True)
        runs.append(time.perf_counter() - t0)
    print(f"flaudit --help: best {min(runs):.3f} s, median {sorted(runs)[2]:.3f} s (target < 0.5 s)")


if __name__ == "__main__":
    main()
