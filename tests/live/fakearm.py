"""An offline Azure Resource Manager for the live-collection tests and benchmark.

It serves a deployment (a list of ARM resources in REST shape) the way ARM lists it: each type at the
subscription and resource-group list URLs, children under their parent, role and deny assignments by scope
with ``atScope()``, ``nextLink`` pages carrying ``$skipToken``, and the Resource Graph query endpoint with
``$skipToken`` pages and user-quota headers. Canned responses (errors, throttling, malformed bodies,
timeouts) can be queued per URL and are served first. Everything goes through ``responses``; nothing here
opens a socket.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from azure.core.credentials import AccessToken

from flaudit.arm import ancestor_scopes, is_within, norm, parent_id, resource_group_id, subscription_of
from flaudit.identities import IDENTITY_BEARING_TYPES

HOST = "https://management.azure.com"
GRAPH = "/providers/microsoft.resourcegraph/resources"
MS_GRAPH = "https://graph.microsoft.com"
MG = "mg-fl"
LIGHTHOUSE = "Microsoft.ManagedServices/registrationAssignments"


class FakeCredential:
    """A TokenCredential that hands out a fixed token and counts requests (never touches Entra)."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls = 0
        self.fail = fail

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return AccessToken("fake-token", int(time.time()) + 3600)


def arm_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], str]:
    return status, {"Content-Type": "application/json"}, json.dumps({"error": {"code": code, "message": message}})


def arm_unreadable(inventory: Any) -> list[Any]:
    """What ARM could not list (the Microsoft Graph directory reads, which a test without a fake directory answers
    with 404s, left out)."""
    return [u for u in inventory.unreadable if u.resource_type != "Microsoft.Graph/directoryObjects"]


def graph_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], str]:
    """A Microsoft Graph error response: ``{"error": {"code", "message", "innerError"}}``."""
    return status, {"Content-Type": "application/json"}, json.dumps({"error": {
        "code": code, "message": message,
        "innerError": {"date": "2026-12-07T03:00:00", "request-id": "5f0a1b2c-3d4e-4f5a-8b6c-7d8e9f0a1b2c",
                       "client-request-id": "5f0a1b2c-3d4e-4f5a-8b6c-7d8e9f0a1b2c"}}})


#: Parent type -> the child collections ARM serves (empty) under each resource of it.
_CHILD_LISTS = {
    "microsoft.machinelearningservices/workspaces": ("computes", "datastores", "connections"),
    "microsoft.network/privatednszones": ("virtualNetworkLinks", "A"),
    "microsoft.storage/storageaccounts": ("objectReplicationPolicies", "inventoryPolicies"),
    "microsoft.dataprotection/backupvaults": ("backupInstances", "backupPolicies"),
    "microsoft.datashare/accounts": ("shares",),
    "microsoft.datashare/accounts/shares": ("dataSets",),
    "microsoft.managedidentity/userassignedidentities": ("federatedIdentityCredentials",),
}


