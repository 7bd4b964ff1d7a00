"""Private endpoints: silo data is reachable only through Approved private endpoints that the silo's own
compute can reach and resolve, and the workspace is private too.

Exposure comes from :mod:`flaudit.exposure`; endpoints, peerings and DNS from :class:`flaudit.network.NetworkIndex`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlparse

from flaudit.rules._shared import each_placement, placements_of, silo_computes, unresolved

from flaudit.arm import get_path, name_of
from flaudit.engine import Remediation, rule
from flaudit.exposure import storage_exposure
from flaudit.findings import Fail, Finding, NotApplicable, Pass, Unknown, note, prop
from flaudit.model import Compute, Deployment, Silo, StorageAccount
from flaudit.network import (
    DNS_A,
    DNS_LINK,
    DNS_ZONE,
    PE,
    Placement,
    PrivateEndpointLink,
    managed_private_endpoint_rules,
    vnet_of,
)

STORAGE_PE_DOCS = "https://learn.microsoft.com/azure/storage/common/storage-private-endpoints"
STORAGE_PNA_DOCS = "https://learn.microsoft.com/azure/storage/common/storage-network-security"
PE_DNS_DOCS = "https://learn.microsoft.com/azure/private-link/private-endpoint-dns"
PE_STATES_DOCS = "https://learn.microsoft.com/azure/private-link/manage-private-endpoint"
AML_PL_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link"
AML_MANAGED_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-managed-network"


def _unresolved_storage(silo: Silo) -> Finding:
    return Unknown("", f"Silo {silo.name}: its storage account could not be resolved.", silo=silo.name,
                   subject=silo.name, evidence=[note(m) for m in silo.missing])


def _no_workspace(what: str) -> Finding:
    """The workspace is not in the input: its ``what`` cannot be vouched for."""
    return Unknown("", f"The workspace is not in the input; its {what} cannot be checked.", subject="workspace")


#: Storage sub-resources (private endpoint group ids) a datastore type reads through. An AzureBlob datastore
#: reads over the blob endpoint even on a hierarchical-namespace account; an AzureDataLakeGen2 datastore reads
#: over dfs, and Microsoft asks for a blob endpoint beside every dfs one because Data Lake operations can be
#: redirected to the blob endpoint; an AzureFile datastore reads over the file endpoint.
DATASTORE_GROUPS: dict[str, tuple[str, ...]] = {
    "azureblob": ("blob",),
    "azuredatalakegen2": ("blob", "dfs"),
    "azurefile": ("file",),
}
DATASTORE_TYPE = "microsoft.machinelearningservices/workspaces/datastores"


def _hns(storage: StorageAccount) -> bool:
    """Hierarchical namespace on (missing isHnsEnabled means false; any value other than false or missing,
    e.g. the string "true", is taken as on: fail closed)."""
    hns = storage.prop("properties.isHnsEnabled")
    return not (hns is None or hns is False or str(hns).lower() == "false")


def _datastores_on(d: Deployment, storage: StorageAccount) -> list[dict[str, Any]]:
    """Every datastore in the input whose accountName is ``storage``'s (indexed once per deployment)."""
    index = d.__dict__.get("_datastores_by_account")
    if index is None:
        index = {}
        for ds in d.inventory.of_type(DATASTORE_TYPE):
            index.setdefault(str(get_path(ds, "properties.accountName") or "").lower(), []).append(ds)
        d.__dict__["_datastores_by_account"] = index
    return index.get(storage.name.lower(), [])


def required_groups(d: Deployment, storage: StorageAccount) -> list[str]:
    """The private endpoint sub-resources silo compute needs to read ``storage``'s data.

    The union over every datastore in the input that points at the account (by accountName), each by its
    datastoreType (:data:`DATASTORE_GROUPS`). When no datastore points at it, or one has a type flaudit does
    not know, the account's own shape decides (fail closed): ``blob``, plus ``dfs`` on a hierarchical-namespace
    account.

    Worked out once per account (FL-PE-002, FL-PE-003 and FL-PE-004 each ask for every silo); each caller gets
    its own list.
    """
    cache = d.__dict__.setdefault("_required_groups", {})
    hit = cache.get(id(storage))
    if hit is None or hit[0] is not storage:  # the account is kept beside its answer, so its id is not reused
        hit = cache[id(storage)] = (storage, tuple(_required_groups(d, storage)))
    return list(hit[1])


def _required_groups(d: Deployment, storage: StorageAccount) -> list[str]:
    groups: list[str] = []
    unknown = False
    for ds in _datastores_on(d, storage):
        known = DATASTORE_GROUPS.get(str(get_path(ds, "properties.datastoreType") or "").lower())
        if known is None:
            unknown = True
        else:
            groups += [g for g in known if g not in groups]
    if unknown or not groups:
        for g in (["blob", "dfs"] if _hns(storage) else ["blob"]):
            if g not in groups:
                groups.append(g)
    order = {"blob": 0, "dfs": 1, "file": 2}
    return sorted(groups, key=lambda g: order.get(g, 9))


