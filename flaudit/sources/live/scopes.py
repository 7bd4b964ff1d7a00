"""Every scope an FL config names: the orchestrator's (``aml``) and each silo's own subscription, resource group and
tenant, collected with one credential per tenant.

A silo in another subscription or tenant (``federated_learning.silos[].subscription_id``, ``resource_group_name``,
``tenant_id``) holds its storage, network and cluster there, while its compute is attached to the orchestrator's
workspace. ``flaudit collect --config`` and ``scan --config`` therefore read every (tenant, subscription) the
config names: one session per tenant (credentials are made only by :mod:`flaudit.sources.live.credential`),
each subscription narrowed to the resource groups named for it (the whole subscription when an entry names
none). A tenant whose credential fails, or a subscription nothing of which could be read, is recorded as
unreadable (``*`` at the subscription), so every rule that needs it answers ``unknown``; it is never skipped.

With ``--resource-graph`` (fleet mode) each tenant's subscriptions go to :func:`flaudit.sources.live.graph.collect_fleet`
in one call through that tenant's session: Resource Graph answers only for the tenant the token is for, so one
query per tenant, never one across tenants. Fleet mode reads whole subscriptions (it cannot narrow to resource
groups), so the resource groups the config names widen to their subscriptions there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flaudit.errors import CollectionError
from flaudit.inventory import Inventory, Unreadable


@dataclass(frozen=True)
class TenantScope:
    tenant: str | None  # None: the credential's home tenant (or --tenant)
    subscription: str
    resource_groups: tuple[str, ...]  # () = the whole subscription


def config_scopes(config: Any, tenant: str | None = None) -> list[TenantScope]:
    """(tenant, subscription, resource groups) for the orchestrator and every silo naming a scope of its own.

    The orchestrator's tenant is ``tenant`` (``--tenant``) or ``aml.tenant_id``; a silo without ``tenant_id``
    is in the orchestrator's tenant, one without ``subscription_id`` in the orchestrator's subscription.
    """
    home = tenant or getattr(config, "tenant_id", None)
    entries: list[tuple[str | None, str, str | None]] = []
    if getattr(config, "subscription_id", None):
        entries.append((home, config.subscription_id, getattr(config, "resource_group", None)))
    for s in getattr(config, "silos", []):
        sub = getattr(s, "subscription_id", None)
        silo_tenant = getattr(s, "tenant_id", None) or home
        if sub or getattr(s, "tenant_id", None):
            if not sub:
                sub = config.subscription_id  # validated by the config reader: a tenant needs a subscription
            entries.append((silo_tenant, sub, getattr(s, "resource_group", None)))
    grouped: dict[tuple[str | None, str], set[str] | None] = {}
    for t, sub, rg in entries:
        key = ((t or "").lower() or None, sub.lower())
        if rg is None:
            grouped[key] = None  # the whole subscription
        elif key not in grouped:
            grouped[key] = {rg}
        elif grouped[key] is not None:
            grouped[key].add(rg)
    return [TenantScope(t, sub, tuple(sorted(rgs or ()))) for (t, sub), rgs in grouped.items()]


def names_other_scopes(config: Any) -> bool:
    """Whether any silo names a subscription or tenant of its own (then the config's scopes are collected)."""
    return any(getattr(s, "subscription_id", None) or getattr(s, "tenant_id", None)
               for s in getattr(config, "silos", []))


def collect_config_scopes(config: Any, *, tenant: str | None = None, cloud: Any = None,
                          credential_for: Callable[[str | None], Any] | None = None, retry: Any = None,
                          progress: bool = False, resource_graph: bool = False) -> Inventory:
    """Collect every scope of :func:`config_scopes` into one inventory, one session per tenant (through Resource
    Graph, one fleet collection per tenant, with ``resource_graph``)."""
    from flaudit.sources.live.collect import collect, make_scope, open_session
    from flaudit.sources.live.credential import cloud_named
    from flaudit.sources.live.graph import collect_fleet

    c = cloud_named(cloud) if cloud is None or isinstance(cloud, str) else cloud
    # None: open_session makes the tenant's credential (flaudit.sources.live.credential.make_credential)
    make = credential_for or (lambda t: None)
    scopes = config_scopes(config, tenant)
    by_tenant: dict[str | None, list[TenantScope]] = {}
    for ts in scopes:
        by_tenant.setdefault(ts.tenant, []).append(ts)
    inventory = Inventory()
    inventory.collected = set()
    read_tenants: dict[str, list[str]] = {}

    def unreadable(ts: TenantScope, why: str) -> None:
        inventory.unreadable.append(Unreadable(f"/subscriptions/{ts.subscription}", "*", None,
                                               f"tenant {ts.tenant or '(home)'}: {why}"))

    for t, group in by_tenant.items():
        try:
            session = open_session(make(t), c, t, retry, allow_graph_query=resource_graph)
        except CollectionError as exc:
            for ts in group:
                unreadable(ts, str(exc))
            continue
        try:
            if resource_graph:
                subs = sorted({ts.subscription for ts in group})
                try:
                    part = collect_fleet(make_scope(subs), session=session, progress=progress)
                except CollectionError as exc:
                    for ts in group:
                        unreadable(ts, str(exc))
                    continue
                inventory.merge(part)
                # a subscription whose ARM GET failed is unreadable in the part (fleet mode takes nothing of it
                # from Resource Graph); only those read are listed as read
                for s in subs:
                    if part.get(f"/subscriptions/{s}") is not None:
                        read_tenants.setdefault(t or "(home)", []).append(s)
                continue
            for ts in group:
                try:
                    part = collect(make_scope([ts.subscription], ts.resource_groups), session=session,
                                   progress=progress)
                except CollectionError as exc:
                    unreadable(ts, str(exc))
                    continue
                inventory.merge(part)
                read_tenants.setdefault(t or "(home)", []).append(ts.subscription)
        finally:
            session.close()
    if not inventory.resources:
        raise CollectionError("nothing could be read in any scope the FL config names: "
                              + "; ".join(u.message for u in inventory.unreadable))
    inventory.metadata["tenants"] = {k: sorted(v) for k, v in sorted(read_tenants.items())}
    inventory.unreadable.sort(key=lambda u: (u.scope.lower(), u.resource_type.lower(), u.message))
    return inventory