@dataclass
class FakeArm:
    resources: list[dict[str, Any]]
    subscriptions: list[str]
    page_size: int = 100
    latency: float = 0.0
    graph_quota: tuple[int, str] | None = None  # (remaining, resets-after) sent on every Graph response
    graph_hidden: set[str] = field(default_factory=set)  # ids Resource Graph has not caught up with yet
    #: Microsoft Graph directory objects by id (GET /v1.0/directoryObjects/{id}); any other id is a 404
    directory: dict[str, dict[str, Any]] = field(default_factory=dict)
    lists: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    gets: dict[str, dict[str, Any]] = field(default_factory=dict)
    canned: dict[tuple[str, str], deque] = field(default_factory=lambda: defaultdict(deque))
    served: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pages: dict[tuple[str, str, int], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index()

    # -- what ARM would list where ---------------------------------------------------------------
    def _add(self, path: str, item: dict[str, Any], flt: str = "") -> None:
        self.lists.setdefault((norm(path), flt), []).append(item)

    def _index(self) -> None:
        self.lists.clear()
        self.gets.clear()
        self._rgs = sorted({rg for r in self.resources if (rg := resource_group_id(r["id"]))})
        for sub in self.subscriptions:
            sid = f"/subscriptions/{sub}"
            self.gets[norm(sid)] = {"id": sid, "subscriptionId": sub, "displayName": f"FL {sub[:8]}",
                                    "state": "Enabled", "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                                    "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                                             "quotaId": "Internal_2014-09-01",
                                                             "spendingLimit": "Off"},
                                    "authorizationSource": "RoleBased"}
            for key in ("roleassignments", "denyassignments", "roledefinitions", "roleeligibilityscheduleinstances"):
                self.lists.setdefault((norm(f"{sid}/providers/Microsoft.Authorization/{key}"), ""), [])
            for rg in self._rgs:
                if subscription_of(rg) == sub.lower():
                    self.lists.setdefault((norm(f"{rg}/providers/Microsoft.Authorization/"
                                                "roleEligibilityScheduleInstances"), ""), [])
            self.lists.setdefault((norm(f"{sid}/providers/Microsoft.Authorization/roleAssignments"),
                                   "atscope()"), [])
            self.lists.setdefault((norm(f"{sid}/providers/Microsoft.Authorization/denyAssignments"),
                                   "atscope()"), [])
            self.lists.setdefault((norm(f"{sid}/providers/Microsoft.Authorization/roleDefinitions"),
                                   "type eq 'customrole'"), [])
            for t in ("Microsoft.MachineLearningServices/workspaces", "Microsoft.Storage/storageAccounts",
                      "Microsoft.Network/virtualNetworks", "Microsoft.Network/networkSecurityGroups",
                      "Microsoft.Network/networkInterfaces", "Microsoft.Network/privateEndpoints",
                      "Microsoft.Network/routeTables", "Microsoft.Network/serviceEndpointPolicies",
                      "Microsoft.Network/privateDnsZones",
                      "Microsoft.ManagedIdentity/userAssignedIdentities", "Microsoft.KeyVault/vaults",
                      "Microsoft.ContainerRegistry/registries", "Microsoft.DataProtection/backupVaults",
                      "Microsoft.DataShare/accounts", "Microsoft.Kubernetes/connectedClusters",
                      *IDENTITY_BEARING_TYPES):
                self.lists.setdefault((norm(f"{sid}/providers/{t}"), ""), [])
                for rg in self._rgs:
                    if subscription_of(rg) == sub.lower():
                        self.lists.setdefault((norm(f"{rg}/providers/{t}"), ""), [])
            for rg in self._rgs:  # resource-group-scoped assignment lists exist (empty) in every resource group
                if subscription_of(rg) == sub.lower():
                    for key in ("roleAssignments", "denyAssignments"):
                        self.lists.setdefault((norm(f"{rg}/providers/Microsoft.Authorization/{key}"), ""), [])
                    self.lists.setdefault((norm(f"{rg}/providers/{LIGHTHOUSE}"), ""), [])
            self.lists.setdefault((norm(f"{sid}/providers/{LIGHTHOUSE}"), ""), [])
        for r in self.resources:
            t = r["type"]
            low = t.lower()
            if low in ("microsoft.authorization/roleassignments", "microsoft.authorization/denyassignments",
                       "microsoft.authorization/roleeligibilityscheduleinstances"):
                self._index_assignment(r, t.split("/")[1])
                continue
            if low == "microsoft.authorization/roledefinitions":
                for sub in self.subscriptions:
                    path = f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions"
                    self._add(path, r)
                    if (r.get("properties") or {}).get("type") == "CustomRole":
                        self._add(path, r, "type eq 'customrole'")
                self.gets[norm(r["id"])] = r
                continue
            if low in ("microsoft.managedservices/registrationassignments",
                       "microsoft.managedservices/registrationdefinitions"):
                # listed at its own scope only (a subscription's list is not assumed to hold its groups' ones)
                i = r["id"].lower().index("/providers/microsoft.managedservices/")
                self._add(r["id"][:i] + "/providers/" + t, r)
                self.gets[norm(r["id"])] = r
                continue
            parts = t.split("/")
            ext = "/providers/microsoft.kubernetesconfiguration/extensions/"
            if low == "microsoft.kubernetesconfiguration/extensions" and ext in r["id"].lower():
                i = r["id"].lower().index(ext)  # listed under its cluster, not at the subscription
                self._add(r["id"][:i] + ext.rstrip("/"), r)
                self.gets[norm(r["id"])] = r
                continue
            if low in ("microsoft.containerservice/managedclusters", "microsoft.kubernetes/connectedclusters"):
                self.lists.setdefault((norm(f"{r['id']}/providers/Microsoft.KubernetesConfiguration/extensions"),
                                       ""), [])
                node_rg = (r.get("properties") or {}).get("nodeResourceGroup")
                if node_rg:  # AKS creates the node resource group with the cluster
                    for kind in ("virtualNetworks", "networkSecurityGroups", "routeTables"):
                        self.lists.setdefault((norm(f"/subscriptions/{subscription_of(r['id'])}/resourceGroups/"
                                                    f"{node_rg}/providers/Microsoft.Network/{kind}"), ""), [])
            if len(parts) == 2:
                sub, rg = subscription_of(r["id"]), resource_group_id(r["id"])
                self._add(f"/subscriptions/{sub}/providers/{t}", r)
                self._add(f"{rg}/providers/{t}", r)
            else:
                self._add(f"{parent_id(r['id'])}/{parts[-1]}", r)
            for k in _CHILD_LISTS.get(low, ()):
                self.lists.setdefault((norm(f"{r['id']}/{k}"), ""), [])

    def _index_assignment(self, r: dict[str, Any], kind: str) -> None:
        scope = norm((r.get("properties") or {}).get("scope") or parent_id(r["id"]) or "/") or "/"
        for sub in self.subscriptions:
            sid = norm(f"/subscriptions/{sub}")
            # every fake subscription sits in management group MG under the root
            above = scope in ancestor_scopes(sid) or scope.startswith("/providers/microsoft.management/")
            if above or is_within(scope, sid):
                self._add(f"{sid}/providers/Microsoft.Authorization/{kind}", r)
            if above:
                self._add(f"{sid}/providers/Microsoft.Authorization/{kind}", r, "atscope()")
            for rg in self._rgs:
                if subscription_of(rg) == sub.lower() and (scope in ancestor_scopes(rg) or is_within(scope, rg)):
                    self._add(f"{rg}/providers/Microsoft.Authorization/{kind}", r)

    # -- canned responses --------------------------------------------------------------------------
    def prime(self) -> None:
        """Serialise every page now, so a timed run does not pay for the mock's own JSON work."""
        for (path, flt), items in self.lists.items():
            for skip in range(0, max(len(items), 1), self.page_size):
                self._page(path, flt, skip)

    def _page(self, path: str, flt: str, skip: int) -> str:
        key = (path, flt, skip)
        text = self._pages.get(key)
        if text is None:
            items = self.lists[(path, flt)]
            body: dict[str, Any] = {"value": items[skip : skip + self.page_size]}
            if skip + self.page_size < len(items):
                nxt = f"{HOST}{path}?api-version=__API__&$skipToken={skip + self.page_size}"
                if flt:
                    nxt += f"&$filter={quote(flt)}"
                body["nextLink"] = nxt
            text = self._pages[key] = json.dumps(body)
        return text

    def queue(self, path: str, *replies: Any, flt: str = "") -> None:
        """Serve ``replies`` (``(status, headers, body)`` tuples or exceptions) before the normal answer."""
        self.canned[(norm(path), flt.lower())].extend(replies)

    def paths(self) -> list[str]:
        """Lower-cased paths of every request served, in order (no host, no query)."""
        return [norm(urlsplit(url).path) for _, url in self.served]

    def count(self, method: str | None = None) -> int:
        return sum(1 for m, _ in self.served if method is None or m == method)

    # -- serving --------------------------------------------------------------------------------
    def register(self, rsps: Any) -> FakeArm:
        pattern = re.compile(re.escape(HOST) + r"/.*")
        directory = re.compile(re.escape(MS_GRAPH) + r"/.*")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            rsps.add_callback(method, pattern, callback=self._callback)
            rsps.add_callback(method, directory, callback=self._directory)
        return self

    def _directory(self, request: Any) -> tuple[int, dict[str, str], str]:
        """Microsoft Graph's directoryObject GET: the object with the properties ``$select`` names (and
        ``@odata.type``, ``id``), as Graph returns a derived type; a 404 in Graph's error shape otherwise."""
        if self.latency:
            time.sleep(self.latency)
        url = urlsplit(request.url)
        with self._lock:
            self.served.append((request.method, request.url))
            pending = self.canned.get((norm(url.path), ""))
            reply = pending.popleft() if pending else None
        if reply is not None:
            if isinstance(reply, BaseException):
                raise reply
            return reply
        m = re.fullmatch(r"/v1\.0/directoryObjects/([0-9a-fA-F-]{36})", url.path)
        if request.method != "GET" or m is None:
            return graph_error(400, "Request_BadRequest", f"{request.method} {url.path} is not served")
        obj = self.directory.get(m.group(1).lower())
        if obj is None:
            return graph_error(404, "Request_ResourceNotFound", f"Resource '{m.group(1)}' does not exist or one of "
                               "its queried reference-property objects are not present.")
        select = (parse_qs(url.query).get("$select") or [""])[0].split(",")
        body = {"@odata.context": f"{MS_GRAPH}/v1.0/$metadata#directoryObjects/$entity",
                **{k: v for k, v in obj.items() if k in ("@odata.type", "id") or k in select}}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def _callback(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.latency:
            time.sleep(self.latency)
        url = urlsplit(request.url)
        path = norm(url.path)
        query = {k.lower(): v[0] for k, v in parse_qs(url.query).items()}
        flt = query.get("$filter", "").lower()
        with self._lock:
            self.served.append((request.method, request.url))
            pending = self.canned.get((path, flt))
            reply = pending.popleft() if pending else None
        if reply is not None:
            if isinstance(reply, BaseException):
                raise reply
            return reply
        if request.method == "POST" and path == GRAPH:
            return self._graph(json.loads(request.body))
        if request.method != "GET":
            return arm_error(405, "MethodNotAllowed", f"{request.method} is not served by the fake ARM")
        if "api-version" not in query:
            return arm_error(400, "MissingApiVersionParameter", "The api-version query parameter is required")
        if (path, flt) in self.lists:
            text = self._page(path, flt, int(query.get("$skiptoken", "0")))
            if path.endswith(LIGHTHOUSE.lower()) and query.get("$expandregistrationdefinition") != "true":
                body = json.loads(text)  # ARM expands the registration definition only when asked to
                for item in body["value"]:
                    (item.get("properties") or {}).pop("registrationDefinition", None)
                text = json.dumps(body)
            return 200, {"Content-Type": "application/json"}, text.replace("__API__", query["api-version"])
        if path in self.gets:
            return 200, {"Content-Type": "application/json"}, json.dumps(self.gets[path])
        if path.endswith("/providers/" + LIGHTHOUSE.lower()) and \
                subscription_of(path) in {x.lower() for x in self.subscriptions}:  # none where the fake has none
            return 200, {"Content-Type": "application/json"}, json.dumps({"value": []})
        if path.startswith("/subscriptions/") and path.count("/") == 2:
            return arm_error(404, "SubscriptionNotFound", f"The subscription '{path.split('/')[2]}' could not "
                             "be found.")
        return arm_error(404, "ResourceNotFound", f"{url.path} was not found.")

    # -- Resource Graph ------------------------------------------------------------------------
    def _graph(self, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        text = body["query"].strip().lower()
        subs = {s.lower() for s in body.get("subscriptions") or []}
        if body.get("managementGroups"):
            subs = {s.lower() for s in self.subscriptions}
        if text.startswith("resourcecontainers"):
            rows = [{"id": f"/subscriptions/{s}", "name": f"FL {s[:8]}", "type": "microsoft.resources/subscriptions",
                     "subscriptionId": s, "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                     "properties": {"state": "Enabled", "managementGroupAncestorsChain": [
                         {"displayName": "FL", "name": MG},
                         {"displayName": "Tenant Root Group", "name": "72f988bf-86f1-41af-91ab-2d7cd011db47"}]}}
                    for s in self.subscriptions if s.lower() in subs]
        elif text.startswith("authorizationresources"):
            # Above-subscription assignments only come back with an authorization scope filter.
            above = (body.get("options") or {}).get("authorizationScopeFilter") in (
                "AtScopeAndAbove", "AtScopeAboveAndBelow")
            rows = [self._graph_row(r) for r in self.resources
                    if r["type"].lower() == "microsoft.authorization/roleassignments"
                    and (subscription_of(r["id"]) in subs or (above and subscription_of(r["id"]) is None))]
            rows += [self._graph_row(r) for r in self.resources
                     if r["type"].lower() == "microsoft.authorization/roledefinitions"
                     and (r.get("properties") or {}).get("type") == "CustomRole"]
        else:
            wanted = set(re.findall(r"'([a-z0-9./]+)'", text))
            rows = [self._graph_row(r) for r in self.resources
                    if r["type"].lower() in wanted and subscription_of(r["id"]) in subs]
        rows = [r for r in rows if norm(r["id"]) not in {norm(h) for h in self.graph_hidden}]
        options = body.get("options") or {}
        top = int(options.get("$top", 1000))
        skip = int(options.get("$skipToken", "0"))
        page = rows[skip : skip + top]
        doc: dict[str, Any] = {"totalRecords": len(rows), "count": len(page), "resultTruncated": "false",
                               "facets": [], "data": page}
        if skip + top < len(rows):
            doc["$skipToken"] = str(skip + top)
        headers = {"Content-Type": "application/json"}
        if self.graph_quota is not None:
            headers["x-ms-user-quota-remaining"] = str(self.graph_quota[0])
            headers["x-ms-user-quota-resets-after"] = self.graph_quota[1]
        return 200, headers, json.dumps(doc)

    @staticmethod
    def _graph_row(r: dict[str, Any]) -> dict[str, Any]:
        row = {k: r.get(k) for k in ("id", "name", "type", "location", "kind", "sku", "identity", "tags",
                                     "properties")}
        row["type"] = r["type"].lower()  # Resource Graph lower-cases types
        return row
