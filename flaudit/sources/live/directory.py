"""Directory facts from Microsoft Graph for the principals ARM cannot place in a tenant (read-only GETs).

A role assignment names its principal only by object id and ``principalType``. ARM data places managed identities
(their identity resource or the resource they belong to says where they are) and ``ForeignGroup`` assignments;
a user, a group or another service principal needs the directory: is the user a B2B guest whose home is another
tenant, is the service principal a multi-tenant application registered in another tenant? So after the ARM lists,
each principal that holds a role (or a PIM-eligible role) at a scope covering a collected storage account, and that
ARM data does not place, is read with one ``GET {graph}/v1.0/directoryObjects/{id}`` selecting only what placing it
needs (:data:`SELECT`). That is what FL-XT-002 needs and nothing more: no group membership, no sign-in data.

* Read-only: the requests go through the session's pipeline (the same read-only guard, retries and request count
  as every ARM read) with a Microsoft Graph bearer token from the session's credential, the one credential of the
  tenant being collected (``/.default`` of the cloud's Graph root). ``directoryObjects/getByIds`` would save
  requests but is a POST, which the guard refuses.
* Bounded: at most :data:`MAX_DIRECTORY_OBJECTS` principals per collection, :data:`WORKERS` at a time, with the
  collection's progress bar; principals past the cap are recorded as not read.
* Fail closed: a 401 or 403 (the identity lacks Directory.Read.All), a 404, or any other failure is recorded in the
  inventory's ``unreadable`` list as ``Microsoft.Graph/directoryObjects`` at ``/directoryObjects/{id}``, so that
  principal's tenant stays unknown (:mod:`flaudit.tenants`), never "same tenant". Once the directory refused one
  read (401/403) the rest are not sent: the same token would be refused again; each is recorded as not read.
* Secret-free: only :data:`SELECT` is kept (of ``identities`` only ``signInType`` and ``issuer``), redacted like
  every resource; the snapshot's ``directory`` section holds these objects keyed by principal id.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flaudit.arm import get_path, is_within, norm, parent_id
from flaudit.inventory import Inventory, Unreadable
from flaudit.sources.live.clients import ArmSession, _one_line

GRAPH_TYPE = "Microsoft.Graph/directoryObjects"
#: What placing a principal needs (Microsoft Graph v1.0 user and servicePrincipal properties; groups need none).
SELECT = ("id", "displayName", "userType", "externalUserState", "creationType", "identities",
          "appOwnerOrganizationId", "servicePrincipalType")
MAX_DIRECTORY_OBJECTS = 1000
WORKERS = 8
STORAGE = "microsoft.storage/storageaccounts"
ASSIGNMENT_TYPES = ("microsoft.authorization/roleassignments",
                    "microsoft.authorization/roleeligibilityscheduleinstances")
UAI = "microsoft.managedidentity/userassignedidentities"
#: A directory object id is a GUID; anything else is never put into a Graph URL.
_OBJECT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def graph_object_ref(principal_id: str, endpoint: str = "https://graph.microsoft.com") -> str:
    """The Graph URL of a directory object: what evidence and unreadable records name."""
    return f"{endpoint.rstrip('/')}/v1.0/directoryObjects/{principal_id}"


def placed_by_arm(inventory: Inventory) -> set[str]:
    """Principal ids (lower case) of the managed identities the inventory describes: ARM data places them."""
    out: set[str] = set()
    for uai in inventory.of_type(UAI):
        if pid := get_path(uai, "properties.principalId"):
            out.add(norm(pid))
    for res in inventory.resources.values():
        ident = res.get("identity")
        if not isinstance(ident, dict):
            continue
        if ident.get("principalId"):
            out.add(norm(ident["principalId"]))
        attached = ident.get("userAssignedIdentities")
        for entry in (attached.values() if isinstance(attached, dict) else ()):
            if isinstance(entry, dict) and entry.get("principalId"):
                out.add(norm(entry["principalId"]))
    return out


def _covers(scope: str, storage_ids: list[str]) -> bool:
    """Whether an assignment at ``scope`` reaches any of the storage accounts (management groups and the root
    may hold any subscription: they cover every account, failing closed)."""
    s = norm(scope)
    if s in ("", "/") or s.startswith("/providers/microsoft.management/managementgroups/"):
        return bool(storage_ids)
    return any(is_within(st, s) for st in storage_ids)


def principals_to_place(inventory: Inventory) -> list[str]:
    """Sorted principal ids holding a role or an eligible role at a scope covering a collected storage account
    that ARM data does not place (not a managed identity the inventory describes, not a ForeignGroup)."""
    storage_ids = [norm(r["id"]) for r in inventory.of_type(STORAGE) if isinstance(r.get("id"), str)]
    placed = placed_by_arm(inventory)
    out: set[str] = set()
    for t in ASSIGNMENT_TYPES:
        for a in inventory.of_type(t):
            props = a.get("properties") or {}
            pid = props.get("principalId")
            if not isinstance(pid, str) or not pid or str(props.get("principalType")).lower() == "foreigngroup":
                continue
            if norm(pid) in placed:
                continue
            scope = props.get("scope") or parent_id(str(a.get("id") or "")) or "/"
            if _covers(str(scope), storage_ids):
                out.add(norm(pid))
    return sorted(out)


#: C0/C1 control characters and the bidirectional overrides and isolates: a display name is whatever its owner typed
#: (a B2B guest sets it at home), and these would move the cursor, recolour or reorder text in a report.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(value: Any) -> Any:
    """``value`` with every string in it stripped of :data:`_UNPRINTABLE` characters."""
    if isinstance(value, str):
        return _UNPRINTABLE.sub("", value)
    if isinstance(value, list):
        return [printable(v) for v in value]
    if isinstance(value, dict):
        return {k: printable(v) for k, v in value.items()}
    return value


def keep(body: dict[str, Any]) -> dict[str, Any]:
    """What flaudit stores of a directory object: ``@odata.type`` and :data:`SELECT`; of ``identities`` only
    ``signInType`` and ``issuer`` (``issuerAssignedId`` is a sign-in name, not needed to place anyone); every string
    :func:`printable`."""
    out: dict[str, Any] = {"@odata.type": body.get("@odata.type")}
    for k in SELECT:
        if k not in body:
            continue
        v = body[k]
        if k == "identities" and isinstance(v, list):
            v = [{"signInType": i.get("signInType"), "issuer": i.get("issuer")} for i in v if isinstance(i, dict)]
        out[k] = v
    return printable(out)


def _error_text(response: Any) -> str:
    """``code: message`` of a Graph error body (``{"error": {"code", "message"}}``), else the HTTP reason."""
    try:
        err = response.json().get("error") or {}
    except (ValueError, AttributeError):
        err = {}
    code, message = (err.get("code"), err.get("message")) if isinstance(err, dict) else (None, None)
    text = f"{code}: {message}" if code else str(message or getattr(response, "reason", "") or "no error body")
    return _one_line(text)


def graph_client(session: ArmSession) -> Any:
    """A pipeline client for Microsoft Graph on the session's transport, guard, retries and request log."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy

    endpoint = session.cloud.graph_endpoint
    return PipelineClient(base_url=endpoint, transport=session.transport,
                          policies=session.policies(BearerTokenCredentialPolicy(session.credential,
                                                                                session.cloud.graph_scope)))


