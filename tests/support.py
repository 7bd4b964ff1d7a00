"""Shared test helpers: build a sample deployment, change one thing, audit it, look at one rule's findings.

Typical use::

    res = sample_resources("hardened")
    storage(res, "silo1")["properties"]["publicNetworkAccess"] = "Enabled"
    result = audit(res)
    assert statuses(result, "FL-PE-001", silo="silo1") == {"fail"}
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from flaudit.arm import norm
from flaudit.audit import run_audit
from flaudit.config import parse_config
from flaudit.engine import Rule, run_rules
from flaudit.findings import Fail, Finding, NotApplicable, Pass, Unknown, note, prop
from flaudit.inventory import Inventory, Unreadable
from flaudit.samples import generate
from flaudit.topology import build_deployment

_CACHE: dict[tuple[str, int], list[dict[str, Any]]] = {}


def sample_resources(posture: str = "hardened", n_silos: int = 3) -> list[dict[str, Any]]:
    """A fresh (deep-copied) list of ARM resources for a posture; mutate freely."""
    key = (posture, n_silos)
    if key not in _CACHE:
        _CACHE[key] = generate.Builder(posture, n_silos).build()
    return copy.deepcopy(_CACHE[key])


def config(n_silos: int = 3, **changes: Any):
    doc = generate.fl_config(n_silos)
    doc.update(changes)
    return parse_config(doc, "test-config.yaml")


def inventory(resources: Iterable[dict[str, Any]], *, collected: bool = True) -> Inventory:
    """An inventory as the live collector would give it (``collected`` marks absent types as known-empty)."""
    inv = Inventory()
    inv.extend(resources)
    if collected:
        inv.collected = {(generate.rg_id().lower(), t) for t in generate.COLLECTED_TYPES}
    return inv


def audit(resources: Iterable[dict[str, Any]] | Inventory, cfg: Any = "default", *, profile: str = "production",
          collected: bool = True) -> dict[str, Any]:
    inv = resources if isinstance(resources, Inventory) else inventory(resources, collected=collected)
    return run_audit(inv, config() if cfg == "default" else cfg, profile=profile,
                     generated_at="2026-11-30T00:00:00+00:00")


def findings(result: dict[str, Any], rule_id: str, *, silo: str | None = "*", status: str | None = None
             ) -> list[dict[str, Any]]:
    return [f for f in result["findings"] if f["rule_id"] == rule_id and (silo == "*" or f["silo"] == silo)
            and (status is None or f["status"] == status)]


def statuses(result: dict[str, Any], rule_id: str, *, silo: str | None = "*") -> set[str]:
    return {f["status"] for f in findings(result, rule_id, silo=silo)}


def by_name(resources: list[dict[str, Any]], rtype: str, name: str) -> dict[str, Any]:
    for r in resources:
        if norm(r["type"]) == rtype.lower() and r["name"].lower() == name.lower():
            return r
    raise KeyError(f"{rtype} {name}")


def by_type(resources: list[dict[str, Any]], rtype: str) -> list[dict[str, Any]]:
    return [r for r in resources if norm(r["type"]) == rtype.lower()]


def storage(resources: list[dict[str, Any]], silo: str) -> dict[str, Any]:
    """The storage account of ``silo`` (or ``orchestrator``) in a generated deployment."""
    for r in by_type(resources, "Microsoft.Storage/storageAccounts"):
        tags = r.get("tags") or {}
        if tags.get("silo") == silo or tags.get("fl-role") == silo:
            return r
    raise KeyError(silo)


def compute(resources: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return by_name(resources, "Microsoft.MachineLearningServices/workspaces/computes", name)


def identity(resources: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return by_name(resources, "Microsoft.ManagedIdentity/userAssignedIdentities", name)


def principal(resources: list[dict[str, Any]], name: str) -> str:
    return identity(resources, name)["properties"]["principalId"]


def role_assignment(scope: str, role_guid: str, principal_id: str, *, principal_type: str = "ServicePrincipal",
                    condition: str | None = None, name: str | None = None) -> dict[str, Any]:
    """A role assignment in the shape of RoleAssignments_ListForScope.json."""
    import uuid

    name = name or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope}|{role_guid}|{principal_id}|{condition}"))
    return {
        "id": f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{name}",
        "name": name, "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": f"/subscriptions/{generate.SUB}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}",
            "principalId": principal_id, "principalType": principal_type, "scope": scope,
            "condition": condition, "conditionVersion": "2.0" if condition else None,
            "createdOn": "2026-11-01T10:00:00Z", "updatedOn": "2026-11-01T10:00:00Z",
        },
    }


# -- evaluating one rule area alone (tests/rules) ----------------------------------------------------------------
def rules_of(module: Any) -> list[Rule]:
    """The rules a rule module declares, by id: what a test of one area evaluates."""
    return sorted((v for v in vars(module).values() if isinstance(v, Rule)), key=lambda r: r.id)


def run_area(resources: Iterable[dict[str, Any]], rules: Iterable[Rule], cfg: Any = "default", *,
             unreadable: Iterable[Unreadable] = (), collected: bool = True) -> dict[str, Any]:
    """Evaluate only ``rules`` (fast, and independent of the other areas' modules) as a result-shaped dict.

    ``unreadable`` adds read errors (flaudit.inventory.Unreadable) to the inventory, as a collector would.
    """
    inv = inventory(resources, collected=collected)
    inv.unreadable.extend(unreadable)
    d = build_deployment(inv, config() if cfg == "default" else cfg)
    return {"findings": [f.to_dict() for f in run_rules(d, rules)]}


def single(found: list[dict[str, Any]]) -> dict[str, Any]:
    """The one finding in ``found``; fails the test (showing them) when there are none or several."""
    assert len(found) == 1, found
    return found[0]


def property_evidence(finding: dict[str, Any], path: str) -> dict[str, Any]:
    """The finding's first ``property`` evidence item for ``path``; fails the test when there is none."""
    items = [e for e in finding["evidence"] if e.get("kind") == "property" and e.get("path") == path]
    assert items, finding["evidence"]
    return items[0]


def storage_id(resources: list[dict[str, Any]], silo: str) -> str:
    """The resource id of ``silo``'s (or the ``orchestrator``'s) storage account."""
    return storage(resources, silo)["id"]


def area_blocking(posture: str, area: str) -> dict[str, set[str]]:
    """The whole rule pack on a bundled posture: the ids of ``area``'s findings (``findings``) and which of them
    block each profile (``prototype``, ``production``)."""
    result = audit(sample_resources(posture))
    mine = {f["id"] for f in result["findings"] if f["area"] == area}
    return {"findings": mine, **{p: set(result["verdict"][p]["blocking"]) & mine for p in ("prototype", "production")}}


_SA = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/"


def varied_findings() -> list[Finding]:
    """210 findings made to tell a result's one-pass computations from their plain definitions: silo names whose
    natural keys tie ("silo1", "silo01", "Silo1") or order as numbers ("silo2" < "silo10"), no silo; resource ids
    and subjects equal but for case; two rules of one area and an area of no rule pack; severities a result never
    had; every status; findings blocking one profile, both or none; waived and declared findings."""
    silos = ["silo10", "silo2", "silo1", "silo01", "Silo1", None, "silo2"]
    resources = [_SA + "a", _SA + "A", _SA + "b", _SA + "a"]
    subjects = ["", "Principal", "principal", ""]
    rules = [("FL-B-001", "storage-hardening"), ("FL-A-002", "storage-hardening"), ("FL-Z-001", "made-up-area"),
             ("FL-A-001", "network-isolation")]
    makers = [Fail, Pass, Unknown, NotApplicable, Pass]
    severities = ["high", "low", "critical", "medium", "info", "unheard-of"]
    out = []
    for i in range(210):
        f = makers[i % 5](resources[i % 4], f"m{i}", silo=silos[i % 7], subject=subjects[(i // 3) % 4],
                          evidence=[prop(resources[i % 4], "p", i), note("n")] if i % 2 else [prop("r", "q", 1)])
        f.rule_id, f.area = rules[(i // 7) % 4]
        f.title, f.severity = f"t{f.rule_id}", severities[i % 6]
        f.blocks = (("production",), ("prototype", "production"), ())[i % 3]
        if i % 17 == 0:
            f.waiver = {"reason": "accepted"}
        if i % 19 == 0:
            f.declaration = {"by": "silo owner"}
        out.append(f)
    return out
