"""Which Entra tenant a subscription, a resource and a managed identity belong to.

Azure says it in three places: a subscription's GET carries ``tenantId``; a managed identity's ``tenantId`` is on
the user-assigned identity resource (``properties.tenantId``) and in every ``identity`` block that attaches it
(``identity.tenantId`` for system-assigned, the identity resource for user-assigned). The FL config says it too
(``aml.tenant_id`` for the orchestrator's subscription, ``silos[].tenant_id`` with ``subscription_id``); what
Azure returns wins, the config fills gaps. Anything else is unknown (None), never assumed to be the home tenant.

A managed identity's service principal lives in the tenant of the subscription that holds the identity (the
user-assigned identity resource, or the resource a system-assigned identity belongs to), and a subscription
belongs to exactly one tenant: so a managed identity in the same subscription as a resource is in that resource's
tenant even when no tenant id is in the input (:func:`principal_tenant_relation`). A principal an Azure Lighthouse
delegation names is in its managing tenant (``managedByTenantId``, flaudit/lighthouse.py).

Users, groups and other service principals are placed by their Microsoft Graph directory object, when live
collection read it (``inventory.directory``, flaudit.sources.live.directory; :func:`principal_placement`). A role
assignment can only name an object of the directory of the tenant that trusts the subscription, so the object read
is in the resource's tenant; what matters is where its *home* is:

* a user whose ``userType`` is ``Guest``, whose ``creationType`` is ``Invitation``, whose ``externalUserState`` is
  set, or who signs in through a ``federated`` identity is a B2B user whose home is another tenant (Graph does not
  name that tenant: "a B2B guest of another tenant"); a ``Member`` with none of these is a user of the tenant;
* a service principal of ``servicePrincipalType`` ``Application`` belongs to the tenant its
  ``appOwnerOrganizationId`` names (a multi-tenant application registered elsewhere is another tenant's); a
  ``ManagedIdentity`` or ``Legacy`` one (usable only in the tenant where it was created) is of the tenant;
* a group is of the tenant, but its members are not read (membership is out of scope), so whether a member is a
  guest of another tenant stays unknown.

A principal whose object could not be read (403: Directory read refused, 404, not collected) stays unknown, with
the reason; it is never taken to be at home.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flaudit import memo
from flaudit.arm import get_path, norm, subscription_of
from flaudit.findings import note, prop
from flaudit.identities import identity_blocks

UAI = "microsoft.managedidentity/userassignedidentities"


@memo.whole("_subscription_tenants")
def subscription_tenants(d: Any) -> dict[str, str]:
    """Subscription id (lower case) -> tenant id (lower case), from the input's subscriptions, then the config."""
    out: dict[str, str] = {}
    cfg = d.config
    if cfg is not None:
        if cfg.subscription_id and getattr(cfg, "tenant_id", None):
            out[cfg.subscription_id.lower()] = cfg.tenant_id.lower()
        for s in cfg.silos:
            if getattr(s, "subscription_id", None) and getattr(s, "tenant_id", None):
                out[s.subscription_id.lower()] = s.tenant_id.lower()
    for sub in d.inventory.of_type("microsoft.resources/subscriptions"):
        sid = get_path(sub, "subscriptionId") or subscription_of(sub.get("id") or "")
        tenant = get_path(sub, "tenantId")
        if sid and tenant:
            out[str(sid).lower()] = str(tenant).lower()
    return out


def tenant_of(d: Any, resource_id: str | None) -> str | None:
    """The tenant of the subscription ``resource_id`` lives in, when known."""
    sub = subscription_of(resource_id or "")
    return subscription_tenants(d).get(sub.lower()) if sub else None


@memo.whole("_principal_tenants")
def principal_tenants(d: Any) -> dict[str, str]:
    """Principal id (lower case) -> tenant id, for the managed identities whose tenant the input states."""
    out: dict[str, str] = {}
    for uai in d.inventory.of_type(UAI):
        pid, tenant = get_path(uai, "properties.principalId"), get_path(uai, "properties.tenantId")
        if pid and tenant:
            out[norm(pid)] = str(tenant).lower()
    for res in identity_blocks(d):
        ident = res.get("identity")
        if isinstance(ident, dict) and ident.get("principalId") and ident.get("tenantId"):
            out.setdefault(norm(ident["principalId"]), str(ident["tenantId"]).lower())
    return out


