"""Workspace hardening: the Azure ML workspace, its computes and the resources it depends on.

Every FL job is submitted through the workspace and runs on its computes; the workspace's key vault holds
its secrets, its container registry the job images, its default storage the job snapshots, logs and
outputs. A public or locally-authenticated piece of that chain is a way around the silo boundaries the
other areas prove, so production requires each to be closed.

Missing properties are read with the default Azure applies (listed in docs/azure-defaults.md) and the
evidence says so. A resource the workspace references but the input does not contain is ``unknown``,
naming the id, never a pass.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flaudit.rules._shared import Verdict, members

from flaudit.arm import get_path, name_of, norm
from flaudit.engine import Remediation, rule
from flaudit.findings import Fail, Finding, NotApplicable, Pass, Unknown, note, prop
from flaudit.model import Compute, Deployment, Workspace
from flaudit.network import managed_open_egress, managed_outbound_rules, reopened_egress_finding_parts

AML_PRIVATE_LINK_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link"
AML_MANAGED_NET_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-managed-network"
AML_ENCRYPTION_DOCS = "https://learn.microsoft.com/azure/machine-learning/concept-data-encryption"
AML_POLICY_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-integrate-azure-policy"
AML_CLUSTER_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-create-attach-compute-cluster"
AML_TRAINING_VNET_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-secure-training-vnet"
AML_WS_VNET_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-secure-workspace-vnet"
AML_COMPUTE_REST = "https://learn.microsoft.com/rest/api/azureml/compute/get"
KV_NETWORK_DOCS = "https://learn.microsoft.com/azure/key-vault/general/network-security"
ACR_NETWORK_DOCS = "https://learn.microsoft.com/azure/container-registry/container-registry-access-selected-networks"
ACR_PRIVATE_DOCS = "https://learn.microsoft.com/azure/container-registry/container-registry-private-link"
ACR_AUTH_DOCS = "https://learn.microsoft.com/azure/container-registry/container-registry-authentication"
STORAGE_NETWORK_DOCS = "https://learn.microsoft.com/azure/storage/common/storage-network-security"

KEY_VAULT = "Microsoft.KeyVault/vaults"
REGISTRY = "Microsoft.ContainerRegistry/registries"
STORAGE = "Microsoft.Storage/storageAccounts"

#: An IP rule wider than this many addresses (a /16 in IPv4, a /48 in IPv6) counts as a broad allow.
BROAD_IPV4_PREFIX = 16
BROAD_IPV6_PREFIX = 48


# ---------------------------------------------------------------------------------------------------------
# Helpers of this area
# ---------------------------------------------------------------------------------------------------------
def _no_workspace(d: Deployment) -> Finding:
    if d.config is not None and d.config.workspace_name:
        why = f"workspace {d.config.workspace_name!r} named in the FL config is not in the inventory"
    else:
        why = "no Azure ML workspace could be resolved from the inventory"
    return Unknown("", f"{why}; its settings cannot be checked.", subject="workspace",
                   evidence=[note(p) for p in d.problems] or [note(why)])


def _setting(resource_id: str, raw: dict[str, Any], path: str, default: Any, default_note: str
             ) -> tuple[Any, dict[str, Any]]:
    """A property's effective value and its evidence item (``default_assumed`` when Azure's default applies)."""
    value = get_path(raw, path)
    if value is None:
        return default, prop(resource_id, path, default, default_assumed=True, default_note=default_note)
    return value, prop(resource_id, path, value)


def each_compute(d: Deployment, judge: Callable[[Compute], Verdict]) -> Iterator[Finding]:
    """Apply ``judge`` to every silo and orchestrator compute once; a member with none resolved is unknown."""
    seen: set[str] = set()
    for m, silo in members(d):
        if not m.computes:
            why = "; ".join(m.missing) if m.missing else "no compute is named for it"
            anchor = m.datastore.id if m.datastore else ""
            yield Unknown(anchor, f"{m.name}: no compute resolved ({why}), so its compute settings cannot be "
                          "checked.", silo=silo, subject=f"{m.name}|compute",
                          evidence=[note(x) for x in m.missing] or [note(why)])
            continue
        for c in m.computes:
            if norm(c.id) in seen:
                continue
            seen.add(norm(c.id))
            v = judge(c)
            yield v.finding(c.id, f"{m.name}: compute {c.name}: {v.message}", silo=silo)


def _subnet_evidence(c: Compute) -> list[dict[str, Any]]:
    """What places the compute in its subnet(s): its own subnet reference, or its cluster's agent pools."""
    if c.cluster is not None:
        return c.subnet_evidence()
    return [prop(c.id, "properties.properties.subnet.id", c.subnet_id)]


def _dependency(d: Deployment, ws: Workspace, path: str, rtype: str, label: str
                ) -> tuple[dict[str, Any] | None, Finding | None]:
    """The resource the workspace references at ``path``, or the finding that says why it cannot be judged.

    Returns ``(resource, None)`` when found, ``(None, finding)`` otherwise. A reference to a resource the
    input does not hold is ``unknown`` naming the id (and the read error when the collector recorded one).
    """
    rid = ws.prop(path)
    if not rid:
        return None, None
    if not isinstance(rid, str):
        return None, Unknown(ws.id, f"The workspace's {label} reference {rid!r} is not a resource id.", subject=label,
                             evidence=[prop(ws.id, path, rid)])
    res = d.inventory.get(rid)
    if res is not None:
        return res, None
    unreadable = d.inventory.unreadable_for(rtype, rid)
    if unreadable:
        u = unreadable[0]
        why = f"could not be read ({'HTTP ' + str(u.status) if u.status else 'error'}: {u.message})"
    else:
        why = "is not in the inventory (outside the collected scope, or not exported)"
    return None, Unknown(rid, f"The workspace's {label} {name_of(rid)} {why}; it cannot be checked.",
                         subject=label, evidence=[prop(ws.id, path, rid), note(f"{rtype} {rid} {why}")])