def _group_evidence(d: Deployment, st: StorageAccount, group: str) -> list[dict[str, Any]]:
    """Why ``group`` is required: the account's namespace and the datastores that read through it (shown when
    they decide something: a dfs or file endpoint, or blob alone on a hierarchical-namespace account)."""
    ev = []
    if group == "blob" and not _hns(st):
        return ev
    ev.append(prop(st.id, "properties.isHnsEnabled", st.prop("properties.isHnsEnabled")))
    for ds in _datastores_on(d, st):
        ev.append(prop(ds["id"], "properties.datastoreType", get_path(ds, "properties.datastoreType")))
    return ev


def endpoint_links(d: Deployment, target: dict[str, Any], group: str
                   ) -> tuple[list[PrivateEndpointLink], str | None]:
    """Private endpoints of ``target`` for ``group`` and, when the answer cannot be trusted, why.

    A link whose endpoint resource is absent has no group ids: it is kept (for evidence) and makes the
    answer unknown unless another link already settles it.
    """
    links = d.network.private_endpoints_for(target.get("id"))
    matching = [lk for lk in links if lk.has_group(group)]
    ungrouped = [lk for lk in links if not lk.group_ids]
    if d.inventory.coverage(PE) == "unreadable":
        return matching, "private endpoints were unreadable"
    if not links and d.inventory.coverage(PE) == "absent" and \
            get_path(target, "properties.privateEndpointConnections") is None:
        return matching, "neither private endpoints nor the resource's privateEndpointConnections are in the input"
    if ungrouped and not any(lk.approved for lk in matching):
        return matching + ungrouped, ("a private endpoint connection exists whose endpoint is not in the input, so "
                                      "its group (sub-resource) is unknown")
    return matching, None


