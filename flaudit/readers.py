"""Reading user files (JSON, YAML) with one-line errors that name the file and what is wrong, and reading the
fields of ARM resources that tools spell differently into one shape.

Every command reads its inputs through here, so a missing file, a directory, a binary file, bad JSON or bad
YAML gives the same kind of message (exit 2) wherever it is passed; and every source reads flags and
user-assigned identities through :func:`as_flag` and :func:`user_assigned_identities`.

Speed: JSON is parsed by msgspec straight from the file's bytes (no decoded copy of a 200 MB input is held beside
it, and no intermediate document either), YAML from libyaml's events when PyYAML was built with libyaml (see
:func:`_fast_yaml`; the pure-Python loader is 20-30x slower on a 1,000-silo FL config). Both read the same
documents as the standard parsers: anything msgspec refuses (NaN, Infinity, lone surrogates, bad JSON) is read
again by :mod:`json`, anything beyond plain YAML mappings, sequences and scalars by PyYAML's safe loader, so what is
accepted and the error message for what is not are the standard libraries'.

:func:`load_json_items` goes further for files of ARM resources: the big array of a document stays a list of raw
JSON texts (:class:`RawItems`) until each item is looked at, so resources of types flaudit ignores are never
turned into Python objects (a 200 MB subscription export peaks at about twice its size instead of six times).
"""

from __future__ import annotations

import codecs
import gc
import json
import re
import sys
from pathlib import Path
from typing import Any

from flaudit.errors import InputError

_BOM = b"\xef\xbb\xbf"


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
    return _decode(read_bytes(path, what), _name(path), what)


def _decode(data: bytes | memoryview, origin: str, what: str) -> str:
    try:
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{origin}: not a UTF-8 text file (expected a {what})") from None


class _NotFast(Exception):
    """msgspec refused the text: the standard library decides."""


#: One msgspec decoder per target type (a decoder is reused across calls: the lazy reader makes two per item).
_DECODERS: dict[Any, Any] = {}
_DECODE_ERRORS: tuple[type[BaseException], ...] = (UnicodeError,)


def _fast(data: str | bytes | memoryview, type: Any = Any) -> Any:  # noqa: A002 - msgspec's own name
    global _DECODE_ERRORS
    decoder = _DECODERS.get(type)
    if decoder is None:
        import msgspec

        decoder = _DECODERS[type] = msgspec.json.Decoder(type)
        _DECODE_ERRORS = (msgspec.DecodeError, UnicodeError)
    # Parsing makes millions of containers and no cycles: keep the cyclic collector from re-walking them all
    # as they are made (it was half the parse time of a 100 MB input). An audit already keeps it off.
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        return decoder.decode(data)
    except _DECODE_ERRORS as exc:
        raise _NotFast from exc
    finally:
        if collecting:
            gc.enable()


def _strip_bom(text: str | bytes | memoryview) -> str | bytes | memoryview:
    if isinstance(text, bytes | memoryview) and bytes(text[:3]) == _BOM:
        return memoryview(text)[3:]
    if isinstance(text, str) and text.startswith("\ufeff"):
        return text[1:]
    return text


