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
from flaudit.identities import bears_identity
from flaudit.jsonout import dumps_canonical
from flaudit.redact import redact

#: Resource types the deployment model reads (lower case). Anything else is ignored and counted, except a
#: resource of any type that runs as a user-assigned identity (kept for flaudit/identities.py).
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
        "microsoft.network/serviceendpointpolicies",
        "microsoft.network/serviceendpointpolicies/serviceendpointpolicydefinitions",
        "microsoft.network/virtualnetworkgateways",
        "microsoft.network/virtualhubs/hubvirtualnetworkconnections",
        "microsoft.authorization/roleassignments",
        "microsoft.authorization/roledefinitions",
        "microsoft.authorization/denyassignments",
        "microsoft.authorization/roleeligibilityscheduleinstances",
        "microsoft.authorization/roleeligibilityschedulerequests",
        "microsoft.managedidentity/userassignedidentities",
        "microsoft.managedidentity/userassignedidentities/federatedidentitycredentials",
        "microsoft.keyvault/vaults",
        "microsoft.containerregistry/registries",
        "microsoft.resources/subscriptions",
        "microsoft.resources/resourcegroups",
        "microsoft.management/managementgroups",
        # Azure Lighthouse delegations: a managing tenant's roles, in no role assignment list (flaudit/lighthouse.py)
        "microsoft.managedservices/registrationassignments",
        "microsoft.managedservices/registrationdefinitions",
        # configured data movement and stored credentials (flaudit/movement.py)
        "microsoft.storage/storageaccounts/objectreplicationpolicies",
        "microsoft.storage/storageaccounts/inventorypolicies",
        "microsoft.dataprotection/backupvaults",
        "microsoft.dataprotection/backupvaults/backupinstances",
        "microsoft.dataprotection/backupvaults/backuppolicies",
        "microsoft.machinelearningservices/workspaces/connections",
        "microsoft.datashare/accounts",
        "microsoft.datashare/accounts/shares",
        "microsoft.datashare/accounts/shares/datasets",
        # Kubernetes silos (flaudit/kubernetes.py)
        "microsoft.containerservice/managedclusters",
        "microsoft.containerservice/managedclusters/agentpools",
        "microsoft.kubernetes/connectedclusters",
        "microsoft.kubernetesconfiguration/extensions",
    }
)


#: Two types flaudit reads that Microsoft's own REST API examples spell otherwise than the request path does:
#: GetRoleEligibilityScheduleRequestByName.json / ...ByScope.json (Authorization 2020-10-01) give
#: ``RoleEligibilityRequests`` for ``roleEligibilityScheduleRequests``, HubVirtualNetworkConnectionGet.json /
#: ...List.json (Network 2024-07-01) give ``virtualHubVnetConnections`` for ``hubVirtualNetworkConnections``.
#: Read as the path's type (id segment and type re-spelt, with a note) so an eligibility or a hub connection in
#: that spelling is never dropped as a type flaudit does not read. Example spelling -> (id segment, type).
EXAMPLE_SPELLINGS: dict[str, tuple[str, str]] = {
    "roleeligibilityrequests": ("roleEligibilityScheduleRequests",
                                "Microsoft.Authorization/roleEligibilityScheduleRequests"),
    "virtualhubvnetconnections": ("hubVirtualNetworkConnections",
                                  "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections"),
}
_EXAMPLE_TYPES = {"microsoft.authorization/roleeligibilityrequests": "roleeligibilityrequests",
                  "microsoft.network/virtualhubs/virtualhubvnetconnections": "virtualhubvnetconnections"}


def _as_path_spells(resource: dict[str, Any]) -> dict[str, Any] | None:
    """``resource`` with an example spelling (:data:`EXAMPLE_SPELLINGS`) re-spelt as the request path spells
    it, as a copy; None when it has none. Only the id's last type segment and the type are changed."""
    out = None
    rid = resource.get("id")
    if isinstance(rid, str):
        segs = rid.rstrip("/").split("/")
        if len(segs) >= 2 and segs[-2].lower() in EXAMPLE_SPELLINGS and \
                type_of(rid) in _EXAMPLE_TYPES:
            out = dict(resource)
            out["id"] = "/".join(segs[:-2] + [EXAMPLE_SPELLINGS[segs[-2].lower()][0], segs[-1]])
    given = norm(resource.get("type"))
    if given in _EXAMPLE_TYPES:
        out = out if out is not None else dict(resource)
        out["type"] = EXAMPLE_SPELLINGS[_EXAMPLE_TYPES[given]][1]
    return out


