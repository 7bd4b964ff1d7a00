"""Drift between two results: what is new, fixed or changed since a signed-off review.

A finding's identity is its ``id`` (rule id + resource id + subject, see docs/result-contract.md), so the same
problem on the same resource is recognised across runs, inputs and file layouts.
"""

from __future__ import annotations

import json
from typing import Any

FAILING = ("fail", "unknown")


def _resources(result: dict[str, Any]) -> set[str]:
    return {f["resource_id"].lower() for f in result["findings"] if f.get("resource_id")}


def diff_results(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    old_by = {f["id"]: f for f in old["findings"]}
    new_by = {f["id"]: f for f in new["findings"]}
    new_items, fixed, changed = [], [], []
    for fid, f in new_by.items():
        before = old_by.get(fid)
        if before is None:
            if f["status"] in FAILING:
                new_items.append(_entry(None, f))
        elif before["status"] != f["status"]:
            if before["status"] in FAILING and f["status"] not in FAILING:
                fixed.append(_entry(before, f))
            else:
                changed.append(_entry(before, f))
    for fid, f in old_by.items():
        if fid not in new_by and f["status"] in FAILING:
            fixed.append(_entry(f, None))
    old_res, new_res = _resources(old), _resources(new)
    return {
        "old": {"generated_at": old.get("generated_at"), "input_sha256": old.get("input", {}).get("sha256"),
                "verdict": {p: v["status"] for p, v in old.get("verdict", {}).items()}},
        "new": {"generated_at": new.get("generated_at"), "input_sha256": new.get("input", {}).get("sha256"),
                "verdict": {p: v["status"] for p, v in new.get("verdict", {}).items()}},
        "new_findings": sorted(new_items, key=_key),
        "fixed": sorted(fixed, key=_key),
        "changed": sorted(changed, key=_key),
        "resources_added": sorted(new_res - old_res),
        "resources_removed": sorted(old_res - new_res),
    }


def _entry(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    f = after or before
    assert f is not None
    return {"id": f["id"], "rule_id": f["rule_id"], "title": f.get("title", ""), "severity": f.get("severity", ""),
            "resource_id": f.get("resource_id", ""), "silo": f.get("silo"),
            "old_status": before["status"] if before else None, "new_status": after["status"] if after else None,
            "message": f.get("message", "")}


def _key(e: dict[str, Any]) -> tuple:
    return (e["rule_id"], e["resource_id"].lower(), e["id"])


def new_since_baseline(result: dict[str, Any], baseline: dict[str, Any], profile: str) -> list[str]:
    """Blocking finding ids of ``result`` that the baseline did not already carry as failing or unknown."""
    accepted = {f["id"] for f in baseline["findings"] if f["status"] in FAILING}
    return [fid for fid in result["verdict"][profile]["blocking"] if fid not in accepted]


def render_terminal(d: dict[str, Any]) -> str:
    lines = [f"verdict  prototype {d['old']['verdict'].get('prototype')} -> {d['new']['verdict'].get('prototype')}; "
             f"production {d['old']['verdict'].get('production')} -> {d['new']['verdict'].get('production')}"]
    for title, items in (("new", d["new_findings"]), ("changed", d["changed"]), ("fixed", d["fixed"])):
        lines.append(f"{title}: {len(items)}")
        for e in items:
            lines.append(f"  {e['rule_id']:<11} {e['old_status'] or '-':>8} -> {e['new_status'] or '-':<8} "
                         f"{e['silo'] or '-':<10} {e['resource_id'] or '(deployment)'}")
    lines.append(f"resources added: {len(d['resources_added'])}, removed: {len(d['resources_removed'])}")
    lines += [f"  + {r}" for r in d["resources_added"]] + [f"  - {r}" for r in d["resources_removed"]]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def render_markdown(d: dict[str, Any]) -> str:
    out = ["## flaudit drift", "",
           "| profile | before | after |", "|---|---|---|",
           *(f"| {p} | {d['old']['verdict'].get(p)} | {d['new']['verdict'].get(p)} |" for p in ("prototype", "production")),
           ""]
    for title, items in (("New findings", d["new_findings"]), ("Changed", d["changed"]), ("Fixed", d["fixed"])):
        out.append(f"### {title} ({len(items)})")
        if items:
            out += ["", "| rule | severity | before | after | silo | resource |", "|---|---|---|---|---|---|"]
            out += [f"| {e['rule_id']} | {e['severity']} | {e['old_status'] or '—'} | {e['new_status'] or '—'} | "
                    f"{_md(e['silo'] or '')} | `{_md(e['resource_id'])}` |" for e in items]
        out.append("")
    out.append(f"Resources added: {len(d['resources_added'])}, removed: {len(d['resources_removed'])}.")
    return "\n".join(out) + "\n"


def render_json(d: dict[str, Any]) -> str:
    return json.dumps(d, indent=2) + "\n"