def parse_json(text: str | bytes | memoryview, origin: str, what: str = "JSON file") -> Any:
    """The JSON document in ``text`` (str, or UTF-8 bytes with or without a byte-order mark)."""
    text = _strip_bom(text)
    try:
        return _fast(text)
    except _NotFast:
        pass  # not plain JSON to msgspec: the standard parser decides, with its own message
    if not isinstance(text, str):
        text = _decode(text, origin, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{origin}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def load_json(path: str | Path, what: str = "JSON file") -> Any:
    return parse_json(read_bytes(path, what), _name(path), what)


class RawItems(list):
    """A JSON array whose items are still raw JSON text (``msgspec.Raw``): :meth:`id_type` reads an item's ``id``
    and ``type`` without building the rest, :meth:`decode` builds it whole."""

    def id_type(self, i: int) -> tuple[Any, Any]:
        """``(id, type)`` of item ``i``, each :data:`ABSENT` when the item has no such key or is not an object."""
        try:
            head = _fast(self[i], _head_type())
        except _NotFast:
            return ABSENT, ABSENT
        return head.id, head.type

    def decode(self, i: int, origin: str) -> Any:
        try:
            return _fast(self[i])
        except _NotFast:
            return parse_json(bytes(memoryview(self[i])), f"{origin} item {i}")


#: A key an item does not have (distinct from a JSON null).
ABSENT = type("_Absent", (), {"__repr__": lambda self: "<absent>"})()
_HEAD: Any = None


def _head_type() -> type:
    global _HEAD
    if _HEAD is None:
        import msgspec

        # Other keys are skipped by the parser without being built; absent keys stay distinguishable from null.
        _HEAD = msgspec.defstruct("Head", [("id", Any, ABSENT), ("type", Any, ABSENT)])
    return _HEAD


#: Top-level keys whose array holds the resources: {"value": [...]}, {"data": [...]}, a snapshot's "resources".
ITEM_KEYS = ("resources", "value", "data")


def load_json_items(path: str | Path, what: str = "JSON file") -> Any:
    """Like :func:`load_json`, but a top-level array, or the array under a top-level ``resources``, ``value`` or
    ``data`` key, is returned as :class:`RawItems`. Any document msgspec refuses is read whole by
    :func:`load_json`'s rules (so errors and accepted input are the same)."""
    data = _strip_bom(read_bytes(path, what))
    if not _utf8(data):  # msgspec does not check the text of what it keeps raw; the standard reader says why
        return parse_json(data, _name(path), what)
    try:
        # One pass over the text: a top-level object's arrays come back as lists of raw items, the rest built.
        top = _fast(data, _top_type())  # anything else: read whole below
        if isinstance(top, list):
            return RawItems(top)
        if isinstance(top, dict):
            return {k: (RawItems(v) if k in ITEM_KEYS else [_fast(x) for x in v]) if isinstance(v, list) else v
                    for k, v in top.items()}
        return top
    except _NotFast:
        return parse_json(data, _name(path), what)


_TOP: Any = None


def _top_type() -> Any:
    """A document whose top is an array of raw items, or an object whose array members are arrays of raw items
    and whose other members are built (each JSON type has its one Python type, as when decoded untyped)."""
    global _TOP
    if _TOP is None:
        import msgspec

        _TOP = list[msgspec.Raw] | dict[str, list[msgspec.Raw] | dict[str, Any] | str | int | float | bool | None]
    return _TOP


def _utf8(data: bytes | memoryview) -> bool:
    """Whether ``data`` is valid UTF-8, checked a megabyte at a time (no decoded copy of a 200 MB file)."""
    if isinstance(data, bytes) and data.isascii():
        return True
    view = memoryview(data)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, view.nbytes, 1 << 20):
            decoder.decode(view[start:start + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def yaml_loader() -> type:
    """libyaml's safe loader when PyYAML has it, else the pure-Python one (same documents, slower)."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str | bytes, origin: str) -> Any:
    """The YAML document in ``text``, as ``yaml.load(text, Loader=CSafeLoader)`` reads it (see :func:`_fast_yaml`)."""
    import yaml

    try:
        return _fast_yaml(text)
    except _NotFast:
        pass  # anything beyond plain mappings, sequences and scalars: the safe loader reads it, or says why not
    try:
        return yaml.load(text, Loader=yaml_loader())  # noqa: S506 - a safe loader, C or Python
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"{origin}: not valid YAML{f' at line {mark.line + 1}' if mark else ''}") from None


_STR_TAG = "tag:yaml.org,2002:str"
#: Tags a plain scalar may resolve to that :func:`_fast_yaml` builds with the safe loader's own constructors.
_SCALAR_TAGS = frozenset({"tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                          "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"})


def _fast_yaml(text: str | bytes) -> Any:
    """The document in ``text`` built straight from libyaml's events, the same value the safe loader builds, for a
    document of mappings, sequences and scalars; :class:`_NotFast` for anything else (anchors and aliases, explicit
    tags, merge keys, complex keys, several documents, a syntax error) and when PyYAML has no libyaml.

    Why: the safe loader composes a node graph in Python and then walks it to build the values; at 1,000 silos
    (24,000 scalars) that is three quarters of reading the FL config. Here each plain scalar is resolved by the
    loader's own implicit resolvers (looked up by first character, as :meth:`yaml.resolver.BaseResolver.resolve`
    does), most of them to a string at once; the few that resolve to another type (null, bool, int, float,
    timestamp) are built by the safe loader's own constructors. tests/test_jsonout.py compares both readers."""
    import yaml

    try:
        from yaml import _yaml  # libyaml's parser
    except ImportError:
        raise _NotFast from None
    from yaml import events
    from yaml.nodes import ScalarNode

    resolvers = yaml.SafeLoader.yaml_implicit_resolvers
    wildcard = resolvers.get(None, [])
    constructors = yaml.SafeLoader.yaml_constructors
    constructor: Any = None
    parser = _yaml.CParser(text)
    stack: list[Any] = []  # open containers; a mapping is [dict, pending key or ABSENT]
    root: Any = ABSENT
    documents = 0
    try:
        while True:
            event = parser.get_event()
            kind = type(event)
            if kind is events.ScalarEvent:
                if event.anchor is not None or event.tag not in (None, "!"):
                    raise _NotFast
                value: Any = event.value
                if event.implicit[0]:
                    tag = _STR_TAG
                    for rtag, regexp in resolvers.get(value[0] if value else "", []) + wildcard:
                        if regexp.match(value):
                            tag = rtag
                            break
                    if tag != _STR_TAG:
                        if tag not in _SCALAR_TAGS:
                            raise _NotFast  # merge keys ("<<"), value keys ("="), "!"/"&"/"*" as plain scalars
                        if constructor is None:
                            constructor = yaml.SafeLoader("")
                        value = constructors[tag](constructor, ScalarNode(tag, value))
            elif kind is events.MappingStartEvent or kind is events.SequenceStartEvent:
                if event.anchor is not None or event.tag not in (None, "!"):
                    raise _NotFast
                if stack and stack[-1][0].__class__ is dict and stack[-1][1] is ABSENT:
                    raise _NotFast  # a mapping or sequence as a key: the safe loader refuses it, with its message
                stack.append([{}, ABSENT] if kind is events.MappingStartEvent else [[], None])
                continue
            elif kind is events.MappingEndEvent or kind is events.SequenceEndEvent:
                value = stack.pop()[0]
            elif kind is events.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _NotFast  # several documents: the safe loader says so
                continue
            elif kind is events.StreamEndEvent:
                break
            elif kind is events.AliasEvent:
                raise _NotFast
            else:  # stream start, document end
                continue
            if not stack:
                root = value
                continue
            top = stack[-1]
            if top[0].__class__ is list:
                top[0].append(value)
            elif top[1] is ABSENT:
                try:
                    hash(value)
                except TypeError:
                    raise _NotFast from None
                top[1] = value
            else:
                top[0][top[1]] = value
                top[1] = ABSENT
    except yaml.YAMLError:
        raise _NotFast from None
    return None if root is ABSENT else root


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