@memo.whole("_managed_identity_resources")
def managed_identity_resources(d: Any) -> dict[str, str]:
    """Principal id (lower case) -> the resource id that places the managed identity in a subscription.

    A user-assigned identity's own resource id (from the identity resource or from any ``identity`` block that
    attaches it), or, for a system-assigned identity, the id of the resource it belongs to.
    """
    out: dict[str, str] = {}
    for uai in d.inventory.of_type(UAI):
        pid = get_path(uai, "properties.principalId")
        if pid and uai.get("id"):
            out[norm(pid)] = str(uai["id"])
    for res in identity_blocks(d):
        ident = res.get("identity")
        if not isinstance(ident, dict):
            continue
        attached = ident.get("userAssignedIdentities")
        for uai_id, entry in (attached.items() if isinstance(attached, dict) else ()):
            if isinstance(entry, dict) and entry.get("principalId"):
                out.setdefault(norm(entry["principalId"]), str(uai_id))
        if ident.get("principalId") and res.get("id"):
            out.setdefault(norm(ident["principalId"]), str(res["id"]))
    return out


def principal_tenant_relation(d: Any, principal_id: str, resource_id: str) -> tuple[str, str | None]:
    """Whether a principal is in the tenant of ``resource_id``: ("same" | "other" | "unknown", its tenant if known).

    Only managed identities can be placed from ARM data: by the tenant the input states for them (or for their
    subscription) compared with the resource's tenant, or, when a tenant is missing, by sharing the resource's
    subscription. Any other principal is "unknown", never assumed to be at home.
    """
    pid = norm(principal_id)
    home = tenant_of(d, resource_id)
    delegated = d.rbac.delegations.principals.get(pid)
    if delegated is not None:
        # An Azure Lighthouse authorization's principal lives in the managing tenant (managedByTenantId), which
        # Azure requires to differ from the delegated subscription's tenant.
        return "other", delegated[1]
    mi = managed_identity_resources(d).get(pid)
    stated = principal_tenants(d).get(pid)
    if mi is None and stated is None:
        return "unknown", None
    # the tenant stated on the identity and its subscription's tenant should agree; if they do not, any one of
    # them differing from the resource's tenant counts as crossing (never the reassuring reading)
    known = [t for t in (stated, tenant_of(d, mi) if mi else None) if t]
    tenant = next((t for t in known if t != home), known[0]) if known else None
    if tenant is not None and home is not None:
        return ("same" if tenant == home else "other"), tenant
    if mi is not None and (subscription_of(mi) or "").lower() == (subscription_of(resource_id) or "-").lower():
        return "same", tenant or home
    return "unknown", tenant


GRAPH_TYPE = "microsoft.graph/directoryobjects"
GRAPH_OBJECTS = "https://graph.microsoft.com/v1.0/directoryObjects/"
B2B_GUEST = "a B2B guest of another tenant"


@dataclass(frozen=True)
class Placement:
    """Where a principal is relative to a resource's tenant, and what says so.

    ``tenant`` is a tenant id, or a phrase when the directory does not name it (a B2B guest's home); ``why`` says
    what is missing when ``relation`` is "unknown"; ``evidence`` names the Graph object and property that decided."""

    relation: str  # same | other | unknown
    tenant: str | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    why: str | None = None
    kind: str | None = None  # user | group | servicePrincipal | ... as Graph types it, when read


@memo.whole("_directory_unreadable")
def directory_unreadable(d: Any) -> dict[str, Any]:
    """Principal id (lower case) -> the Unreadable record of its directory object (a refused or failed read)."""
    out: dict[str, Any] = {}
    for u in d.inventory.unreadable:
        scope = norm(u.scope)
        if norm(u.resource_type) == GRAPH_TYPE and scope.startswith("/directoryobjects/"):
            out.setdefault(scope[len("/directoryobjects/"):], u)
    return out


def _user_placement(ref: str, obj: dict[str, Any], home: str | None) -> Placement:
    user_type = obj.get("userType")
    signs = [(path, value) for path, value in (("userType", user_type if user_type == "Guest" else None),
                                               ("creationType", obj.get("creationType")
                                                if obj.get("creationType") == "Invitation" else None),
                                               ("externalUserState", obj.get("externalUserState")))
             if value is not None]
    federated = [i.get("issuer") for i in obj.get("identities") or [] if isinstance(i, dict)
                 and i.get("signInType") == "federated"]
    if federated:
        signs.append(("identities[signInType=federated].issuer", federated[0]))
    if signs:
        return Placement("other", B2B_GUEST, [prop(ref, p, v) for p, v in signs], kind="user")
    if user_type == "Member":
        return Placement("same", home, [prop(ref, "userType", "Member")], kind="user")
    return Placement("unknown", None, [prop(ref, "userType", user_type)], kind="user",
                     why="Microsoft Graph returned no userType for it")