def _broad(value: str) -> bool | None:
    """True when an IP rule value covers more than a /16 (IPv4) or a /48 (IPv6); None when unparseable."""
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None
    limit = BROAD_IPV4_PREFIX if net.version == 4 else BROAD_IPV6_PREFIX
    return net.prefixlen < limit


def network_exposure(resource_id: str, raw: dict[str, Any], acl_key: str) -> Verdict:
    """Whether a key vault, registry or storage account is reachable from the public Internet at large.

    ``publicNetworkAccess`` Disabled closes the public endpoint whatever the firewall says. Otherwise
    (missing means Enabled) the firewall at ``properties.<acl_key>`` decides: ``defaultAction`` Allow (or
    missing, which means Allow) is public; Deny with only narrow IP rules and virtual-network rules is
    restricted; an IP rule wider than a /16 (e.g. 0.0.0.0/0) is a broad allow and counts as public.
    Trusted-service bypass is reported in the evidence but is not Internet exposure.
    """
    pna, pna_ev = _setting(resource_id, raw, "properties.publicNetworkAccess", "Enabled",
                           "missing means Enabled (Azure default)")
    evidence = [pna_ev]
    p = str(pna).strip().lower()
    if p == "disabled":
        return Verdict("pass", "public network access is disabled.", evidence)
    if p != "enabled":
        return Verdict("unknown", f"publicNetworkAccess {pna!r} (e.g. a network security perimeter) is not "
                       "evaluated by flaudit.", evidence)
    da_path = f"properties.{acl_key}.defaultAction"
    action, da_ev = _setting(resource_id, raw, da_path, "Allow", "missing means Allow (Azure default)")
    evidence.append(da_ev)
    a = str(action).strip().lower()
    if a == "allow":
        return Verdict("fail", "reachable from any network: public network access is enabled and the firewall's "
                       "default action is Allow.", evidence)
    if a != "deny":
        return Verdict("unknown", f"firewall defaultAction {action!r} is not understood.", evidence)
    ip_rules = get_path(raw, f"properties.{acl_key}.ipRules") or []
    vnet_rules = get_path(raw, f"properties.{acl_key}.virtualNetworkRules") or []
    values: list[str] = []
    broad: list[str] = []
    bad: list[str] = []
    for r in ip_rules if isinstance(ip_rules, list) else []:
        if not isinstance(r, dict):
            continue
        if str(r.get("action") or "Allow").lower() != "allow":
            continue
        value = str(r.get("value") or r.get("ipAddressOrRange") or "")
        values.append(value)
        b = _broad(value)
        if b is None:
            bad.append(value)
        elif b:
            broad.append(value)
    if values:
        evidence.append(prop(resource_id, f"properties.{acl_key}.ipRules", values))
    bypass = get_path(raw, f"properties.{acl_key}.bypass") or get_path(raw, "properties.networkRuleBypassOptions")
    if bypass:
        evidence.append(note(f"trusted Azure services bypass the firewall (bypass={bypass}); not Internet exposure"))
    if broad:
        return Verdict("fail", f"the firewall denies by default but IP rule(s) {', '.join(broad)} allow a range wider "
                       f"than a /{BROAD_IPV4_PREFIX}.", evidence)
    if bad:
        return Verdict("unknown", f"IP rule value(s) {', '.join(bad)} could not be parsed.", evidence)
    return Verdict("pass", f"the public endpoint denies by default ({len(values)} narrow IP rule(s), "
                   f"{len(vnet_rules) if isinstance(vnet_rules, list) else 0} virtual-network rule(s)).", evidence)


def storage_public_exposure(rid: str, res: dict[str, Any]) -> Verdict:
    """The same question for a storage account, answered by the shared storage exposure evaluator.

    flaudit.exposure is the one reader of a storage account's network settings; this only decides which of
    its open paths count as Internet exposure (``public``, and ``ip-rule`` ranges wider than a /16).
    Virtual-network, resource-instance and trusted-service paths are reported but are not the Internet.
    """
    from flaudit.exposure import storage_exposure

    exp = storage_exposure(res)
    evidence = exp.setting_evidence()
    open_paths = exp.open_public_paths
    evidence += [p.evidence() for p in open_paths]
    if exp.perimeter:
        return Verdict("unknown", "publicNetworkAccess SecuredByPerimeter: public access depends on network "
                       "security perimeter rules flaudit does not collect.", evidence)
    pna = exp.public_network_access.strip().lower()
    if pna not in ("enabled", "disabled"):
        return Verdict("unknown", f"publicNetworkAccess {exp.public_network_access!r} is not understood.", evidence)
    if any(p.path_kind == "public" for p in open_paths):
        return Verdict("fail", "reachable from any network: public network access is enabled and the firewall's "
                       "default action is Allow.", evidence)
    ip_paths = [p for p in open_paths if p.path_kind == "ip-rule"]
    broad = [p.source for p in ip_paths if _broad(p.source) is True]
    bad = [p.source for p in ip_paths if _broad(p.source) is None]
    if broad:
        return Verdict("fail", f"the firewall denies by default but IP rule(s) {', '.join(broad)} allow a range wider "
                       f"than a /{BROAD_IPV4_PREFIX}.", evidence)
    if bad:
        return Verdict("unknown", f"IP rule value(s) {', '.join(bad)} could not be parsed.", evidence)
    if pna == "disabled":
        return Verdict("pass", "public network access is disabled.", evidence)
    return Verdict("pass", f"the public endpoint denies by default ({len(ip_paths)} narrow IP rule(s); other "
                   "paths are virtual-network, resource-instance or trusted-service paths).", evidence)


