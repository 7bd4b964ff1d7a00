"""Who can reach each silo's storage: the access edges of the result, built on the RBAC evaluator.

Every rule about data access (silo-identity, workspace-access) and the report's access diagram read the same
classification of principals made here, so they cannot disagree about who a principal is.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flaudit import memo
from flaudit.arm import get_path, norm
from flaudit.operations import inert_reason

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Iterable

    from flaudit.findings import Finding
    from flaudit.model import Deployment, Silo, StorageAccount
    from flaudit.rbac import Access, Grant

UAI = "microsoft.managedidentity/userassignedidentities"


@dataclass(frozen=True)
class Principal:
    id: str
    name: str | None
    relation: str  # own-silo | other-silo | orchestrator | workspace | administrator | external | unlisted
    silo: str | None  # the silo the principal belongs to, if any

    def administrator_reason(self, d: Deployment) -> str | None:
        """Why the FL config trusts this principal (None unless its relation is ``administrator``)."""
        if self.relation != "administrator":
            return None
        return d.administrators[self.id].reason


def principal_names(d: Deployment) -> dict[str, str]:
    """Principal id -> a human name, from every identity the inventory and topology know."""
    names: dict[str, str] = {}
    for res in d.inventory.of_type(UAI):
        pid = get_path(res, "properties.principalId")
        if pid:
            names[norm(pid)] = str(res.get("name") or "")
    members = [*d.silos, d.orchestrator]
    for m in members:
        for i in m.identities:
            if i.principal_id:
                names.setdefault(norm(i.principal_id), i.name)
    if d.workspace:
        for i in d.workspace.identities:
            if i.principal_id:
                names.setdefault(norm(i.principal_id), i.name)
    for dl in d.rbac.delegations.items:  # Azure Lighthouse: principalIdDisplayName of the managing tenant's principal
        if dl.principal_name:
            names.setdefault(dl.principal_id, dl.principal_name)
    return names


def managing_tenant(d: Deployment, principal_id: str) -> str | None:
    """The managing tenant (label: name and id) whose Azure Lighthouse delegation names ``principal_id``, if any."""
    found = d.rbac.delegations.principals.get(norm(principal_id))
    return found[1] if found else None


def cached_principal_names(d: Deployment) -> dict[str, str]:
    """Principal id -> name, computed once per deployment (rules call this per silo)."""
    return _names(d)


@memo.whole("_storage_reach")
def storage_reach(d: Deployment) -> dict[str, list[tuple[StorageAccount, Access]]]:
    """Principal id -> every storage account in the inventory it has any access to, with that access.

    Built once per deployment from the evaluator's per-account index, so rules that ask "what can this
    principal reach?" for every silo read a dict instead of evaluating every (principal, account) pair.
    """
    from flaudit.model import StorageAccount

    out: dict[str, list[tuple[StorageAccount, Access]]] = defaultdict(list)
    for res in d.inventory.of_type("microsoft.storage/storageaccounts"):
        st = StorageAccount(res["id"], str(res.get("name") or ""), res)
        for pid, acc in d.rbac.principals_with_access(st.id).items():
            out[pid].append((st, acc))
    return out


@memo.whole("_coverage_problem")
def any_coverage_problem(d: Deployment) -> str | None:
    """The first reason role assignments cannot be trusted for any storage account (None when they can)."""
    return next((x for r in d.inventory.of_type("microsoft.storage/storageaccounts")
                 if (x := d.rbac.coverage_problem(r["id"]))), None)


def classify(d: Deployment, principal_id: str, silo: Silo) -> Principal:
    """How ``principal_id`` relates to ``silo``: its own identity, another silo's, the orchestrator's, the
    workspace's, a declared administrator (``federated_learning.administrators``), a managing tenant's principal
    through Azure Lighthouse (``external``) or an unlisted principal.

    A rule that would fail on a path held by an ``administrator`` reports it instead as a passing finding
    carrying the path as evidence and the declared reason in its message: shown in every output, never
    blocking."""
    pid = norm(principal_id)
    names = _names(d)
    if pid in silo.principal_ids or pid in silo.groups:
        return Principal(pid, names.get(pid), "own-silo", silo.name)
    owner = d.silo_by_principal.get(pid)
    if owner is None:
        owner = d.silo_by_group.get(pid)
    if owner is not None:
        return Principal(pid, names.get(pid), "other-silo", owner.name)
    if pid in d.orchestrator.principal_ids:
        return Principal(pid, names.get(pid), "orchestrator", None)
    if d.workspace and pid in {norm(i.principal_id) for i in d.workspace.identities if i.principal_id}:
        return Principal(pid, names.get(pid), "workspace", None)
    # Only a principal that is none of the FL members' can be a declared administrator: declaring a silo's,
    # the orchestrator's or the workspace's identity changes nothing (their paths keep blocking).
    if pid in d.administrators:
        return Principal(pid, names.get(pid), "administrator", None)
    # A principal of a managing tenant, holding roles through an Azure Lighthouse delegation (flaudit/lighthouse.py).
    if pid in d.rbac.delegations.principals:
        return Principal(pid, names.get(pid), "external", None)
    return Principal(pid, names.get(pid), "unlisted", None)


@memo.whole("_principal_names")
def _names(d: Deployment) -> dict[str, str]:
    """``principal_names`` computed once per deployment."""
    return principal_names(d)


def silo_storage_access(d: Deployment, silo: Silo) -> list[tuple[Principal, Access]]:
    """Every principal with any access to ``silo``'s storage account, classified, in a stable order (worked out
    once per silo: several rules and the access edges ask; the Access objects are the evaluator's shared ones,
    which callers must not modify)."""
    if silo.storage is None:
        return []
    return list(memo.per_object(d, "_silo_storage_access", silo, lambda: _silo_storage_access(d, silo)))


def _silo_storage_access(d: Deployment, silo: Silo) -> list[tuple[Principal, Access]]:
    found = d.rbac.principals_with_access(silo.storage.id)
    out = [(classify(d, pid, silo), acc) for pid, acc in found.items()]
    return sorted(out, key=lambda pa: (pa[0].relation != "own-silo", pa[0].relation, pa[0].name or "", pa[0].id))


def shared_keys_allowed(storage_raw: dict[str, Any]) -> bool:
    """``allowSharedKeyAccess`` missing means true (Azure's default): key and SAS grants then work."""
    return get_path(storage_raw, "properties.allowSharedKeyAccess") is not False


def access_edges(d: Deployment) -> list[dict[str, Any]]:
    edges = []
    for silo in d.silos:
        if silo.storage is None:
            continue
        for who, acc in silo_storage_access(d, silo):
            kinds = acc.kinds
            live, inert = split_inert(acc, silo.storage.raw)
            live_kinds = {g.kind for g in live}
            inert_kinds = sorted({g.kind for g in inert} - live_kinds)
            for k in dict.fromkeys(g.kind for g in acc.idle):  # grants that grant nothing (shown, not counted)
                if k not in inert_kinds and k not in live_kinds:
                    inert_kinds.append(k)
                if k not in kinds:
                    kinds = [*kinds, k]
            edges.append({
                "silo": silo.name,
                "storage_id": silo.storage.id,
                "storage_name": silo.storage.name,
                "principal_id": who.id,
                "principal_name": who.name,
                "principal_type": acc.principal_type,
                "relation": who.relation,
                "principal_silo": who.silo,
                "kinds": kinds,
                "inert_kinds": inert_kinds,
                "conditional": acc.conditional(),
                "crosses_boundary": who.relation != "own-silo",
                "chain": acc.chain(),
            })
            if who.relation == "administrator":  # shown as administrative access, never blocking
                edges[-1]["path_kind"] = "administrative"
                edges[-1]["administrator_reason"] = who.administrator_reason(d)
    return edges


def split_inert(acc: Access, storage_raw: dict[str, Any]) -> tuple[list[Grant], list[Grant]]:
    """(grants that work, grants the account's settings make inert), per the operation catalogue's
    ``inert_when``: key/SAS grants while ``allowSharedKeyAccess`` is false, a container's public-access write
    while ``allowBlobPublicAccess`` is false, rename/ACL data actions on a flat namespace."""
    live: list[Grant] = []
    inert: list[Grant] = []
    for g in acc.grants:
        (inert if inert_reason(g.action, storage_raw) else live).append(g)
    return live, inert


def inert_notes(grants: list[Grant], storage_raw: dict[str, Any]) -> list[dict[str, Any]]:
    """One note per distinct reason the given grants are inert on this account."""
    reasons = dict.fromkeys(r for g in grants if (r := inert_reason(g.action, storage_raw)))
    return [{"kind": "note", "text": f"inert: {r}"} for r in reasons]


def chain_evidence(grants: list[Grant], principal_name: str | None = None) -> list[dict[str, Any]]:
    """Access-chain evidence, one item per (assignment, kind) with every matched action listed."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for g in grants:
        item = merged.get((g.assignment.id, g.kind))
        if item is None:
            merged[(g.assignment.id, g.kind)] = g.evidence(principal_name)
        elif g.action not in item["matched_actions"]:
            item["matched_actions"].append(g.action)
    return list(merged.values())


def deny_notes(acc: Access) -> list[dict[str, Any]]:
    """Notes on deny assignments that removed grants, or would have but do not certainly apply to this principal
    (it is excluded, the deny has a condition, or it excludes a group the principal may belong to)."""
    if not acc.denied and not acc.exempted:  # most accesses: no deny assignment touched them
        return []
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for verb, pairs in (("denied by", acc.denied), ("NOT denied by", acc.exempted)):
        for g, d in pairs:
            key = (verb, g.assignment.id, d.id)
            if key in seen:
                continue
            seen.add(key)
            said = f"NOT denied ({d.exemption(acc.principal_id)}) by" if pairs is acc.exempted else verb
            out.append({"kind": "note", "text": f"{g.role.name if g.role else g.assignment.role_guid} via "
                        f"{g.assignment.id} {said} deny assignment {d.name or d.id} at {d.scope}"})
    return out


_STATUS_RANK = {"fail": 3, "unknown": 2, "pass": 1, "not_applicable": 0}


def one_per_subject(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (resource, subject): the worst, so a principal shared by two silos is reported once.

    Finding ids hash rule + resource + subject, so two silos evaluating the same shared identity against the
    same account would otherwise emit two findings with one id; keeping the worst never hides a failure.
    """
    best: dict[tuple[str, str], Finding] = {}
    for f in findings:
        key = (f.resource_id.lower(), f.subject.lower())
        kept = best.setdefault(key, f)  # the first of a key is kept as it comes (one lookup, not two)
        if kept is not f and _STATUS_RANK.get(f.status, 0) > _STATUS_RANK.get(kept.status, 0):
            best[key] = f
    return list(best.values())


def deduplicated(func: Callable[[Deployment], Iterable[Finding]]) -> Callable[[Deployment], list[Finding]]:
    """Rule decorator (under ``@rule``): report each (resource, subject) once, the worst (``one_per_subject``)."""
    @functools.wraps(func)
    def wrapper(d: Deployment) -> list[Finding]:
        return one_per_subject(func(d))
    return wrapper
