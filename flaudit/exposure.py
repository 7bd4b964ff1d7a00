"""The storage network exposure evaluator: every network path into a storage account, with its source.

This is the ONE place that reads a storage account's ``publicNetworkAccess``, ``networkAcls`` and private
endpoint connections. Its rules, in the order Azure applies them:

* ``publicNetworkAccess: Disabled`` shuts every public path whatever ``networkAcls`` says (Azure "denies all
  logins that match IP or virtual network-based firewall rules"); only private endpoints remain. The paths the
  firewall would open are still listed, with status ``blocked-by-public-access-disabled``, so a reviewer sees
  what re-enabling public access would expose.
* ``SecuredByPerimeter`` hands public access to a network security perimeter, whose access rules override the
  account's firewall. flaudit does not collect perimeter access rules, so the firewall paths are marked
  blocked and one ``public`` path with status ``perimeter`` says that public access depends on rules not read.
* Otherwise (missing means ``Enabled``, Azure's default) the firewall decides: ``networkAcls.defaultAction``
  (missing means ``Allow``) ``Allow`` is a public path from any address; each ``ipRules`` entry, each
  ``virtualNetworkRules`` subnet, each ``resourceAccessRules`` resource instance and each ``bypass`` service
  class (``AzureServices`` = trusted Microsoft services, ``Logging``, ``Metrics``; missing means
  ``AzureServices``) is a path of its own.
* A ``publicNetworkAccess`` value that is none of these is not understood: one ``public`` path says so and
  counts as open (fail closed), besides the firewall paths evaluated as for ``Enabled``.
* Private endpoints are paths regardless of public access: ``Approved`` ones are ``open``; ``Pending``,
  ``Rejected`` and ``Disconnected`` ones are listed with that status (lower case). A VNet peered (Connected)
  with the VNet of an approved endpoint is a ``peering`` path: traffic from it reaches the endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flaudit import memo
from flaudit.arm import get_path, norm

if TYPE_CHECKING:  # pragma: no cover
    from flaudit.model import Deployment
    from flaudit.network import NetworkIndex

BLOCKED = "blocked-by-public-access-disabled"
#: path kinds that do not go through a private endpoint (what "public path" means for the rules)
NON_PRIVATE_KINDS = ("public", "ip-rule", "vnet-rule", "resource-instance", "trusted-services")


@dataclass(frozen=True)
class NetworkPath:
    """One way traffic can reach a storage account."""

    path_kind: str  # public | ip-rule | vnet-rule | resource-instance | trusted-services | private-endpoint | peering
    source: str
    detail: str
    status: str  # open | pending | rejected | disconnected | unknown | perimeter | blocked-by-public-access-disabled

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def is_public(self) -> bool:
        """A path not through a private endpoint (or a peering to one)."""
        return self.path_kind in NON_PRIVATE_KINDS

    def evidence(self) -> dict[str, Any]:
        return {"kind": "network-path", "path_kind": self.path_kind, "source": self.source,
                "detail": f"{self.detail} (status: {self.status})"}

    def to_dict(self) -> dict[str, Any]:
        return {"path_kind": self.path_kind, "source": self.source, "detail": self.detail, "status": self.status}


@dataclass(frozen=True)
class Exposure:
    """The evaluated exposure of one storage account."""

    storage_id: str
    public_network_access: str  # as evaluated (missing -> Enabled)
    pna_default_assumed: bool
    default_action: str  # missing -> Allow
    default_action_assumed: bool
    paths: tuple[NetworkPath, ...]

    @property
    def open_public_paths(self) -> list[NetworkPath]:
        return [p for p in self.paths if p.is_public and p.is_open]

    @property
    def perimeter(self) -> bool:
        return self.public_network_access.lower() == "securedbyperimeter"

    def setting_evidence(self) -> list[dict[str, Any]]:
        """``prop`` evidence items for the two settings the verdict turns on."""
        from flaudit.findings import prop

        return [
            prop(self.storage_id, "properties.publicNetworkAccess", self.public_network_access,
                 default_assumed=self.pna_default_assumed, default_note="missing means Enabled (Azure default)"),
            prop(self.storage_id, "properties.networkAcls.defaultAction", self.default_action,
                 default_assumed=self.default_action_assumed, default_note="missing means Allow (Azure default)"),
        ]


def _status_of_endpoint(state: str) -> str:
    low = state.lower()
    if low == "approved":
        return "open"
    if low in ("pending", "rejected", "disconnected"):
        return low
    return "unknown"


def storage_exposure(storage: dict[str, Any], network: NetworkIndex | None = None) -> Exposure:
    """Evaluate one storage account (an ARM resource) into its list of network paths.

    With a network index the answer is kept on it per account payload (FL-PE-001, the sinks evaluator and the
    result's network_paths ask about every silo's account): like the index's other caches, this reads the
    inventory as fixed for the index's life. The Exposure is immutable."""
    if network is None:
        return _storage_exposure(storage, None)
    return memo.per_object(network, "_exposure_cache", storage, lambda: _storage_exposure(storage, network))


