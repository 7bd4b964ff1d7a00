"""Where model building, path production and rule evaluation spend their time at fleet size (issue #14).

CPU time of each phase of one audit of the generated hardened deployment: the deployment model, each path
producer (flaudit/reach.py), every rule (the slowest listed), the access edges and the network paths. Each
repetition runs in a fresh interpreter, as one CLI scan does (flaudit's per-string and NSG memos start empty),
and the best of the repetitions is printed per phase. Compare two checkouts within one session: the machine is
shared and noisy.

    python benchmarks/bench_phases.py [--silos 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time


def one_run(n_silos: int) -> dict[str, float]:
    """One audit's phases, in this process (CPU seconds)."""
    from flaudit import reach
    from flaudit.access import access_edges
    from flaudit.engine import load_rules
    from flaudit.exposure import network_paths
    from flaudit.samples import generate
    from flaudit.topology import build_deployment

    inv, cfg = generate.collected("hardened", n_silos)
    rules = load_rules()
    producers = list(zip(reach.PRODUCERS, reach._producers(), strict=True))
    gc.disable()  # as a file scan runs
    clock = time.process_time
    out: dict[str, float] = {}
    t = clock()
    d = build_deployment(inv, cfg)
    out["model"] = clock() - t
    for spec, produce in producers:
        t = clock()
        list(produce(d))
        out[f"paths {spec.rsplit(':', 1)[1]}"] = clock() - t
    reach.all_paths(d)  # sorted and cached for the rules (the producers' own caches are warm by now)
    for r in rules:
        t = clock()
        list(r.func(d))
        out[f"rule {r.id}"] = clock() - t
    t = clock()
    access_edges(d)
    reach.edges(d)
    out["access edges"] = clock() - t
    t = clock()
    network_paths(d)
    out["network paths"] = clock() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--silos", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child run: print JSON
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one_run(args.silos)))
        return
    runs = [json.loads(subprocess.run([sys.executable, __file__, "--one", "--silos", str(args.silos)],
                                      check=True, capture_output=True, text=True).stdout)
            for _ in range(args.repeat)]
    best = {k: min(r[k] for r in runs) for k in runs[0]}
    paths = sum(v for k, v in best.items() if k.startswith("paths "))
    rules = sum(v for k, v in best.items() if k.startswith("rule "))
    print(f"hardened deployment, {args.silos} silos: CPU seconds, best of {args.repeat} fresh interpreters")
    print(f"  model {best['model']:.3f}  paths {paths:.3f}  rules {rules:.3f}  access edges "
          f"{best['access edges']:.3f}  network paths {best['network paths']:.3f}  total "
          f"{best['model'] + paths + rules + best['access edges'] + best['network paths']:.3f}")
    print("  paths: " + ", ".join(f"{k[6:]} {v:.3f}" for k, v in best.items() if k.startswith("paths ")))
    slow = sorted(((v, k[5:]) for k, v in best.items() if k.startswith("rule ")), reverse=True)[:10]
    print("  slowest rules: " + ", ".join(f"{k} {v:.3f}" for v, k in slow))


if __name__ == "__main__":
    main()