def _service_principal_placement(ref: str, obj: dict[str, Any], home: str | None) -> Placement:
    sp_type = obj.get("servicePrincipalType")
    ev = [prop(ref, "servicePrincipalType", sp_type)]
    if sp_type in ("ManagedIdentity", "Legacy"):
        return Placement("same", home, ev, kind="servicePrincipal")
    owner = obj.get("appOwnerOrganizationId")
    if sp_type != "Application" or not owner:
        return Placement("unknown", None, ev + [prop(ref, "appOwnerOrganizationId", owner)], kind="servicePrincipal",
                         why=f"a service principal of type {sp_type!r} without an owning tenant flaudit can compare")
    ev.append(prop(ref, "appOwnerOrganizationId", owner))
    if home is None:
        return Placement("unknown", str(owner).lower(), ev, kind="servicePrincipal",
                         why="the resource's tenant is not in the input to compare its appOwnerOrganizationId with")
    owner = str(owner).lower()
    return Placement("same" if owner == home else "other", owner, ev, kind="servicePrincipal")


def directory_placement(d: Any, principal_id: str, resource_id: str) -> Placement:
    """Place ``principal_id`` by its Microsoft Graph directory object (see the module docstring)."""
    pid = norm(principal_id)
    home = tenant_of(d, resource_id)
    obj = d.inventory.directory.get(pid)
    if obj is None:
        u = directory_unreadable(d).get(pid)
        if u is None:
            return Placement("unknown", why="its directory object is not in the input (only live collection reads "
                             "Microsoft Graph)", evidence=[note(
                                 "only managed identities can be placed in a tenant from ARM data; users, groups and "
                                 "other service principals (multi-tenant applications, B2B guests) need Microsoft "
                                 "Graph, which `flaudit collect` reads")])
        refused = u.status in (401, 403) or "Directory read was refused" in str(u.message)
        text = (f"Microsoft Graph: Directory read was refused for {GRAPH_OBJECTS}{pid} ({u.message})" if refused
                else f"Microsoft Graph could not read {GRAPH_OBJECTS}{pid} ({u.status}: {u.message})")
        return Placement("unknown", why="Directory read was refused" if refused else "its directory object could "
                         "not be read", evidence=[note(text)])
    ref = GRAPH_OBJECTS + pid
    kind = str(obj.get("@odata.type") or "").rsplit(".", 1)[-1]
    if kind == "user":
        return _user_placement(ref, obj, home)
    if kind == "servicePrincipal":
        return _service_principal_placement(ref, obj, home)
    if kind == "group":
        return Placement("unknown", home, [prop(ref, "@odata.type", obj.get("@odata.type")), note(
            "group membership is not read: a guest of another tenant in the group would hold the role")],
            kind="group", why="it is a group of the tenant whose members are not read")
    return Placement("unknown", None, [prop(ref, "@odata.type", obj.get("@odata.type"))], kind=kind or None,
                     why=f"flaudit does not place a directory object of type {obj.get('@odata.type')!r}")


def principal_placement(d: Any, principal_id: str, resource_id: str) -> Placement:
    """ARM data first (:func:`principal_tenant_relation`); where it cannot place the principal, the directory."""
    relation, tenant = principal_tenant_relation(d, principal_id, resource_id)
    if relation != "unknown":
        return Placement(relation, tenant, kind="managed identity")
    pid = norm(principal_id)
    if pid in managed_identity_resources(d) or pid in principal_tenants(d):
        # a managed identity ARM data describes (so never read from Graph), in a subscription of unstated tenant
        return Placement("unknown", tenant, kind="managed identity", why="the tenant of its subscription or of the "
                         "resource is not in the input", evidence=[note(
                             "give the subscriptions (collected) or tenant_id in the FL config")])
    placed = directory_placement(d, principal_id, resource_id)
    if placed.relation == "unknown" and placed.tenant is None and tenant is not None:
        return Placement("unknown", tenant, placed.evidence, placed.why, placed.kind)
    return placed
