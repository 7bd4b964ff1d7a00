"""What-if source: ``flaudit scan --what-if whatif.json [--input snapshot.json]``.

``az deployment group what-if --no-pretty-print`` (also ``--result-format FullResourcePayloads``) prints
the resources a deployment would leave behind, fully resolved by ARM itself: ``changes[].after`` is the
resource as it will be. This source adds those ``after`` payloads to the inventory and removes the
resources a ``Delete`` change names, so a live snapshot loaded with ``--input`` (which runs first) becomes
the deployment as it will look. Changes what-if cannot predict (``changeType: Unsupported``) are listed in
``inventory.unsupported``, as the template source does for constructs it cannot evaluate.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

from flaudit.errors import InputError
from flaudit.inventory import Inventory, SourceInfo

#: Change types whose ``after`` is the resource as it will exist.
AFTER_TYPES = {"create", "modify", "deploy", "nochange", "ignore"}
KNOWN_TYPES = AFTER_TYPES | {"delete", "unsupported"}


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--what-if", dest="what_if", metavar="FILE",
                       help="output of 'az deployment group what-if --no-pretty-print': audit the deployment "
                       "as it will be (Delete changes remove resources loaded with --input)")


def wanted(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "what_if", None))


def load(args: argparse.Namespace, inventory: Inventory) -> None:
    apply_what_if(inventory, Path(args.what_if))


def _changes(doc: Any, origin: str) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        raise InputError(f"{origin}: not a what-if result (expected an object with 'changes')")
    status = str(doc.get("status") or "").lower()
    error = doc.get("error")
    if status == "failed" or (isinstance(error, dict) and error):
        message = (error or {}).get("message") if isinstance(error, dict) else None
        raise InputError(f"{origin}: the what-if operation failed: {message or 'no message'}")
    changes = doc.get("changes")
    if changes is None and isinstance(doc.get("properties"), dict):  # REST response shape
        changes = doc["properties"].get("changes")
    if not isinstance(changes, list):
        raise InputError(f"{origin}: not a what-if result (no 'changes' array; produce it with "
                         "'az deployment group what-if --no-pretty-print')")
    for i, change in enumerate(changes):
        if not isinstance(change, dict):
            raise InputError(f"{origin}: changes[{i}] is not an object")
        ctype = str(change.get("changeType") or "").lower()
        if ctype not in KNOWN_TYPES:
            raise InputError(f"{origin}: changes[{i}] has changeType {change.get('changeType')!r} "
                             f"(expected one of Create, Modify, Deploy, NoChange, Ignore, Delete, Unsupported)")
        rid = change.get("resourceId")
        if not isinstance(rid, str) or not rid.startswith("/"):
            raise InputError(f"{origin}: changes[{i}] has no ARM resourceId")
        after = change.get("after")
        if after is not None and not isinstance(after, dict):
            raise InputError(f"{origin}: changes[{i}].after is not an object")
    return changes


def apply_what_if(inventory: Inventory, path: Path) -> None:
    from flaudit.sources.files import read_json

    doc = read_json(path)
    origin = str(path)
    changes = _changes(doc, origin)
    counts: Counter = Counter()
    added = 0
    for i, change in enumerate(changes):
        ctype = str(change["changeType"]).lower()
        rid = change["resourceId"]
        counts[ctype] += 1
        if ctype == "delete":
            inventory.remove(rid)
            continue
        if ctype == "unsupported":
            reason = change.get("unsupportedReason") or "what-if cannot predict this change"
            inventory.unsupported.append({"resource_id": rid,
                                          "message": f"{origin} changes[{i}]: {reason}"})
            continue
        after = change.get("after")
        if after is None:
            continue  # Ignore without a payload: the resource is untouched by this deployment
        resource = dict(after)
        resource.setdefault("id", rid)
        if not isinstance(resource.get("type"), str):
            raise InputError(f"{origin}: changes[{i}].after has no 'type'")
        inventory.remove(rid)
        added += bool(inventory.add(resource))
    detail = {name: counts[name] for name in ("create", "modify", "deploy", "nochange", "ignore", "delete",
                                              "unsupported") if counts[name]}
    inventory.sources.append(SourceInfo("what-if", origin, added, {"changes": detail}))
