"""Who can reach each silo's storage: the access edges of the result, built on the RBAC evaluator.

Every rule about data access (silo-identity, workspace-access) and the report's access diagram read the same
classification of principals made here, so they cannot disagree about who a principal is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flaudit.arm import get_path, norm

if TYPE_CHECKING:  # pragma: no cover
    from flaudit.model import Deployment, Silo
    from flaudit.rbac import Access

UAI = "microsoft.managedidentity/userassignedidentities"


@dataclass(frozen=True)
class Principal:
    id: str
    name: str | None
    relation: str  # own-silo | other-silo | orchestrator | workspace | unlisted
    silo: str | None  # the silo the principal belongs to, if any


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
    return names


def classify(d: Deployment, principal_id: str, silo: Silo) -> Principal:
    """How ``principal_id`` relates to ``silo``: its own identity, another silo's, the orchestrator's, ..."""
    pid = norm(principal_id)
    names = _names(d)
    if pid in silo.principal_ids or pid in silo.groups:
        return Principal(pid, names.get(pid), "own-silo", silo.name)
    owner = d.silo_by_principal.get(pid)
    if owner is None:
        owner = next((s for s in d.silos if pid in s.groups), None)
    if owner is not None:
        return Principal(pid, names.get(pid), "other-silo", owner.name)
    if pid in d.orchestrator.principal_ids:
        return Principal(pid, names.get(pid), "orchestrator", None)
    if d.workspace and pid in {norm(i.principal_id) for i in d.workspace.identities if i.principal_id}:
        return Principal(pid, names.get(pid), "workspace", None)
    return Principal(pid, names.get(pid), "unlisted", None)


def _names(d: Deployment) -> dict[str, str]:
    cache = d.__dict__.get("_principal_names")
    if cache is None:
        cache = d.__dict__["_principal_names"] = principal_names(d)
    return cache


def silo_storage_access(d: Deployment, silo: Silo) -> list[tuple[Principal, Access]]:
    """Every principal with any access to ``silo``'s storage account, classified, in a stable order."""
    if silo.storage is None:
        return []
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
        keys_live = shared_keys_allowed(silo.storage.raw)
        for who, acc in silo_storage_access(d, silo):
            kinds = acc.kinds
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
                "inert_kinds": [] if keys_live or "keys" not in kinds else ["keys"],
                "conditional": acc.conditional(),
                "crosses_boundary": who.relation != "own-silo",
                "chain": acc.chain(),
            })
    return edges