def _workspace_dependency_rule(d: Deployment, path: str, rtype: str, label: str, required: bool,
                               judge: Callable[[str, dict[str, Any]], Verdict]) -> Iterator[Finding]:
    ws = d.workspace
    if ws is None:
        yield _no_workspace(d)
        return
    res, problem = _dependency(d, ws, path, rtype, label)
    if problem is not None:
        yield problem
        return
    if res is None:
        if required:
            yield Unknown(ws.id, f"The workspace names no {label} ({path} is missing).", subject=label,
                          evidence=[prop(ws.id, path, None)])
        else:
            yield NotApplicable(ws.id, f"The workspace has no {label} yet ({path} is empty); Azure ML creates one "
                                "on the first image build, with public defaults: re-audit after it exists.",
                                subject=label, evidence=[prop(ws.id, path, None)])
        return
    v = judge(res["id"], res)
    yield v.finding(res["id"], f"Workspace {label} {name_of(res['id'])}: {v.message}", subject=label)


# ---------------------------------------------------------------------------------------------------------
# Workspace settings
# ---------------------------------------------------------------------------------------------------------
@rule(
    id="FL-WSH-001",
    title="The workspace is not open to the Internet",
    area="workspace-hardening",
    severity="high",
    blocks=("production",),
    rationale="A workspace reachable from any network lets anyone holding a workspace role (or a stolen token) "
    "submit jobs to silo computes, read job outputs and change datastores from anywhere. Open means "
    "publicNetworkAccess not Disabled with the workspace firewall (networkAcls, 'enabled from selected IP "
    "addresses') allowing by default or through an IP rule wider than a /16. This rule measures how far the "
    "workspace is exposed; FL-PE-006 separately requires publicNetworkAccess Disabled behind a private endpoint "
    "for production, as the cited policy does. Azure defaults assumed: a missing publicNetworkAccess means "
    "Enabled, a missing networkAcls.defaultAction means Allow.",
    remediation=Remediation(
        cli="az ml workspace update --name <ws> --resource-group <rg> --public-network-access Disabled",
        bicep="resource ws 'Microsoft.MachineLearningServices/workspaces@2024-10-01' = {\n  ...\n  properties: {\n"
        "    publicNetworkAccess: 'Disabled'\n  }\n}",
        text="Create an Approved private endpoint (group amlworkspace), then disable public network access; until "
        "then restrict it to selected IP addresses (networkAcls defaultAction Deny with narrow ipRules).",
    ),
    references=(AML_PRIVATE_LINK_DOCS,),
    policy=("438c38d2-3772-465a-a9cc-7a6666a275ce",),
)
def workspace_not_public(d: Deployment) -> Iterable[Finding]:
    ws = d.workspace
    if ws is None:
        yield _no_workspace(d)
        return
    v = network_exposure(ws.id, ws.raw, "networkAcls")
    yield v.finding(ws.id, f"Workspace {ws.name}: {v.message}")