def _link_evidence(links: list[PrivateEndpointLink], target_id: str) -> list[dict[str, Any]]:
    ev: list[dict[str, Any]] = []
    for lk in links:
        ev.append(lk.evidence())
        if lk.pe_status is not None:
            where = "manualPrivateLinkServiceConnections" if lk.manual else "privateLinkServiceConnections"
            ev.append(prop(lk.pe_id, f"properties.{where}[].properties.privateLinkServiceConnectionState.status",
                           lk.pe_status))
        if lk.target_status is not None:
            ev.append(prop(lk.connection_id or target_id, "properties.privateLinkServiceConnectionState.status",
                           lk.target_status))
    return ev


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-PE-001",
    title="Silo storage has no public network path",
    area="private-endpoints",
    severity="high",
    blocks=("production",),
    rationale="Sensitive silo data must be reachable only through private endpoints. publicNetworkAccess "
    "Disabled closes every public path whatever networkAcls says (defaultAction Allow included). Otherwise "
    "(missing means Enabled) networkAcls.defaultAction Allow (missing means Allow) is open to any address, and "
    "each ipRules entry, virtualNetworkRules subnet, resourceAccessRules instance and bypass service class "
    "(missing bypass means AzureServices) is a path that does not go through a private endpoint. An Enabled "
    "account whose firewall admits nothing still fails (medium): the firewall is then the only control and "
    "Azure Policy b2982f36 requires Disabled. SecuredByPerimeter delegates public access to a network security "
    "perimeter whose access rules flaudit does not collect: unknown.",
    remediation=Remediation(
        cli="az storage account update --name <account> --resource-group <rg> --public-network-access Disabled",
        bicep="properties: {\n  publicNetworkAccess: 'Disabled'\n  networkAcls: {\n    defaultAction: 'Deny'\n"
        "    bypass: 'None'\n    ipRules: []\n    virtualNetworkRules: []\n  }\n}",
        text="Disable public network access on every silo storage account and reach it through a private "
        "endpoint in the silo VNet.",
    ),
    references=(STORAGE_PNA_DOCS, STORAGE_PE_DOCS),
    policy=("b2982f36-99f2-4db5-8eff-283140c09693", "34c877ad-507e-4c82-993e-3452a6e0ad3c"),
)
def storage_no_public_path(d: Deployment) -> Iterable[Finding]:
    for silo in d.silos:
        st = silo.storage
        if st is None:
            yield _unresolved_storage(silo)
            continue
        exp = storage_exposure(st.raw, d.network)
        ev = exp.setting_evidence()
        open_paths = exp.open_public_paths
        if open_paths:
            ev += [p.evidence() for p in open_paths]
            kinds = ", ".join(sorted({p.path_kind for p in open_paths}))
            yield Fail(st.id, f"Storage {st.name} of silo {silo.name} is reachable without a private endpoint "
                       f"({kinds}).", silo=silo.name, evidence=ev)
        elif exp.public_network_access.lower() == "enabled":
            f = Fail(st.id, f"Storage {st.name} of silo {silo.name} has publicNetworkAccess "
                     f"{'missing (Enabled)' if exp.pna_default_assumed else 'Enabled'}: its firewall admits no "
                     "address today, but it is the only control left; one IP or VNet rule opens a public path.",
                     silo=silo.name, evidence=ev + [note("no networkAcls path is open (defaultAction Deny, no rules, "
                                                        "no bypass)")])
            f.severity = "medium"
            yield f
        elif exp.perimeter:
            ev += [p.evidence() for p in exp.paths if p.is_public]
            yield Unknown(st.id, f"Storage {st.name}: publicNetworkAccess is SecuredByPerimeter; public access "
                          "depends on network security perimeter access rules that were not collected.",
                          silo=silo.name, evidence=ev)
        elif exp.public_network_access.lower() == "disabled":
            blocked = [p.evidence() for p in exp.paths if p.is_public]
            if blocked:
                ev.append(note("networkAcls paths below are inert while publicNetworkAccess is Disabled"))
            yield Pass(st.id, f"Storage {st.name} of silo {silo.name} has no public network path.", silo=silo.name,
                       evidence=ev + blocked)
        else:  # only an explicit Disabled proves there is no public path
            yield Unknown(st.id, f"Storage {st.name}: publicNetworkAccess {exp.public_network_access!r} is not a "
                          "value flaudit understands, so the absence of a public path is not proven.",
                          silo=silo.name, evidence=ev)


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-PE-002",
    title="Silo storage has an Approved private endpoint for each sub-resource its datastores read",
    area="private-endpoints",
    severity="high",
    blocks=("production",),
    rationale="A private endpoint carries traffic only once its connection is Approved; Pending, Rejected and "
    "Disconnected endpoints carry nothing. The endpoints needed follow how the data is read: an AzureBlob "
    "datastore reads over blob, even on a hierarchical-namespace account; an AzureDataLakeGen2 datastore reads "
    "over dfs and needs blob beside it (Data Lake operations can be redirected to the blob endpoint); an "
    "AzureFile datastore reads over file. With no datastore on the account, or one of another type, blob is "
    "required, and dfs too when hierarchical namespace (isHnsEnabled, missing means false) is on. The connection state is "
    "read from both the endpoint (privateLinkServiceConnections / manualPrivateLinkServiceConnections) and "
    "the account (privateEndpointConnections); if they disagree the non-Approved one counts.",
    remediation=Remediation(
        cli="az network private-endpoint create --name pe-<account>-blob --resource-group <rg> --vnet-name vnet-silo0 "
        "--subnet snet-training --private-connection-resource-id <storage id> --group-id blob "
        "--connection-name pe-<account>-blob\n"
        "az storage account private-endpoint-connection approve --account-name <account> --name <connection>",
        bicep="resource pe 'Microsoft.Network/privateEndpoints@2024-05-01' = {\n  name: 'pe-${account.name}-blob'\n"
        "  location: location\n  properties: {\n    subnet: { id: siloSubnet.id }\n"
        "    privateLinkServiceConnections: [ {\n      name: 'blob'\n      properties: {\n"
        "        privateLinkServiceId: account.id\n        groupIds: [ 'blob' ]\n      }\n    } ]\n  }\n}",
        text="Create a private endpoint for each sub-resource the silo's datastores read through (blob for "
        "AzureBlob; dfs and blob for AzureDataLakeGen2; file for AzureFile) in the silo VNet and approve it.",
    ),
    references=(STORAGE_PE_DOCS, PE_STATES_DOCS),
    policy=("6edd7eda-6dd8-40f7-810d-67160c639cd9",),
)
def storage_private_endpoint_approved(d: Deployment) -> Iterable[Finding]:
    for silo in d.silos:
        st = silo.storage
        if st is None:
            yield _unresolved_storage(silo)
            continue
        for group in required_groups(d, st):
            links, why = endpoint_links(d, st.raw, group)
            ev = _group_evidence(d, st, group) + _link_evidence(links, st.id)
            approved = [lk for lk in links if lk.approved and lk.has_group(group)]
            if approved:
                yield Pass(st.id, f"Storage {st.name} has an Approved {group} private endpoint "
                           f"({name_of(approved[0].pe_id)}).", silo=silo.name, evidence=ev, subject=group)
            elif why:
                yield Unknown(st.id, f"Storage {st.name}: {group} private endpoints cannot be established: {why}.",
                              silo=silo.name, evidence=ev, subject=group)
            elif links:
                states = ", ".join(f"{name_of(lk.pe_id)} {lk.status}" for lk in links)
                yield Fail(st.id, f"Storage {st.name} has no Approved {group} private endpoint ({states}).",
                           silo=silo.name, evidence=ev, subject=group)
            else:
                yield Fail(st.id, f"Storage {st.name} has no {group} private endpoint.", silo=silo.name,
                           evidence=ev + [prop(st.id, "properties.privateEndpointConnections",
                                               get_path(st.raw, "properties.privateEndpointConnections"))],
                           subject=group)


