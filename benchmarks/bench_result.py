"""The end of a scan at fleet size (issue #14): assembling the result and writing it.

One audit of the generated hardened deployment (``--silos``, default 1,000: about 52k findings, an 85 MB JSON
result) runs in this process; then, repeatedly on the same inputs, ``flaudit.result.build_result`` and its parts
(the result order, ids and rows; the summary and verdicts; the inventory and topology digests) and
``flaudit.commands.scan.write_outputs`` of the JSON result, to a new file and over an existing one (the replace
frees the old file's blocks, which the kernel does in the writer's time). It prints CPU seconds (this process:
user + system) and wall seconds, best of ``--repeat``. The machine is shared and noisy: compare CPU, and two
checkouts within one session (``PYTHONPATH=OTHER_TREE python benchmarks/bench_result.py``).

    python benchmarks/bench_result.py [--silos 1000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _audit_inputs(n_silos: int) -> dict[str, Any]:
    """build_result's keyword arguments for one audit of the generated deployment."""
    import flaudit.result
    from flaudit.audit import run_audit
    from flaudit.samples import generate

    inv, cfg = generate.collected("hardened", n_silos)
    captured: dict[str, Any] = {}
    build = flaudit.result.build_result

    def capture(**kwargs: Any) -> dict[str, Any]:
        captured.update(kwargs)
        return build(**kwargs)

    flaudit.result.build_result = capture
    try:
        run_audit(inv, cfg)
    finally:
        flaudit.result.build_result = build
    return captured


def _best(fn: Callable[[], Any], repeat: int, before: Callable[[], Any] | None = None) -> tuple[float, float]:
    """Best CPU and best wall seconds of ``repeat`` calls; what a call returns is freed outside the clock."""
    cpu = wall = float("inf")
    for _ in range(repeat):
        if before is not None:
            before()
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        cpu, wall = min(cpu, time.process_time() - c), min(wall, time.perf_counter() - w)
        del out
    return cpu, wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--silos", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()

    from flaudit import result as result_module
    from flaudit.commands.scan import write_outputs
    from flaudit.jsonout import iter_indented_bytes
    from flaudit.result import build_result, topology_sha256

    kw = _audit_inputs(args.silos)
    gc.disable()  # as a file scan runs (flaudit.audit.long_lived)
    result = build_result(**kw)
    rows: list[tuple[str, tuple[float, float]]] = [("build_result", _best(lambda: build_result(**kw), args.repeat))]
    if hasattr(result_module, "_in_result_order"):  # parts of this checkout's build_result (an older one differs)
        findings, ids, _ = result_module._in_result_order(kw["findings"], False)
        rows += [
            ("  order, ids, rows", _best(lambda: result_module._in_result_order(kw["findings"], False), args.repeat)),
            ("  summary, verdicts", _best(lambda: result_module._tally(findings, ids), args.repeat)),
        ]
    rows += [
        ("  inventory digest", _best(kw["inventory"].sha256, args.repeat)),
        ("  topology digest", _best(lambda: topology_sha256(kw["topology"]), args.repeat)),
        ("JSON serialised (no file)", _best(lambda: sum(len(p) for p in iter_indented_bytes(result, b"\n")),
                                           args.repeat)),
    ]
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        target = Path(tmp) / "result.json"
        write = [("json", target)]
        rows.append(("write_outputs, new file", _best(lambda: write_outputs(result, write, quiet=True), args.repeat,
                                                      before=lambda: target.unlink(missing_ok=True))))
        rows.append(("write_outputs, replacing", _best(lambda: write_outputs(result, write, quiet=True),
                                                       args.repeat)))
        size = target.stat().st_size
    print(f"hardened deployment, {args.silos} silos: {len(kw['findings'])} findings, JSON result "
          f"{size / 1e6:.1f} MB; best of {args.repeat}")
    for name, (cpu, wall) in rows:
        print(f"  {name:<28} cpu {cpu:.3f} s  wall {wall:.3f} s")


if __name__ == "__main__":
    main()
