"""The deployment model: the FL topology resolved out of the inventory.

Rules read this, never the raw inventory layout. Each class keeps the ARM resource (``raw``) so rules can
cite exact property paths as evidence; the fields here are only what topology resolution itself needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from flaudit.arm import get_path, is_resource_id, norm, parent_id

SUBNET_TYPE = "microsoft.network/virtualnetworks/subnets"

if TYPE_CHECKING:  # pragma: no cover
    from flaudit.config import Administrator, FLConfig
    from flaudit.inventory import Inventory
    from flaudit.network import NetworkIndex
    from flaudit.rbac import RbacIndex


@dataclass
class Identity:
    """A managed identity a compute or workspace runs as; ``principal_id`` is what role assignments name."""

    id: str  # user-assigned identity resource id, or "<owner id>#system"
    name: str
    principal_id: str | None
    client_id: str | None
    kind: str  # user-assigned | system-assigned
    resource: dict[str, Any] | None = None  # the identity resource when the inventory has it

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "principal_id": self.principal_id,
                "client_id": self.client_id, "kind": self.kind}


@dataclass(frozen=True)
class NodeSubnet:
    """One subnet a compute's nodes run in: its id, the agent pools placed there (empty for a compute cluster's
    own subnet) and the evidence naming the property that put them there."""

    subnet_id: str
    pools: tuple[str, ...] = ()
    evidence: tuple[dict[str, Any], ...] = ()


@dataclass
class Compute:
    id: str
    name: str
    raw: dict[str, Any]
    identities: list[Identity] = field(default_factory=list)
    #: For a Kubernetes compute, the cluster it attaches (:class:`flaudit.kubernetes.Cluster`, set by topology):
    #: the agent pools' subnets are then the compute's subnets.
    cluster: Any = None

    @property
    def compute_type(self) -> str:
        return str(get_path(self.raw, "properties.computeType") or "")

    @property
    def _own_ref(self) -> Any:
        return get_path(self.raw, "properties.properties.subnet.id") or None

    @cached_property
    def node_subnets(self) -> list[NodeSubnet]:
        """Every subnet the compute's nodes run in: the one place that answers "where does this compute run".

        A compute cluster (or a compute naming its own ``properties.properties.subnet.id``) runs in that one
        subnet. A Kubernetes compute runs in every subnet of its AKS cluster's agent pools: the Azure ML extension
        can schedule training pods on any pool (instance types pick pools by nodeSelector, which ARM does not
        show) and system pods run on the system pool, so silo code and data can be in each of them. Network rules
        judge each entry and combine worst-case (:func:`flaudit.rules._shared.each_placement`). Empty when no
        subnet is placed (see :attr:`subnet_problem`)."""
        own = self._own_ref
        if own is None and self.cluster is not None:
            return list(self.cluster.subnets)
        if not is_resource_id(own, SUBNET_TYPE):
            return []
        from flaudit.findings import prop

        return [NodeSubnet(own, (), (prop(self.id, "properties.properties.subnet.id", own),))]

    @cached_property
    def subnet_ids(self) -> list[str]:
        """The ids of :attr:`node_subnets`, in order."""
        return [s.subnet_id for s in self.node_subnets]

    @cached_property
    def subnet_ref(self) -> Any:
        """``properties.properties.subnet.id`` exactly as the payload gives it (None when absent); for a Kubernetes
        compute without one, the subnet its AKS cluster's agent pools run in when there is exactly one."""
        own = self._own_ref
        if own is not None or self.cluster is None:
            return own
        return self.subnet_ids[0] if len(self.subnet_ids) == 1 else None

    @cached_property
    def subnet_id(self) -> str | None:
        """The compute's subnet when it runs in exactly one, and only when its reference is a well-formed ARM
        subnet id. A reference that is not one (Microsoft's own examples use ``"test-subnet-resource-id"``)
        places the compute nowhere: see :attr:`subnet_problem`, which makes its network findings unknown instead
        of passing or grouping computes by an arbitrary string. A compute in several subnets has none here:
        read :attr:`subnet_ids`."""
        ref = self.subnet_ref
        return ref if is_resource_id(ref, SUBNET_TYPE) else None

    @property
    def subnet_problem(self) -> str | None:
        """Why the subnet reference cannot be placed, when there is one and it is not a subnet id."""
        ref = self.subnet_ref
        if ref is None and self.cluster is not None:
            return self.cluster.subnet_problem
        if ref is None or self.subnet_id:
            return None
        return (f"its subnet reference {ref!r} (properties.properties.subnet.id) is not an ARM subnet id "
                "(/subscriptions/.../providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>)")

    def subnet_evidence(self, subnet_id: str | None = None) -> list[dict[str, Any]]:
        """Evidence naming the property that places the compute: its own subnet reference, or the attached
        cluster's ``properties.resourceId`` and the cluster properties (agent pool ``vnetSubnetID``...); with
        ``subnet_id``, only what places the compute in that one subnet."""
        from flaudit.findings import prop

        if self.cluster is not None and self._own_ref is None:
            return [prop(self.id, "properties.resourceId", self.cluster.id)] + self.cluster.subnet_evidence(subnet_id)
        return [prop(self.id, "properties.properties.subnet.id", self.subnet_ref)]

    @cached_property
    def vnet_id(self) -> str | None:
        s = self.subnet_id
        return norm(parent_id(s)) if s else None

    @cached_property
    def vnet_ids(self) -> list[str]:
        """Every VNet the compute's nodes run in (lower case, sorted)."""
        return sorted({norm(parent_id(s)) for s in self.subnet_ids})

    @property
    def workspace_id(self) -> str:
        low = norm(self.id)
        i = low.find("/computes/")
        return low[:i] if i > 0 else ""

    @property
    def user_assigned(self) -> list[Identity]:
        return [i for i in self.identities if i.kind == "user-assigned"]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "compute_type": self.compute_type,
                "subnet_id": self.subnet_id, "vnet_id": self.vnet_id,
                "subnet_ids": list(self.subnet_ids), "vnet_ids": list(self.vnet_ids),
                "identities": [i.to_dict() for i in self.identities],
                "cluster": ({"id": self.cluster.id, "kind": self.cluster.kind} if self.cluster is not None else None)}


