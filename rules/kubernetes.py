"""Kubernetes silos: what an AKS or Arc-connected silo cluster adds that no compute-cluster rule covers.

The network questions a Kubernetes silo shares with a compute cluster (subnet, NSG, node public IPs, egress,
private endpoints) are answered by FL-NET-* and FL-PE-* through :mod:`flaudit.kubernetes` placing the compute in
its agent pools' subnets (each judged, worst case: :func:`flaudit.rules._shared.each_placement`). These rules
judge the rest: the cluster's API server and local accounts, the Azure ML extension's settings, and an
Arc-connected cluster's link to Azure.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator

from flaudit.rules._shared import silo_computes

from flaudit.access import chain_evidence
from flaudit.arm import get_path
from flaudit.engine import Remediation, rule
from flaudit.findings import Fail, Finding, NotApplicable, Pass, Unknown, note, prop
from flaudit.kubernetes import EXTENSION, AzureMLExtension, Cluster, extensions_on, node_public_ip
from flaudit.model import Deployment, Silo

AKS_PRIVATE_DOCS = "https://learn.microsoft.com/azure/aks/private-clusters"
AKS_AUTHORIZED_DOCS = "https://learn.microsoft.com/azure/aks/api-server-authorized-ip-ranges"
AKS_LOCAL_DOCS = "https://learn.microsoft.com/azure/aks/manage-local-accounts-managed-azure-ad"
AML_EXT_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension"
AML_K8S_NET_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-secure-kubernetes-inferencing-environment"
ARC_DOCS = "https://learn.microsoft.com/azure/azure-arc/kubernetes/conceptual-agent-overview"
FL_EXTERNAL_DOCS = ("https://github.com/Azure-Samples/azure-ml-federated-learning/blob/main/docs/provisioning/"
                    "external-silos.md")


def silo_clusters(d: Deployment, kind: str) -> Iterator[tuple[Silo, Cluster]]:
    """Each (silo, cluster) of the given kind (``aks`` or ``arc``) once, in silo order."""
    seen: set[tuple[str, str]] = set()
    for silo, c in silo_computes(d):
        cl = c.cluster if c is not None else None
        if cl is None or cl.kind != kind or (silo.name, cl.id.lower()) in seen:
            continue
        seen.add((silo.name, cl.id.lower()))
        yield silo, cl


def _cluster_missing(silo: Silo, cl: Cluster) -> Finding:
    return Unknown(cl.id, f"Silo {silo.name}: cluster {cl.id} is not in the input, so it cannot be evaluated.",
                   silo=silo.name, evidence=[prop(cl.id, "id", None)])


def missing_clusters(d: Deployment, kind: str) -> Iterator[Finding]:
    """An unknown for each silo cluster of ``kind`` the input does not hold (nothing about it can be vouched for)."""
    return (_cluster_missing(silo, cl) for silo, cl in silo_clusters(d, kind) if cl.raw is None)


def present_clusters(d: Deployment, kind: str) -> Iterator[tuple[Silo, Cluster]]:
    """Each (silo, cluster) of ``kind`` whose cluster is in the input: what a cluster rule judges."""
    return ((silo, cl) for silo, cl in silo_clusters(d, kind) if cl.raw is not None)


def _extensions(d: Deployment) -> Iterator[tuple[Silo, Cluster, list[AzureMLExtension]]]:
    """(silo, cluster, its Azure ML extensions) for every silo cluster, AKS and Arc."""
    for kind in ("aks", "arc"):
        for silo, cl in silo_clusters(d, kind):
            yield silo, cl, extensions_on(cl.id, d.inventory)


def missing_extensions(d: Deployment) -> Iterator[Finding]:
    """An unknown for each silo cluster whose Azure ML extension is not in the input (an Azure ML Kubernetes
    compute needs it, so absent = not read)."""
    for silo, cl, exts in _extensions(d):
        if not exts:
            cov = d.inventory.coverage(EXTENSION, cl.id)
            why = "cluster extensions were unreadable" if cov == "unreadable" else "it is not in the input"
            yield Unknown(cl.id, f"Silo {silo.name}: the Azure ML extension (microsoft.azureml.kubernetes) of "
                          f"cluster {cl.name} cannot be evaluated: {why}.", silo=silo.name,
                          evidence=[note(f"coverage of {EXTENSION}: {cov}")])


def present_extensions(d: Deployment) -> Iterator[tuple[Silo, Cluster, AzureMLExtension]]:
    """(silo, cluster, extension) for every Azure ML extension of a silo cluster that the input holds."""
    for silo, cl, exts in _extensions(d):
        for e in exts:
            yield silo, cl, e


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-K8S-001",
    title="The API server of a silo's AKS cluster is not open to the Internet",
    area="network-isolation",
    severity="high",
    blocks=("production",),
    rationale="Whoever reaches a cluster's API server with a credential can run pods as the silo, with the silo's "
    "identity and network. A private cluster (apiServerAccessProfile.enablePrivateCluster) puts it on a private "
    "IP in the cluster's VNet; a public one should at least be limited to authorizedIPRanges. A public API server "
    "with no authorized ranges, or a range covering the whole Internet (0.0.0.0/0), fails.",
    remediation=Remediation(
        cli="az aks update --resource-group <rg> --name <cluster> --api-server-authorized-ip-ranges 203.0.113.0/28\n"
        "# or create it private: az aks create ... --enable-private-cluster",
        bicep="apiServerAccessProfile: {\n  enablePrivateCluster: true\n}",
        text="Make the silo cluster private, or restrict its public API server to the operators' addresses.",
    ),
    references=(AKS_PRIVATE_DOCS, AKS_AUTHORIZED_DOCS),
)
def api_server_not_public(d: Deployment) -> Iterable[Finding]:
    base = "properties.apiServerAccessProfile"
    yield from missing_clusters(d, "aks")
    for silo, cl in present_clusters(d, "aks"):
        private = cl.prop(f"{base}.enablePrivateCluster")
        ranges = [str(r) for r in cl.prop(f"{base}.authorizedIPRanges") or []]
        ev = [prop(cl.id, f"{base}.enablePrivateCluster", bool(private), default_assumed=private is None,
                   default_note="missing means false (public API server)"),
              prop(cl.id, f"{base}.authorizedIPRanges", ranges)]
        if private is True or str(private).lower() == "true":
            yield Pass(cl.id, f"Silo {silo.name}: AKS cluster {cl.name} is private (API server on a private IP).",
                       silo=silo.name, evidence=ev)
            continue
        whole = []
        for r in ranges:
            try:
                if ipaddress.ip_network(r, strict=False).prefixlen == 0:
                    whole.append(r)
            except ValueError:
                whole.append(r)  # not a CIDR: what it admits is unknown, so it is not a restriction
        if not ranges:
            yield Fail(cl.id, f"Silo {silo.name}: the API server of AKS cluster {cl.name} is public with no "
                       "authorized IP ranges: any address on the Internet can reach it.", silo=silo.name, evidence=ev)
        elif whole:
            yield Fail(cl.id, f"Silo {silo.name}: AKS cluster {cl.name}'s authorized IP ranges admit the whole "
                       f"Internet or are not CIDRs ({', '.join(whole)}).", silo=silo.name, evidence=ev)
        else:
            yield Pass(cl.id, f"Silo {silo.name}: the public API server of AKS cluster {cl.name} admits only "
                       f"{', '.join(ranges)}.", silo=silo.name, evidence=ev)


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-K8S-002",
    title="A silo's AKS cluster has local accounts disabled",
    area="workspace-hardening",
    severity="medium",
    blocks=("production",),
    rationale="With local accounts enabled (disableLocalAccounts false, the default) anyone allowed "
    "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action gets a static cluster-admin "
    "certificate that Entra ID and Kubernetes RBAC do not govern and that cannot be revoked per user.",
    remediation=Remediation(
        cli="az aks update --resource-group <rg> --name <cluster> --enable-aad --disable-local-accounts",
        bicep="properties: {\n  disableLocalAccounts: true\n  aadProfile: { managed: true, enableAzureRBAC: true }\n}",
        text="Use Entra ID integration and disable local accounts on every silo cluster.",
    ),
    references=(AKS_LOCAL_DOCS,),
)
def local_accounts_disabled(d: Deployment) -> Iterable[Finding]:
    yield from missing_clusters(d, "aks")
    for silo, cl in present_clusters(d, "aks"):
        raw = cl.prop("properties.disableLocalAccounts")
        ev = [prop(cl.id, "properties.disableLocalAccounts", bool(raw), default_assumed=raw is None,
                   default_note="missing means false (local accounts enabled; AKS default)")]
        if raw is True:
            yield Pass(cl.id, f"Silo {silo.name}: AKS cluster {cl.name} has local accounts disabled.",
                       silo=silo.name, evidence=ev)
        else:
            yield Fail(cl.id, f"Silo {silo.name}: AKS cluster {cl.name} keeps local accounts: a static "
                       "cluster-admin credential is available to whoever may list it.", silo=silo.name, evidence=ev)


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-K8S-003",
    title="A silo cluster serving inference does not allow insecure (HTTP) connections",
    area="workspace-hardening",
    severity="high",
    blocks=("production",),
    rationale="allowInsecureConnections=True lets the extension's inference router (azureml-fe) serve scoring "
    "requests over plain HTTP: with enableInference=True model traffic and endpoint keys travel unencrypted. With "
    "inference off nothing listens, so this rule does not apply; FL-K8S-008 still reports the setting (the FL "
    "sample installs the extension with it True by default).",
    remediation=Remediation(
        cli="az k8s-extension update --name azmlext --cluster-type managedClusters --cluster-name <cluster> "
        "--resource-group <rg> --config allowInsecureConnections=False",
        bicep="configurationSettings: {\n  allowInsecureConnections: 'False'\n}",
        text="Install the Azure ML extension with allowInsecureConnections=False (and sslSecret/sslCname when "
        "inference is enabled).",
    ),
    references=(AML_EXT_DOCS,),
)
def extension_no_insecure(d: Deployment) -> Iterable[Finding]:
    yield from missing_extensions(d)
    for silo, cl, e in present_extensions(d):
        insecure, _ = e.flag("allowInsecureConnections")
        ev = [e.evidence("allowInsecureConnections"), e.evidence("enableInference")]
        if not e.inference:
            yield NotApplicable(e.id, f"Silo {silo.name}: inference is off on {cl.name}, so nothing is served over "
                                "HTTP (see FL-K8S-008 for the setting itself).", silo=silo.name, evidence=ev)
        elif insecure:
            yield Fail(e.id, f"Silo {silo.name}: the Azure ML extension on {cl.name} serves inference and allows "
                       "insecure HTTP connections.", silo=silo.name, evidence=ev)
        else:
            yield Pass(e.id, f"Silo {silo.name}: the Azure ML extension on {cl.name} serves inference over HTTPS "
                       "only.", silo=silo.name, evidence=ev)


@rule(
    id="FL-K8S-008",
    title="The Azure ML extension's allowInsecureConnections setting is off",
    area="workspace-hardening",
    severity="low",
    blocks=(),
    rationale="The FL sample installs the Azure ML extension with allowInsecureConnections=True by default. It has "
    "no effect while inference is off (nothing listens), and lets the inference router serve plain HTTP the day "
    "enableInference is turned on (FL-K8S-003 then blocks production). Reported so the default is changed before "
    "it matters.",
    remediation=Remediation(
        cli="az k8s-extension update --name azmlext --cluster-type managedClusters --cluster-name <cluster> "
        "--resource-group <rg> --config allowInsecureConnections=False",
        bicep="configurationSettings: {\n  allowInsecureConnections: 'False'\n}",
        text="Set allowInsecureConnections=False on every silo cluster's Azure ML extension.",
    ),
    references=(AML_EXT_DOCS,),
)
def extension_insecure_setting(d: Deployment) -> Iterable[Finding]:
    yield from missing_extensions(d)
    for silo, cl, e in present_extensions(d):
        insecure, _ = e.flag("allowInsecureConnections")
        ev = [e.evidence("allowInsecureConnections"), e.evidence("enableInference")]
        if not insecure:
            yield Pass(e.id, f"Silo {silo.name}: the Azure ML extension on {cl.name} refuses HTTP.", silo=silo.name,
                       evidence=ev)
        else:
            effect = ("inference is on, so scoring is served over HTTP (FL-K8S-003)" if e.inference else
                      "inference is off, so nothing is served over HTTP until it is enabled")
            yield Fail(e.id, f"Silo {silo.name}: the Azure ML extension on {cl.name} allows insecure HTTP "
                       f"connections; {effect}.", silo=silo.name, evidence=ev)


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-K8S-004",
    title="The Azure ML inference router of a silo cluster has no public address",
    area="network-isolation",
    severity="high",
    blocks=("production",),
    rationale="With inference enabled the extension exposes its router (azureml-fe) as inferenceRouterServiceType: "
    "loadBalancer without internalLoadBalancerProvider=azure creates a public Azure load balancer; nodePort opens "
    "a port on every node (public when the nodes have public IPs); clusterIP stays inside the cluster.",
    remediation=Remediation(
        cli="az k8s-extension update --name azmlext --cluster-type managedClusters --cluster-name <cluster> "
        "--resource-group <rg> --config inferenceRouterServiceType=loadBalancer internalLoadBalancerProvider=azure",
        bicep="configurationSettings: {\n  inferenceRouterServiceType: 'loadBalancer'\n"
        "  internalLoadBalancerProvider: 'azure'\n}",
        text="Expose the inference router through an internal load balancer (or not at all on a training silo).",
    ),
    references=(AML_K8S_NET_DOCS, AML_EXT_DOCS),
)
def inference_router_private(d: Deployment) -> Iterable[Finding]:
    yield from missing_extensions(d)
    for silo, cl, e in present_extensions(d):
        ev = [e.evidence("enableInference"), e.evidence("inferenceRouterServiceType", None),
              e.evidence("internalLoadBalancerProvider", None)]
        if not e.inference:
            yield NotApplicable(e.id, f"Silo {silo.name}: inference is off on {cl.name}; no router is exposed.",
                                silo=silo.name, evidence=ev)
            continue
        public, how = e.router_public
        if public is None and how == "a port on every node" and cl.kind == "aks":
            status, why, pev = node_public_ip(cl)
            public = {"fail": True, "pass": False}.get(status)
            how += f" ({why})"
            ev += pev
        if public is True:
            yield Fail(e.id, f"Silo {silo.name}: the inference router on {cl.name} is reachable through {how}.",
                       silo=silo.name, evidence=ev)
        elif public is False:
            yield Pass(e.id, f"Silo {silo.name}: the inference router on {cl.name} uses {how}.", silo=silo.name,
                       evidence=ev)
        else:
            yield Unknown(e.id, f"Silo {silo.name}: whether the inference router on {cl.name} is public is "
                          f"unknown: {how}.", silo=silo.name, evidence=ev)


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-K8S-005",
    title="A training silo's cluster does not serve inference",
    area="workspace-hardening",
    severity="medium",
    blocks=("production",),
    rationale="A silo cluster exists to train on the silo's data. enableInference=True adds an endpoint that "
    "serves models (derived from that data) and a router that accepts traffic from outside the silo: an inbound "
    "surface the FL design does not need. The FL sample installs the extension with enableInference=False.",
    remediation=Remediation(
        cli="az k8s-extension update --name azmlext --cluster-type managedClusters --cluster-name <cluster> "
        "--resource-group <rg> --config enableInference=False",
        bicep="configurationSettings: {\n  enableTraining: 'True'\n  enableInference: 'False'\n}",
        text="Install the Azure ML extension on silo clusters for training only.",
    ),
    references=(AML_EXT_DOCS,),
)
def no_inference_on_silo(d: Deployment) -> Iterable[Finding]:
    yield from missing_extensions(d)
    for silo, cl, e in present_extensions(d):
        ev = [e.evidence("enableTraining"), e.evidence("enableInference")]
        if e.inference:
            yield Fail(e.id, f"Silo {silo.name}: the Azure ML extension on {cl.name} has inference enabled on a "
                       "training silo.", silo=silo.name, evidence=ev)
        else:
            yield Pass(e.id, f"Silo {silo.name}: the Azure ML extension on {cl.name} does not serve inference.",
                       silo=silo.name, evidence=ev)


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-K8S-006",
    title="An Arc-connected silo cluster is connected to Azure",
    area="workspace-hardening",
    severity="medium",
    blocks=("production",),
    rationale="Azure sees an Arc-connected (external) cluster only through its agents: connectivityStatus other "
    "than Connected (Offline, Expired, AgentNotInstalled) means Azure ML cannot schedule or stop jobs there and "
    "what the input says about it is stale. What Azure cannot see at all (the partner's network and storage) "
    "is the FL config's declarations, never a pass (see README, external silos).",
    remediation=Remediation(
        cli="az connectedk8s show --name <cluster> --resource-group <rg> --query connectivityStatus\n"
        "az connectedk8s upgrade --name <cluster> --resource-group <rg>",
        bicep="// the connection is the partner's agents' outbound link to Azure; nothing to declare in Bicep",
        text="Restore the Arc agents' connection (outbound 443 to the Arc endpoints, or the Arc private link scope).",
    ),
    references=(ARC_DOCS, FL_EXTERNAL_DOCS),
)
def arc_connected(d: Deployment) -> Iterable[Finding]:
    yield from missing_clusters(d, "arc")
    for silo, cl in present_clusters(d, "arc"):
        status = cl.prop("properties.connectivityStatus")
        ev = [prop(cl.id, "properties.connectivityStatus", status),
              prop(cl.id, "properties.agentVersion", cl.prop("properties.agentVersion")),
              prop(cl.id, "properties.privateLinkState", cl.prop("properties.privateLinkState"))]
        if cl.prop("properties.privateLinkScopeResourceId"):
            ev.append(prop(cl.id, "properties.privateLinkScopeResourceId",
                           cl.prop("properties.privateLinkScopeResourceId")))
        state = get_path(cl.raw, "properties.arcAgentProfile.agentState")
        if state:
            ev.append(prop(cl.id, "properties.arcAgentProfile.agentState", state))
        if not status:
            yield Unknown(cl.id, f"Silo {silo.name}: Arc cluster {cl.name}'s connectivityStatus is not in the input.",
                          silo=silo.name, evidence=ev)
        elif str(status).lower() == "connected":
            yield Pass(cl.id, f"Silo {silo.name}: Arc cluster {cl.name} is Connected.", silo=silo.name, evidence=ev)
        else:
            yield Fail(cl.id, f"Silo {silo.name}: Arc cluster {cl.name} is {status}: Azure's view of it is stale.",
                       silo=silo.name, evidence=ev)


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-K8S-007",
    title="The Azure ML extension's identity holds no role on silo data",
    area="silo-identity",
    severity="high",
    blocks=("production",),
    rationale="The Azure ML extension runs with an identity of its own (the extension resource's identity, "
    "system-assigned) to talk to Azure ML; training jobs use the compute's identity. A role on any silo's "
    "storage held by the extension's identity is access no FL step needs and that every workload able to act as "
    "the extension inherits. Its principal id must be in the input to check (unknown otherwise).",
    remediation=Remediation(
        cli="az role assignment delete --assignee <extension principal id> --scope <silo storage id>",
        bicep="// grant silo storage roles to the silo compute's user-assigned identity only",
        text="Remove silo storage roles from the Azure ML extension's identity.",
    ),
    references=(AML_EXT_DOCS,),
)
def extension_identity_no_data(d: Deployment) -> Iterable[Finding]:
    stores = [(s, s.storage) for s in d.silos if s.storage is not None]
    yield from missing_extensions(d)
    for silo, cl, e in present_extensions(d):
        pid = get_path(e.raw, "identity.principalId")
        ident_type = str(get_path(e.raw, "identity.type") or "")
        ev = [prop(e.id, "identity.type", ident_type or None), prop(e.id, "identity.principalId", pid)]
        if not pid:
            if ident_type and ident_type.lower() != "none":
                yield Unknown(e.id, f"Silo {silo.name}: the Azure ML extension on {cl.name} has a {ident_type} "
                              "identity whose principal id is not in the input.", silo=silo.name, evidence=ev)
            else:
                yield Pass(e.id, f"Silo {silo.name}: the Azure ML extension on {cl.name} has no identity of its own.",
                           silo=silo.name, evidence=ev)
            continue
        reached = [(s, acc) for s, st in stores
                   if (acc := d.rbac.principals_with_access(st.id).get(pid.lower())) is not None and acc.grants]
        if reached:
            yield Fail(e.id, f"Silo {silo.name}: the Azure ML extension's identity on {cl.name} holds roles on the "
                       "storage of silo(s) " + ", ".join(s.name for s, _ in reached) + ".", silo=silo.name,
                       evidence=ev + [x for _, acc in reached for x in chain_evidence(acc.grants)][:20])
        else:
            yield Pass(e.id, f"Silo {silo.name}: the Azure ML extension's identity on {cl.name} holds no role on silo "
                       "storage.", silo=silo.name, evidence=ev)


# ----------------------------------------------------------------------------------------------------------
AKS_IDENTITY_DOCS = "https://learn.microsoft.com/azure/aks/use-managed-identity"


@rule(
    id="FL-K8S-009",
    title="Pods of a silo's AKS cluster cannot reach another silo's data through the kubelet identity",
    area="silo-identity",
    severity="high",
    blocks=("production",),
    rationale="Every AKS node runs as the cluster's kubelet identity (identityProfile.kubeletidentity), and pods "
    "without hostNetwork reach the node's Instance Metadata Service (IMDS) unless podLinkLocalAccess is None: a "
    "training job can take tokens for the kubelet identity as well as for the compute's own identity. A role on "
    "another silo's storage held by the kubelet identity is therefore that silo's data in this silo's jobs. The "
    "kubelet identity's principal (objectId) must be in the input to check.",
    remediation=Remediation(
        cli="az role assignment delete --assignee <kubelet objectId> --scope <other silo storage id>",
        bicep="// grant storage roles to the silo compute's user-assigned identity, never to the kubelet identity",
        text="Remove storage roles from the kubelet identity (or give each silo its own cluster and kubelet identity).",
    ),
    references=(AKS_IDENTITY_DOCS,),
)
def kubelet_identity_confined(d: Deployment) -> Iterable[Finding]:
    yield from missing_clusters(d, "aks")
    for silo, cl in present_clusters(d, "aks"):
        base = "properties.identityProfile.kubeletidentity"
        oid = cl.prop(f"{base}.objectId")
        ev = [prop(cl.id, f"{base}.objectId", oid), prop(cl.id, f"{base}.resourceId", cl.prop(f"{base}.resourceId"))]
        pools_access = [str(p.raw.get("podLinkLocalAccess") or cl.prop("properties.podLinkLocalAccess") or "IMDS")
                        for p in cl.pools]
        if cl.pools and all(a.lower() == "none" for a in pools_access):
            yield Pass(cl.id, f"Silo {silo.name}: pods on {cl.name} cannot reach IMDS (podLinkLocalAccess None), so "
                       "not the kubelet identity either.", silo=silo.name, evidence=ev)
            continue
        if not oid:
            yield Unknown(cl.id, f"Silo {silo.name}: the kubelet identity of {cl.name} is not in the input, so what "
                          "its pods can reach through it is unknown.", silo=silo.name, evidence=ev)
            continue
        others = [s for s in d.silos if s is not silo and s.storage is not None]
        reached = [(s, acc) for s in others
                   if (acc := d.rbac.principals_with_access(s.storage.id).get(str(oid).lower())) and acc.grants]
        if reached:
            yield Fail(cl.id, f"Silo {silo.name}: pods on {cl.name} can act as its kubelet identity, which holds roles "
                       "on the storage of silo(s) " + ", ".join(s.name for s, _ in reached) + ".", silo=silo.name,
                       evidence=ev + [x for _, acc in reached for x in chain_evidence(acc.grants)][:20])
        else:
            yield Pass(cl.id, f"Silo {silo.name}: the kubelet identity of {cl.name} holds no role on another silo's "
                       "storage.", silo=silo.name, evidence=ev)
