"""Fleet mode: the same inventory through Azure Resource Graph, for many subscriptions or a management group.

Resource Graph answers one query for hundreds of subscriptions, 1,000 rows a page with ``$skipToken``.
What it cannot be trusted with is cross-checked with ARM, per subscription:

* it is eventually consistent and, given only subscriptions, omits role assignments made on management
  groups or the root, so role and deny assignments are also listed with the authorization API (the
  subscription-wide list plus ``atScope()`` for the inherited ones) and the API's copy wins;
* it says nothing about subscriptions the caller cannot see, so each subscription is also read with a GET:
  where that fails, the subscription's types are recorded as unreadable instead of being taken as empty;
* Azure ML computes, datastores and connections, private DNS record sets, storage accounts' object
  replication and inventory policies and Backup vaults' instances and policies are not read from its tables:
  they are listed per workspace, zone, account and vault as in live mode.

The query goes as a raw POST to ``/providers/Microsoft.ResourceGraph/resources`` (api-version 2024-04-01)
through the shared read-only pipeline: azure-mgmt-resourcegraph 8.0.1 speaks api 2021-03-01, which cannot
send ``authorizationScopeFilter`` and hides the user-quota headers this module paces itself by.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flaudit.arm import norm, subscription_of
from flaudit.errors import CollectionError, InputError
from flaudit.inventory import Inventory, Unreadable
from flaudit.sources.live.clients import API_VERSIONS, ArmSession, RetrySettings, describe_failure
from flaudit.sources.live.collect import (
    AUTH_DA,
    AUTH_ELIGIBLE,
    AUTH_RA,
    DEFAULT_WORKERS,
    SUBSCRIPTION_TYPE,
    UAI,
    ListTask,
    Outcome,
    Scope,
    _get_subscription,
    add_outcomes,
    auth_list,
    backup_vault_children,
    delegations_task,
    dns_zone_children,
    finish,
    group_delegation_tasks,
    identity_children,
    open_session,
    resolve_role_definitions,
    run_tasks,
    share_children,
    storage_children,
    workspace_children,
)
from flaudit.sources.live.credential import Cloud
from flaudit.sources.live.directory import read_directory

#: Subscriptions per query: Resource Graph documents batches below 300.
BATCH_SIZE = 200
PAGE_SIZE = 1000

#: Types read from the ``resources`` table (Resource Graph lower-cases them; flaudit compares case-insensitively).
RESOURCE_TYPES = (
    "microsoft.machinelearningservices/workspaces",
    "microsoft.storage/storageaccounts",
    "microsoft.network/virtualnetworks",
    "microsoft.network/networksecuritygroups",
    "microsoft.network/networkinterfaces",
    "microsoft.network/privateendpoints",
    "microsoft.network/routetables",
    "microsoft.network/serviceendpointpolicies",
    "microsoft.network/privatednszones",
    "microsoft.managedidentity/userassignedidentities",
    "microsoft.keyvault/vaults",
    "microsoft.containerregistry/registries",
    "microsoft.dataprotection/backupvaults",
    "microsoft.datashare/accounts",
    # compute that can run as a user-assigned identity (flaudit/identities.py)
    "microsoft.compute/virtualmachines",
    "microsoft.compute/virtualmachinescalesets",
    "microsoft.containerservice/managedclusters",
    "microsoft.web/sites",
    "microsoft.app/containerapps",
    "microsoft.app/jobs",
    # Kubernetes silos (managed clusters above); cluster extensions live in the kubernetesconfigurationresources
    # table, not read in fleet mode, so the Azure ML extension's rules stay unknown there (collect live to judge them)
    "microsoft.kubernetes/connectedclusters",
)
AUTH_TYPES = ("microsoft.authorization/roleassignments", "microsoft.authorization/roledefinitions")

RESOURCES_QUERY = (
    "resources | where type in~ ({types}) "
    "| project id, name, type, location, kind, sku, identity, tags, properties"
).format(types=", ".join(f"'{t}'" for t in RESOURCE_TYPES))
AUTH_QUERY = (
    "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' "
    "or (type =~ 'microsoft.authorization/roledefinitions' and tostring(properties.type) =~ 'CustomRole') "
    "| project id, name, type, properties"
)
SUBSCRIPTIONS_QUERY = (
    "resourcecontainers | where type =~ 'microsoft.resources/subscriptions' "
    "| project id, name, type, subscriptionId, tenantId, properties"
)


@dataclass
class GraphStats:
    queries: int = 0
    pages: int = 0
    rows: int = 0
    quota_waits: list[float] = field(default_factory=list)


class GraphQueryError(Exception):
    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _quota_wait(headers: Any) -> float:
    """Seconds to wait before the next query when the user quota is spent (``x-ms-user-quota-*`` headers)."""
    remaining = headers.get("x-ms-user-quota-remaining")
    resets = headers.get("x-ms-user-quota-resets-after")
    try:
        if remaining is None or int(remaining) > 0:
            return 0.0
    except ValueError:
        return 0.0
    if not resets:
        return 5.0  # documented window: 15 queries per 5 s
    try:
        h, m, s = (float(x) for x in str(resets).split(":"))
    except ValueError:
        return 5.0
    return h * 3600 + m * 60 + s


def query(session: ArmSession, text: str, *, subscriptions: list[str] | None = None,
          management_groups: list[str] | None = None, authorization_scope: bool = False,
          stats: GraphStats | None = None) -> list[dict[str, Any]]:
    """Every row of one Resource Graph query, following ``$skipToken`` pages and pacing by the user quota."""
    stats = stats or GraphStats()
    rows: list[dict[str, Any]] = []
    token: str | None = None
    seen: set[str] = set()
    stats.queries += 1
    while True:
        options: dict[str, Any] = {"$top": PAGE_SIZE, "resultFormat": "objectArray"}
        if token:
            options["$skipToken"] = token
        if authorization_scope:
            options["authorizationScopeFilter"] = "AtScopeAboveAndBelow"
        body: dict[str, Any] = {"query": text, "options": options}
        if management_groups:
            body["managementGroups"] = management_groups
        else:
            body["subscriptions"] = subscriptions or []
        try:
            response = session.send("POST", "/providers/Microsoft.ResourceGraph/resources",
                                    params={"api-version": API_VERSIONS["Microsoft.ResourceGraph"]},
                                    json_body=body)
            doc = response.json()
        except ValueError:
            raise GraphQueryError(200, "malformed Resource Graph response: body is not JSON") from None
        except Exception as exc:
            described = describe_failure(exc)
            if described is None:
                raise
            raise GraphQueryError(*described) from None
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise GraphQueryError(200, "malformed Resource Graph response: 'data' is not an array of objects "
                                  "(objectArray result format)")
        stats.pages += 1
        stats.rows += len(data)
        rows.extend(data)
        wait_s = _quota_wait(response.headers)
        token = doc.get("$skipToken")
        if wait_s > 0:
            stats.quota_waits.append(wait_s)
            session.retry.sleep(wait_s)
        if not token:
            return rows
        if token in seen:
            raise GraphQueryError(200, "malformed Resource Graph response: '$skipToken' repeats")
        seen.add(token)


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """A Graph row as an ARM resource: columns that are null in the row are left out, as ARM leaves them out."""
    return {k: v for k, v in row.items() if v is not None}


def _batches(items: list[str], size: int = BATCH_SIZE) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def collect_fleet(scope: Scope, *, credential: Any = None, cloud: Cloud | str | None = None,
                  tenant: str | None = None, retry: RetrySettings | None = None,
                  workers: int = DEFAULT_WORKERS, progress: bool = False,
                  session: ArmSession | None = None) -> Inventory:
    """Collect ``scope`` (subscriptions or a management group) through Resource Graph plus ARM cross-checks."""
    if scope.resource_groups:
        raise InputError("--resource-group cannot be combined with --resource-graph")
    own = session is None
    session = session or open_session(credential, cloud, tenant, retry, allow_graph_query=True)
    if not session.log.allow_graph_query:
        raise InputError("this session was opened without the Resource Graph query allowed")
    started = time.monotonic()
    stats = GraphStats()
    try:
        mgs = [scope.management_group] if scope.management_group else None
        inventory = Inventory()
        inventory.collected = set()
        provenance: dict[str, str] = {}

        # 1. which subscriptions (and their management-group ancestry)
        subs = list(scope.subscriptions)
        try:
            containers: list[dict[str, Any]] = []
            for batch in ([None] if mgs else _batches(subs)):
                containers += query(session, SUBSCRIPTIONS_QUERY, subscriptions=batch, management_groups=mgs,
                                    stats=stats)
        except GraphQueryError as exc:
            if mgs:
                raise CollectionError(f"Resource Graph could not list the subscriptions of management group "
                                      f"{scope.management_group} ({exc.status}: {exc.message})") from None
            containers = []
            inventory.unreadable.append(Unreadable("/", SUBSCRIPTION_TYPE, exc.status, exc.message))
        graph_subs = {}
        for row in containers:
            sid = str(row.get("subscriptionId") or subscription_of(str(row.get("id", ""))) or "").lower()
            if sid:
                graph_subs[sid] = row
        if mgs:
            subs = sorted(graph_subs)
            if not subs:
                raise CollectionError(f"nothing could be read: management group {scope.management_group} has no "
                                      "subscriptions visible to this identity")
        # 2. resources and authorization resources, one query per batch of subscriptions
        failed: dict[str, Unreadable] = {}  # (type) per subscription failures, keyed "sub|type"
        graph_rows: list[dict[str, Any]] = []
        for text, types, auth in ((RESOURCES_QUERY, RESOURCE_TYPES, False), (AUTH_QUERY, AUTH_TYPES, True)):
            for batch in ([subs] if mgs else _batches(subs)):
                try:
                    graph_rows += query(session, text, subscriptions=None if mgs else batch,
                                        management_groups=mgs, authorization_scope=auth, stats=stats)
                except GraphQueryError as exc:
                    for sid in batch:
                        for t in types:
                            failed[f"{sid}|{t}"] = Unreadable(f"/subscriptions/{sid}", t, exc.status,
                                                              f"Resource Graph: {exc.message}")
        # 3. ARM per subscription: the subscription itself, role and deny assignments (cross-check)
        live_tasks: list[ListTask] = []
        for sid in subs:
            live_tasks += _cross_check_tasks(sid)
        live_outcomes = run_tasks(session, live_tasks, workers=workers, progress=progress)
        readable_subs = {norm(o.task.scope).split("/")[2] for o in live_outcomes
                         if o.error is None and norm(o.task.resource_type) == norm(SUBSCRIPTION_TYPE)}
        for sid in subs:
            for t in RESOURCE_TYPES + AUTH_TYPES:
                key = f"{sid}|{t}"
                if key in failed:
                    inventory.unreadable.append(failed[key])
                elif sid in readable_subs:
                    inventory.collected.add((f"/subscriptions/{sid}", t))
                else:
                    inventory.unreadable.append(Unreadable(
                        f"/subscriptions/{sid}", t, None,
                        "subscription not readable with ARM, so Resource Graph's silence about it proves nothing"))
        graph_ids: set[str] = set()
        for row in graph_rows:
            res = _clean(row)
            sid = subscription_of(str(res.get("id", "")))
            if sid is not None and sid not in readable_subs:
                continue
            if isinstance(res.get("id"), str) and isinstance(res.get("type"), str) and inventory.add(res):
                graph_ids.add(norm(res["id"]))
                provenance[norm(res["id"])] = "resource-graph"
        graph_ra = {i for i in graph_ids if "/roleassignments/" in i}
        api_ra: set[str] = set()
        for o in live_outcomes:
            if o.error is None and norm(o.task.resource_type) == "microsoft.authorization/roleassignments":
                api_ra |= {norm(r["id"]) for r in o.resources if isinstance(r.get("id"), str)}
        _add_cross_checked(inventory, live_outcomes, provenance, graph_ids, graph_subs)
        # 4. what Resource Graph does not hold: workspace computes/datastores, DNS links and records, federated
        #    identity credentials
        follow: list[ListTask] = workspace_children(inventory.of_type("microsoft.machinelearningservices/workspaces"))
        follow += dns_zone_children(inventory.of_type("microsoft.network/privatednszones"))
        # federated identity credentials are not in Resource Graph: one ARM list per user-assigned identity
        follow += identity_children(inventory.of_type(UAI))
        follow += storage_children(inventory.of_type("microsoft.storage/storageaccounts"))
        follow += backup_vault_children(inventory.of_type("microsoft.dataprotection/backupvaults"))
        follow += share_children(inventory.of_type("microsoft.datashare/accounts"))
        # Lighthouse delegations of the resource groups holding storage or identities (flaudit.sources.live.collect)
        follow += group_delegation_tasks([*inventory.of_type("microsoft.storage/storageaccounts"),
                                          *inventory.of_type(UAI)], set())
        follow_outcomes = run_tasks(session, follow, workers=workers, progress=progress)
        add_outcomes(inventory, follow_outcomes, provenance)
        if not any(t != norm(SUBSCRIPTION_TYPE) for _, t in inventory.collected):
            first = inventory.unreadable[0].message if inventory.unreadable else "no subscriptions"
            raise CollectionError(f"nothing in scope could be read through Resource Graph or ARM ({first})")
        resolve_role_definitions(session, inventory, subs, provenance=provenance, workers=workers,
                                 progress=progress)
        read_directory(session, inventory, progress=progress)  # Microsoft Graph: principals ARM cannot place
        # assignments Resource Graph lists below a readable subscription but the API does not: kept (fail closed)
        only_graph = sorted(i for i in graph_ra - api_ra if subscription_of(i) in readable_subs)
        finish(inventory, scope, session, provenance, kind="resource-graph", started=started, extra={
            "subscriptions": subs, "graph_queries": stats.queries, "graph_pages": stats.pages,
            "graph_rows": stats.rows, "quota_waits_seconds": round(sum(stats.quota_waits), 3),
            "role_assignments_only_in_graph": len(only_graph),
            "role_assignments_only_in_api": len(api_ra - graph_ra),
        })
        return inventory
    finally:
        if own:
            session.close()


def _cross_check_tasks(sid: str) -> list[ListTask]:
    sub_scope = f"/subscriptions/{sid}"
    return [
        ListTask(sub_scope, SUBSCRIPTION_TYPE, _get_subscription(sid), label="subscription"),
        ListTask(sub_scope, AUTH_RA, auth_list(sub_scope, "roleAssignments"), label="role assignments"),
        ListTask(sub_scope, AUTH_RA, auth_list(sub_scope, "roleAssignments", "atScope()"),
                 label="role assignments (inherited)"),
        ListTask(sub_scope, AUTH_DA, auth_list(sub_scope, "denyAssignments"), label="deny assignments"),
        ListTask(sub_scope, AUTH_DA, auth_list(sub_scope, "denyAssignments", "atScope()"),
                 label="deny assignments (inherited)"),
        # PIM-eligible assignments (at, above and below the subscription) are read from ARM too
        ListTask(sub_scope, AUTH_ELIGIBLE, auth_list(sub_scope, "roleEligibilityScheduleInstances"),
                 label="PIM-eligible role assignments"),
        # Azure Lighthouse delegations: read from ARM (with their definitions expanded), never from Graph rows
        delegations_task(sub_scope),
    ]


def _add_cross_checked(inventory: Inventory, outcomes: Iterable[Outcome], provenance: dict[str, str],
                       graph_ids: set[str], graph_subs: dict[str, dict[str, Any]]) -> None:
    """API results win over Graph rows; a subscription keeps its management-group ancestry from Graph."""
    for o in outcomes:
        if o.error is not None:
            inventory.unreadable.append(o.error)
            continue
        assert inventory.collected is not None
        inventory.collected.add((norm(o.task.scope), norm(o.task.resource_type)))
        for r in o.resources:
            rid = norm(r.get("id"))
            if norm(o.task.resource_type) == norm(SUBSCRIPTION_TYPE):
                row = graph_subs.get(rid.split("/")[-1])
                chain = ((row or {}).get("properties") or {}).get("managementGroupAncestorsChain")
                if chain is not None:
                    r = {**r, "properties": {**(r.get("properties") or {}),
                                             "managementGroupAncestorsChain": chain}}
                    provenance[rid] = "live+resource-graph"
                    inventory.add(r)
                    continue
            if inventory.add(r):
                provenance[rid] = "live+resource-graph" if rid in graph_ids else "live"


__all__ = ["BATCH_SIZE", "collect_fleet", "query"]