@dataclass
class StorageAccount:
    id: str
    name: str
    raw: dict[str, Any]

    def prop(self, path: str, default: Any = None) -> Any:
        return get_path(self.raw, path, default)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name}


@dataclass
class Datastore:
    id: str
    name: str
    raw: dict[str, Any]
    storage: StorageAccount | None = None
    #: Ids of the accounts ``accountName`` matches when it matches more than one (then ``storage`` is None).
    ambiguous_storage: list[str] = field(default_factory=list)

    @property
    def account_name(self) -> str | None:
        return get_path(self.raw, "properties.accountName") or None

    @property
    def container_name(self) -> str | None:
        """The container the datastore points at: ``containerName`` (blob), ``filesystem`` (ADLS Gen2: its file
        system is a blob container of the account) or ``fileShareName`` (Azure Files)."""
        for key in ("properties.containerName", "properties.filesystem", "properties.fileShareName"):
            value = get_path(self.raw, key)
            if value:
                return value
        return None

    @property
    def credentials_type(self) -> str | None:
        return get_path(self.raw, "properties.credentials.credentialsType") or None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "account_name": self.account_name,
                "container_name": self.container_name, "credentials_type": self.credentials_type}


@dataclass
class Workspace:
    id: str
    name: str
    raw: dict[str, Any]
    identities: list[Identity] = field(default_factory=list)

    def prop(self, path: str, default: Any = None) -> Any:
        return get_path(self.raw, path, default)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name,
                "public_network_access": self.prop("properties.publicNetworkAccess"),
                "managed_network_isolation": self.prop("properties.managedNetwork.isolationMode"),
                "identities": [i.to_dict() for i in self.identities]}


