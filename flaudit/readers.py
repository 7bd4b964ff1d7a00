"""Reading user files (JSON, YAML) with one-line errors that name the file and what is wrong, and reading the
fields of ARM resources that tools spell differently into one shape.

Every command reads its inputs through here, so a missing file, a directory, a binary file, bad JSON or bad
YAML gives the same kind of message (exit 2) wherever it is passed; and every source reads flags and
user-assigned identities through :func:`as_flag` and :func:`user_assigned_identities`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from flaudit.errors import InputError


def _name(path: str | Path) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def read_bytes(path: str | Path, what: str = "file") -> bytes:
    """The bytes of ``path`` (``-`` is standard input)."""
    name = _name(path)
    try:
        if str(path) == "-":
            stream = getattr(sys.stdin, "buffer", None)  # a text-only stdin (tests, embedding) has no buffer
            return stream.read() if stream is not None else sys.stdin.read().encode("utf-8")
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a {what}") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None


def read_text(path: str | Path, what: str = "file") -> str:
    """UTF-8 text of ``path`` (a byte-order mark is dropped)."""
    try:
        return read_bytes(path, what).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{_name(path)}: not a UTF-8 text file (expected a {what})") from None


def parse_json(text: str, origin: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{origin}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def load_json(path: str | Path, what: str = "JSON file") -> Any:
    return parse_json(read_text(path, what), _name(path))


def parse_yaml(text: str | bytes, origin: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"{origin}: not valid YAML{f' at line {mark.line + 1}' if mark else ''}") from None


def load_yaml(path: str | Path, what: str = "YAML file") -> Any:
    return parse_yaml(read_text(path, what), _name(path))


# -- resource payloads ----------------------------------------------------------------------------------------
# The same field comes in different shapes from REST, the SDKs' as_dict(), `az` and Resource Graph. They are
# made one shape here, once, so no rule guesses: a rule reads `True`/`False`/None for a flag and a dict for
# userAssignedIdentities whatever produced the payload.

_TRUE, _FALSE = "true", "false"
#: Property names whose value is a boolean flag in every Azure schema flaudit reads (enableNodePublicIp,
#: allowSharedKeyAccess, isHnsEnabled, supportsHttpsTrafficOnly, disableLocalAuth, hbiWorkspace...).
_FLAG_NAME = re.compile(r"^(is|enable|disable|allow|supports|require|use|hbi)[A-Z0-9_]|Enabled$|^hbiWorkspace$")
_FLAG_DEPTH = 4  # properties.x.y.z: deep enough for properties.properties.enableNodePublicIp


def as_flag(value: Any) -> Any:
    """A boolean flag as a bool: ``True``/``False``, or the strings ``"true"``/``"false"`` in any case (some
    exports and templates stringify them). ``None`` stays ``None`` (absent: the rule's documented default
    applies); anything else is returned unchanged so a rule sees it is not a boolean (and reports unknown)."""
    if isinstance(value, str):
        low = value.strip().lower()
        if low == _TRUE:
            return True
        if low == _FALSE:
            return False
    return value


def _has_string_flag(obj: Any, depth: int) -> bool:
    if depth > _FLAG_DEPTH or not isinstance(obj, dict):
        return False
    for k, v in obj.items():
        if isinstance(v, str):
            if (v == "true" or v == "false" or v.strip().lower() in (_TRUE, _FALSE)) and isinstance(k, str) \
                    and _FLAG_NAME.search(k):
                return True
        elif isinstance(v, dict) and _has_string_flag(v, depth + 1):
            return True
    return False


def _flags(obj: Any, depth: int, changed: list[int]) -> Any:
    if depth > _FLAG_DEPTH or not isinstance(obj, dict):
        return obj
    out = {}
    for k, v in obj.items():
        if isinstance(v, str) and isinstance(k, str) and _FLAG_NAME.search(k) and as_flag(v) is not v:
            out[k] = as_flag(v)
            changed[0] += 1
        elif isinstance(v, dict):
            out[k] = _flags(v, depth + 1, changed)
        else:
            out[k] = v
    return out


def user_assigned_identities(identity: Any) -> dict[str, dict[str, Any]]:
    """``identity.userAssignedIdentities`` as ARM's map of identity id -> ``{principalId, clientId}``.

    Accepted shapes: the REST/Resource Graph map (values may be null), a list of ids, or a list of objects
    carrying the id as ``id``/``resourceId``/``resource_id`` (the Azure ML SDK v2 and ``az ml`` shape, with
    ``principal_id``/``client_id``); the snake-case key ``user_assigned_identities`` too. Anything else gives
    an empty map: no identity is credited to a compute from a payload flaudit cannot read.
    """
    if not isinstance(identity, dict):
        return {}
    raw = identity.get("userAssignedIdentities")
    if raw is None:
        raw = identity.get("user_assigned_identities")
    out: dict[str, dict[str, Any]] = {}
    if isinstance(raw, dict):
        for k, v in raw.items():
            if isinstance(k, str) and k:
                out[k] = _identity_value(v)
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, str) and item:
                out[item] = {}
            elif isinstance(item, dict):
                rid = next((item[k] for k in ("id", "resourceId", "resource_id") if isinstance(item.get(k), str)),
                           None)
                if rid:
                    out[rid] = _identity_value(item)
    return out


def _identity_value(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        return {}
    out = {}
    for camel, snake in (("principalId", "principal_id"), ("clientId", "client_id")):
        val = v.get(camel) if v.get(camel) is not None else v.get(snake)
        if val is not None:
            out[camel] = val
    return out


def identity_type(identity: Any) -> str:
    """``identity.type`` reduced to its words, lower case, no separators: ``SystemAssigned, UserAssigned``,
    ``system_assigned,user_assigned`` and ``SystemAssigned,UserAssigned`` all give
    ``systemassigned,userassigned``."""
    if not isinstance(identity, dict):
        return ""
    return re.sub(r"[\s_]", "", str(identity.get("type") or "")).lower()


def normalise_resource(resource: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """One resource as read from a file, with its fields in the one shape rules read; and notes (``{n}`` for
    the count) saying what was changed. The input dict is not modified."""
    notes: list[str] = []
    out = resource
    props = resource.get("properties")
    if isinstance(props, dict) and _has_string_flag(props, 1):  # copy only what changes
        changed = [0]
        fixed = _flags(props, 1, changed)
        if changed[0]:
            out = {**out, "properties": fixed}
            notes.append("{n} flag value(s) given as the strings \"true\"/\"false\" read as booleans")
    ident = resource.get("identity")
    if isinstance(ident, dict) and ("user_assigned_identities" in ident
                                    or isinstance(ident.get("userAssignedIdentities"), list)):
        fixed_ident = {k: v for k, v in ident.items() if k != "user_assigned_identities"}
        fixed_ident["userAssignedIdentities"] = user_assigned_identities(ident)
        out = {**out, "identity": fixed_ident}
        notes.append("{n} identity.userAssignedIdentities given as a list (or snake case) read as ARM's map")
    return out, notes