@rule(
    id="FL-WSH-002",
    title="The workspace managed network allows only approved outbound traffic",
    area="workspace-hardening",
    severity="high",
    blocks=("production",),
    rationale="Computes in a workspace managed network get their egress from its isolation mode. "
    "AllowOnlyApprovedOutbound lets code on a silo compute reach only the destinations the workspace approves; "
    "AllowInternetOutbound lets it ship data anywhere. With the managed network Disabled the computes must sit "
    "in customer VNets whose egress the network-isolation rules check; a silo compute in neither has no "
    "network isolation at all. Azure default assumed for a missing managedNetwork.isolationMode: Disabled.",
    remediation=Remediation(
        cli="az ml workspace update --name <ws> --resource-group <rg> --managed-network allow_only_approved_outbound",
        bicep="resource ws 'Microsoft.MachineLearningServices/workspaces@2024-10-01' = {\n  ...\n  properties: {\n"
        "    managedNetwork: {\n      isolationMode: 'AllowOnlyApprovedOutbound'\n    }\n  }\n}",
        text="Use AllowOnlyApprovedOutbound and add only the outbound rules the FL jobs need, or keep the managed "
        "network Disabled and place every silo compute in a customer VNet with egress denied. (Azure Policy "
        "6ddb1705-... needs its isolationMode parameter set to AllowOnlyApprovedOutbound; its default is Disabled.)",
    ),
    references=(AML_MANAGED_NET_DOCS, AML_TRAINING_VNET_DOCS),
    policy=("6ddb1705-c8cf-450e-aa4b-19ad6703c440",),
)
def managed_network_mode(d: Deployment) -> Iterable[Finding]:
    ws = d.workspace
    if ws is None:
        yield _no_workspace(d)
        return
    path = "properties.managedNetwork.isolationMode"
    mode, ev = _setting(ws.id, ws.raw, path, "Disabled", "missing means Disabled (Azure default)")
    m = str(mode).strip().lower()
    if m == "allowonlyapprovedoutbound":
        reopened = managed_open_egress(ws.raw)
        if reopened:
            text, rule_ev = reopened_egress_finding_parts(ws.id, reopened)
            yield Fail(ws.id, f"Workspace {ws.name}: {text}", evidence=[ev] + rule_ev)
            return
        fqdn = sorted(str(get_path(r, "destination")) for _, r in managed_outbound_rules(ws.raw)
                      if str(r.get("type", "")).lower() == "fqdn")
        evidence = [ev]
        if fqdn:
            evidence.append(note(f"approved FQDN outbound rules: {', '.join(fqdn[:20])}"
                                 + (" ..." if len(fqdn) > 20 else "")))
        yield Pass(ws.id, f"Workspace {ws.name}: managed network allows only approved outbound traffic.",
                   evidence=evidence)
    elif m == "allowinternetoutbound":
        yield Fail(ws.id, f"Workspace {ws.name}: managed network allows all Internet outbound traffic; code on a "
                   "managed compute can send silo data anywhere.", evidence=[ev])
    elif m == "disabled":
        if not d.silos:
            yield Unknown(ws.id, f"Workspace {ws.name}: managed network is disabled and no silo was found to "
                          "check for customer VNets.", evidence=[ev])
            return
        bare = [c for s in d.silos for c in s.computes if not c.subnet_ids]
        unresolved = [s.name for s in d.silos if not s.computes]
        evidence = [ev] + [prop(c.id, "properties.properties.subnet.id", None) for c in bare]
        if bare:
            yield Fail(ws.id, f"Workspace {ws.name}: managed network is disabled and silo compute(s) "
                       f"{', '.join(c.name for c in bare)} run in no customer subnet: nothing isolates their "
                       "network traffic.", evidence=evidence)
        elif unresolved:
            yield Unknown(ws.id, f"Workspace {ws.name}: managed network is disabled and the computes of "
                          f"{', '.join(unresolved)} could not be resolved to check for customer VNets.",
                          evidence=evidence)
        else:
            yield NotApplicable(ws.id, f"Workspace {ws.name}: managed network is disabled; every silo compute "
                                "runs in a customer VNet subnet, whose isolation and egress the "
                                "network-isolation rules check.",
                                evidence=evidence + [e for s in d.silos for c in s.computes
                                                     for e in _subnet_evidence(c)])
    else:
        yield Unknown(ws.id, f"Workspace {ws.name}: managed network isolation mode {mode!r} is not understood.",
                      evidence=[ev])


@rule(
    id="FL-WSH-003",
    title="The workspace is flagged as holding high-business-impact data",
    area="workspace-hardening",
    severity="medium",
    blocks=("production",),
    rationale="hbiWorkspace tells Azure ML the workspace handles sensitive data: it reduces the diagnostic "
    "data Microsoft collects, encrypts the local scratch disks of compute clusters and passes storage, registry "
    "and SSH credentials to computes through the workspace key vault. It can only be set when the workspace "
    "is created. Azure default assumed for a missing hbiWorkspace: false.",
    remediation=Remediation(
        cli="az ml workspace create --name <ws> --resource-group <rg> --hbi-workspace",
        bicep="resource ws 'Microsoft.MachineLearningServices/workspaces@2024-10-01' = {\n  ...\n  properties: {\n"
        "    hbiWorkspace: true\n  }\n}",
        text="The flag cannot be changed on an existing workspace: create the production FL workspace with it.",
    ),
    references=(AML_ENCRYPTION_DOCS,),
)
def workspace_hbi(d: Deployment) -> Iterable[Finding]:
    ws = d.workspace
    if ws is None:
        yield _no_workspace(d)
        return
    value, ev = _setting(ws.id, ws.raw, "properties.hbiWorkspace", False, "missing means false (Azure default)")
    if value is True:
        yield Pass(ws.id, f"Workspace {ws.name}: flagged as high business impact.", evidence=[ev])
    elif value is False:
        yield Fail(ws.id, f"Workspace {ws.name}: not flagged as high business impact (hbiWorkspace false).",
                   evidence=[ev])
    else:
        yield Unknown(ws.id, f"Workspace {ws.name}: hbiWorkspace has the unexpected value {value!r}.", evidence=[ev])


# ---------------------------------------------------------------------------------------------------------
# Compute settings
# ---------------------------------------------------------------------------------------------------------
@rule(
    id="FL-WSH-004",
    title="Silo and orchestrator computes disable local authentication",
    area="workspace-hardening",
    severity="medium",
    blocks=("production",),
    rationale="With local authentication disabled a compute accepts only Entra ID identities, so every access "
    "is tied to an identity that RBAC and sign-in logs cover. disableLocalAuth can only be set when the "
    "compute is created. Azure default assumed for a missing disableLocalAuth: false (local authentication "
    "enabled), as Azure Policy reads it.",
    remediation=Remediation(
        cli="az deployment group create --resource-group <rg> --template-file compute.bicep  "
        "# recreate the compute with disableLocalAuth: true",
        bicep="resource compute 'Microsoft.MachineLearningServices/workspaces/computes@2024-10-01' = {\n"
        "  parent: ws\n  name: '<silo>-01'\n  location: location\n  properties: {\n    computeType: 'AmlCompute'\n"
        "    disableLocalAuth: true\n    properties: { ... }\n  }\n}",
        text="The setting cannot be changed in place: delete and recreate the compute with it.",
    ),
    references=(AML_POLICY_DOCS, AML_COMPUTE_REST),
    policy=("e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f",),
)
def compute_local_auth(d: Deployment) -> Iterable[Finding]:
    def judge(c: Compute) -> Verdict:
        value, ev = _setting(c.id, c.raw, "properties.disableLocalAuth", False,
                             "missing means false: local authentication enabled (Azure default)")
        if value is True:
            return Verdict("pass", "local authentication is disabled.", [ev])
        if value is False:
            return Verdict("fail", "local authentication is enabled (disableLocalAuth is not true).", [ev])
        return Verdict("unknown", f"disableLocalAuth has the unexpected value {value!r}.", [ev])

    yield from each_compute(d, judge)


