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
delegation names is in its managing tenant (``managedByTenantId``, flaudit/lighthouse.py). Other users, groups and
service principals (a multi-tenant application's, a B2B guest) need Microsoft Graph to place: their tenant stays
unknown.
"""

from __future__ import annotations

from typing import Any

from flaudit.arm import get_path, norm, subscription_of

UAI = "microsoft.managedidentity/userassignedidentities"


def subscription_tenants(d: Any) -> dict[str, str]:
    """Subscription id (lower case) -> tenant id (lower case), from the input's subscriptions, then the config."""
    cache = d.__dict__.get("_subscription_tenants")
    if cache is not None:
        return cache
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
    d.__dict__["_subscription_tenants"] = out
    return out


def tenant_of(d: Any, resource_id: str | None) -> str | None:
    """The tenant of the subscription ``resource_id`` lives in, when known."""
    sub = subscription_of(resource_id or "")
    return subscription_tenants(d).get(sub.lower()) if sub else None


def principal_tenants(d: Any) -> dict[str, str]:
    """Principal id (lower case) -> tenant id, for the managed identities whose tenant the input states."""
    cache = d.__dict__.get("_principal_tenants")
    if cache is not None:
        return cache
    out: dict[str, str] = {}
    for uai in d.inventory.of_type(UAI):
        pid, tenant = get_path(uai, "properties.principalId"), get_path(uai, "properties.tenantId")
        if pid and tenant:
            out[norm(pid)] = str(tenant).lower()
    for res in d.inventory.resources.values():
        ident = res.get("identity")
        if isinstance(ident, dict) and ident.get("principalId") and ident.get("tenantId"):
            out.setdefault(norm(ident["principalId"]), str(ident["tenantId"]).lower())
    d.__dict__["_principal_tenants"] = out
    return out


def managed_identity_resources(d: Any) -> dict[str, str]:
    """Principal id (lower case) -> the resource id that places the managed identity in a subscription.

    A user-assigned identity's own resource id (from the identity resource or from any ``identity`` block that
    attaches it), or, for a system-assigned identity, the id of the resource it belongs to.
    """
    cache = d.__dict__.get("_managed_identity_resources")
    if cache is not None:
        return cache
    out: dict[str, str] = {}
    for uai in d.inventory.of_type(UAI):
        pid = get_path(uai, "properties.principalId")
        if pid and uai.get("id"):
            out[norm(pid)] = str(uai["id"])
    for res in d.inventory.resources.values():
        ident = res.get("identity")
        if not isinstance(ident, dict):
            continue
        attached = ident.get("userAssignedIdentities")
        for uai_id, entry in (attached.items() if isinstance(attached, dict) else ()):
            if isinstance(entry, dict) and entry.get("principalId"):
                out.setdefault(norm(entry["principalId"]), str(uai_id))
        if ident.get("principalId") and res.get("id"):
            out.setdefault(norm(ident["principalId"]), str(res["id"]))
    d.__dict__["_managed_identity_resources"] = out
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
