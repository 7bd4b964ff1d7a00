"""The gate: turns a result dict into an exit code for a profile, optionally only above a severity.

It reads the result (not the model) so a CI job, ``flaudit train`` and ``flaudit report`` can all gate on a
saved result and agree.
"""

from __future__ import annotations

from typing import Any

from flaudit.findings import SEVERITY_RANK

EXIT_OK, EXIT_BLOCKED = 0, 1


def blocking_findings(result: dict[str, Any], profile: str, fail_on: str | None = None) -> list[dict[str, Any]]:
    """Findings that block ``profile``; with ``fail_on``, only those at or above that severity."""
    ids = set(result["verdict"][profile]["blocking"])
    threshold = SEVERITY_RANK[fail_on] if fail_on else 0
    out = [f for f in result["findings"] if f["id"] in ids and SEVERITY_RANK.get(f["severity"], 99) >= threshold]
    order = result["verdict"][profile]["blocking"]
    return sorted(out, key=lambda f: order.index(f["id"]))


def exit_code(result: dict[str, Any], profile: str, fail_on: str | None = None) -> int:
    return EXIT_BLOCKED if blocking_findings(result, profile, fail_on) else EXIT_OK