def each_compute_to_own_storage(d: Deployment,
                                judge: Callable[[Silo, Compute, StorageAccount, Placement], Iterable[Finding]]
                                ) -> Iterator[Finding]:
    """``judge(silo, compute, storage, placement)`` for every silo compute and its own silo's storage account.

    These rules ask whether the path from a silo's compute to its own data stays private; when either end is
    not resolved the answer is unknown.
    """
    for silo, c in silo_computes(d):
        if c is None:
            yield unresolved(silo)
            continue
        st = silo.storage
        if st is None:
            yield _unresolved_storage(silo)
            continue
        yield from each_placement(d, c, lambda p, silo=silo, c=c, st=st: judge(silo, c, st, p))


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-PE-003",
    title="The silo compute can reach its storage's private endpoint",
    area="private-endpoints",
    severity="high",
    blocks=("production",),
    rationale="A private endpoint helps only if the silo compute can reach it: same VNet, or a VNet peering "
    "that is Connected (Azure requires both sides; peering is not transitive). An endpoint in another VNet "
    "without peering leaves the compute with no private path. Computes in a workspace managed network reach "
    "storage through the managed network's PrivateEndpoint outbound rules instead.",
    remediation=Remediation(
        cli="az network private-endpoint create --name pe-<account>-blob --resource-group <rg> --vnet-name vnet-silo0 "
        "--subnet snet-training --private-connection-resource-id <storage id> --group-id blob "
        "--connection-name pe-<account>-blob\n"
        "# managed network: az ml workspace outbound-rule set --resource-group <rg> --workspace-name <ws> "
        "--rule silo0-blob --type private_endpoint --service-resource-id <storage id> --subresource-target blob",
        bicep="properties: {\n  subnet: { id: siloSubnet.id }  // the subnet of the silo compute's VNet\n"
        "  privateLinkServiceConnections: [ { name: 'blob', properties: { privateLinkServiceId: account.id, "
        "groupIds: [ 'blob' ] } } ]\n}",
        text="Place the storage private endpoint in the silo compute's VNet (or a VNet peered with it).",
    ),
    references=(STORAGE_PE_DOCS, AML_MANAGED_DOCS),
)
def endpoint_reachable_from_compute(d: Deployment) -> Iterable[Finding]:
    def judge(silo: Silo, c: Compute, st: StorageAccount, p: Placement) -> Iterator[Finding]:
        for group in required_groups(d, st):
            subject = f"{st.id}|{group}"
            if p.kind == "managed":
                rules = managed_private_endpoint_rules(p.workspace, st.id, group)
                active = [(n, r) for n, r in rules if str(r.get("status") or "Active").lower() == "active"]
                ev = [p.mode_evidence()] + [prop(p.workspace_id, f"properties.managedNetwork.outboundRules.{n}", r)
                                            for n, r in rules]
                if active:
                    yield Pass(c.id, f"Compute {c.name} reaches {st.name} ({group}) through managed-network "
                               f"outbound rule {active[0][0]}.", silo=silo.name, evidence=ev, subject=subject)
                else:
                    yield Fail(c.id, f"Compute {c.name} is in the managed network but no active PrivateEndpoint "
                               f"outbound rule targets {st.name} ({group}).", silo=silo.name, evidence=ev,
                               subject=subject)
                continue
            if p.kind in ("unknown", "attached"):
                yield Unknown(c.id, f"Compute {c.name}: its network placement is unknown "
                              f"({p.why_unknown if p.kind == 'unknown' else p.kind}).",
                              silo=silo.name, subject=subject)
                continue
            if p.kind != "vnet" or not p.subnet_id:
                yield Fail(c.id, f"Compute {c.name} is in no private network ({p.kind}), so it cannot use a "
                           f"private endpoint of {st.name}.", silo=silo.name,
                           evidence=[prop(c.id, "properties.properties.subnet.id", None)], subject=subject)
                continue
            links, why = endpoint_links(d, st.raw, group)
            approved = [lk for lk in links if lk.approved and lk.has_group(group)]
            ev = c.subnet_evidence(p.subnet_id) + _link_evidence(approved, st.id)
            if not approved:
                if why:
                    yield Unknown(c.id, f"Compute {c.name}: {group} private endpoints of {st.name} cannot be "
                                  f"established: {why}.", silo=silo.name, evidence=ev, subject=subject)
                else:
                    yield Fail(c.id, f"Compute {c.name}: {st.name} has no Approved {group} private endpoint to "
                               "reach (see FL-PE-002).", silo=silo.name, evidence=ev, subject=subject)
                continue
            verdicts = []
            for lk in approved:
                if not lk.subnet_id:
                    verdicts.append((lk, "unknown", "the endpoint's subnet is not in the input", []))
                    continue
                reach = d.network.reach(p.subnet_id, lk.subnet_id)
                verdicts.append((lk, reach.result, reach.how, reach.peerings))
            ok = [v for v in verdicts if v[1] == "yes"]
            if ok:
                lk, _, how, peerings = ok[0]
                pev = [{"kind": "network-path", "path_kind": "peering", "source": pr.vnet_display,
                        "detail": f"peering {name_of(pr.id)} to {pr.remote_display}, state {pr.state}"}
                       for pr in peerings]
                yield Pass(c.id, f"Compute {c.name} reaches {group} endpoint {name_of(lk.pe_id)} of {st.name} "
                           f"({'same VNet' if how == 'same-vnet' else 'through a Connected peering'}).",
                           silo=silo.name, evidence=ev + pev, subject=subject)
            elif any(v[1] == "unknown" for v in verdicts):
                yield Unknown(c.id, f"Compute {c.name}: reachability of {st.name}'s {group} endpoint is unknown ("
                              + "; ".join(v[2] for v in verdicts if v[1] == "unknown") + ").", silo=silo.name,
                              evidence=ev, subject=subject)
            else:
                where = ", ".join(sorted({name_of(lk.vnet_id) for lk in approved}))
                yield Fail(c.id, f"Compute {c.name} in VNet {name_of(vnet_of(p.subnet_id))} cannot reach "
                           f"{st.name}'s {group} private endpoint in VNet {where}: no Connected peering.",
                           silo=silo.name, evidence=ev + [note(f"{name_of(v[0].pe_id)}: {v[2]}") for v in verdicts],
                           subject=subject)

    yield from each_compute_to_own_storage(d, judge)


