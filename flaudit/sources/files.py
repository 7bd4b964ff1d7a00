"""ARM-native files: resource arrays, ARM list responses, Resource Graph results and flaudit snapshots.

Nothing here invents a schema: each shape is what an Azure tool already prints
(``az resource show``/REST, ``{"value": [...]}`` list responses, ``az graph query`` output ``{"data": [...]}``)
plus flaudit's own snapshot, which is ARM resources verbatim with collection metadata around them.

Items are checked here, at the boundary, with messages that name the item and its defect: what Azure leaves
unambiguous is read (an untyped child resource, an id spelt without its leading slash) and noted in
``input.notes``; what is not (an id that is not an ARM id, conflicting copies) is an input error. Every item then
goes through :func:`flaudit.readers.normalise_resource`, so rules see one shape whatever tool printed it.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flaudit.arm import is_resource_id, type_from_id
from flaudit.errors import InputError, stage
from flaudit.inventory import Inventory, SourceInfo, Unreadable
from flaudit.readers import RawItems, load_json, load_json_items, normalise_resource
from flaudit.redact import may_hold_secret, redact

SNAPSHOT_KIND = "flaudit.snapshot"
SNAPSHOT_VERSION = 1


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--input", "-i", action="append", default=[], metavar="PATH",
        help="ARM resources as JSON (array, {value:[...]}, az graph query output, or a flaudit snapshot); "
        "a directory reads every *.json below it; - reads standard input. Repeatable.",
    )
    group.add_argument("paths", nargs="*", metavar="PATH",
                       help="the same as --input PATH (so `flaudit scan a.json b.json` and pre-commit work)")


def _paths(args: argparse.Namespace) -> list[str]:
    return [*(getattr(args, "input", None) or []), *(getattr(args, "paths", None) or [])]


def wanted(args: argparse.Namespace) -> bool:
    return bool(_paths(args))


def load(args: argparse.Namespace, inventory: Inventory) -> None:
    """Read every input; ``-`` is standard input (like ``flaudit report -``), at most once.

    Each resource remembers the file it was read from (``inventory.locations``), so a SARIF result or an HTML
    finding names the real input file even when several were given.
    """
    paths = _paths(args)
    if paths.count("-") > 1:
        raise InputError("--input -: standard input can be read only once")
    for raw in paths:
        for path in ([Path("-")] if raw == "-" else expand(Path(raw))):
            with stage(f"source flaudit.sources.files reading {path}"):
                part = parse_document(load_json("-", "JSON file of ARM resources"), "<stdin>") if raw == "-" \
                    else read_file(path)
                if raw != "-":
                    for rid in part.resources:
                        part.locations.setdefault(rid, {"file": str(path)})
            for rid, res in part.resources.items():
                known = inventory.resources.get(rid)
                if known is not None and _state(known) != _state(res):
                    raise InputError(f"{path}: resource {res.get('id')} is also in an earlier input with different "
                                     "properties; give one state of each resource (which one holds is unknown)")
            for pid, obj in part.directory.items():
                known = inventory.directory.get(pid)
                if known is not None and known != obj:
                    raise InputError(f"{path}: directory object {pid} is also in an earlier input with different "
                                     "properties; give one state of each principal (which one holds is unknown)")
            inventory.merge(part)


def _state(resource: dict[str, Any]) -> tuple[Any, Any]:
    """What a rule reads of a resource: two copies of one id that differ here contradict each other (an old
    and a new export, say), and keeping whichever came last could keep the one that passes. Top-level
    metadata that tools add or drop (etag, Resource Graph's tenantId, resourceGroup...) is ignored."""
    return resource.get("properties"), resource.get("identity")


def expand(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if p.is_file())
        if not files:
            raise InputError(f"{path}: directory holds no *.json files")
        return files
    if not path.exists():
        raise InputError(f"{path}: no such file")
    return [path]


def read_json(path: Path) -> Any:
    return load_json(path, "JSON file of ARM resources")


def read_file(path: Path) -> Inventory:
    # (An audit keeps the cyclic garbage collector off while it reads: flaudit.audit.long_lived.)
    return parse_document(load_json_items(path, "JSON file of ARM resources"), str(path))


def parse_document(doc: Any, origin: str) -> Inventory:
    """One parsed JSON document -> inventory; raises :class:`InputError` naming ``origin`` when unusable."""
    inv = Inventory()
    if isinstance(doc, dict) and doc.get("kind") == SNAPSHOT_KIND:
        return parse_snapshot(doc, origin)
    if isinstance(doc, list):
        kind, items = "file", doc
    elif isinstance(doc, dict) and isinstance(doc.get("value"), list):
        kind, items = "file", doc["value"]
    elif isinstance(doc, dict) and isinstance(doc.get("data"), list):
        kind, items = "resource-graph", doc["data"]
    elif isinstance(doc, dict) and isinstance(doc.get("data"), dict) and isinstance(doc["data"].get("rows"), list):
        raise InputError(f"{origin}: Resource Graph table format is not supported; query with --output json "
                         "(objectArray result format)")
    elif isinstance(doc, dict) and "$schema" in doc and "resources" in doc:
        raise InputError(f"{origin}: this is an ARM template, not deployed resources; use --template")
    elif isinstance(doc, dict) and "id" in doc:
        kind, items = "file", [doc]  # one resource as `az resource show` or a REST GET prints it
    else:
        top = type(doc).__name__ if not isinstance(doc, dict) else _describe_object(doc)
        raise InputError(f"{origin}: not ARM resources (expected an array, {{\"value\": [...]}}, "
                         f"{{\"data\": [...]}}, one resource with an 'id', or a flaudit snapshot; got {top})")
    _add_items(inv, items, origin, single=len(items) == 1 and items[0] is doc)
    inv.sources.append(SourceInfo(kind, origin, len(inv.resources)))
    return inv


def _describe_object(doc: dict[str, Any]) -> str:
    """What an unusable top-level object holds, so the message says what is wrong rather than what is not."""
    for key in ("value", "data"):
        if key in doc:
            return f"an object whose {key!r} is {type(doc[key]).__name__}, not an array"
    keys = ", ".join(sorted(map(str, doc))[:6])
    return f"an object without 'value', 'data' or 'id' (keys: {keys})" if keys else "an empty object"


def _item_problem(item: Any, i: int, single: bool) -> str | None:
    """Why ``item`` is not an ARM resource flaudit can place, in words that name the defect; None when it is.

    Tolerated (Azure is unambiguous there): no ``type`` when the id names one (ARM omits it on child
    resources), an id without its leading slash or with doubled/trailing slashes. Refused: no id, an id that
    is not an ARM id (nothing could match it), a ``type`` that is not a string.
    """
    what = "the resource" if single else f"item {i}"
    if not isinstance(item, dict):
        return f"{what} is a {type(item).__name__}, not an ARM resource object"
    rid, rtype = item.get("id"), item.get("type")
    if rid is None:
        return f"{what} is not an ARM resource: it has no 'id'" + (f" (type {rtype})" if isinstance(rtype, str)
                                                                     else "")
    if not isinstance(rid, str):
        return f"{what} has an 'id' that is a {type(rid).__name__}, not a string"
    if rtype is not None and not isinstance(rtype, str):
        return f"{what} ({rid}) has a 'type' that is a {type(rtype).__name__}, not a string"
    if not rtype and not type_from_id(rid):
        return f"{what} has 'id' but no 'type', and its id {rid!r} names no resource type"
    if not is_resource_id(rid):
        return (f"{what} has id {rid!r}, which is not an ARM resource id (expected /subscriptions/.../providers/"
                "<namespace>/<type>/<name>)")
    return None


def _add_items(inv: Inventory, items: list[Any], origin: str, single: bool = False) -> None:
    for i, item, clean in _items(inv, items, origin):
        problem = _item_problem(item, i, single)
        if problem:
            raise InputError(f"{origin}: {problem}")
        item, changes = normalise_resource(item)
        for change in changes:
            inv.notes[change] += 1
        known = inv.get(item["id"])
        if inv.add(item, redacted=clean) and known is not None and _state(known) != _state(inv.get(item["id"]) or {}):
            raise InputError(f"{origin}: item {i} ({item['id']}) repeats an earlier item's id with different "
                             "properties; give one state of each resource")


#: Raw items decoded and checked for secret-shaped content together (one serialisation and search per batch).
_BATCH = 512


def _items(inv: Inventory, items: list[Any], origin: str) -> Iterator[tuple[int, Any, bool]]:
    """(index, item, clean) for each item to add, in order; ``clean`` when it holds nothing to redact.

    Raw items (see :class:`flaudit.readers.RawItems`) of a type flaudit ignores are counted from their id and
    type alone and never built: most of a subscription export. Whether Inventory.add keeps a resource with a
    non-empty type string depends on that string, and on whether its body attaches a user-assigned identity: the
    type is asked once per type string with a stub holding the item's id and type, the body's text is searched
    for an identity block; an item it may keep, or one that is not a valid resource, is built whole and added as
    any other."""
    if not isinstance(items, RawItems):
        for i, item in enumerate(items):
            yield i, item, False
        return
    ignored_as: dict[str, str | None] = {}  # type string -> ignored_types key, or None when Inventory.add keeps it
    batch: list[tuple[int, Any]] = []
    ignored_types, ignored = inv.ignored_types, inv.ignored
    for i in range(len(items)):
        rid, rtype = items.id_type(i)
        if isinstance(rtype, str) and rtype and isinstance(rid, str) and rid.startswith("/"):
            key = ignored_as.get(rtype, ignored_as)  # (the dict itself: not asked yet)
            if key is ignored_as:
                probe = Inventory()
                key = ignored_as[rtype] = None if probe.add({"id": rid, "type": rtype}) \
                    else next(iter(probe.ignored_types))
            # A body that may attach a user-assigned identity is built whole: Inventory.add keeps such a
            # resource of any type (identity takeover). The raw text is searched, not parsed.
            if key is not None and not _may_bear_identity(items[i]):
                ignored_types[key] += 1
                ignored[rid.strip().rstrip("/")] = key
                continue
        batch.append((i, items.decode(i, origin)))
        if len(batch) == _BATCH:
            yield from _checked(batch)
            batch = []
    yield from _checked(batch)


def _may_bear_identity(raw: Any) -> bool:
    """Whether a raw JSON item may carry an identity block or an AKS identity profile (a superset test on its
    text in any casing; :func:`flaudit.identities.bears_identity` decides on the built item): the lower-cased text
    holds ``userassignedidentities`` or ``identityprofile``, or a ``\\u`` escape, which may spell any letter of
    them (``userAssigned\\u0049dentities``). A lower-cased copy of one item searched for three words is over ten
    times quicker than a case-insensitive regex over it."""
    low = bytes(raw).lower()
    return b"userassignedidentities" in low or b"identityprofile" in low or b"\\u" in low


def _checked(batch: list[tuple[int, Any]]) -> Iterator[tuple[int, Any, bool]]:
    clean = not may_hold_secret([item for _, item in batch])
    for i, item in batch:
        yield i, item, clean


def parse_snapshot(doc: dict[str, Any], origin: str) -> Inventory:
    version = doc.get("snapshot_version")
    if version != SNAPSHOT_VERSION:
        raise InputError(f"{origin}: snapshot_version {version!r} is not supported (this flaudit reads "
                         f"{SNAPSHOT_VERSION})")
    resources = doc.get("resources")
    if not isinstance(resources, list):
        raise InputError(f"{origin}: snapshot has no 'resources' array")
    inv = Inventory()
    _add_items(inv, resources, origin)
    for i, u in enumerate(doc.get("unreadable") or []):
        if not isinstance(u, dict) or "resource_type" not in u:
            raise InputError(f"{origin}: unreadable item {i} needs at least 'resource_type'")
        inv.unreadable.append(Unreadable(str(u.get("scope") or ""), str(u["resource_type"]),
                                         u.get("status"), str(u.get("message") or "")))
    collected = doc.get("collected")
    if collected is not None:
        inv.collected = {(str(c.get("scope", "")).lower(), str(c.get("resource_type", "")).lower())
                         for c in collected if isinstance(c, dict)}
    inv.directory = _directory(doc.get("directory"), origin)
    inv.metadata = {k: doc[k] for k in ("tool", "collected_at", "scope", "provenance") if k in doc}
    inv.sources.append(SourceInfo("snapshot", origin, len(inv.resources),
                                  {"collected_at": doc.get("collected_at")}))
    return inv


def _directory(section: Any, origin: str) -> dict[str, dict[str, Any]]:
    """The snapshot's ``directory``: principal id -> the Microsoft Graph object read for it (absent: none read)."""
    if section is None:
        return {}
    from flaudit.sources.live.directory import printable

    if not isinstance(section, dict):
        raise InputError(f"{origin}: snapshot 'directory' is not an object of principal id -> directory object")
    out: dict[str, dict[str, Any]] = {}
    for pid, obj in section.items():
        if not isinstance(obj, dict) or not isinstance(obj.get("@odata.type"), str):
            raise InputError(f"{origin}: snapshot directory entry {pid!r} is not a directory object with "
                             "'@odata.type'")
        if str(obj.get("id", pid)).lower() != str(pid).lower():
            raise InputError(f"{origin}: snapshot directory entry {pid!r} holds the object of another id "
                             f"({obj.get('id')!r})")
        # as every resource: nothing secret-shaped is kept; and no control character reaches a report
        out[str(pid).lower()] = redact(printable(obj))
    return out


def write_snapshot(inventory: Inventory, path: Path, *, tool: dict[str, Any], collected_at: str,
                   scope: dict[str, Any], provenance: dict[str, str] | None = None) -> None:
    """Write ``inventory`` as a snapshot atomically (temp file + rename: nothing half-written)."""
    doc = snapshot_document(inventory, tool=tool, collected_at=collected_at, scope=scope, provenance=provenance)
    write_json_atomic(path, doc)


def snapshot_document(inventory: Inventory, *, tool: dict[str, Any], collected_at: str,
                      scope: dict[str, Any], provenance: dict[str, str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "kind": SNAPSHOT_KIND,
        "snapshot_version": SNAPSHOT_VERSION,
        "tool": tool,
        "collected_at": collected_at,
        "scope": scope,
        "collected": [{"scope": s, "resource_type": t} for s, t in sorted(inventory.collected or ())],
        "unreadable": [u.to_dict() for u in inventory.unreadable],
        "resources": [inventory.resources[k] for k in sorted(inventory.resources)],
    }
    if inventory.directory:
        doc["directory"] = {k: inventory.directory[k] for k in sorted(inventory.directory)}
    if provenance:
        doc["provenance"] = provenance
    return doc


def write_json_atomic(path: Path, doc: Any) -> None:
    from flaudit.jsonout import dumps_indented
    from flaudit.output import write_text_atomic

    write_text_atomic(path, dumps_indented(doc) + "\n")
