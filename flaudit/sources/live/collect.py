"""Live collection: list every resource type flaudit reads once per subscription (or resource group).

Each type is listed once per scope and only pagination adds requests; the dependent lists (an Azure ML
workspace's computes, datastores and connections, a private DNS zone's links and A records, a Backup vault's
instances and policies, a Data Share account's shares and their data sets) are per workspace, zone, vault,
account or share, not per silo. The exceptions grow with the silo count because Azure lists them only per
parent: a storage account's object replication and inventory policies (two requests per storage account), a
user-assigned identity's federated credentials (one per identity), and a Kubernetes cluster's extensions and an
AKS cluster's node resource group network (per cluster, so per Kubernetes silo). Independent lists run
concurrently in a bounded pool. A list that fails (403, 404, throttled past the retries, timeout, malformed
page) becomes an :class:`~flaudit.inventory.Unreadable` record and the run goes on; rules needing that type
then report ``unknown``. Only when nothing in scope could be read does collection fail (exit code 3).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any, Self

from flaudit.arm import id_segments, norm
from flaudit.errors import CollectionError, InputError
from flaudit.identities import IDENTITY_BEARING_TYPES
from flaudit.inventory import Inventory, SourceInfo, Unreadable
from flaudit.sources.live.clients import (
    API_VERSIONS,
    ArmSession,
    MalformedResponse,
    RetrySettings,
    describe_failure,
)
from flaudit.sources.live.credential import Cloud, check_credential, cloud_named, make_credential
from flaudit.sources.live.directory import read_directory

ML = "Microsoft.MachineLearningServices"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_RG_NAME = re.compile(r"^[-\w._()]{1,90}$")
_MG_NAME = re.compile(r"^[-\w._()]{1,90}$")
DEFAULT_WORKERS = 24  # one subscription's lists (about 24) in one round; far below ARM's 250-read bucket
SUBSCRIPTION_TYPE = "Microsoft.Resources/subscriptions"
AUTH_RA = "Microsoft.Authorization/roleAssignments"
AUTH_DA = "Microsoft.Authorization/denyAssignments"
AUTH_RD = "Microsoft.Authorization/roleDefinitions"
AUTH_ELIGIBLE = "Microsoft.Authorization/roleEligibilityScheduleInstances"
UAI = "Microsoft.ManagedIdentity/userAssignedIdentities"
FIC = f"{UAI}/federatedIdentityCredentials"
LIGHTHOUSE = "Microsoft.ManagedServices/registrationAssignments"


# -- scope ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scope:
    """What to collect: subscriptions (optionally narrowed to resource groups of one), or a management group."""

    subscriptions: tuple[str, ...] = ()
    resource_groups: tuple[str, ...] = ()
    management_group: str | None = None

    def list_scopes(self, subscription: str) -> list[str]:
        """ARM scopes the per-type lists run at: the subscription, or each resource group in it."""
        base = f"/subscriptions/{subscription}"
        if self.resource_groups:
            return [f"{base}/resourceGroups/{rg}" for rg in self.resource_groups]
        return [base]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"subscriptions": list(self.subscriptions)}
        if self.resource_groups:
            out["resource_groups"] = list(self.resource_groups)
        if self.management_group:
            out["management_group"] = self.management_group
        return out


def make_scope(subscriptions: Iterable[str] = (), resource_groups: Iterable[str] = (),
               management_group: str | None = None) -> Scope:
    """Validated :class:`Scope`; bad values raise :class:`InputError` (exit 2) before any request."""
    subs: list[str] = []
    for s in subscriptions:
        s = (s or "").strip()
        if s.lower().startswith("/subscriptions/"):
            s = s.split("/")[2]
        if not _GUID.match(s):
            raise InputError(f"--subscription {s!r}: not a subscription id (expected a GUID)")
        if s.lower() not in (x.lower() for x in subs):
            subs.append(s.lower())
    rgs: list[str] = []
    for rg in resource_groups:
        rg = (rg or "").strip()
        if not _RG_NAME.match(rg) or rg.endswith("."):
            raise InputError(f"--resource-group {rg!r}: not a resource group name")
        if rg.lower() not in (x.lower() for x in rgs):
            rgs.append(rg)
    if rgs and len(subs) != 1:
        raise InputError("--resource-group needs exactly one --subscription (resource group names are per "
                         "subscription)")
    if management_group is not None and not _MG_NAME.match(management_group.strip()):
        raise InputError(f"--management-group {management_group!r}: not a management group name")
    if not subs and not management_group:
        raise InputError("nothing to collect: give --subscription ID (or --management-group with "
                         "--resource-graph, or an FL config with aml.subscription_id)")
    return Scope(tuple(subs), tuple(rgs), management_group.strip() if management_group else None)


# -- tasks ---------------------------------------------------------------------------------------------
Fetch = Callable[[ArmSession], list[dict[str, Any]]]


@dataclass(frozen=True)
class ListTask:
    """One list of one resource type at one scope; ``follow`` derives dependent lists from its result."""

    scope: str
    resource_type: str
    fetch: Fetch = field(compare=False)
    follow: Callable[[list[dict[str, Any]]], list[ListTask]] | None = field(default=None, compare=False)
    label: str = ""


@dataclass
class Outcome:
    task: ListTask
    resources: list[dict[str, Any]]
    error: Unreadable | None


def to_rest(model: Any) -> dict[str, Any]:
    """An SDK model in ARM REST shape (camelCase, nested ``properties``).

    The older msrest models (msi here; authorization too) flatten and snake_case in ``as_dict()``, but
    ``serialize(keep_readonly=True)`` rebuilds the wire shape, read-only ``id``/``name``/``type`` included
    (datetimes come back re-formatted and null fields dropped, which is why authorization lists are read
    raw). The network and storage SDKs' hybrid models keep the REST dict in ``as_dict()``; the collector
    nevertheless lists those types with plain GETs at a pinned api-version: the model round trip gave
    identical output at about six times the CPU (1.25 s per 1,200 resources), which alone broke the
    wall-time budget at 300 silos.
    """
    if hasattr(model, "serialize"):
        return model.serialize(keep_readonly=True)
    return model.as_dict()


def _sdk_list(call: Callable[[ArmSession], Iterable[Any]]) -> Fetch:
    return lambda session: [to_rest(m) for m in call(session)]


def _plain_list(path: str, api_version: str) -> Fetch:
    return lambda session: session.list_all(path, api_version)


def auth_list(scope: str, kind: str, flt: str | None = None) -> Fetch:
    """A Microsoft.Authorization list at ``scope``, read raw so it keeps the exact REST shape (the
    authorization SDK's msrest models re-format datetimes and drop fields they do not know)."""
    params = {"$filter": flt} if flt else None
    api = API_VERSIONS.get(f"Microsoft.Authorization/{kind}", API_VERSIONS["Microsoft.Authorization"])
    return lambda session: session.list_all(f"{scope}/providers/Microsoft.Authorization/{kind}", api, params)


def delegations_list(scope: str) -> Fetch:
    """Azure Lighthouse registration assignments at ``scope``, each with its registration definition expanded
    (``$expandRegistrationDefinition=true``): the managing tenant, its authorizations and eligible authorizations,
    which no role assignment list shows (flaudit/lighthouse.py)."""
    return lambda session: session.list_all(f"{scope}/providers/{LIGHTHOUSE}", API_VERSIONS["Microsoft.ManagedServices"],
                                            {"$expandRegistrationDefinition": "true"})


def delegations_task(scope: str) -> ListTask:
    return ListTask(scope, LIGHTHOUSE, delegations_list(scope), label="Azure Lighthouse delegations")


def group_delegation_tasks(resources: Iterable[dict[str, Any]], seen: set[str]) -> list[ListTask]:
    """One list of Lighthouse registration assignments per resource group holding one of ``resources`` (storage
    accounts, user-assigned identities: what the RBAC evaluator judges access to). A registration assignment sits at
    a subscription or a resource group, and Microsoft does not document whether a subscription's list includes those
    of its resource groups, so they are listed there too (fail closed); ``seen`` keeps it to one list per group."""
    out = []
    for r in resources:
        segs = id_segments(str(r.get("id") or ""))
        if len(segs) < 4 or segs[2].lower() != "resourcegroups":
            continue
        rg = f"/subscriptions/{segs[1]}/resourceGroups/{segs[3]}"
        if rg.lower() not in seen:
            seen.add(rg.lower())
            out.append(delegations_task(rg))
    return out


def _rg_delegations(follow: Callable[[list[dict[str, Any]]], list[ListTask]], seen: set[str]
                    ) -> Callable[[list[dict[str, Any]]], list[ListTask]]:
    """``follow`` plus :func:`group_delegation_tasks` for the listed resources."""
    return lambda resources: follow(resources) + group_delegation_tasks(resources, seen)


def _rg_name(list_scope: str) -> str | None:
    segs = id_segments(list_scope)
    return segs[3] if len(segs) >= 4 else None


def plan_subscription(subscription: str, scope: Scope) -> list[ListTask]:
    """Every independent list for one subscription: one per type and list scope, none per silo."""
    sub = subscription
    sub_scope = f"/subscriptions/{sub}"
    tasks: list[ListTask] = [t for ls in scope.list_scopes(sub) for t in _plan_list_scope(sub, ls)]
    tasks += [
        ListTask(sub_scope, SUBSCRIPTION_TYPE, _get_subscription(sub), label="subscription"),
        # Assignments inherited from management groups and the root: atScope() lists at-and-above.
        ListTask(sub_scope, AUTH_RA, auth_list(sub_scope, "roleAssignments", "atScope()"),
                 label="role assignments (inherited)"),
        ListTask(sub_scope, AUTH_DA, auth_list(sub_scope, "denyAssignments", "atScope()"),
                 label="deny assignments (inherited)"),
        ListTask(sub_scope, AUTH_RD, auth_list(sub_scope, "roleDefinitions", "type eq 'CustomRole'"),
                 label="custom roles"),
    ]
    if scope.resource_groups:  # a subscription's Lighthouse delegation applies to every group in it
        tasks.append(delegations_task(sub_scope))
    return tasks


def _plan_list_scope(sub: str, ls: str) -> list[ListTask]:
    """The lists at one scope. Those whose results lead to more lists (workspaces, DNS zones) come first,
    so their dependent lists start while the pool is still busy with the rest."""
    rg = _rg_name(ls)
    # At subscription scope, each resource group holding storage or identities gets its own Lighthouse list.
    seen: set[str] = set()
    in_groups = (lambda f: f) if rg is not None else (lambda f: _rg_delegations(f, seen))

    def pick(at_sub: Callable[[ArmSession], Iterable[Any]],
             at_rg: Callable[[ArmSession, str], Iterable[Any]]) -> Fetch:
        if rg is None:
            return _sdk_list(at_sub)
        name = rg
        return _sdk_list(lambda s: at_rg(s, name))

    def plain(provider_type: str, api: str, label: str, **kw: Any) -> ListTask:
        return ListTask(ls, provider_type, _plain_list(f"{ls}/providers/{provider_type}", API_VERSIONS[api]),
                        label=label, **kw)

    return [
        plain(f"{ML}/workspaces", ML, "Azure ML workspaces", follow=workspace_children),
        plain("Microsoft.Network/privateDnsZones", "Microsoft.Network/privateDnsZones", "private DNS zones",
              follow=dns_zone_children),
        ListTask(ls, AUTH_RA, auth_list(ls, "roleAssignments"), label="role assignments"),
        plain("Microsoft.Storage/storageAccounts", "Microsoft.Storage", "storage accounts",
              follow=in_groups(storage_children)),
        plain("Microsoft.DataProtection/backupVaults", "Microsoft.DataProtection", "backup vaults",
              follow=backup_vault_children),
        plain("Microsoft.DataShare/accounts", "Microsoft.DataShare", "data share accounts", follow=share_children),
        plain("Microsoft.Network/virtualNetworks", "Microsoft.Network", "virtual networks"),
        plain("Microsoft.Network/networkSecurityGroups", "Microsoft.Network", "network security groups"),
        plain("Microsoft.Network/privateEndpoints", "Microsoft.Network", "private endpoints"),
        plain("Microsoft.Network/networkInterfaces", "Microsoft.Network", "network interfaces"),
        plain("Microsoft.Network/routeTables", "Microsoft.Network", "route tables"),
        plain("Microsoft.Network/serviceEndpointPolicies", "Microsoft.Network", "service endpoint policies"),
        ListTask(ls, UAI, pick(
            lambda s: s.msi(sub).user_assigned_identities.list_by_subscription(),
            lambda s, g: s.msi(sub).user_assigned_identities.list_by_resource_group(g)),
            label="user-assigned identities", follow=in_groups(identity_children)),
        delegations_task(ls),
        # PIM-eligible assignments: without a filter the list returns those at, above and below the scope.
        ListTask(ls, AUTH_ELIGIBLE, auth_list(ls, "roleEligibilityScheduleInstances"),
                 label="PIM-eligible role assignments"),
        plain("Microsoft.KeyVault/vaults", "Microsoft.KeyVault", "key vaults"),
        plain("Microsoft.ContainerRegistry/registries", "Microsoft.ContainerRegistry", "container registries"),
        ListTask(ls, AUTH_DA, auth_list(ls, "denyAssignments"), label="deny assignments"),
        # Everything that can run as a user-assigned identity (flaudit/identities.py, FL-ID-010); the inventory
        # keeps those whose identity block names one. AKS clusters are listed below with their extensions.
        *(plain(t, t.split("/")[0], f"{t.split('/')[-1]} (identities)") for t in IDENTITY_BEARING_TYPES
          if t != "Microsoft.ContainerService/managedClusters"),
        plain("Microsoft.ContainerService/managedClusters", "Microsoft.ContainerService", "AKS clusters",
              follow=cluster_extensions),
        plain("Microsoft.Kubernetes/connectedClusters", "Microsoft.Kubernetes", "Arc-connected clusters",
              follow=cluster_extensions),
    ]


def _get_subscription(sub: str) -> Fetch:
    def fetch(session: ArmSession) -> list[dict[str, Any]]:
        body = session.get_json(f"/subscriptions/{sub}", API_VERSIONS[SUBSCRIPTION_TYPE])
        body.setdefault("id", f"/subscriptions/{sub}")
        # The subscription GET has no "type"; snapshots need one to be read back as an ARM resource.
        body.setdefault("type", SUBSCRIPTION_TYPE)
        return [body]

    return fetch


def workspace_children(workspaces: list[dict[str, Any]]) -> list[ListTask]:
    """Computes, datastores and connections of each workspace (per workspace, not per silo). Datastores and
    connections are listed with a GET: never ``listSecrets``; a connection's credentials block, which the list
    does not return, is dropped all the same should a service version ever send it."""
    out = []
    v = API_VERSIONS[ML]
    for ws in workspaces:
        wid = ws["id"]
        out.append(ListTask(wid, f"{ML}/workspaces/computes", _plain_list(f"{wid}/computes", v),
                            label=f"computes of {ws.get('name')}"))
        out.append(ListTask(wid, f"{ML}/workspaces/datastores", _plain_list(f"{wid}/datastores", v),
                            label=f"datastores of {ws.get('name')}"))
        out.append(ListTask(wid, f"{ML}/workspaces/connections", _without_credentials(
            _plain_list(f"{wid}/connections", v)), label=f"connections of {ws.get('name')}"))
    return out


def _without_credentials(fetch: Fetch) -> Fetch:
    def run(session: ArmSession) -> list[dict[str, Any]]:
        out = fetch(session)
        for r in out:
            props = r.get("properties")
            if isinstance(props, dict):
                props.pop("credentials", None)
        return out

    return run


def storage_children(accounts: list[dict[str, Any]]) -> list[ListTask]:
    """Object replication and blob inventory policies of each storage account. The storage resource provider
    has no subscription-wide list for them, so these are the collector's only per-account lists: two per
    account (they grow with the number of accounts, silos included)."""
    out = []
    v = API_VERSIONS["Microsoft.Storage"]
    for acct in accounts:
        aid = acct["id"]
        out.append(ListTask(aid, "Microsoft.Storage/storageAccounts/objectReplicationPolicies",
                            _plain_list(f"{aid}/objectReplicationPolicies", v),
                            label=f"object replication of {acct.get('name')}"))
        out.append(ListTask(aid, "Microsoft.Storage/storageAccounts/inventoryPolicies",
                            _plain_list(f"{aid}/inventoryPolicies", v), label=f"inventory of {acct.get('name')}"))
    return out


def share_children(accounts: list[dict[str, Any]]) -> list[ListTask]:
    """Shares of each Data Share account, then the data sets of each share (per account and share)."""
    v = API_VERSIONS["Microsoft.DataShare"]

    def datasets(shares: list[dict[str, Any]]) -> list[ListTask]:
        return [ListTask(sh["id"], "Microsoft.DataShare/accounts/shares/dataSets",
                         _plain_list(f"{sh['id']}/dataSets", v), label=f"data sets of {sh.get('name')}")
                for sh in shares]

    return [ListTask(a["id"], "Microsoft.DataShare/accounts/shares", _plain_list(f"{a['id']}/shares", v),
                     follow=datasets, label=f"shares of {a.get('name')}") for a in accounts]


def backup_vault_children(vaults: list[dict[str, Any]]) -> list[ListTask]:
    """Backup instances and backup policies of each Backup vault (per vault, not per silo)."""
    out = []
    v = API_VERSIONS["Microsoft.DataProtection"]
    for vault in vaults:
        vid = vault["id"]
        out.append(ListTask(vid, "Microsoft.DataProtection/backupVaults/backupInstances",
                            _plain_list(f"{vid}/backupInstances", v), label=f"backup instances of {vault.get('name')}"))
        out.append(ListTask(vid, "Microsoft.DataProtection/backupVaults/backupPolicies",
                            _plain_list(f"{vid}/backupPolicies", v), label=f"backup policies of {vault.get('name')}"))
    return out


def identity_children(identities: list[dict[str, Any]]) -> list[ListTask]:
    """Federated identity credentials of each user-assigned identity (one GET per identity: ARM has no list
    across identities). Each is a trust an external identity provider can exchange for the identity's tokens."""
    v = API_VERSIONS["Microsoft.ManagedIdentity"]
    return [ListTask(i["id"], FIC, _plain_list(f"{i['id']}/federatedIdentityCredentials", v),
                     label=f"federated credentials of {i.get('name')}") for i in identities if i.get("id")]


def cluster_extensions(clusters: list[dict[str, Any]]) -> list[ListTask]:
    """The cluster extensions (the Azure ML extension's settings) of each AKS or Arc cluster: one GET list per
    cluster, as for a workspace's computes. Agent pools come inline in the cluster (agentPoolProfiles)."""
    v = API_VERSIONS["Microsoft.KubernetesConfiguration"]
    out = [ListTask(c["id"], "Microsoft.KubernetesConfiguration/extensions",
                    _plain_list(f"{c['id']}/providers/Microsoft.KubernetesConfiguration/extensions", v),
                    label=f"extensions of {c.get('name')}") for c in clusters]
    # An AKS cluster without vnetSubnetID runs in the VNet AKS creates in its node resource group, outside a
    # resource-group-narrowed scope: list that group's VNets, NSGs and route tables too (per cluster).
    net = API_VERSIONS["Microsoft.Network"]
    for c in clusters:
        node_rg = (c.get("properties") or {}).get("nodeResourceGroup")
        sub = id_segments(c["id"])[1] if len(id_segments(c["id"])) > 1 else None
        if not node_rg or not sub or not _RG_NAME.match(str(node_rg)):
            continue
        rg = f"/subscriptions/{sub}/resourceGroups/{node_rg}"
        for t in ("virtualNetworks", "networkSecurityGroups", "routeTables"):
            out.append(ListTask(rg, f"Microsoft.Network/{t}", _plain_list(f"{rg}/providers/Microsoft.Network/{t}", net),
                                label=f"{t} of {c.get('name')}'s node resource group"))
    return out


def dns_zone_children(zones: list[dict[str, Any]]) -> list[ListTask]:
    """Virtual network links and A record sets of each private DNS zone (plain GETs; no privatedns SDK)."""
    out = []
    v = API_VERSIONS["Microsoft.Network/privateDnsZones"]
    for zone in zones:
        zid = zone["id"]
        out.append(ListTask(zid, "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
                            _plain_list(f"{zid}/virtualNetworkLinks", v), label=f"links of {zone.get('name')}"))
        out.append(ListTask(zid, "Microsoft.Network/privateDnsZones/A", _plain_list(f"{zid}/A", v),
                            label=f"A records of {zone.get('name')}"))
    return out


# -- running -------------------------------------------------------------------------------------------
def run_one(session: ArmSession, task: ListTask) -> Outcome:
    try:
        resources = task.fetch(session)
        for i, r in enumerate(resources):
            if not isinstance(r.get("id"), str) or not r["id"].startswith("/") or not isinstance(r.get("type"), str):
                raise MalformedResponse(task.scope, f"item {i} of {task.resource_type} has no ARM id and type")
        return Outcome(task, resources, None)
    except Exception as exc:
        described = describe_failure(exc)
        if described is None:
            raise
        status, message = described
        return Outcome(task, [], Unreadable(task.scope, task.resource_type, status, message))


class _Progress:
    """A rich progress bar on stderr when asked for (the CLI asks only on a TTY and without --quiet)."""

    def __init__(self, enabled: bool, description: str) -> None:
        self._bar: Any = None
        self._task: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self._task = self._bar.add_task(description, total=0)

    def __enter__(self) -> Self:
        if self._bar:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar:
            self._bar.stop()

    def add(self, n: int) -> None:
        if self._bar:
            total = self._bar.tasks[0].total or 0
            self._bar.update(self._task, total=total + n)

    def advance(self, label: str) -> None:
        if self._bar:
            self._bar.update(self._task, advance=1, description=f"read {label}")


def run_tasks(session: ArmSession, tasks: list[ListTask], *, workers: int = DEFAULT_WORKERS,
              progress: bool = False, sink: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Run ``tasks`` (and the tasks their results lead to) in a bounded pool; results in completion order.

    ``sink`` sees each outcome as it completes, so the caller's work on it (redaction, indexing) overlaps
    with the lists still waiting on the network instead of following them.
    """
    outcomes: list[Outcome] = []
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="flaudit-collect")
    try:
        with _Progress(progress, "collecting") as bar:
            pending: dict[Future[Outcome], ListTask] = {pool.submit(run_one, session, t): t for t in tasks}
            bar.add(len(tasks))
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    task = pending.pop(fut)
                    outcome = fut.result()
                    outcomes.append(outcome)
                    if sink is not None:
                        sink(outcome)
                    bar.advance(task.label or task.resource_type)
                    if outcome.error is None and task.follow is not None:
                        children = task.follow(outcome.resources)
                        for child in children:
                            pending[pool.submit(run_one, session, child)] = child
                        bar.add(len(children))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return outcomes


def add_outcomes(inventory: Inventory, outcomes: Iterable[Outcome], provenance: dict[str, str],
                 kind: str = "live") -> None:
    """Merge outcomes into ``inventory``: resources (redacted by ``Inventory.add``), collected pairs, unreadable."""
    for o in outcomes:
        add_outcome(inventory, o, provenance, kind)


def add_outcome(inventory: Inventory, o: Outcome, provenance: dict[str, str], kind: str = "live") -> None:
    if inventory.collected is None:
        inventory.collected = set()
    if o.error is not None:
        inventory.unreadable.append(o.error)
        return
    inventory.collected.add((norm(o.task.scope), norm(o.task.resource_type)))
    for r in o.resources:
        if inventory.add(r):
            provenance.setdefault(norm(r["id"]), kind)


# -- role definitions ----------------------------------------------------------------------------------
def builtin_role_ids() -> set[str]:
    """GUIDs of the built-in roles flaudit bundles (empty when the bundle is absent: then fetch them all)."""
    try:
        text = importlib_resources.files("flaudit").joinpath("data/builtin_roles.json").read_text("utf-8")
        doc = json.loads(text)
    except (FileNotFoundError, OSError, ValueError):
        return set()
    roles = doc.get("roles", doc) if isinstance(doc, dict) else {}
    return {k.lower() for k in roles if isinstance(k, str) and _GUID.match(k)}


def _guid_of(role_definition_id: str) -> str:
    segs = id_segments(role_definition_id)
    return segs[-1].lower() if segs else ""


def referenced_definitions(inventory: Inventory) -> dict[str, str]:
    """GUID -> one referencing roleDefinitionId, for every role assignment collected."""
    out: dict[str, str] = {}
    for ra in inventory.of_type("microsoft.authorization/roleassignments"):
        rd = (ra.get("properties") or {}).get("roleDefinitionId")
        if isinstance(rd, str) and rd:
            out.setdefault(_guid_of(rd), rd)
    return out


def resolve_role_definitions(session: ArmSession, inventory: Inventory, subscriptions: Iterable[str], *,
                             provenance: dict[str, str], workers: int, progress: bool) -> None:
    """Keep the role definitions the assignments reference and fetch those flaudit does not know.

    Built-in roles come bundled; custom ones were listed per subscription. What is still unknown is listed
    once per subscription without a filter (one request, not one per role), and anything still missing
    (a custom role defined on a management group, say) is fetched by id. Unreferenced definitions are
    dropped so the snapshot stays small.
    """
    refs = referenced_definitions(inventory)
    builtins = builtin_role_ids()
    have = {_guid_of(r["id"]) for r in inventory.of_type("microsoft.authorization/roledefinitions")}
    missing = {g: rid for g, rid in refs.items() if g not in builtins and g not in have}
    if missing:
        tasks = [ListTask(f"/subscriptions/{sub}", AUTH_RD, auth_list(f"/subscriptions/{sub}", "roleDefinitions"),
                          label="role definitions") for sub in subscriptions]
        outcomes = run_tasks(session, tasks, workers=workers, progress=progress)
        for o in outcomes:
            if o.error is not None:
                inventory.unreadable.append(o.error)
                continue
            for r in o.resources:
                if _guid_of(r["id"]) in missing and inventory.add(r):
                    provenance.setdefault(norm(r["id"]), "live")
        have = {_guid_of(r["id"]) for r in inventory.of_type("microsoft.authorization/roledefinitions")}
        still = {g: rid for g, rid in missing.items() if g not in have}
        if still:
            by_id = [ListTask(rid.rsplit("/providers/", 1)[0] or "/", "Microsoft.Authorization/roleDefinitions",
                              _get_by_id(rid), label="role definition") for rid in still.values()]
            outcomes = run_tasks(session, by_id, workers=workers, progress=progress)
            for o in outcomes:
                if o.error is not None:
                    inventory.unreadable.append(o.error)
                for r in o.resources:
                    if inventory.add(r):
                        provenance.setdefault(norm(r["id"]), "live")
    for rd in list(inventory.of_type("microsoft.authorization/roledefinitions")):
        if _guid_of(rd["id"]) not in refs:
            inventory.remove(rd["id"])
            provenance.pop(norm(rd["id"]), None)


def _get_by_id(role_definition_id: str) -> Fetch:
    return lambda session: [session.get_json(role_definition_id, API_VERSIONS["Microsoft.Authorization"])]


# -- entry points --------------------------------------------------------------------------------------
def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def open_session(credential: Any, cloud: Cloud | str | None, tenant: str | None, retry: RetrySettings | None,
                 *, allow_graph_query: bool = False) -> ArmSession:
    c = cloud if isinstance(cloud, Cloud) else cloud_named(cloud)
    cred = credential if credential is not None else make_credential(tenant, c)
    check_credential(cred, c)
    session = ArmSession(cred, c, retry, allow_graph_query=allow_graph_query)
    session.pipeline  # built before the pool starts, so no worker waits for it  # noqa: B018
    return session


def collect(scope: Scope, *, credential: Any = None, cloud: Cloud | str | None = None, tenant: str | None = None,
            retry: RetrySettings | None = None, workers: int = DEFAULT_WORKERS, progress: bool = False,
            session: ArmSession | None = None) -> Inventory:
    """Collect ``scope`` from ARM into an :class:`Inventory` (raises :class:`CollectionError` if nothing is
    readable). Pass ``credential`` (any ``TokenCredential``) to avoid the default credential chain."""
    if not scope.subscriptions:
        raise InputError("live collection needs --subscription (a management group needs --resource-graph)")
    own = session is None
    session = session or open_session(credential, cloud, tenant, retry)
    started = time.monotonic()
    try:
        tasks = [t for sub in scope.subscriptions for t in plan_subscription(sub, scope)]
        inventory = Inventory()
        inventory.collected = set()
        provenance: dict[str, str] = {}
        outcomes = run_tasks(session, tasks, workers=workers, progress=progress,
                             sink=lambda o: add_outcome(inventory, o, provenance))
        fail_if_nothing_read(inventory, outcomes)
        resolve_role_definitions(session, inventory, scope.subscriptions, provenance=provenance,
                                 workers=workers, progress=progress)
        read_directory(session, inventory, progress=progress)  # Microsoft Graph: principals ARM cannot place
        finish(inventory, scope, session, provenance, kind="live", started=started,
               extra={"subscriptions": list(scope.subscriptions)})
        return inventory
    finally:
        if own:
            session.close()


def fail_if_nothing_read(inventory: Inventory, outcomes: list[Outcome]) -> None:
    """Exit code 3 when no resource type in scope could be listed (the subscription GET alone is not enough)."""
    readable = [o for o in outcomes if o.error is None and norm(o.task.resource_type) != norm(SUBSCRIPTION_TYPE)]
    if readable:
        return
    errors = [o.error for o in outcomes if o.error is not None]
    not_found = [e for e in errors if e.status == 404 and norm(e.resource_type) == norm(SUBSCRIPTION_TYPE)]
    if not_found:
        subs = ", ".join(sorted({e.scope for e in not_found}))
        raise CollectionError(f"nothing could be read: subscription not found or not visible to this identity "
                              f"({subs})")
    statuses = sorted({str(e.status) if e.status is not None else "no response" for e in errors})
    first = errors[0].message if errors else "no lists ran"
    raise CollectionError(f"nothing in scope could be read: all {len(errors)} lists failed "
                          f"({', '.join(statuses)}; first: {first}); the identity needs Reader on the scope")


def finish(inventory: Inventory, scope: Scope, session: ArmSession, provenance: dict[str, str], *, kind: str,
           started: float, extra: dict[str, Any]) -> None:
    """Sort what is order-dependent and fill in metadata and the source record."""
    from flaudit import __version__

    inventory.unreadable.sort(key=lambda u: (norm(u.scope), norm(u.resource_type), str(u.status), u.message))
    inventory.metadata = {
        "tool": {"name": "flaudit", "version": __version__},
        "collected_at": utc_now(),
        "scope": {**scope.to_dict(), "cloud": session.cloud.name},
        "provenance": {rid: provenance[rid] for rid in sorted(provenance) if rid in inventory.resources},
    }
    detail = {"requests": session.log.count, "seconds": round(time.monotonic() - started, 3),
              "unreadable": len(inventory.unreadable), **extra}
    inventory.sources.append(SourceInfo(kind, None, len(inventory.resources), detail))


def write_collected_snapshot(inventory: Inventory, path: Path | str) -> None:
    """Write a collected inventory as a snapshot (atomic) that ``flaudit scan --input`` re-audits identically."""
    from flaudit.sources.files import write_snapshot

    md = inventory.metadata
    write_snapshot(inventory, Path(path), tool=md.get("tool") or {"name": "flaudit"},
                   collected_at=md.get("collected_at") or utc_now(), scope=md.get("scope") or {},
                   provenance=md.get("provenance") or None)
