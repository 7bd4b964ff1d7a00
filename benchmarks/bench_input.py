"""Reading ARM files at scale: 100,000 role assignments through flaudit.sources.files.parse_document, and the
share of it spent on input hardening (shape checks, normalising reader) next to redaction.

    python benchmarks/bench_input.py

Figures are best and median of three runs; compare ratios within one run (the machine is noisy).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from flaudit.readers import normalise_resource
from flaudit.redact import redact
from flaudit.sources.files import _item_problem, parse_document

SUB = "/subscriptions/6b6f2d51-8c3e-4f1a-9d7b-2f4e5a6c7d80"
N = 100_000


def items() -> list[dict]:
    return [{"id": f"{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st{i % 1000}/providers/"
                   f"Microsoft.Authorization/roleAssignments/{i:08d}-0000-4000-8000-000000000000",
             "type": "Microsoft.Authorization/roleAssignments", "name": f"{i:08d}",
             "properties": {"principalId": f"{i:08d}-1111-4000-8000-000000000000", "scope": SUB,
                            "roleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
                                                "ba92f5b4-2d11-453d-a403-e96b0029c9fe"}} for i in range(N)]


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return min(runs), statistics.median(runs)


def main() -> None:
    data = items()
    rows = [
        ("parse_document (whole file read)", lambda: parse_document(data, "bench.json")),
        ("  shape checks (_item_problem)", lambda: [_item_problem(x, i, False) for i, x in enumerate(data)]),
        ("  normalising reader (normalise_resource)", lambda: [normalise_resource(x) for x in data]),
        ("  redaction (redact)", lambda: [redact(x) for x in data]),
    ]
    print(f"{N:,} role assignments")
    for label, fn in rows:
        best, median = timed(fn)
        print(f"{label:<45} best {best:6.2f} s   median {median:6.2f} s")


if __name__ == "__main__":
    main()