def _aml_compute_ssh(c: Compute) -> Verdict:
    inner = get_path(c.raw, "properties.properties")
    if not isinstance(inner, dict):
        return Verdict("unknown", "the compute's properties are not in the input, so its SSH port state is "
                       "unknown.", [prop(c.id, "properties.properties", None)])
    path = "properties.properties.remoteLoginPortPublicAccess"
    state, ev = _setting(c.id, c.raw, path, "NotSpecified",
                         "missing means NotSpecified (Azure default): SSH port closed when the cluster has a "
                         "subnet, open on public nodes otherwise")
    s = str(state).strip().lower()
    if s == "disabled":
        return Verdict("pass", "the public SSH port is closed.", [ev])
    if s == "enabled":
        return Verdict("fail", "the public SSH port is open on every node.", [ev])
    if s != "notspecified":
        return Verdict("unknown", f"remoteLoginPortPublicAccess {state!r} is not understood.", [ev])
    subnet_path = "properties.properties.subnet.id"
    if c.subnet_id:
        return Verdict("pass", "SSH port state NotSpecified with a VNet subnet: Azure keeps the public SSH port "
                       "closed.", [ev, prop(c.id, subnet_path, c.subnet_id)])
    admin_path = "properties.properties.userAccountCredentials.adminUserName"
    admin = get_path(c.raw, admin_path)
    if admin:
        return Verdict("fail", f"SSH port state NotSpecified without a VNet subnet opens the SSH port on public "
                       f"nodes, and admin user {admin!r} can log in.",
                       [ev, prop(c.id, subnet_path, None), prop(c.id, admin_path, admin)])
    return Verdict("pass", "SSH port state NotSpecified without a subnet, but no admin user account is configured, "
                   "so there is no SSH login.",
                   [ev, prop(c.id, subnet_path, None), prop(c.id, admin_path, None),
                    note("no userAccountCredentials.adminUserName: Azure ML creates no SSH account on the nodes")])


def _compute_instance_ssh(c: Compute) -> Verdict:
    inner = get_path(c.raw, "properties.properties")
    if not isinstance(inner, dict):
        return Verdict("unknown", "the compute's properties are not in the input, so its SSH state is unknown.",
                       [prop(c.id, "properties.properties", None)])
    state, ev = _setting(c.id, c.raw, "properties.properties.sshSettings.sshPublicAccess", "Disabled",
                         "missing means Disabled (Azure default for compute instances)")
    s = str(state).strip().lower()
    if s == "disabled":
        return Verdict("pass", "the public SSH port is closed.", [ev])
    if s == "enabled":
        return Verdict("fail", "the public SSH port is open.", [ev])
    return Verdict("unknown", f"sshPublicAccess {state!r} is not understood.", [ev])


@rule(
    id="FL-WSH-005",
    title="Silo and orchestrator computes keep the public SSH port closed",
    area="workspace-hardening",
    severity="high",
    blocks=("production",),
    rationale="An open SSH port gives an interactive shell on the nodes that hold a silo's data and identity "
    "token, outside any job and its logging. Azure default assumed for a missing "
    "remoteLoginPortPublicAccess (compute clusters): NotSpecified, which Azure documents as closed when the "
    "cluster has a VNet subnet and open on all public nodes otherwise; flaudit fails it only when, without a "
    "subnet, an admin user account (userAccountCredentials.adminUserName) exists to log in with. For compute "
    "instances a missing sshSettings.sshPublicAccess means Disabled. Attached Kubernetes computes have no "
    "Azure ML SSH setting.",
    remediation=Remediation(
        cli="az ml compute create --name <silo>-01 --type AmlCompute --ssh-public-access-enabled false "
        "--workspace-name <ws> --resource-group <rg> ...",
        bicep="resource compute 'Microsoft.MachineLearningServices/workspaces/computes@2024-10-01' = {\n"
        "  ...\n  properties: {\n    computeType: 'AmlCompute'\n    properties: {\n"
        "      remoteLoginPortPublicAccess: 'Disabled'\n    }\n  }\n}",
        text="Recreate the cluster with the public SSH port disabled and no admin user; debug through job logs "
        "or a compute instance in the silo VNet instead.",
    ),
    references=(AML_CLUSTER_DOCS, AML_COMPUTE_REST, AML_TRAINING_VNET_DOCS),
)
def compute_ssh_closed(d: Deployment) -> Iterable[Finding]:
    def judge(c: Compute) -> Verdict:
        ctype = c.compute_type.lower()
        if ctype == "amlcompute":
            return _aml_compute_ssh(c)
        if ctype == "computeinstance":
            return _compute_instance_ssh(c)
        if ctype == "kubernetes":
            return Verdict("not_applicable", "attached Kubernetes compute: Azure ML manages no SSH access on its "
                           "nodes (the cluster's own controls apply).",
                           [prop(c.id, "properties.computeType", c.compute_type)])
        return Verdict("unknown", f"compute type {c.compute_type or '(missing)'!r} is not one flaudit knows how to "
                       "check for SSH access.", [prop(c.id, "properties.computeType", c.compute_type or None)])

    yield from each_compute(d, judge)


