"""The gate: turns a result dict into an exit code for a profile, and says why in words every output can show.

It reads the result (not the model) so a CI job, ``flaudit train`` and ``flaudit report`` can all gate on a
saved result and agree. Three things live here because they are one concept, "what stands between this
deployment and the verdict":

* :func:`blocking_findings` / :func:`exit_code`: which findings fail the exit code (``--fail-on`` threshold);
* :func:`decide`: the gate decision written to ``result.gate`` (which verdict gated, which threshold or
  baseline applied, the findings that decided it, new ones marked, the waivers that applied, expired or went
  stale, the blocking rules a selection skipped), so an exit code is never a riddle;
* :func:`fix_first`: blocking findings grouped by rule (one rule = one remediation), counted by the silos and
  resources each covers and ordered by how much of the gap each change closes ("3 changes make production
  ready"), written to ``result.summary.fix_first``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flaudit.arm import per_string
from flaudit.findings import PROFILES, SEVERITY_RANK

EXIT_OK, EXIT_BLOCKED = 0, 1
VERDICT_WORDS = {"ready": "READY", "not_ready": "NOT READY", "unknown": "UNKNOWN"}
_DIGITS = re.compile(r"(\d+)")


@per_string  # a 1,000-silo result sorts 50,000 findings by 1,000 silo names
def natural_key(text: Any) -> tuple:
    """Sort key that orders silo2 before silo10 (numbers compared as numbers, the rest case-insensitively).

    Names that compare equal that way (``silo2`` and ``silo02``, ``Silo1`` and ``silo1``) are then ordered by
    their exact text, so that sorting a set of names gives the same order in every run: without it, their order
    followed the set's, which follows the string hash seed, and a result or report differed between two runs on
    the same input."""
    return _natural_key(text)


def _natural_key(text: Any) -> tuple:
    text = str(text or "")
    parts = _DIGITS.split(text)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts if p != ""), text


def blocking_findings(result: dict[str, Any], profile: str, fail_on: str | None = None) -> list[dict[str, Any]]:
    """Findings that block ``profile``; with ``fail_on``, only those at or above that severity."""
    blocking = blocking_by_profile(result, (profile,))[profile]
    return at_or_above(blocking, fail_on) if fail_on else blocking


def blocking_by_profile(result: dict[str, Any], profiles: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """:func:`blocking_findings` (no threshold) for each of ``profiles``, in one pass over the findings: a
    fleet's result holds tens of thousands of them and the gate and fix-first read the blocking ones of every
    profile. Each list is in the order of its verdict's ``blocking`` ids."""
    verdicts = result.get("verdict") or {}
    orders = {}
    for profile in profiles:
        ids = ((verdicts.get(profile) or {}).get("blocking")) or []
        orders[profile] = {fid: i for i, fid in enumerate(ids)}
    out: dict[str, list[dict[str, Any]]] = {p: [] for p in orders}
    wanted = set().union(*orders.values()) if orders else set()
    if wanted:
        pairs = [(orders[p], out[p]) for p in orders]
        for f in result.get("findings") or []:
            if isinstance(f, dict) and f.get("id") in wanted:
                fid = f["id"]
                for order, found in pairs:
                    if fid in order:
                        found.append(f)
    for p, found in out.items():
        order = orders[p]
        found.sort(key=lambda f: order[f["id"]])
    return out


def at_or_above(findings: list[dict[str, Any]], fail_on: str) -> list[dict[str, Any]]:
    """The findings at or above severity ``fail_on`` (an unknown severity counts as the highest), in order."""
    threshold = SEVERITY_RANK[fail_on]
    return [f for f in findings if SEVERITY_RANK.get(f.get("severity"), 99) >= threshold]


def exit_code(result: dict[str, Any], profile: str, fail_on: str | None = None) -> int:
    return EXIT_BLOCKED if blocking_findings(result, profile, fail_on) else EXIT_OK


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def decide(result: dict[str, Any], profile: str | None = None, *, fail_on: str | None = None,
           fail_on_new: bool = False) -> dict[str, Any]:
    """The gate decision for ``profile`` as a ``result.gate`` object (docs/result-contract.md).

    ``deciding`` are the findings that make the exit code 1: blocking for the profile, at or above ``fail_on``,
    and with ``fail_on_new`` only those the baseline did not already carry.
    """
    profile = profile or result.get("profile") or "production"
    verdict = (result.get("verdict") or {}).get(profile) or {}
    status = verdict.get("status", "unknown")
    blocking = blocking_findings(result, profile)
    over = at_or_above(blocking, fail_on) if fail_on else blocking  # a subset of blocking: no second pass
    baseline = result.get("baseline") or None
    new_ids = set((baseline or {}).get("new_blocking") or [])
    deciding = [f for f in over if f["id"] in new_ids] if fail_on_new else over
    code = EXIT_BLOCKED if deciding else EXIT_OK
    word = VERDICT_WORDS.get(status, str(status).upper())
    skipped = [s for s in verdict.get("skipped_rules") or []]

    if code == EXIT_BLOCKED:
        reason = f"exit 1: {profile} is {word}; " + _plural(len(deciding), "blocking finding") + " decide it"
        if fail_on:
            reason += f" (severity {fail_on} or worse, --fail-on {fail_on}"
            reason += f"; {len(blocking) - len(over)} below it do not count)" if len(blocking) > len(over) else ")"
        if fail_on_new:
            reason += (f"; new since the baseline {baseline.get('file')} (--fail-on-new; "
                       f"{len(over) - len(deciding)} already in the baseline do not count)")
    elif not blocking:
        reason = f"exit 0: {profile} is {word}"
    elif fail_on_new and over:
        reason = (f"exit 0: {profile} is {word}, but all {_plural(len(over), 'blocking finding')} were already in "
                  f"the baseline {baseline.get('file')} (--fail-on-new)")
    else:
        reason = (f"exit 0: {profile} is {word}, but none of its {_plural(len(blocking), 'blocking finding')} is "
                  f"{fail_on} or worse (--fail-on {fail_on})")
    if skipped:
        reason += (f"; {_plural(len(skipped), 'blocking rule')} skipped by the rule selection "
                   f"({', '.join(skipped)}): the verdict does not cover them")
    waivers = result.get("waivers") or {}
    return {
        "profile": profile,
        "verdict": status,
        "exit_code": code,
        "fail_on": fail_on,
        "fail_on_new": bool(fail_on_new),
        "baseline": (baseline or {}).get("file"),
        "blocking": len(blocking),
        "deciding": [f["id"] for f in deciding],
        "new": [f["id"] for f in blocking if f["id"] in new_ids],
        "skipped_rules": skipped,
        "waivers": {k: len(waivers.get(k) or []) for k in ("applied", "expired", "stale")},
        "reason": reason,
    }