@dataclass
class Member:
    """What a silo and the orchestrator have in common: computes, a datastore and its storage account."""

    name: str
    computes: list[Compute] = field(default_factory=list)
    datastore: Datastore | None = None
    storage: StorageAccount | None = None
    missing: list[str] = field(default_factory=list)  # names from the config not found in the inventory

    @cached_property
    def identities(self) -> list[Identity]:
        """Every identity the member's computes run as (read after topology resolution, so cached)."""
        seen: dict[str, Identity] = {}
        for c in self.computes:
            for i in c.identities:
                seen.setdefault(norm(i.id), i)
        return list(seen.values())

    @property
    def user_assigned(self) -> list[Identity]:
        return [i for i in self.identities if i.kind == "user-assigned"]

    @cached_property
    def principal_ids(self) -> set[str]:
        return {norm(i.principal_id) for i in self.identities if i.principal_id}

    @property
    def vnet_ids(self) -> list[str]:
        return sorted({v for c in self.computes for v in c.vnet_ids})

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "computes": [c.to_dict() for c in self.computes],
                "datastore": self.datastore.to_dict() if self.datastore else None,
                "storage": self.storage.to_dict() if self.storage else None,
                "vnets": self.vnet_ids, "missing": list(self.missing)}


@dataclass
class Silo(Member):
    groups: list[str] = field(default_factory=list)  # Entra group object ids the FL config assigns to it


@dataclass
class Orchestrator(Member):
    """The orchestrator's computes, datastore and storage: where silos write model updates."""


@dataclass
class Deployment:
    inventory: Inventory
    config: FLConfig | None
    source: str  # config | inferred
    workspace: Workspace | None
    orchestrator: Orchestrator
    silos: list[Silo]
    problems: list[str] = field(default_factory=list)

    @cached_property
    def rbac(self) -> RbacIndex:
        from flaudit.rbac import RbacIndex

        return RbacIndex(self.inventory)

    @cached_property
    def network(self) -> NetworkIndex:
        from flaudit.network import NetworkIndex

        return NetworkIndex(self.inventory)

    @cached_property
    def silo_by_principal(self) -> dict[str, Silo]:
        out: dict[str, Silo] = {}
        for s in self.silos:
            for p in s.principal_ids:
                out.setdefault(p, s)
        return out

    @cached_property
    def silo_by_group(self) -> dict[str, Silo]:
        out: dict[str, Silo] = {}
        for s in self.silos:
            for g in s.groups:
                out.setdefault(norm(g), s)
        return out

    @cached_property
    def silos_by_datastore(self) -> dict[str, list[Silo]]:
        out: dict[str, list[Silo]] = {}
        for s in self.silos:
            if s.datastore is not None:
                out.setdefault(norm(s.datastore.id), []).append(s)
        return out

    @cached_property
    def computes_by_identity(self) -> dict[str, list[Compute]]:
        """Identity id (lower case) -> the silo and orchestrator computes that run as it."""
        out: dict[str, list[Compute]] = {}
        for m in [*self.silos, self.orchestrator]:
            for c in m.computes:
                for i in c.identities:
                    out.setdefault(norm(i.id), []).append(c)
        return out

    @cached_property
    def administrators(self) -> dict[str, Administrator]:
        """Principal id (lower case) -> the administrator the FL config declares (empty without a config)."""
        return {a.object_id: a for a in (self.config.administrators if self.config is not None else [])}

    @cached_property
    def silo_by_storage(self) -> dict[str, Silo]:
        return {norm(s.storage.id): s for s in self.silos if s.storage}

    def topology_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "config": self.config.path if self.config else None,
            "workspace": self.workspace.to_dict() if self.workspace else None,
            "orchestrator": self.orchestrator.to_dict(),
            "silos": [s.to_dict() for s in self.silos],
            "problems": list(self.problems),
            "administrators": [a.to_dict() for a in self.administrators.values()],
        }
