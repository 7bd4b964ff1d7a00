"""Child resources of a silo's storage account, identity or compute, of the orchestrator's (its storage receives
model updates derived from silo data) or of the workspace, that the input holds but flaudit does not model:
listed by name, and the ones that can move data or grant access fail closed.

A verdict is only as complete as the model it reads. A local user on a silo account (an SFTP password outside
RBAC), a federated credential on a silo identity (tokens from another identity provider), a diagnostic setting
that ships request logs elsewhere or an online endpoint of the workspace are all ways to the data that no rule
judges until it is modelled. The inventory keeps the id and type of every resource it does not read
(:attr:`flaudit.inventory.Inventory.ignored`, never its body); this module finds those under the FL resources
and decides for each type whether it is inert.

The decision is an allow-list (:data:`INERT`): a type is inert only when it is listed here with why it neither
copies data out nor grants access. Every other type is data-bearing (fail closed) and makes FL-TOP-006 unknown
for production until flaudit models it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flaudit.arm import get_path, norm

if TYPE_CHECKING:  # pragma: no cover
    from flaudit.model import Deployment

_ST = "microsoft.storage/storageaccounts/"
_ML = "microsoft.machinelearningservices/workspaces/"
_SERVICE = ("service settings (CORS, soft delete, versioning, change feed, restore policy): data stays in the "
            "account and no access is granted")
_STORED_POLICY = ("its stored access policies only shape a SAS, which needs an account key (the key rules judge "
                  "who holds one)")
_ASSET = "an Azure ML asset record: it points at data through datastores (judged by FL-WS-003) and moves nothing"

#: Child (or extension) resource types that neither copy data out nor grant access, with why. A reason may be a
#: function of the parent resource when Azure ignores the child under some parent setting.
INERT: dict[str, str] = {
    _ST + "blobservices": _SERVICE,
    _ST + "fileservices": _SERVICE,
    _ST + "queueservices": _SERVICE,
    _ST + "tableservices": _SERVICE,
    _ST + "fileservices/shares": "a file share: " + _STORED_POLICY,
    _ST + "queueservices/queues": "a queue: " + _STORED_POLICY,
    _ST + "tableservices/tables": "a table: " + _STORED_POLICY,
    _ST + "blobservices/containers/immutabilitypolicies": "a retention lock: prevents deletion, grants nothing",
    _ST + "managementpolicies": "lifecycle management: tiers or deletes blobs inside the account, copies nothing out",
    _ST + "encryptionscopes": "an encryption key choice inside the account",
    "microsoft.authorization/locks": "a management lock: prevents deletion or change, grants nothing",
    "microsoft.resources/tags": "tags",
    _ML + "jobs": "a job record: jobs run on computes, whose identities and networks the rules judge",
    _ML + "environments": _ASSET, _ML + "environments/versions": _ASSET,
    _ML + "models": _ASSET, _ML + "models/versions": _ASSET,
    _ML + "codes": _ASSET, _ML + "codes/versions": _ASSET,
    _ML + "components": _ASSET, _ML + "components/versions": _ASSET,
    _ML + "data": _ASSET, _ML + "data/versions": _ASSET,
    _ML + "privateendpointconnections": "the workspace's private endpoint connections: its endpoints are read from "
                                        "Microsoft.Network/privateEndpoints",
}


def _container_inert(parent: dict[str, Any] | None) -> str | None:
    """A container's publicAccess is ignored while the account disallows anonymous access (allowBlobPublicAccess
    false); otherwise it can grant anonymous reads."""
    if parent is not None and get_path(parent, "properties.allowBlobPublicAccess") is False:
        return "a blob container under an account with allowBlobPublicAccess false: its publicAccess is ignored"
    return None


def _local_user_inert(parent: dict[str, Any] | None) -> str | None:
    """Local users authenticate only while the account's isLocalUserEnabled is on (FL-STG-007 judges it)."""
    if parent is not None and get_path(parent, "properties.isLocalUserEnabled") is False:
        return "a local user on an account with isLocalUserEnabled false: it cannot sign in"
    return None


#: Types inert only under some parent setting: (parent resource or None) -> reason, or None when not inert.
CONDITIONAL: dict[str, Callable[[dict[str, Any] | None], str | None]] = {
    _ST + "blobservices/containers": _container_inert,
    _ST + "localusers": _local_user_inert,
}

