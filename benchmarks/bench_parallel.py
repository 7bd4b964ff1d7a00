"""Would a second core shorten a scan? Rule evaluation split over a forked child, measured against one process.

``flaudit scan`` runs on one core. Of a 1,000-silo json scan (about 2.5 s of CPU), the largest stage whose
parts do not depend on each other is rule evaluation (about 0.8 s once the model and the shared paths are
built); the path producers (0.5 s) share the RBAC and network indexes they build, and loading, the model, result
assembly and writing each need the stage before. This script measures what running half the rules in a forked
child would save, so the decision not to do it rests on figures anyone can re-run:

- the serial rules stage (``flaudit.engine.run_rules``) on a deployment whose model, paths and path index are
  built, as in a scan after ``flaudit.reach.all_paths``;
- the same rules split in two (alternate rules, so both halves get a share of each area), the child forked
  after the paths are built, its findings sent back over a pipe with ``marshal`` (about twice as fast as
  pickling the slotted dataclass) and merged in rule order; the merged findings are checked equal to the
  serial ones;
- the cost of the split: copy-on-write page faults (every object a rule reads has its reference count
  written, so the pages it sits on are copied, in the child and in the parent), serialising and reading the
  findings, merging;
- the end-to-end CPU time of a serial ``flaudit scan --format json`` of the same input (a subprocess).

The machine is shared: wall time with two processes depends on whether the second core is free, so the
saving on an idle two-core machine is estimated from CPU times (critical path = the longer of the two halves
plus the merge) and printed beside the wall times measured here.

    python benchmarks/bench_parallel.py [--case 1000] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gc
import marshal
import os
import resource
import statistics
import struct
import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cli import scan, write_inputs  # noqa: E402

from flaudit.audit import long_lived  # noqa: E402
from flaudit.cli import build_parser  # noqa: E402
from flaudit.config import load_config  # noqa: E402
from flaudit.engine import Rule, load_rules, run_rules  # noqa: E402
from flaudit.findings import Finding  # noqa: E402
from flaudit.reach import _index, all_paths  # noqa: E402
from flaudit.topology import build_deployment  # noqa: E402

FIELDS = [f.name for f in fields(Finding)]
HEADER = struct.Struct("ddq")  # the child's rules CPU, its serialising CPU, its minor page faults


def _cpu() -> float:
    return time.process_time()


def _minflt() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def fresh_deployment(inventory, config):
    """A deployment as a scan has it when the rules start: model, paths and path index built, nothing else."""
    inventory._by_type = None
    d = build_deployment(inventory, config)
    all_paths(d)
    _index(d)
    return d


def serial(d, rules: list[Rule]) -> tuple[list[Finding], dict[str, float]]:
    w, c, m = time.perf_counter(), _cpu(), _minflt()
    found = run_rules(d, rules)
    return found, {"wall": time.perf_counter() - w, "cpu": _cpu() - c, "minflt": _minflt() - m}


def split(d, rules: list[Rule]) -> tuple[list[Finding], dict[str, float]]:
    """Half the rules in a forked child, half here; the child's findings come back over a pipe."""
    theirs, ours = rules[0::2], rules[1::2]
    w0 = time.perf_counter()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: evaluate, serialise, send, and leave without running any exit handler
        code = 1
        try:
            os.close(read_fd)
            c, m = _cpu(), _minflt()
            found = run_rules(d, theirs)
            c1, m1 = _cpu(), _minflt()
            payload = marshal.dumps([tuple(getattr(f, n) for n in FIELDS) for f in found])
            with os.fdopen(write_fd, "wb") as out:
                out.write(HEADER.pack(c1 - c, _cpu() - c1, m1 - m))
                out.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    c0, m0 = _cpu(), _minflt()
    mine = run_rules(d, ours)
    c1, m1 = _cpu(), _minflt()
    with os.fdopen(read_fd, "rb") as inp:
        data = inp.read()
    c2 = _cpu()
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the child evaluating half the rules exited {os.waitstatus_to_exitcode(status)}")
    rules_cpu, dumps_cpu, child_minflt = HEADER.unpack_from(data)
    c3 = _cpu()
    by_rule: dict[str, list[Finding]] = {}
    for f in [Finding(*row) for row in marshal.loads(memoryview(data)[HEADER.size:])] + mine:
        by_rule.setdefault(f.rule_id, []).append(f)
    merged = [f for r in rules for f in by_rule.get(r.id, [])]
    c4 = _cpu()
    return merged, {
        "wall": time.perf_counter() - w0, "parent_rules": c1 - c0, "parent_minflt": m1 - m0, "read": c2 - c1,
        "child": usage.ru_utime + usage.ru_stime, "child_rules": rules_cpu, "child_dumps": dumps_cpu,
        "child_minflt": child_minflt, "merge": c4 - c3, "bytes": len(data),
        "critical": max(c1 - c0, usage.ru_utime + usage.ru_stime) + (c4 - c3),
    }