def fix_first(result: dict[str, Any], profile: str,
              blocking: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The changes that make ``profile`` ready, biggest first: one item per blocking rule.

    A rule has one remediation, so every blocking finding of one rule is closed by the same kind of change;
    an item covering 3 silos closes more of the gap than one covering a single workspace setting, so items
    are ordered by findings covered, then severity, then rule id. Unknown findings are "resolve" items: the
    change is to collect or grant read access to what flaudit could not see. ``blocking``: the profile's
    blocking findings (:func:`blocking_findings`) when the caller already has them.
    """
    verdict = (result.get("verdict") or {}).get(profile) or {}
    rules = {r.get("id"): r for r in result.get("rules") or [] if isinstance(r, dict)}
    groups: dict[str, list[dict[str, Any]]] = {}
    if blocking is None:
        blocking = blocking_findings(result, profile)
    for f in blocking if verdict else []:
        groups.setdefault(f.get("rule_id") or "?", []).append(f)
    items = []
    for rid, fs in groups.items():
        rule = rules.get(rid) or {}
        rem = rule.get("remediation") or {}
        silos = sorted({str(f["silo"]) for f in fs if f.get("silo")}, key=natural_key)
        fails = sum(1 for f in fs if f.get("status") == "fail")
        items.append({
            "rule_id": rid,
            "title": rule.get("title") or fs[0].get("title", ""),
            "area": rule.get("area") or fs[0].get("area", ""),
            "severity": max((f.get("severity", "") for f in fs), key=lambda s: SEVERITY_RANK.get(s, 0)),
            "action": "fix" if fails else "resolve",
            "remediation": rem.get("text") or rem.get("cli") or "",
            "reference": (rule.get("references") or [None])[0],
            "findings": len(fs),
            "failing": fails,
            "unknown": len(fs) - fails,
            "silos": silos,
            "resources": len({(f.get("resource_id") or "").lower() for f in fs}),
            "finding_ids": [f["id"] for f in fs],
        })
    items.sort(key=lambda i: (-i["findings"], -SEVERITY_RANK.get(i["severity"], 0), i["rule_id"]))
    return {"profile": profile, "verdict": verdict.get("status", "unknown"), "changes": len(items),
            "headline": headline(profile, verdict.get("status", "unknown"), items), "items": items}


def scope_text(item: dict[str, Any]) -> str:
    """"3 silos (silo0, silo1, silo2)", "1 resource" ... for one fix-first item."""
    silos = item.get("silos") or []
    if silos:
        names = ", ".join(silos[:3]) + (f", +{len(silos) - 3} more" if len(silos) > 3 else "")
        text = f"{_plural(len(silos), 'silo')} ({names})"
        extra = item.get("resources", 0) - len(silos)
        return text + (f", {_plural(extra, 'more resource')}" if extra > 0 else "")
    return _plural(int(item.get("resources") or 1), "resource")


def headline(profile: str, status: str, items: list[dict[str, Any]]) -> str:
    if not items:
        return f"{profile} is {VERDICT_WORDS.get(status, status)}: nothing blocks it"
    resolve = sum(1 for i in items if i["action"] == "resolve")
    text = f"{_plural(len(items), 'change')} make{'s' if len(items) == 1 else ''} {profile} ready"
    if resolve:
        text += f" ({resolve} of them: collect what flaudit could not see)"
    top = "; ".join(f"{i['rule_id']} {i['title']} ({scope_text(i)})" for i in items[:3])
    return text + ": " + top + ("; ..." if len(items) > 3 else "")


def fix_first_all(result: dict[str, Any]) -> dict[str, Any]:
    """``summary.fix_first``: :func:`fix_first` for every profile (their blocking findings found in one pass)."""
    profiles = [p for p in PROFILES if p in (result.get("verdict") or {})]
    blocking = blocking_by_profile(result, profiles)
    return {p: fix_first(result, p, blocking[p]) for p in profiles}


def fix_first_for(result: dict[str, Any], profile: str) -> dict[str, Any]:
    """The saved ``summary.fix_first`` entry, or computed for results written before the field existed."""
    summary = result.get("summary") if isinstance(result.get("summary"), dict) else {}
    saved = summary.get("fix_first")
    saved = saved.get(profile) if isinstance(saved, dict) else None
    return saved if isinstance(saved, dict) and "items" in saved else fix_first(result, profile)


def gate_for(result: dict[str, Any]) -> dict[str, Any]:
    """The saved ``result.gate``, or the default decision (no threshold, no baseline) for older results."""
    saved = result.get("gate")
    keys = {"profile", "verdict", "exit_code", "deciding", "new", "skipped_rules", "waivers", "reason"}
    return saved if isinstance(saved, dict) and keys <= set(saved) else decide(result)