# ---------------------------------------------------------------------------------------------------------
# Workspace dependencies
# ---------------------------------------------------------------------------------------------------------
@rule(
    id="FL-WSH-006",
    title="The workspace key vault is not public",
    area="workspace-hardening",
    severity="medium",
    blocks=("production",),
    rationale="The workspace key vault holds the secrets of datastores and connections (and, for HBI "
    "workspaces, compute credentials). A vault open to the Internet is one leaked token away from those "
    "secrets. Public means publicNetworkAccess not Disabled and the firewall allowing by default or through an "
    f"IP rule wider than a /{BROAD_IPV4_PREFIX}. Azure defaults assumed: a missing publicNetworkAccess means "
    "Enabled, a missing networkAcls (or defaultAction) means Allow.",
    remediation=Remediation(
        cli="az keyvault update --name <kv> --resource-group <rg> --public-network-access Disabled",
        bicep="resource kv 'Microsoft.KeyVault/vaults@2023-07-01' = {\n  ...\n  properties: {\n"
        "    publicNetworkAccess: 'Disabled'\n    networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices' }\n"
        "  }\n}",
        text="Reach the vault through a private endpoint (group vault) from the workspace VNet.",
    ),
    references=(KV_NETWORK_DOCS, AML_WS_VNET_DOCS),
    policy=("405c5871-3e91-4644-8a63-58e19d68ff5b", "55615ac9-af46-4a59-874e-391cc3dfb490"),
)
def key_vault_not_public(d: Deployment) -> Iterable[Finding]:
    yield from _workspace_dependency_rule(d, "properties.keyVault", KEY_VAULT, "key vault", True,
                                          lambda rid, res: network_exposure(rid, res, "networkAcls"))


def _registry_exposure(rid: str, res: dict[str, Any]) -> Verdict:
    v = network_exposure(rid, res, "networkRuleSet")
    sku = get_path(res, "sku.name") or get_path(res, "sku.tier")
    anon, anon_ev = _setting(rid, res, "properties.anonymousPullEnabled", False,
                             "missing means false (Azure default)")
    evidence = [*v.evidence, anon_ev]
    if anon is True:
        return Verdict("fail", "anonymous pull is enabled: anyone who reaches the registry can pull the FL job "
                       "images.", evidence)
    if v.status == "pass" and sku and str(sku).lower() != "premium" \
            and str(get_path(res, "properties.publicNetworkAccess") or "Enabled").lower() != "disabled":
        # Network rules are a Premium feature: on Basic/Standard the firewall settings are not enforced.
        return Verdict("fail", f"SKU {sku} does not enforce network rules (Premium only), so the registry is "
                       "reachable from any network.", evidence + [prop(rid, "sku.name", sku)])
    return Verdict(v.status, v.message, evidence)


@rule(
    id="FL-WSH-007",
    title="The workspace container registry is not public",
    area="workspace-hardening",
    severity="medium",
    blocks=("production",),
    rationale="The registry holds the images every FL job runs. Reachable from the Internet, its images (and "
    "anything baked into them) can be pulled, or tampered with by a leaked push credential, to run code in "
    "every silo. Public means publicNetworkAccess not Disabled and the firewall allowing by default or through "
    f"an IP rule wider than a /{BROAD_IPV4_PREFIX}, a non-Premium SKU (network rules are Premium only), or "
    "anonymous pull enabled. Azure defaults assumed: a missing publicNetworkAccess means Enabled, a missing "
    "networkRuleSet.defaultAction means Allow, a missing anonymousPullEnabled means false.",
    remediation=Remediation(
        cli="az acr update --name <acr> --resource-group <rg> --public-network-enabled false "
        "--anonymous-pull-enabled false",
        bicep="resource acr 'Microsoft.ContainerRegistry/registries@2023-07-01' = {\n  ...\n"
        "  sku: { name: 'Premium' }\n  properties: {\n    publicNetworkAccess: 'Disabled'\n"
        "    anonymousPullEnabled: false\n    networkRuleSet: { defaultAction: 'Deny' }\n  }\n}",
        text="Use a Premium registry behind a private endpoint (group registry); Azure ML then builds images on "
        "a compute in the VNet (workspace imageBuildCompute).",
    ),
    references=(ACR_PRIVATE_DOCS, ACR_NETWORK_DOCS, AML_WS_VNET_DOCS),
    policy=("0fdf0491-d080-4575-b627-ad0e843cba0f", "d0793b48-0edc-4296-a390-4c75d1bdfd71",
            "9f2dea28-e834-476c-99c5-3507b4728395"),
)
def registry_not_public(d: Deployment) -> Iterable[Finding]:
    yield from _workspace_dependency_rule(d, "properties.containerRegistry", REGISTRY, "container registry", False,
                                          _registry_exposure)


def _registry_admin(rid: str, res: dict[str, Any]) -> Verdict:
    value, ev = _setting(rid, res, "properties.adminUserEnabled", False, "missing means false (Azure default)")
    if value is False:
        return Verdict("pass", "the admin user is disabled.", [ev])
    if value is True:
        return Verdict("fail", "the admin user is enabled: its shared password gives push and pull rights "
                       "outside Entra ID.", [ev])
    return Verdict("unknown", f"adminUserEnabled has the unexpected value {value!r}.", [ev])