def _storage_exposure(storage: dict[str, Any], network: NetworkIndex | None) -> Exposure:
    sid = str(storage.get("id") or "")
    pna_raw = get_path(storage, "properties.publicNetworkAccess")
    pna = str(pna_raw) if pna_raw else "Enabled"
    acls = get_path(storage, "properties.networkAcls") or {}
    da_raw = get_path(acls, "defaultAction")
    default_action = str(da_raw) if da_raw else "Allow"
    low_pna = pna.lower()
    firewall_status = BLOCKED if low_pna in ("disabled", "securedbyperimeter") else "open"

    paths: list[NetworkPath] = []
    if low_pna not in ("enabled", "disabled", "securedbyperimeter"):
        paths.append(NetworkPath("public", f"publicNetworkAccess {pna}",
                                 f"publicNetworkAccess {pna!r} is none of Enabled, Disabled, SecuredByPerimeter: "
                                 "not understood, so treated as public (fail closed)", "open"))
    if low_pna == "securedbyperimeter":
        paths.append(NetworkPath("public", "network security perimeter access rules",
                                 "publicNetworkAccess SecuredByPerimeter: public inbound access is decided by the "
                                 "perimeter's access rules, which flaudit does not collect", "perimeter"))
    if default_action.lower() == "allow":
        paths.append(NetworkPath("public", "any address (Internet)",
                                 f"networkAcls.defaultAction {default_action}"
                                 + (" (missing means Allow)" if da_raw is None else ""), firewall_status))
    for rule in get_path(acls, "ipRules") or []:
        value = str(get_path(rule, "value") or get_path(rule, "iPAddressOrRange") or "")
        action = str(get_path(rule, "action") or "Allow")
        if action.lower() == "allow":
            paths.append(NetworkPath("ip-rule", value, f"networkAcls.ipRules {value} action {action}",
                                     firewall_status))
    for rule in get_path(acls, "virtualNetworkRules") or []:
        subnet = str(get_path(rule, "id") or get_path(rule, "virtualNetworkResourceId") or "")
        action = str(get_path(rule, "action") or "Allow")
        state = str(get_path(rule, "state") or "Succeeded")
        if action.lower() == "allow":
            paths.append(NetworkPath("vnet-rule", subnet,
                                     f"networkAcls.virtualNetworkRules subnet (service endpoint), state {state}",
                                     firewall_status))
    for rule in get_path(acls, "resourceAccessRules") or []:
        rid = str(get_path(rule, "resourceId") or "")
        tenant = str(get_path(rule, "tenantId") or "")
        paths.append(NetworkPath("resource-instance", rid,
                                 f"networkAcls.resourceAccessRules resource instance (tenant {tenant or '?'})",
                                 firewall_status))
    bypass_raw = get_path(acls, "bypass")
    bypass = str(bypass_raw) if bypass_raw is not None else "AzureServices"
    for part in (p.strip() for p in bypass.split(",")):
        if part and part.lower() != "none":
            what = {"azureservices": "trusted Microsoft services (networkAcls.bypass AzureServices)",
                    "logging": "storage analytics logging (networkAcls.bypass Logging)",
                    "metrics": "storage analytics metrics (networkAcls.bypass Metrics)"}.get(
                part.lower(), f"networkAcls.bypass {part}")
            if bypass_raw is None:
                what += " (missing bypass means AzureServices)"
            paths.append(NetworkPath("trusted-services", part, what, firewall_status))

    if network is not None:
        for link in network.private_endpoints_for(sid):
            status = _status_of_endpoint(link.status)
            groups = ",".join(link.group_ids) or "group not in the input"
            paths.append(NetworkPath(
                "private-endpoint", link.subnet_id or link.pe_id,
                f"private endpoint {link.pe_id} ({groups}); connection state {link.status}"
                f" (endpoint side: {link.pe_status or 'not in the input'}, "
                f"account side: {link.target_status or 'not in the input'})", status))
            if status == "open" and link.vnet_id:
                for remote in sorted(network.neighbours(link.vnet_id)):
                    reach = network.reach(remote, link.vnet_id)
                    if reach.result == "yes":
                        names = ", ".join(p.id for p in reach.peerings)
                        shown = next((p.remote_display for p in reach.peerings if p.remote_id == remote),
                                     next((p.vnet_display for p in reach.peerings if p.vnet_id == remote), remote))
                        paths.append(NetworkPath("peering", shown, f"reaches private endpoint {link.pe_id} "
                                                 f"through peering {names}", "open"))
    return Exposure(sid, pna, pna_raw is None, default_action, da_raw is None, tuple(paths))


def network_paths(deployment: Deployment) -> list[dict[str, Any]]:
    """The result's ``network_paths[]``: one entry per path into each silo's storage account."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for silo in deployment.silos:
        if silo.storage is None or norm(silo.storage.id) in seen:
            continue
        seen.add(norm(silo.storage.id))
        exposure = storage_exposure(silo.storage.raw, deployment.network)
        paths = list(exposure.paths) + managed_network_paths(deployment, silo.storage.id)
        for p in paths:
            out.append({"silo": silo.name, "storage_id": silo.storage.id, **p.to_dict()})
    return out


def managed_network_paths(deployment: Deployment, storage_id: str) -> list[NetworkPath]:
    """Private endpoint paths the workspace managed network opens to a storage account: a ``PrivateEndpoint``
    outbound rule makes the account reachable from every compute in that managed network."""
    from flaudit.network import MANAGED_MODES, managed_isolation_mode, managed_private_endpoint_rules

    ws = deployment.workspace
    if ws is None:
        return []
    mode, _ = managed_isolation_mode(ws.raw)
    if mode.lower() not in MANAGED_MODES:
        return []
    out = []
    for group in ("blob", "dfs", "file", "queue", "table", "web"):
        for name, rule in managed_private_endpoint_rules(ws.raw, storage_id, group):
            state = str(rule.get("status") or "Active")
            out.append(NetworkPath("private-endpoint", f"{ws.id} managed network",
                                   f"managed network outbound rule {name} ({group}), status {state}: every compute "
                                   "in the workspace managed network reaches the account",
                                   "open" if state.lower() == "active" else "pending"))
    return out
