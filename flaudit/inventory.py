"""The inventory: every ARM resource flaudit was given, indexed by id and type, plus what could not be read.

All sources (files, snapshots, templates, live ARM, Resource Graph) produce an :class:`Inventory`; nothing
downstream knows where a resource came from except through :attr:`Inventory.sources` and provenance.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flaudit.arm import canonical_id, norm, type_from_id, type_of
from flaudit.redact import redact

#: Resource types the deployment model reads (lower case). Anything else is ignored and counted.
KNOWN_TYPES = frozenset(
    {
        "microsoft.machinelearningservices/workspaces",
        "microsoft.machinelearningservices/workspaces/computes",
        "microsoft.machinelearningservices/workspaces/datastores",
        "microsoft.storage/storageaccounts",
        "microsoft.storage/storageaccounts/privateendpointconnections",
        "microsoft.network/virtualnetworks",
        "microsoft.network/virtualnetworks/subnets",
        "microsoft.network/virtualnetworks/virtualnetworkpeerings",
        "microsoft.network/networksecuritygroups",
        "microsoft.network/networksecuritygroups/securityrules",
        "microsoft.network/networkinterfaces",
        "microsoft.network/privateendpoints",
        "microsoft.network/privatednszones",
        "microsoft.network/privatednszones/virtualnetworklinks",
        "microsoft.network/privatednszones/a",
        "microsoft.network/routetables",
        "microsoft.network/routetables/routes",
        "microsoft.network/applicationsecuritygroups",
        "microsoft.authorization/roleassignments",
        "microsoft.authorization/roledefinitions",
        "microsoft.authorization/denyassignments",
        "microsoft.managedidentity/userassignedidentities",
        "microsoft.keyvault/vaults",
        "microsoft.containerregistry/registries",
        "microsoft.resources/subscriptions",
        "microsoft.resources/resourcegroups",
        "microsoft.management/managementgroups",
        # Kubernetes silos (flaudit/kubernetes.py)
        "microsoft.containerservice/managedclusters",
        "microsoft.containerservice/managedclusters/agentpools",
        "microsoft.kubernetes/connectedclusters",
        "microsoft.kubernetesconfiguration/extensions",
    }
)


def _may_contain(outer: str, inner: str) -> bool:
    """Whether scope ``outer`` may contain ``inner``. The root scope and management groups may contain any
    subscription (an ARM id does not name its management groups), so something unreadable there covers
    everything (fail closed); other scopes contain what their id prefixes."""
    o = norm(outer)
    if o in ("", "/") or o.startswith("/providers/microsoft.management/managementgroups/"):
        return True
    return norm(inner).startswith(o)


@dataclass(frozen=True)
class Unreadable:
    """Something the collector tried to read and could not: rules needing it report ``unknown``."""

    scope: str
    resource_type: str
    status: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "resource_type": self.resource_type, "status": self.status,
                "message": self.message}


@dataclass
class SourceInfo:
    kind: str  # file | snapshot | resource-graph | sample | template | what-if | live
    path: str | None
    resources: int
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "path": self.path, "resources": self.resources}
        out.update(self.detail)
        return out


@dataclass
class Inventory:
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # norm id -> ARM resource
    unreadable: list[Unreadable] = field(default_factory=list)
    #: (norm scope, norm type) pairs a collector listed successfully; ``None`` when the source cannot tell
    #: (a plain file), in which case an absent type is "not collected" rather than "none exist".
    collected: set[tuple[str, str]] | None = None
    ignored_types: Counter = field(default_factory=Counter)
    sources: list[SourceInfo] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Where each resource came from in an IaC file: norm id -> {"file", "line", "json_path"}.
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Constructs a template source could not evaluate: {"resource_id"|None, "message"}.
    unsupported: list[dict[str, Any]] = field(default_factory=list)
    #: What flaudit forgave while reading (a type derived from the id, an id re-spelt): note -> count.
    #: Each note holds ``{n}`` where the count goes; :meth:`note_lines` renders them for ``input.notes``.
    notes: Counter = field(default_factory=Counter)
    _by_type: dict[str, list[dict[str, Any]]] | None = field(default=None, repr=False)

    # -- building -------------------------------------------------------------------------------------
    def add(self, resource: dict[str, Any]) -> bool:
        """Add one ARM resource (redacted); returns False when its type is not one flaudit reads.

        What Azure leaves unambiguous is forgiven here, once for every source, and noted: a child resource
        without ``type`` (ARM omits it on subnets, peerings, security rules, routes...) gets the type its id
        names, and an id spelt without its leading slash or with doubled/trailing slashes is stored as ARM
        spells it, so it matches every reference to it.
        """
        raw_id = resource.get("id")
        given = resource.get("type")
        rtype = norm(given) or type_of(raw_id or "")
        if rtype not in KNOWN_TYPES:
            self.ignored_types[rtype or "(no type)"] += 1
            return False
        stored = redact(resource)
        if not given:
            stored["type"] = type_from_id(raw_id) or rtype
            self.notes[f"{{n}} resource(s) of type {stored['type']} had 'id' but no 'type': type derived from "
                       "the id"] += 1
        if isinstance(raw_id, str) and (not raw_id.startswith("/") or raw_id.endswith("/") or "//" in raw_id) \
                and (fixed := canonical_id(raw_id)) and fixed != raw_id:
            stored["id"] = fixed
            self.notes["{n} id(s) re-spelt as ARM spells ids (leading slash restored, doubled or trailing "
                       "slashes dropped)"] += 1
        self.resources[norm(raw_id)] = stored
        self._by_type = None
        return True

    def note_lines(self) -> list[str]:
        """The notes as sentences (``input.notes``), in a stable order."""
        return sorted(k.replace("{n}", str(v)) for k, v in self.notes.items())

    def extend(self, resources: Iterable[dict[str, Any]]) -> int:
        return sum(1 for r in resources if self.add(r))

    def merge(self, other: Inventory) -> None:
        for rid, res in other.resources.items():
            self.resources[rid] = res
        self.unreadable.extend(other.unreadable)
        if other.collected is not None:
            self.collected = (self.collected or set()) | other.collected
        self.ignored_types.update(other.ignored_types)
        self.notes.update(other.notes)
        self.sources.extend(other.sources)
        for k, v in other.metadata.items():
            self.metadata.setdefault(k, v)
        self.locations.update(other.locations)
        self.unsupported.extend(other.unsupported)
        self._by_type = None

    def remove(self, resource_id: str) -> None:
        self.resources.pop(norm(resource_id), None)
        self._by_type = None

    # -- reading --------------------------------------------------------------------------------------
    def get(self, resource_id: str | None) -> dict[str, Any] | None:
        return self.resources.get(norm(resource_id)) if resource_id else None

    def of_type(self, rtype: str) -> list[dict[str, Any]]:
        if self._by_type is None:
            index: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for rid in sorted(self.resources):
                res = self.resources[rid]
                index[norm(res.get("type")) or type_of(rid)].append(res)
            self._by_type = dict(index)
        return self._by_type.get(norm(rtype), [])

    def unreadable_for(self, rtype: str, scope: str | None = None) -> list[Unreadable]:
        """Unreadable records that cover ``rtype`` (and ``scope`` when given: same scope or above it)."""
        t = norm(rtype)
        out = []
        for u in self.unreadable:
            ut = norm(u.resource_type)
            if ut not in ("*", t) and not t.startswith(ut + "/"):
                continue
            if scope is not None and u.scope and not _may_contain(u.scope, scope):
                continue
            out.append(u)
        return out

    def coverage(self, rtype: str, scope: str | None = None) -> str:
        """How much flaudit knows about ``rtype``: ``unreadable``, ``collected``, ``present`` or ``absent``.

        ``collected`` means a collector listed the type and absence is meaningful; ``present`` means some
        resources of the type are in the input; ``absent`` means nothing is known (a file without them).
        """
        if self.unreadable_for(rtype, scope):
            return "unreadable"
        t = norm(rtype)
        if self.collected is not None and any(ct == t for _, ct in self.collected):
            return "collected"
        if self.of_type(t):
            return "present"
        return "absent"

    def sha256(self) -> str:
        """Digest of the canonical inventory (sorted resources and unreadable items), stable across inputs
        that hold the same resources in another order or file layout."""
        canon = {
            "resources": [self.resources[k] for k in sorted(self.resources)],
            "unreadable": sorted((u.to_dict() for u in self.unreadable),
                                 key=lambda d: json.dumps(d, sort_keys=True)),
        }
        blob = json.dumps(canon, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()