def med(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", default="1000", help="a bench_cli.py case: 100, 1000, 110k (default 1000)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", metavar="DIR", help="write (or reuse) the inputs in DIR")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-parallel-"))
    work.mkdir(parents=True, exist_ok=True)
    src, cfg_path = work / f"{args.case}.json", work / f"{args.case}.yaml"
    if not (src.is_file() and cfg_path.is_file()):
        src, cfg_path = write_inputs(args.case, work)

    scans = [scan(src, cfg_path, "json", work / f"{args.case}-parallel-out.json", []) for _ in range(args.repeat)]
    scan_wall, scan_cpu = statistics.median(s[0] for s in scans), statistics.median(s[1] for s in scans)

    from flaudit import sources

    gc.disable()  # as flaudit scan runs
    ns = build_parser().parse_args(["scan", "--input", str(src), "--config", str(cfg_path)])
    config = load_config(str(cfg_path))
    ns.fl_config = config
    inventory = sources.load_inventory(ns)
    rules = load_rules()
    serial_runs, split_runs = [], []
    with long_lived():
        for i in range(args.repeat):
            for mode in (("serial", "split") if i % 2 == 0 else ("split", "serial")):
                d = fresh_deployment(inventory, config)
                if mode == "serial":
                    found, figures = serial(d, rules)
                    serial_runs.append(figures)
                    reference = [f.to_dict() for f in found]
                else:
                    merged, figures = split(d, rules)
                    split_runs.append(figures)
                    merged_dicts = [f.to_dict() for f in merged]
                del d
        if merged_dicts != reference:
            raise SystemExit("the split run's findings differ from the serial run's")

    s_cpu = med(serial_runs, "cpu")
    crit = med(split_runs, "critical")
    print(f"{args.case}: {src.name}, {len(inventory.resources):,} resources, {len(rules)} rules, "
          f"{len(reference):,} findings; medians of {args.repeat}, load average {os.getloadavg()[0]:.1f}")
    print(f"  flaudit scan --format json (serial, subprocess): wall {scan_wall:.2f} s, cpu {scan_cpu:.2f} s")
    print(f"  rules, one process:   cpu {s_cpu:.3f} s, wall here {med(serial_runs, 'wall'):.3f} s")
    print(f"  rules, two processes: parent half {med(split_runs, 'parent_rules'):.3f} s cpu "
          f"({med(split_runs, 'parent_minflt'):,.0f} page faults); child {med(split_runs, 'child'):.3f} s cpu = "
          f"rules {med(split_runs, 'child_rules'):.3f} s ({med(split_runs, 'child_minflt'):,.0f} copy-on-write "
          f"faults) + marshal {med(split_runs, 'child_dumps'):.3f} s + fork/exit; "
          f"{med(split_runs, 'bytes') / 1e6:.1f} MB sent; read {med(split_runs, 'read'):.3f} s, "
          f"unmarshal + merge {med(split_runs, 'merge'):.3f} s; wall here {med(split_runs, 'wall'):.3f} s")
    print("  findings merged in rule order equal the serial findings: yes")
    saved = s_cpu - crit
    print(f"  idle two-core estimate: rules stage {s_cpu:.3f} s -> {crit:.3f} s (critical path), "
          f"{saved:.3f} s saved = {100 * saved / scan_cpu:.0f}% of the scan's {scan_cpu:.2f} s "
          f"(the bar for building it: 20%)")


if __name__ == "__main__":
    main()
