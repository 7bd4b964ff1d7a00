"""Who already runs as a silo's identity: the ``identity`` block of every resource in the input, read generically.

A user-assigned managed identity is usable by every resource it is attached to: code on a VM, a VM scale set, an
AKS node (the kubelet identity), an App Service or Functions app, a Container App or an Azure ML compute asks the
platform's token endpoint for a token *as that identity* and gets one, with whatever the identity may reach. So a
resource that runs as a silo's identity but is not that silo's compute in the FL config is an identity takeover
path: whoever controls that resource (deploys code on it, logs in to it) reads the silo's data.

Which resources run as an identity is stated by the resource itself, whatever its type:

* ``identity.userAssignedIdentities``: a map whose keys are identity resource ids (values may carry the
  identity's ``principalId`` and ``clientId``); every ARM resource type with managed identity support uses it;
* ``properties.identityProfile.<name>.resourceId`` / ``objectId``: AKS's kubelet identity (pods on the nodes get
  its tokens from the node's instance metadata endpoint).

References: https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/overview (a
user-assigned identity "can be associated with one or more Azure resources");
https://learn.microsoft.com/azure/aks/use-managed-identity (kubelet identity);
REST shapes: azure-rest-api-specs ``Microsoft.Compute`` ``VirtualMachine_Create_WithEncryptionIdentity.json``,
``Microsoft.ContainerService`` managed cluster GET (``identityProfile.kubeletidentity``).

A system-assigned identity belongs to exactly one resource and cannot be attached elsewhere, so only
user-assigned identities can be taken over this way. Computes of FL members (silos, orchestrator) and the FL
workspace itself sharing an identity are FL-ID-002's; this module's paths are about resources outside the FL config
(rule FL-ID-010).

It also answers the converse: an identity attached to silo computes that reaches no storage account of any silo
or of the orchestrator (an AcrPull-only identity, say) is *auxiliary*: sharing it shares no silo data, so it is
not a shared silo identity (FL-ID-002) and not the identity training reads data with (FL-ID-003).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from flaudit import memo
from flaudit.arm import get_path, name_of, norm, type_of
from flaudit.paths import Hop, Path

if TYPE_CHECKING:  # pragma: no cover
    from flaudit.model import Deployment

RULE = "FL-ID-010"
AKS = "microsoft.containerservice/managedclusters"
#: Resource types the live collector lists because they can run as a user-assigned identity (the template and
#: file sources keep any resource whose body attaches one, see flaudit/inventory.py). Azure ML computes are
#: listed with their workspace.
IDENTITY_BEARING_TYPES: tuple[str, ...] = (
    "Microsoft.Compute/virtualMachines",
    "Microsoft.Compute/virtualMachineScaleSets",
    "Microsoft.ContainerService/managedClusters",
    "Microsoft.Web/sites",
    "Microsoft.App/containerApps",
    "Microsoft.App/jobs",
)


class RunsAs(NamedTuple):
    """One resource that runs as a user-assigned identity, and where its body says so (a tuple, like
    :class:`flaudit.rbac.Assignment`: one per identity block of every resource is built)."""

    resource_id: str
    resource_type: str
    resource_name: str
    identity_id: str  # normalised
    principal_id: str  # normalised, "" when the body does not say
    where: str  # the property path that attaches the identity


def attached_identities(resource: dict[str, Any]) -> list[RunsAs]:
    """Every user-assigned identity ``resource`` runs as, read from its body whatever its type."""
    rid = str(resource.get("id") or "")
    rtype = str(resource.get("type") or type_of(rid))
    rname = str(resource.get("name") or name_of(rid))
    out: list[RunsAs] = []
    uais = get_path(resource, "identity.userAssignedIdentities")
    if isinstance(uais, list):  # a few older API versions list the ids instead of mapping them
        uais = {u: {} for u in uais if isinstance(u, str)}
    if isinstance(uais, dict):
        for uid, val in uais.items():
            pid = val.get("principalId") if isinstance(val, dict) else None
            out.append(RunsAs(rid, rtype, rname, norm(uid), norm(pid), "identity.userAssignedIdentities"))
    profile = get_path(resource, "properties.identityProfile")
    if isinstance(profile, dict):
        for key, val in profile.items():
            if isinstance(val, dict) and (val.get("resourceId") or val.get("objectId")):
                out.append(RunsAs(rid, rtype, rname, norm(val.get("resourceId")), norm(val.get("objectId")),
                                  f"properties.identityProfile.{key}"))
    seen = {r.identity_id for r in out}
    for where, uid, pid in _references(resource.get("properties"), "properties", 0):
        if uid not in seen:
            seen.add(uid)
            out.append(RunsAs(rid, rtype, rname, uid, pid, where))
    return out


_UAI_MARK = "/providers/microsoft.managedidentity/userassignedidentities/"


def _references(value: Any, where: str, depth: int) -> list[tuple[str, str, str]]:
    """(property path, identity id, principal id) of every user-assigned identity id a resource's properties name
    (AKS add-on and pod identities, encryption identities, key vault reference identities...): a resource can
    only name an identity it was allowed to assign, and in nearly every resource type it then acts as it.
    Fail closed: a type whose service alone uses the identity (a storage account's customer-managed key) is
    reported too. Depth first, in property order; collected into one list (every resource with an identity block
    is walked, so no generator per nested property)."""
    out: list[tuple[str, str, str]] = []
    _collect_references(value, where, depth, out)
    return out


def _collect_references(value: Any, where: str, depth: int, out: list[tuple[str, str, str]]) -> None:
    if depth > 8:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str):
                # an id starts with "/" (checked first: most property strings are not ids)
                if v[:1] == "/" and _UAI_MARK in (low := v.lower()) and low.startswith("/subscriptions/"):
                    oid = value.get("objectId") or value.get("principalId")
                    out.append((f"{where}.{k}", norm(v), norm(oid if isinstance(oid, str) else None)))
            elif isinstance(v, (dict, list)):
                _collect_references(v, f"{where}.{k}", depth + 1, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, (dict, list)):
                _collect_references(v, f"{where}[{i}]", depth + 1, out)


def bears_identity(resource: dict[str, Any]) -> bool:
    """Whether a resource's body attaches a user-assigned identity (the inventory keeps such resources of any
    type, so a resource running as a silo identity is never dropped as an unknown type)."""
    uais = get_path(resource, "identity.userAssignedIdentities")
    if isinstance(uais, (dict, list)) and uais:
        return True
    profile = get_path(resource, "properties.identityProfile")
    return isinstance(profile, dict) and any(isinstance(v, dict) and (v.get("resourceId") or v.get("objectId"))
                                             for v in profile.values())


@memo.whole("_runs_as")
def runs_as_index(d: Deployment) -> dict[str, list[RunsAs]]:
    """Identity id and principal id (both normalised) -> every resource in the input that runs as it.
    One pass over the inventory per deployment."""
    out: dict[str, list[RunsAs]] = {}
    # Only a body with an identity block, or an AKS cluster (kubelet identity in identityProfile), can
    # attach a user-assigned identity; one dict lookup per resource keeps this pass cheap at 100,000.
    bearing = identity_blocks(d) + [r for r in d.inventory.of_type(AKS) if "identity" not in r]
    for res in bearing:
        for ra in attached_identities(res):
            for key in {ra.identity_id, ra.principal_id} - {""}:
                out.setdefault(key, []).append(ra)
    return out


@memo.whole("_identity_blocks")
def identity_blocks(d: Deployment) -> list[dict[str, Any]]:
    """Every resource of the input whose body has an ``identity`` key, in inventory order (one pass over the
    inventory per deployment: who runs as an identity, and which tenant a managed identity is in, both start
    here). Callers must not modify the list."""
    return [r for r in d.inventory.resources.values() if "identity" in r]


def member_compute_ids(d: Deployment) -> set[str]:
    """Normalised ids of every compute the FL config gives a member (silos and the orchestrator)."""
    return {norm(c.id) for m in [*d.silos, d.orchestrator] for c in m.computes}


@memo.whole("_auxiliary")
def auxiliary_identities(d: Deployment) -> dict[str, str]:
    """Identity id (normalised) -> why it is auxiliary: attached to silo computes but reaching no storage account
    of a silo or of the orchestrator. Empty when role assignments cannot be trusted (fail closed)."""
    from flaudit.access import any_coverage_problem, storage_reach

    cached: dict[str, str] = {}
    if any_coverage_problem(d) is None:
        fl_storage = {norm(m.storage.id) for m in [*d.silos, d.orchestrator] if m.storage is not None}
        reach = storage_reach(d)
        for s in d.silos:
            for i in s.identities:
                if i.kind != "user-assigned" or not i.principal_id or norm(i.id) in cached:
                    continue
                if not any(acc.grants and norm(st.id) in fl_storage for st, acc in reach.get(norm(i.principal_id), ())):
                    cached[norm(i.id)] = (f"{i.name} holds no role on any silo's or the orchestrator's storage "
                                          "account: it carries no silo data")
    return cached


def _relation(d: Deployment, ra: RunsAs) -> str:
    """Who controls the resource: the FL workspace (a compute in it, used by whoever may submit jobs to it), or a
    principal the FL config does not name."""
    ws = norm(d.workspace.id) if d.workspace else ""
    rid = norm(ra.resource_id)
    if ws and (rid == ws or rid.startswith(ws + "/")):
        return "workspace"
    return "unlisted"


def identity_paths(d: Deployment) -> Iterator[Path]:
    """One ``identity-takeover`` path per (silo identity, resource outside the FL config running as it)."""
    index = runs_as_index(d)
    members = member_compute_ids(d)
    workspace = norm(d.workspace.id) if d.workspace else ""
    aux = auxiliary_identities(d)
    for silo in d.silos:
        # The AKS or Arc cluster a silo's own Kubernetes compute attaches is that silo's compute too: it running as
        # the silo's identity is the silo itself (another member's cluster is not excused).
        own_clusters = {norm(c.cluster.id) for c in silo.computes if getattr(c, "cluster", None) is not None}
        for i in silo.user_assigned:
            if norm(i.id) in aux:
                continue
            seen: set[str] = set(own_clusters)
            for key in {norm(i.id), norm(i.principal_id)} - {""}:
                for ra in index.get(key, ()):
                    rid = norm(ra.resource_id)
                    if rid in members or rid in seen or rid == workspace:
                        continue  # FL members' computes and the workspace itself are FL-ID-002's
                    seen.add(rid)
                    yield Path(
                        kind="identity-takeover", silo=silo.name, source_id=i.id, outsider_id=ra.resource_id,
                        outsider_name=ra.resource_name, relation=_relation(d, ra), rule_id=RULE,
                        hops=(Hop(f"{ra.resource_type} {ra.resource_name} runs as {silo.name}'s identity {i.name} "
                                  f"({ra.where})", ra.resource_id),
                              Hop(f"code on it gets tokens as {i.name} and reaches what {i.name} reaches, "
                                  f"{silo.name}'s data included", i.id)))