@rule(
    id="FL-WSH-008",
    title="The workspace container registry has its admin user disabled",
    area="workspace-hardening",
    severity="medium",
    blocks=("production",),
    rationale="The registry admin account is a shared username and password with push rights: it bypasses "
    "Entra ID and RBAC and lets whoever holds it replace the images FL jobs run in every silo. Azure default "
    "assumed for a missing adminUserEnabled: false.",
    remediation=Remediation(
        cli="az acr update --name <acr> --resource-group <rg> --admin-enabled false",
        bicep="resource acr 'Microsoft.ContainerRegistry/registries@2023-07-01' = {\n  ...\n  properties: {\n"
        "    adminUserEnabled: false\n  }\n}",
        text="Let the workspace identity pull with AcrPull instead of admin credentials.",
    ),
    references=(ACR_AUTH_DOCS,),
    policy=("dc921057-6b28-4fbe-9b83-f7bec05db6c2",),
)
def registry_admin_disabled(d: Deployment) -> Iterable[Finding]:
    yield from _workspace_dependency_rule(d, "properties.containerRegistry", REGISTRY, "container registry", False,
                                          _registry_admin)


@rule(
    id="FL-WSH-009",
    title="The workspace default storage account is not public",
    area="workspace-hardening",
    severity="high",
    blocks=("production",),
    rationale="The workspace default storage holds job code snapshots, logs, outputs and registered models, "
    "which in FL include the silos' model updates and anything a job writes out. Open to the Internet, it is a "
    "side door around the silo storage isolation. Public means publicNetworkAccess not Disabled and "
    "networkAcls allowing by default or through an IP rule wider than a "
    f"/{BROAD_IPV4_PREFIX}. Azure defaults assumed: a missing publicNetworkAccess means Enabled, a missing "
    "networkAcls.defaultAction means Allow.",
    remediation=Remediation(
        cli="az storage account update --name <account> --resource-group <rg> --public-network-access Disabled",
        bicep="resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  ...\n  properties: {\n"
        "    publicNetworkAccess: 'Disabled'\n    networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices' }\n"
        "  }\n}",
        text="Give the account blob and file private endpoints in the workspace VNet, then disable public access.",
    ),
    references=(STORAGE_NETWORK_DOCS, AML_WS_VNET_DOCS),
    policy=("b2982f36-99f2-4db5-8eff-283140c09693", "34c877ad-507e-4c82-993e-3452a6e0ad3c"),
)
def default_storage_not_public(d: Deployment) -> Iterable[Finding]:
    yield from _workspace_dependency_rule(d, "properties.storageAccount", STORAGE, "default storage account", True,
                                          storage_public_exposure)


def _default_storage_shared_key(rid: str, res: dict[str, Any]) -> Verdict:
    value, ev = _setting(rid, res, "properties.allowSharedKeyAccess", True, "missing means true (Azure default)")
    if value is False:
        return Verdict("pass", "shared key access is disabled: only Entra ID identities reach it.", [ev])
    if value is True:
        return Verdict("fail", "shared key access is allowed: its account key (or a SAS signed with it) is one "
                       "credential that reads every silo's job outputs, logs and model updates it holds, from "
                       "anywhere the network allows, unaudited.", [ev])
    return Verdict("unknown", f"allowSharedKeyAccess has the unexpected value {value!r}.", [ev])


@rule(
    id="FL-WSH-010",
    title="The workspace default storage account allows no shared key access",
    area="workspace-hardening",
    severity="high",
    blocks=("production",),
    rationale="Every silo's jobs write their snapshots, logs and outputs to the workspace default storage. While "
    "allowSharedKeyAccess is not false (missing means true, Azure's default) its account key, or any SAS signed "
    "with it, is one key usable by every silo and by anyone the key reaches: it reads all of them at once, "
    "bypassing RBAC, ABAC conditions and audit by identity; the workspace's own datastores (workspaceblobstore, "
    "workspacefilestore) hold that key by default, so any job of any silo can write there with it. Azure ML "
    "supports identity-based access to the default storage (workspace systemDatastoresAuthMode identity).",
    remediation=Remediation(
        cli="az storage account update --name <account> --resource-group <rg> --allow-shared-key-access false\n"
        "az ml workspace update --name <ws> --resource-group <rg> --system-datastores-auth-mode identity",
        bicep="resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  ...\n  properties: {\n"
        "    allowSharedKeyAccess: false\n  }\n}\n"
        "resource ws 'Microsoft.MachineLearningServices/workspaces@2024-10-01' = {\n  ...\n"
        "  properties: { systemDatastoresAuthMode: 'identity' }\n}",
        text="Switch the workspace's system datastores to identity-based access, then disallow shared keys on the "
        "account.",
    ),
    references=("https://learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage",
                "https://learn.microsoft.com/azure/storage/common/shared-key-authorization-prevent"),
    policy=("8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54",),
)
def default_storage_no_shared_key(d: Deployment) -> Iterable[Finding]:
    yield from _workspace_dependency_rule(d, "properties.storageAccount", STORAGE, "default storage account", True,
                                          _default_storage_shared_key)