def read_directory(session: ArmSession, inventory: Inventory, *, progress: bool = False,
                   cap: int | None = None, workers: int | None = None) -> None:
    """Read the directory object of every principal :func:`principals_to_place` names into
    ``inventory.directory``; each that cannot be read becomes an :class:`Unreadable` (never an error)."""
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError
    from azure.core.rest import HttpRequest

    from flaudit.redact import redact
    from flaudit.sources.live.collect import _Progress

    pids = principals_to_place(inventory)
    if not pids:
        return
    cap = MAX_DIRECTORY_OBJECTS if cap is None else cap
    workers = WORKERS if workers is None else workers
    endpoint = session.cloud.graph_endpoint
    for pid in [p for p in pids if not _OBJECT_ID.match(p)]:
        inventory.unreadable.append(Unreadable(f"/directoryObjects/{pid}", GRAPH_TYPE, None,
                                               "not asked: the principal id is not a directory object id (a GUID)"))
    pids = [p for p in pids if _OBJECT_ID.match(p)]
    asked, over = pids[:cap], pids[cap:]
    for pid in over:
        inventory.unreadable.append(Unreadable(f"/directoryObjects/{pid}", GRAPH_TYPE, None,
                                               f"not read: more than {cap} principals to place in a tenant"))
    client = graph_client(session)
    refused: list[str] = []
    lock = threading.Lock()
    select = ",".join(SELECT)

    def one(pid: str) -> tuple[str, dict[str, Any] | None, Unreadable | None]:
        scope = f"/directoryObjects/{pid}"
        with lock:
            if refused:
                return pid, None, Unreadable(scope, GRAPH_TYPE, None, f"not asked: {refused[0]}")
        try:
            response = client.send_request(HttpRequest("GET", graph_object_ref(pid, endpoint),
                                                       params={"$select": select}))
        except ClientAuthenticationError as exc:  # no Graph token for this credential
            why = _one_line(f"Directory read was refused: no Microsoft Graph token ({exc})")
            with lock:
                refused.append(why)
            return pid, None, Unreadable(scope, GRAPH_TYPE, None, why)
        except (ServiceRequestError, ServiceResponseError) as exc:
            return pid, None, Unreadable(scope, GRAPH_TYPE, None, _one_line(f"no response ({type(exc).__name__})"))
        status = response.status_code
        if status in (401, 403):
            why = f"Directory read was refused ({status} {_error_text(response)}); the collecting identity needs " \
                  "Microsoft Graph Directory.Read.All"
            with lock:
                refused.append(why)
            return pid, None, Unreadable(scope, GRAPH_TYPE, status, why)
        if status != 200:
            return pid, None, Unreadable(scope, GRAPH_TYPE, status, _error_text(response))
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("@odata.type"), str) \
                or norm(str(body.get("id"))) != pid:
            return pid, None, Unreadable(scope, GRAPH_TYPE, 200, "malformed response: not the directoryObject asked "
                                         "for (no @odata.type or another id)")
        return pid, redact(keep(body)), None

    with _Progress(progress, "reading directory objects") as bar, \
            ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="flaudit-directory") as pool:
        bar.add(len(asked))
        results = []
        for result in pool.map(one, asked):
            results.append(result)
            bar.advance(f"directory object {result[0]}")
    for pid, obj, error in results:
        if obj is not None:
            inventory.directory[pid] = obj
        elif error is not None:
            inventory.unreadable.append(error)