# ----------------------------------------------------------------------------------------------------------
#: An endpoint URL as ARM writes primaryEndpoints (``https://<account>.blob.core.windows.net/``): scheme, host
#: name, at most a slash. For exactly this form urlparse's hostname is the host lower-cased.
_PLAIN_URL = re.compile(r"https://([A-Za-z0-9.-]+)/?")


def _hostname(url: str) -> str | None:
    """``urlparse(url).hostname``; the plain form every account's primaryEndpoints has is read without urlparse,
    whose own cache holds 20 URLs and so misses for every silo's account."""
    m = _PLAIN_URL.fullmatch(url)
    return m.group(1).lower() if m else urlparse(url).hostname


def endpoint_suffix(storage: StorageAccount, group: str) -> tuple[str, bool]:
    """DNS suffix of the storage endpoints (``core.windows.net``), from primaryEndpoints; (suffix, defaulted)."""
    url = storage.prop(f"properties.primaryEndpoints.{group}") or storage.prop("properties.primaryEndpoints.blob")
    host = _hostname(str(url)) if url else None
    if host:
        parts = host.split(".")
        if len(parts) > 2:
            return ".".join(parts[2:]), False
    return "core.windows.net", True


@rule(
    id="FL-PE-004",
    title="The storage private DNS zone is linked to the silo compute's VNet",
    area="private-endpoints",
    severity="medium",
    blocks=("production",),
    rationale="The compute resolves <account>.blob.<suffix> through the privatelink.blob.<suffix> private DNS "
    "zone only when that zone is linked to its VNet and holds an A record for the account; otherwise the "
    "name resolves to the public endpoint (blocked when public access is off, exposed when it is on). The "
    "suffix comes from the account's primaryEndpoints (core.windows.net when missing). When the input has no "
    "private DNS zones at all the answer is unknown; A records are checked when the zone's records are in "
    "the input. Managed-network computes use DNS that Azure ML manages.",
    remediation=Remediation(
        cli="az network private-dns link vnet create --resource-group <rg> --zone-name privatelink.blob.core.windows.net "
        "--name link-vnet-silo0 --virtual-network vnet-silo0 --registration-enabled false\n"
        "az network private-endpoint dns-zone-group create --resource-group <rg> --endpoint-name pe-<account>-blob "
        "--name default --private-dns-zone privatelink.blob.core.windows.net --zone-name blob",
        bicep="resource link 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {\n"
        "  parent: blobZone\n  name: 'link-vnet-silo0'\n  location: 'global'\n  properties: {\n"
        "    virtualNetwork: { id: siloVnet.id }\n    registrationEnabled: false\n  }\n}",
        text="Link the privatelink.blob zone to every silo VNet and register the endpoint's A record (a DNS zone "
        "group on the private endpoint does this).",
    ),
    references=(PE_DNS_DOCS, STORAGE_PE_DOCS),
    policy=("75973700-529f-4de2-b794-fb9b6781b6b0",),
)
def private_dns_linked(d: Deployment) -> Iterable[Finding]:
    def judge(silo: Silo, c: Compute, st: StorageAccount, p: Placement) -> Iterator[Finding]:
        if p.kind == "unknown" and p.reason:  # a subnet is named but cannot be placed
            yield Unknown(c.id, f"Compute {c.name}: {p.reason}, so private DNS for it cannot be evaluated.",
                          silo=silo.name, subject=st.id)
            return
        if p.kind != "vnet" or not p.subnet_id:
            yield NotApplicable(c.id, f"Compute {c.name} is not in a customer VNet ({p.kind}); private DNS for it "
                                "is not customer-managed.", silo=silo.name, subject=st.id)
            return
        vnet = vnet_of(p.subnet_id)
        for group in required_groups(d, st):
            yield _dns_finding(d, silo, c.id, c.name, st, group, vnet)

    yield from each_compute_to_own_storage(d, judge)