_TYPE_NORMS: dict[str, str] = {}


def _type_norm(value: Any) -> str:
    """:func:`flaudit.arm.norm` of a resource's ``type``, computed once per spelling: an export of 100,000
    resources spells a few dozen types."""
    if not isinstance(value, str):
        return norm(value)
    out = _TYPE_NORMS.get(value)
    if out is None:
        out = norm(value)
        if len(_TYPE_NORMS) < 4096:  # bounded: a file may spell types any number of ways
            _TYPE_NORMS[value] = out
    return out


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
    #: id -> lower-cased type of every resource not read (never its body): flaudit.unmodelled lists those
    #: under FL resources by name.
    ignored: dict[str, str] = field(default_factory=dict)
    sources: list[SourceInfo] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Where each resource came from in an IaC file: norm id -> {"file", "line", "json_path"}.
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Constructs a template source could not evaluate: {"resource_id"|None, "message"}.
    unsupported: list[dict[str, Any]] = field(default_factory=list)
    #: What flaudit forgave while reading (a type derived from the id, an id re-spelt): note -> count.
    #: Each note holds ``{n}`` where the count goes; :meth:`note_lines` renders them for ``input.notes``.
    notes: Counter = field(default_factory=Counter)
    #: Microsoft Graph directory objects read for principals ARM data cannot place in a tenant: lower-cased principal
    #: id -> the object's ``@odata.type`` and selected properties (flaudit.sources.live.directory, flaudit.tenants).
    directory: dict[str, dict[str, Any]] = field(default_factory=dict)
    _by_type: dict[str, list[dict[str, Any]]] | None = field(default=None, repr=False)
    _ctypes: tuple[tuple[int, int], frozenset[str]] | None = field(default=None, repr=False)

    # -- building -------------------------------------------------------------------------------------
    def add(self, resource: dict[str, Any], *, redacted: bool = False) -> bool:
        """Add one ARM resource (redacted); returns False when its type is not one flaudit reads.

        What Azure leaves unambiguous is forgiven here, once for every source, and noted: a child resource
        without ``type`` (ARM omits it on subnets, peerings, security rules, routes...) gets the type its id
        names, and an id spelt without its leading slash or with doubled/trailing slashes is stored as ARM
        spells it, so it matches every reference to it.

        ``redacted``: the caller already knows the resource holds nothing :func:`redact` would change (a file
        reader checks a batch of resources at once), so it is kept as given.
        """
        raw_id = resource.get("id")
        given = resource.get("type")
        key = norm(raw_id)
        given_type = _type_norm(given)
        # (the id's next-to-last segment, as _as_path_spells reads it, from the normalised id without a split)
        if (given_type in _EXAMPLE_TYPES or key.rpartition("/")[0].rpartition("/")[2] in EXAMPLE_SPELLINGS) \
                and (respelt := _as_path_spells(resource)) is not None:
            resource = respelt
            self.notes["{n} resource(s) spelt as Microsoft's REST API examples spell them (RoleEligibilityRequests, "
                       "virtualHubVnetConnections): read as the type their request path names"] += 1
            raw_id, given = resource.get("id"), resource.get("type")
            key, given_type = norm(raw_id), _type_norm(given)
        rtype = given_type or type_of(raw_id or "")
        # A resource of any type whose body attaches a user-assigned identity is kept: it can act as that
        # identity (identity takeover, flaudit/identities.py), so it is never dropped as an unknown type.
        if rtype not in KNOWN_TYPES and not bears_identity(resource):
            self.ignored_types[rtype or "(no type)"] += 1
            rid = resource.get("id")
            if isinstance(rid, str) and rid:
                self.ignored[rid.strip().rstrip("/")] = rtype or "(no type)"
            return False
        stored = resource if redacted else redact(resource)
        respell = isinstance(raw_id, str) and (not raw_id.startswith("/") or raw_id.endswith("/") or "//" in raw_id)
        if not given or respell:
            stored = dict(stored)  # redact() may hand back the caller's own dict: never change that
        if not given:
            stored["type"] = type_from_id(raw_id) or rtype
            self.notes[f"{{n}} resource(s) of type {stored['type']} had 'id' but no 'type': type derived from "
                       "the id"] += 1
        if respell and (fixed := canonical_id(raw_id)) and fixed != raw_id:
            stored["id"] = fixed
            self.notes["{n} id(s) re-spelt as ARM spells ids (leading slash restored, doubled or trailing "
                       "slashes dropped)"] += 1
        self.resources[key] = stored
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
        self.ignored.update(other.ignored)
        self.sources.extend(other.sources)
        for k, v in other.metadata.items():
            self.metadata.setdefault(k, v)
        self.locations.update(other.locations)
        self.unsupported.extend(other.unsupported)
        self.directory.update(other.directory)
        self._by_type = None

    def remove(self, resource_id: str) -> None:
        self.resources.pop(norm(resource_id), None)
        self.ignored.pop(resource_id.strip().rstrip("/"), None)
        self._by_type = None

    # -- reading --------------------------------------------------------------------------------------
    def get(self, resource_id: str | None) -> dict[str, Any] | None:
        return self.resources.get(norm(resource_id)) if resource_id else None

    def of_type(self, rtype: str) -> list[dict[str, Any]]:
        if self._by_type is None:
            # A fleet holds 100,000+ resources of a few dozen types: normalise each distinct type spelling once
            # (per resource, norm() was most of the index's cost), then sort each type's ids on their own (the
            # same order as one sort of every id, as ids are unique, for less work than sorting them all).
            ids: dict[str, list[str]] = defaultdict(list)
            spelt: dict[str, str] = {}
            for rid, res in self.resources.items():
                raw = res.get("type")
                if isinstance(raw, str):
                    t = spelt.get(raw)
                    if t is None:
                        t = spelt[raw] = norm(raw)
                else:
                    t = ""
                ids[t or type_of(rid)].append(rid)
            resources = self.resources
            index: dict[str, list[dict[str, Any]]] = {}
            for t, rids in ids.items():
                rids.sort()
                index[t] = [resources[r] for r in rids]
            self._by_type = index
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
        if self.collected is not None and t in self._collected_types():
            return "collected"
        if self.of_type(t):
            return "present"
        return "absent"

    def _collected_types(self) -> frozenset[str]:
        """The types in ``collected``, indexed (a live snapshot records two per storage account, and rules ask
        per silo); rebuilt whenever ``collected`` is replaced or grows."""
        c = self.collected or set()
        key = (id(c), len(c))
        if self._ctypes is None or self._ctypes[0] != key:
            self._ctypes = (key, frozenset(t for _, t in c))
        return self._ctypes[1]

    def sha256(self) -> str:
        """Digest of the canonical inventory (sorted resources and unreadable items), stable across inputs
        that hold the same resources in another order or file layout.

        The digest is of ``json.dumps({"resources": [...], "unreadable": [...]}, sort_keys=True, compact)``,
        fed to the hash a thousand resources at a time so a 200 MB inventory is never serialised whole. Directory
        objects read from Microsoft Graph, when there are any, follow as ``"directory": {id: object}`` (sorted
        keys), so an input without them keeps the digest it always had."""
        digest = hashlib.sha256(b'{"resources":[')
        keys = sorted(self.resources)
        for start in range(0, len(keys), 1000):
            chunk = dumps_canonical([self.resources[k] for k in keys[start:start + 1000]])
            if start:
                digest.update(b",")
            digest.update(memoryview(chunk)[1:-1])  # the items, without the chunk's [ ] (and not copied)
        unreadable = sorted((u.to_dict() for u in self.unreadable), key=lambda d: json.dumps(d, sort_keys=True))
        digest.update(b'],"unreadable":' + dumps_canonical(unreadable))
        if self.directory:
            digest.update(b',"directory":' + dumps_canonical(self.directory))
        digest.update(b"}")
        return digest.hexdigest()
