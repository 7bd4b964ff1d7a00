"""The operation catalogue: every Microsoft.Storage/storageAccounts and Microsoft.ManagedIdentity operation,
classified once, so any role (built-in or custom, wildcards included) is judged by what it really permits.

Why a catalogue and not a list of probe actions: a role's ``actions`` may be ``*``, ``*/write``,
``Microsoft.Storage/storageAccounts/*/action`` or a list of exact operations. Which of them reaches a silo's data
is a property of the *operations* a pattern matches, so flaudit matches every pattern against the provider's
published operation list (``flaudit/data/operations.json``, sources recorded in the file) and classifies each
operation once:

- ``read`` and ``inert`` operations lead nowhere (each inert one carries its documented reason);
- ``data-read`` / ``data-write`` / ``data-other`` are data actions (path kind ``data``);
- ``keys`` (account keys, SAS), ``delegation`` (user delegation keys), ``access-control`` (role assignments:
  kind ``role-admin``), ``exposure`` / ``local-users`` / ``config-write`` (kind ``mgmt-write``), ``copy``
  (management-plane data movement) and ``identity-takeover`` are paths.

Fail closed twice over: every non-read storage operation not documented inert is a path, and a pattern that
could also match an operation the catalogue does not list (a newer operation, a typo'd custom role) counts as
``mgmt-write`` (control plane) or ``data`` (data plane) under the storage account, with the pattern as evidence.

Some operations are live only under an account setting (``inert_when``): keys and SAS while
``allowSharedKeyAccess`` is not false, a container's public access while ``allowBlobPublicAccess`` is not false,
rename and ACL changes only on hierarchical-namespace accounts. :func:`inert_reason` answers that per account.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from flaudit.arm import get_path, per_string

STORAGE_PREFIX = "microsoft.storage/storageaccounts/"
IDENTITY_PREFIX = "microsoft.managedidentity/userassignedidentities/"
#: The segment standing for "an operation the catalogue does not list" in the witness operation a grant carries
#: when its pattern may match one (e.g. ``Microsoft.Storage/storageAccounts/<uncatalogued>/write``); deny
#: assignments are matched against that witness, so only a deny whose pattern covers it removes the grant.
UNCATALOGUED = "<uncatalogued>"
#: Control-plane kinds keep this many matched operations per role as evidence (ungated ones first): a role such
#: as Owner matches a hundred operations, and evidence needs the telling ones, not all.
EVIDENCE_PER_KIND = 3
#: Segments substituted for ``*`` to build a witness operation a pattern matches (see :func:`_uncatalogued`).
_WITNESS_FILLS = tuple(f.replace("?", UNCATALOGUED) for f in (
    "?", "?/write", "storageAccounts/?/write", "Storage/storageAccounts/?/write",
    "Microsoft.Storage/storageAccounts/?/write"))
#: Child types an assignment on a container, share, queue or table (below the account) can still act on.
_BELOW_ACCOUNT = ("/blobservices/containers/", "/fileservices/shares/", "/fileservices/fileshares/",
                  "/queueservices/queues/", "/tableservices/tables/")


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    data: bool  # a data action (dataActions) rather than a control-plane action
    cls: str  # catalogue class (see data/operations.json "classes")
    kind: str | None  # the path kind it leads to (None: read or inert)
    gate: tuple[str, tuple[Any, ...], str] | None  # (property, values making it inert, why)
    note: str

    @property
    def below_account(self) -> bool:
        """Whether an assignment scoped to a container/share/queue/table (below the account) can use it."""
        low = self.name.lower()
        return self.data or self.kind == "role-admin" or any(s in low for s in _BELOW_ACCOUNT)


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Operation]:
    """Lower-cased operation name -> :class:`Operation`, in catalogue order."""
    raw = json.loads(resources.files("flaudit").joinpath("data/operations.json").read_text("utf-8"))
    classes = raw["classes"]
    out: dict[str, Operation] = {}
    for e in raw["operations"]:
        gate = e.get("inert_when")
        out[e["operation"].lower()] = Operation(
            e["operation"], e["plane"] == "data", e["class"], classes[e["class"]]["path_kind"],
            (gate["property"], tuple(gate["values"]), gate["why"]) if gate else None, e.get("note", ""))
    return out


def operation(name: str) -> Operation | None:
    return catalogue().get(name.lower())


@lru_cache(maxsize=8192)
def _regex(pattern: str) -> re.Pattern[str]:
    """ARM action pattern -> regex. ``*`` matches anything; a whole ``/*/`` segment may also match no segment at
    all, as Azure does (Managed Identity Operator's ``userAssignedIdentities/*/assign/action`` grants
    ``userAssignedIdentities/assign/action``)."""
    parts = pattern.strip().split("/*/")
    return re.compile("(?:/.*)?/".join(".*".join(re.escape(x) for x in p.split("*")) for p in parts), re.IGNORECASE)


def action_matches(pattern: str, action: str) -> bool:
    """ARM action matching: ``*`` is a wildcard, comparison is case-insensitive."""
    return bool(_regex(pattern).fullmatch(action))


def _could_touch(pattern: str) -> bool:
    """Whether a pattern can match any storage, identity or authorization operation (cheap pre-filter)."""
    head = pattern.strip().lower().split("*", 1)[0]
    return any(t.startswith(head) or head.startswith(t)
               for t in ("microsoft.storage/", "microsoft.managedidentity/", "microsoft.authorization/"))


_IDENTITY_FILLS = tuple(f.replace("?", UNCATALOGUED) for f in (
    "?", "?/write", "userAssignedIdentities/?/write", "ManagedIdentity/userAssignedIdentities/?/write",
    "Microsoft.ManagedIdentity/userAssignedIdentities/?/write"))


def _uncatalogued(pattern: str, data: bool, prefix: str = STORAGE_PREFIX,
                  fills: tuple[str, ...] = _WITNESS_FILLS) -> str | None:
    """An operation under ``prefix`` the pattern matches that the catalogue does not list (None if none found).

    The pattern's ``*`` are replaced by a nonsense segment (and by a few longer fills that lead into the
    prefix); a witness under the prefix that is not a control-plane read and not catalogued means the pattern
    also grants operations flaudit has not classified.
    """
    p = pattern.strip()
    known = catalogue()
    for fill in (fills if "*" in p else ("",)):
        w = p.replace("*", fill)
        low = w.lower()
        if not low.startswith(prefix) or low in known:
            continue
        if not data and low.endswith("/read"):
            continue
        if _regex(p).fullmatch(w):
            return w
    return None


RoleKinds = dict[str, list[tuple[str, str]]]


def classify(allows: Any, actions: tuple[str, ...], data_actions: tuple[str, ...]
             ) -> tuple[RoleKinds, RoleKinds, RoleKinds]:
    """(storage kinds, identity kinds, untrimmed storage kinds) a role grants: kind -> [(operation or witness,
    granting pattern)].

    ``allows(action, data=bool)`` is the role's own matcher (actions minus notActions). Control-plane kinds keep
    at most :data:`EVIDENCE_PER_KIND` operations, ungated first, so a kind is live on an account whenever its
    first grant is.
    """
    storage: dict[str, list[tuple[str, str, bool]]] = {}
    identity: dict[str, list[tuple[str, str, bool]]] = {}
    control = any(_could_touch(a) for a in actions)
    plane = any(_could_touch(a) for a in data_actions)
    if not control and not plane:
        return {}, {}, {}
    for key, op in catalogue().items():
        if op.kind is None or (op.data and not plane) or (not op.data and not control):
            continue
        m = allows(op.name, data=op.data)
        if not m:
            continue
        gated = op.gate is not None
        if op.kind == "role-admin":
            storage.setdefault("role-admin", []).append((op.name, m, gated))
            identity.setdefault("role-admin", []).append((op.name, m, gated))
        elif key.startswith(IDENTITY_PREFIX):
            identity.setdefault(op.kind, []).append((op.name, m, gated))
        else:
            storage.setdefault(op.kind, []).append((op.name, m, gated))
    for pats, is_data in ((actions, False), (data_actions, True)):
        for p in pats:
            w = _uncatalogued(p, is_data)
            if w and allows(w, data=is_data):
                storage.setdefault("data" if is_data else "mgmt-write", []).append((w, p, False))
    for p in actions:  # the same for identity operations the catalogue does not list
        w = _uncatalogued(p, False, IDENTITY_PREFIX, _IDENTITY_FILLS)
        if w and allows(w, data=False):
            identity.setdefault("identity-takeover", []).append((w, p, False))
    for hits in (*storage.values(), *identity.values()):
        hits.sort(key=lambda h: h[2])  # ungated first (stable: catalogue order within)
    full = {k: [(a, p) for a, p, _ in hits] for k, hits in storage.items()}
    # identity kinds are few operations (at most five): kept whole, so a deny assignment is checked against each
    return _trim(full), {k: [(a, p) for a, p, _ in hits] for k, hits in identity.items()}, full


def _trim(kinds: RoleKinds) -> RoleKinds:
    return {k: hits if k == "data" else hits[:EVIDENCE_PER_KIND] for k, hits in kinds.items()}


def inert_reason(action: str, account_raw: dict[str, Any]) -> str | None:
    """Why ``action`` does nothing on this account (its ``inert_when`` setting holds), or None when it is live.

    A missing property is read as Azure's default only where that default is the safe reading: missing
    ``allowSharedKeyAccess`` / ``allowBlobPublicAccess`` are live (fail closed), missing ``isHnsEnabled`` is a
    flat namespace (false, Azure's default).
    """
    gate = _GATES.get(action, _UNSEEN) if _GATES else _UNSEEN
    if gate is _UNSEEN:
        gate = _gate(action)
    if gate is None:
        return None
    prop, values, why = gate
    return why if get_path(account_raw, prop) in values else None


_UNSEEN = object()
#: Each catalogued operation's gate by its name as the catalogue spells it (how role classification names the
#: actions of every grant), filled on the first :func:`_gate`; any other spelling goes through :func:`_gate`.
_GATES: dict[str, Any] = {}


@per_string
def _gate(action: str) -> tuple[str, tuple[Any, ...], str] | None:
    """The catalogue's ``inert_when`` of an operation (None when it has none or is not catalogued), looked up once
    per action string: every grant of every access split into live and inert asks."""
    if not _GATES:
        _GATES.update((o.name, o.gate) for o in catalogue().values())
    op = catalogue().get(action.lower())
    return None if op is None else op.gate