def _dns_finding(d: Deployment, silo: Silo, cid: str, cname: str, st: StorageAccount, group: str,
                 vnet: str) -> Finding:
    subject = f"{st.id}|{group}"
    suffix, defaulted = endpoint_suffix(st, group)
    zone = f"privatelink.{group}.{suffix}"
    ev: list[dict[str, Any]] = [prop(st.id, f"properties.primaryEndpoints.{group}",
                                     st.prop(f"properties.primaryEndpoints.{group}"), default_assumed=defaulted,
                                     default_note="missing: the public cloud suffix core.windows.net is assumed")]
    zones = d.network.zones_named(zone)
    if not zones:
        cov = d.inventory.coverage(DNS_ZONE)
        if cov in ("absent", "unreadable"):
            return Unknown(cid, f"Private DNS zones were {'unreadable' if cov == 'unreadable' else 'not collected'}, "
                           f"so whether {zone} resolves {st.name} for compute {cname} is unknown.", silo=silo.name,
                           evidence=ev, subject=subject)
        return Fail(cid, f"No private DNS zone {zone} exists: compute {cname} resolves {st.name} to its public "
                    "endpoint.", silo=silo.name, evidence=ev, subject=subject)
    linked = [(z, d.network.zone_linked_vnets(z["id"]).get(vnet)) for z in zones]
    linked = [(z, lk) for z, lk in linked if lk is not None]
    dns_servers = get_path(d.network.vnet(vnet) or {}, "properties.dhcpOptions.dnsServers") or []
    if dns_servers:
        ev.append(note(f"VNet {name_of(vnet)} uses custom DNS servers {dns_servers}: the zone link takes effect "
                       "only if they forward to Azure DNS (168.63.129.16)"))
    if not linked:
        if d.inventory.coverage(DNS_LINK) in ("absent", "unreadable"):
            return Unknown(cid, f"Virtual network links of {zone} were not collected; whether it is linked to VNet "
                           f"{name_of(vnet)} is unknown.", silo=silo.name, evidence=ev, subject=subject)
        return Fail(cid, f"Zone {zone} is not linked to VNet {name_of(vnet)} of compute {cname}: {st.name} "
                    "resolves to its public endpoint there.", silo=silo.name,
                    evidence=ev + [prop(z["id"], "virtualNetworkLinks", sorted(d.network.zone_linked_vnets(z["id"])))
                                   for z in zones], subject=subject)
    z, link = linked[0]
    ev.append(prop(link["id"], "properties.virtualNetwork.id", get_path(link, "properties.virtualNetwork.id")))
    state = get_path(link, "properties.virtualNetworkLinkState")
    if state and str(state).lower() != "completed":
        return Fail(cid, f"The link of {zone} to VNet {name_of(vnet)} is {state}, not Completed.", silo=silo.name,
                    evidence=ev + [prop(link["id"], "properties.virtualNetworkLinkState", state)], subject=subject)
    records = d.network.a_records(z["id"])
    if not records and d.inventory.coverage(DNS_A) == "absent":
        return Pass(cid, f"Zone {zone} is linked to VNet {name_of(vnet)} of compute {cname}.", silo=silo.name,
                    evidence=ev + [note("the zone's A records are not in the input; the account's record was "
                                        "not checked")], subject=subject)
    ips = records.get(st.name.lower())
    if not ips:
        return Fail(cid, f"Zone {zone} is linked to VNet {name_of(vnet)} but has no A record for {st.name}.",
                    silo=silo.name, evidence=ev + [note(f"A records in the zone: {sorted(records)}")], subject=subject)
    ev.append(prop(f"{z['id']}/A/{st.name}", "properties.aRecords", ips))
    expected = _endpoint_addresses(d, st, group)
    if expected and not set(ips) & expected:
        return Fail(cid, f"Zone {zone} resolves {st.name} to {', '.join(ips)}, but its {group} private endpoint "
                    f"has address(es) {', '.join(sorted(expected))}: the record is stale.", silo=silo.name,
                    evidence=ev, subject=subject)
    return Pass(cid, f"Zone {zone} is linked to VNet {name_of(vnet)} and resolves {st.name} to {', '.join(ips)}.",
                silo=silo.name, evidence=ev, subject=subject)