#: Why known data-bearing types matter (everything not inert is data-bearing; these get a specific reason).
DATA_BEARING: dict[str, str] = {
    _ST + "localusers": "SFTP/NFS local users hold passwords or SSH keys that read the data outside RBAC",
    _ST + "storagetaskassignments": "storage tasks act on the account's blobs with their own identity",
    _ST + "blobservices/containers": "a container's publicAccess can grant anonymous reads",
    "microsoft.managedidentity/userassignedidentities/federatedidentitycredentials":
        "tokens for the identity issued to workloads of an external identity provider",
    "microsoft.insights/diagnosticsettings": "ships request logs (blob names, callers) to another workspace, "
                                             "account or event hub",
    "microsoft.eventgrid/eventsubscriptions": "sends blob events (URLs, names) to an endpoint outside the silo",
    _ML + "onlineendpoints": "serves a model, with its own identity, keys and network",
    _ML + "batchendpoints": "runs jobs that read data, with its own identity",
    _ML + "serverlessendpoints": "serves a model with its own keys",
    _ML + "schedules": "starts jobs on a schedule",
    _ML + "outboundrules": "managed-network egress rules",
    "microsoft.authorization/roleeligibilityschedules": "PIM-eligible access",
    "microsoft.authorization/roleeligibilityscheduleinstances": "PIM-eligible access",
    "microsoft.authorization/policyassignments": "a policy with a modify or deployIfNotExists effect can change "
                                                 "the resource",
}
_DEFAULT_REASON = "not on flaudit's list of inert child types, so it may move data or grant access (fail closed)"


@dataclass
class Unmodelled:
    """One unmodelled child type under one FL resource, with the resources of it."""

    parent_id: str
    parent_kind: str  # silo-/orchestrator- storage | identity | compute, or workspace
    silo: str | None
    resource_type: str
    data_bearing: bool
    reason: str
    ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"parent_id": self.parent_id, "parent_kind": self.parent_kind, "silo": self.silo,
                "resource_type": self.resource_type, "count": len(self.ids), "data_bearing": self.data_bearing,
                "reason": self.reason, "ids": list(self.ids)}


def _parents(d: Deployment) -> dict[str, tuple[str, str, str | None]]:
    """norm parent id -> (id, kind, silo) for every resource whose children are looked at."""
    out: dict[str, tuple[str, str, str | None]] = {}
    for s in d.silos:
        if s.storage is not None:
            out.setdefault(norm(s.storage.id), (s.storage.id, "silo-storage", s.name))
        for i in s.user_assigned:
            out.setdefault(norm(i.id), (i.id, "silo-identity", s.name))
        for c in s.computes:
            out.setdefault(norm(c.id), (c.id, "silo-compute", s.name))
    orch = d.orchestrator  # its storage receives model updates derived from silo data
    if orch.storage is not None:
        out.setdefault(norm(orch.storage.id), (orch.storage.id, "orchestrator-storage", None))
    for i in orch.user_assigned:
        out.setdefault(norm(i.id), (i.id, "orchestrator-identity", None))
    for c in orch.computes:
        out.setdefault(norm(c.id), (c.id, "orchestrator-compute", None))
    if d.workspace is not None:
        out.setdefault(norm(d.workspace.id), (d.workspace.id, "workspace", None))
    return out


def _judge(rtype: str, parent: dict[str, Any] | None) -> tuple[bool, str]:
    if rtype in INERT:
        return False, INERT[rtype]
    cond = CONDITIONAL.get(rtype)
    if cond is not None and (why := cond(parent)):
        return False, why
    return True, DATA_BEARING.get(rtype, _DEFAULT_REASON)


#: Every FL parent is a resource-group resource (``/subscriptions/s/resourceGroups/g/providers/ns/type/name``,
#: 8 slashes), so a child of one has at least two segments more: 10 slashes, 9 when a tool dropped the leading
#: one. Doubled slashes only add to the count, so an id with fewer cannot be under a parent.
_MIN_CHILD_SLASHES = 9


def unmodelled_children(d: Deployment) -> list[Unmodelled]:
    """Every unmodelled child type under a silo storage account, silo identity, silo compute or the workspace,
    nearest FL parent first, in a stable order. Computed once per deployment."""
    cached = d.__dict__.get("_unmodelled")
    if cached is not None:
        return cached
    ignored = getattr(d.inventory, "ignored", None) or {}
    parents = _parents(d) if ignored else {}
    groups: dict[tuple[str, str], Unmodelled] = {}
    for rid, rtype in ignored.items():
        if rid.count("/") < _MIN_CHILD_SLASHES:  # a top-level resource (most of a busy export) is nobody's child
            continue
        # the nearest enclosing FL resource: walk the id's prefixes from the longest down
        low = norm(rid)
        cut = len(low)
        hit = None
        while hit is None:
            cut = low.rfind("/", 0, cut)
            if cut <= 0:
                break
            hit = parents.get(low[:cut])
        if hit is None:
            continue
        pid, kind, silo = hit
        key = (norm(pid), rtype)
        u = groups.get(key)
        if u is None:
            bearing, why = _judge(rtype, d.inventory.get(pid))
            u = groups[key] = Unmodelled(pid, kind, silo, rtype, bearing, why)
        u.ids.append(rid)
    out = sorted(groups.values(), key=lambda u: (u.silo or "", u.parent_kind, norm(u.parent_id), u.resource_type))
    for u in out:
        u.ids.sort()
    d.__dict__["_unmodelled"] = out
    return out
