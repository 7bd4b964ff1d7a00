"""Which Entra tenant a subscription, a resource and a managed identity belong to.

Azure says it in three places: a subscription's GET carries ``tenantId``; a managed identity's ``tenantId`` is on
the user-assigned identity resource (``properties.tenantId``) and in every ``identity`` block that attaches it
(``identity.tenantId`` for system-assigned, the identity resource for user-assigned). The FL config says it too
(``aml.tenant_id`` for the orchestrator's subscription, ``silos[].tenant_id`` with ``subscription_id``); what
Azure returns wins, the config fills gaps. Anything else is unknown (None), never assumed to be the home tenant.
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