def _endpoint_addresses(d: Deployment, st: StorageAccount, group: str) -> set[str]:
    """Private addresses of the account's Approved endpoints for ``group``: from the endpoint's
    customDnsConfigs (fqdn <account>.<group>.*) and static ipConfigurations, or, failing those, its network
    interfaces in the input."""
    out: set[str] = set()
    prefix = f"{st.name.lower()}.{group}."
    for lk in d.network.private_endpoints_for(st.id):
        if not (lk.approved and lk.has_group(group)) or lk.pe is None:
            continue
        for cfg in get_path(lk.pe, "properties.customDnsConfigs") or []:
            if str(cfg.get("fqdn", "")).lower().startswith(prefix):
                out.update(str(ip) for ip in cfg.get("ipAddresses") or [])
        for ipc in get_path(lk.pe, "properties.ipConfigurations") or []:  # static IP configurations
            if str(get_path(ipc, "properties.groupId") or "").lower() == group and \
                    get_path(ipc, "properties.privateIPAddress"):
                out.add(str(get_path(ipc, "properties.privateIPAddress")))
        if not out:
            for ref in get_path(lk.pe, "properties.networkInterfaces") or []:
                nic = d.network.nics.get(str(ref.get("id", "")).lower().rstrip("/"))
                for ipc in get_path(nic or {}, "properties.ipConfigurations") or []:
                    ip = get_path(ipc, "properties.privateIPAddress")
                    if ip:
                        out.add(str(ip))
    return out


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-PE-005",
    title="The workspace has an Approved amlworkspace private endpoint",
    area="private-endpoints",
    severity="high",
    blocks=("production",),
    rationale="Without a private endpoint the workspace API (jobs, datastores, models) is reached over the "
    "Internet; a Pending, Rejected or Disconnected endpoint carries nothing.",
    remediation=Remediation(
        cli="az network private-endpoint create --name pe-aml-workspace --resource-group <rg> "
        "--vnet-name vnet-orchestrator --subnet <subnet> --private-connection-resource-id <workspace id> "
        "--group-id amlworkspace --connection-name pe-aml-workspace",
        bicep="privateLinkServiceConnections: [ {\n  name: 'amlworkspace'\n  properties: {\n"
        "    privateLinkServiceId: workspace.id\n    groupIds: [ 'amlworkspace' ]\n  }\n} ]",
        text="Create and approve an amlworkspace private endpoint for the workspace.",
    ),
    references=(AML_PL_DOCS,),
    policy=("45e05259-1eb5-4f70-9574-baf73e9d219b",),
)
def workspace_private_endpoint(d: Deployment) -> Iterable[Finding]:
    ws = d.workspace
    if ws is None:
        yield _no_workspace("private endpoints")
        return
    links, why = endpoint_links(d, ws.raw, "amlworkspace")
    ev = _link_evidence(links, ws.id)
    approved = [lk for lk in links if lk.approved and lk.has_group("amlworkspace")]
    if approved:
        yield Pass(ws.id, f"Workspace {ws.name} has an Approved amlworkspace private endpoint "
                   f"({name_of(approved[0].pe_id)}).", evidence=ev)
    elif why:
        yield Unknown(ws.id, f"Workspace {ws.name}: private endpoints cannot be established: {why}.", evidence=ev)
    elif links:
        yield Fail(ws.id, f"Workspace {ws.name} has no Approved amlworkspace private endpoint ("
                   + ", ".join(f"{name_of(lk.pe_id)} {lk.status}" for lk in links) + ").", evidence=ev)
    else:
        yield Fail(ws.id, f"Workspace {ws.name} has no amlworkspace private endpoint.",
                   evidence=[prop(ws.id, "properties.privateEndpointConnections",
                                  ws.prop("properties.privateEndpointConnections"))])