@rule(
    id="FL-WSH-011",
    title="The deployment's key vaults are private and hold no secret two silos can use",
    area="workspace-hardening",
    severity="high",
    blocks=("production",),
    rationale="A key vault a silo identity can read secrets or use keys from is part of the deployment. A secret "
    "or key two or more silos can read (the same vault, or the same secret, through RBAC data actions "
    "secrets/getSecret, keys/decrypt, unwrap or sign, an access policy with secret get or key "
    "decrypt/unwrapKey/sign, the right to write access policies, or role-admin) is one credential shared across "
    "silo boundaries: whatever it opens, every one of those silos opens. Such a vault, when it is not the "
    "workspace's own (FL-WSH-006 judges that one), must not be reachable from the Internet either "
    f"(publicNetworkAccess not Disabled with the firewall allowing by default or an IP rule wider than a "
    f"/{BROAD_IPV4_PREFIX}; missing means Enabled and Allow). Vault RBAC assignments whose role flaudit cannot "
    "read are unknown; deny assignments are not applied to vault grants (fail closed). A key vault that could not "
    "be read makes the result unknown.",
    remediation=Remediation(
        cli="az role assignment create --assignee-object-id <silo-principal-id> --assignee-principal-type "
        "ServicePrincipal --role 'Key Vault Secrets User' --scope <vault-id>/secrets/<silo-secret>\n"
        "az keyvault update --name <kv> --resource-group <rg> --public-network-access Disabled",
        bicep="resource kv 'Microsoft.KeyVault/vaults@2023-07-01' = {\n  ...\n  properties: {\n"
        "    enableRbacAuthorization: true\n    publicNetworkAccess: 'Disabled'\n  }\n}\n"
        "// one vault per silo, or Key Vault Secrets User scoped to each silo's own secret",
        text="Give each silo a vault (or per-secret role assignments) of its own, remove the shared access shown "
        "in the evidence, and put shared vaults behind a private endpoint.",
    ),
    references=("https://learn.microsoft.com/azure/key-vault/general/rbac-guide",
                "https://learn.microsoft.com/azure/key-vault/general/assign-access-policy", KV_NETWORK_DOCS),
)
def deployment_key_vaults(d: Deployment) -> Iterable[Finding]:
    from flaudit.keyvault import VAULT, uses

    unreadable = d.inventory.unreadable_for(VAULT)
    if unreadable:
        u = unreadable[0]
        yield Unknown("", f"key vaults could not be read at {u.scope or 'some scope'} (HTTP {u.status}: "
                      f"{u.message}), so which secrets silos share is unknown.", subject="key-vaults",
                      evidence=[note(f"{x.scope}: {x.message}") for x in unreadable[:10]])
        return
    ws_vault = norm(d.workspace.prop("properties.keyVault")) if d.workspace else ""
    judged = 0
    for vault in d.inventory.of_type(VAULT):
        vid = norm(vault.get("id"))
        name = str(vault.get("name") or name_of(vault["id"]))
        by_silo: dict[str, list] = {}
        for silo in d.silos:
            found = [u for i in silo.identities if i.principal_id for u in uses(d, vault, i.principal_id)]
            if found:
                by_silo[silo.name] = found
        if not by_silo and vid != ws_vault:
            continue  # no silo uses it: not part of the data path
        judged += 1
        mode = "Azure RBAC" if get_path(vault, "properties.enableRbacAuthorization") is True else "access policies"
        ev = [prop(vault["id"], "properties.enableRbacAuthorization",
                   get_path(vault, "properties.enableRbacAuthorization"),
                   default_assumed=get_path(vault, "properties.enableRbacAuthorization") is None,
                   default_note="missing means false: access policies apply")]
        ev += [note(f"{s}: {u.detail}") for s, us in by_silo.items() for u in us[:3]]
        shared = _shared_regions(by_silo)
        unknown = sorted(s for s, us in by_silo.items() if any(u.how == "unknown" for u in us))
        if shared:
            where, silos = shared
            yield Fail(vault["id"], f"Key vault {name} ({mode}): {where} is usable by {len(silos)} silos "
                       f"({', '.join(silos)}): one credential shared across silo boundaries.", subject="shared",
                       evidence=ev)
        elif unknown:
            yield Unknown(vault["id"], f"Key vault {name}: {', '.join(unknown)} hold(s) a role flaudit cannot read "
                          "on it; whether secrets are shared across silos is unknown.", subject="shared", evidence=ev)
        else:
            yield Pass(vault["id"], f"Key vault {name} ({mode}): no secret or key is usable by more than one silo "
                       f"({len(by_silo)} silo(s) use it).", subject="shared", evidence=ev)
        if vid != ws_vault:  # the workspace's own vault is FL-WSH-006's
            v = network_exposure(vault["id"], vault, "networkAcls")
            yield v.finding(vault["id"], f"Key vault {name} used by {', '.join(sorted(by_silo))}: {v.message}",
                            subject="public")
    if not judged:
        yield Pass("", "No key vault in the input is used by a silo identity.", subject="key-vaults")


def _shared_regions(by_silo: dict[str, list]) -> tuple[str, list[str]] | None:
    """The first vault region (the whole vault, or one secret/key) two or more silos can use, with those silos."""
    regions: dict[str, set[str]] = {}
    for silo, found in by_silo.items():
        for u in found:
            if u.how != "unknown":
                regions.setdefault(u.region, set()).add(silo)
    for region in sorted(regions):
        silos = set(regions[region])
        for other, names in regions.items():  # a whole-vault grant overlaps every secret below it
            if other != region and (region.startswith(other + "/") or other.startswith(region + "/")):
                silos |= names
        if len(silos) > 1:
            what = "the whole vault" if "/secrets/" not in region and "/keys/" not in region \
                else f"{region.rsplit('/', 2)[-2][:-1]} {region.rsplit('/', 1)[-1]}"
            return what, sorted(silos)
    return None