@rule(
    id="FL-PE-006",
    title="The workspace disables public network access",
    area="private-endpoints",
    severity="high",
    blocks=("production",),
    rationale="With publicNetworkAccess Enabled (the default when missing) the workspace accepts requests from "
    "the Internet even when it also has a private endpoint.",
    remediation=Remediation(
        cli="az ml workspace update --name <ws> --resource-group <rg> --public-network-access Disabled",
        bicep="properties: {\n  publicNetworkAccess: 'Disabled'\n}",
        text="Disable public network access on the workspace once its private endpoint is Approved.",
    ),
    references=(AML_PL_DOCS,),
    policy=("438c38d2-3772-465a-a9cc-7a6666a275ce",),
)
def workspace_public_access_disabled(d: Deployment) -> Iterable[Finding]:
    ws = d.workspace
    if ws is None:
        yield _no_workspace("public network access")
        return
    raw = ws.prop("properties.publicNetworkAccess")
    value = str(raw) if raw else "Enabled"
    ev = [prop(ws.id, "properties.publicNetworkAccess", value, default_assumed=raw is None,
               default_note="missing means Enabled (Azure default)")]
    if value.lower() == "disabled":
        yield Pass(ws.id, f"Workspace {ws.name} disables public network access.", evidence=ev)
    else:
        yield Fail(ws.id, f"Workspace {ws.name} accepts public network access ({value}).", evidence=ev)


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-PE-007",
    title="Other silos' computes cannot reach a silo's storage private endpoints",
    area="private-endpoints",
    severity="high",
    blocks=("production",),
    rationale="Network isolation between silos means a silo's data endpoints are reachable only from that "
    "silo's network. A private endpoint placed in (or peered with) another silo's VNet, or a workspace "
    "managed network PrivateEndpoint outbound rule (which every compute of the workspace shares), gives other "
    "silos a private network path to the data; only identities then keep them out. The orchestrator's "
    "peering to silo VNets is reported in network_paths, FL-NET-007 and FL-NET-010 (with DNS), not here; networks "
    "outside the FL deployment are FL-NET-009's.",
    remediation=Remediation(
        cli="az network private-endpoint delete --name <endpoint in another silo's VNet> --resource-group <rg>\n"
        "az network vnet peering delete --resource-group <rg> --vnet-name <silo vnet> --name <peering>",
        bicep="// create each silo storage's private endpoints only in that silo's own VNet subnet\n"
        "properties: { subnet: { id: siloSubnet.id } }",
        text="Keep every silo storage private endpoint in its own silo's VNet, with no peering to other silos' "
        "VNets; with a workspace managed network, silos share one network and are separated only by identity.",
    ),
    references=(STORAGE_PE_DOCS, AML_MANAGED_DOCS),
)
def other_silos_cannot_reach_endpoints(d: Deployment) -> Iterable[Finding]:
    from flaudit.network import PEERING

    # one pass over every silo compute: where it sits (indexes keep the rule linear in the number of silos)
    by_vnet: dict[str, list[tuple[Silo, Any, str]]] = {}
    managed: dict[str, list[tuple[Silo, Any, Any]]] = {}  # workspace id -> computes in its managed network
    undecided: list[tuple[Silo, str]] = []
    for other, c in silo_computes(d):
        if c is None:
            undecided.append((other, f"silo {other.name}: compute not resolved"))
            continue
        for p in placements_of(d, c):  # every subnet the compute runs in (each AKS agent pool's)
            if p.kind == "vnet" and p.subnet_id:
                by_vnet.setdefault(vnet_of(p.subnet_id), []).append((other, c, p.subnet_id))
            elif p.kind == "managed":
                managed.setdefault(p.workspace_id.lower(), []).append((other, c, p))
            elif p.kind in ("unknown", "attached"):
                undecided.append((other, f"silo {other.name}: compute {c.name}'s network placement is unknown "
                                         f"({p.why_unknown if p.kind == 'unknown' else p.kind})"))
    unread = {v for v in by_vnet if v not in d.network.vnets}

    for silo in d.silos:
        st = silo.storage
        if st is None:
            yield _unresolved_storage(silo)
            continue
        links = [lk for lk in d.network.private_endpoints_for(st.id) if lk.approved]
        paths: list[dict[str, Any]] = []
        unknowns = [why for other, why in undecided if other is not silo]
        for members in managed.values():
            ws = members[0][2].workspace
            rules = [n for g in ("blob", "dfs", "file", "queue", "table", "web")
                     for n, r in managed_private_endpoint_rules(ws, st.id, g)
                     if str(r.get("status") or "Active").lower() == "active"]
            for other, c, _ in members:
                if rules and other is not silo:
                    paths.append({"kind": "network-path", "path_kind": "private-endpoint",
                                  "source": f"{c.id} (managed network)",
                                  "detail": f"silo {other.name} compute {c.name} shares the workspace managed "
                                            f"network whose outbound rule(s) {', '.join(rules)} reach {st.name}"})
        for lk in links:
            if not lk.subnet_id:
                unknowns.append(f"endpoint {name_of(lk.pe_id)}: its subnet is not in the input")
                continue
            vb = lk.vnet_id
            candidates = {vb} | d.network.neighbours(vb)
            if vb in unread or vb not in d.network.vnets or d.inventory.unreadable_for(PEERING, vb):
                candidates |= unread if vb not in d.network.vnets else set(by_vnet)
            for va in sorted(candidates):
                for other, c, sid in by_vnet.get(va, []):
                    if other is silo:
                        continue
                    reach = d.network.reach(sid, lk.subnet_id)
                    if reach.result == "yes":
                        how = "same VNet" if reach.how == "same-vnet" else "peering " + ", ".join(
                            name_of(pr.id) for pr in reach.peerings)
                        paths.append({"kind": "network-path",
                                      "path_kind": "private-endpoint" if reach.how == "same-vnet" else "peering",
                                      "source": sid,
                                      "detail": f"silo {other.name} compute {c.name} reaches endpoint "
                                                f"{name_of(lk.pe_id)} of {st.name} ({how})"})
                    elif reach.result == "unknown":
                        unknowns.append(f"silo {other.name} -> {name_of(lk.pe_id)}: {reach.how}")
        if paths:
            yield Fail(st.id, f"Computes of other silos can reach {st.name}'s private endpoints: "
                       + "; ".join(e["detail"] for e in paths) + ".", silo=silo.name, evidence=paths)
        elif unknowns:
            yield Unknown(st.id, f"Whether other silos can reach {st.name}'s private endpoints is unknown: "
                          + "; ".join(sorted(set(unknowns))) + ".", silo=silo.name,
                          evidence=[note(u) for u in sorted(set(unknowns))])
        else:
            yield Pass(st.id, f"No other silo's compute can reach {st.name}'s "
                       f"{len(links)} approved private endpoint(s).", silo=silo.name,
                       evidence=_link_evidence(links, st.id) or [note("the account has no approved private endpoint")])
