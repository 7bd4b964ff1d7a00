"""The ARM template function library (string, array, object, comparison, logical, numeric, resource ids,
deployment values, lambdas).

Functions receive already evaluated, materialized arguments (plain JSON values; an unknown runtime value is
its ``[symbolic:...]`` string) and the evaluation context ``ctx`` for the few that need the deployment
scope or must apply a lambda. Functions that need the evaluator itself (``parameters``, ``variables``,
``copyIndex``, ``reference``, ``if``, ``lambda``...) live in :mod:`.evaluate`.

Where ARM's behaviour is unusual it is kept: ``indexOf``/``startsWith``/``endsWith`` ignore case,
``contains`` on a string does not, object keys match case-insensitively, ``items`` sorts by key,
``union`` merges nested objects, ``div`` and ``mod`` truncate toward zero like .NET, ``string(true)`` is
``True``. ``guid`` is the name-based UUID v5 ARM computes and ``uniqueString`` ARM's 13-character base32
of its MurmurHash64 variant (both checked against published values in the tests).
"""

from __future__ import annotations

import base64 as _b64
import json
import re
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

from flaudit.sources.template.values import Lambda, Unsupported, is_symbolic

GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")

#: environment() for the public cloud (what `az cloud show -n AzureCloud` and ARM return).
AZURE_CLOUD = {
    "name": "AzureCloud",
    "gallery": "https://gallery.azure.com/",
    "graph": "https://graph.windows.net/",
    "portal": "https://portal.azure.com",
    "graphAudience": "https://graph.windows.net/",
    "activeDirectoryDataLake": "https://datalake.azure.net/",
    "batch": "https://batch.core.windows.net/",
    "media": "https://rest.media.azure.net",
    "sqlManagement": "https://management.core.windows.net:8443/",
    "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/"
                       "quickstart-templates/aliases.json",
    "resourceManager": "https://management.azure.com/",
    "authentication": {
        "loginEndpoint": "https://login.microsoftonline.com/",
        "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
        "tenant": "common",
        "identityProvider": "AAD",
    },
    "suffixes": {
        "acrLoginServer": ".azurecr.io",
        "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
        "azureDatalakeStoreFileSystem": "azuredatalakestore.net",
        "azureFrontDoorEndpointSuffix": "azurefd.net",
        "keyvaultDns": ".vault.azure.net",
        "sqlServerHostname": ".database.windows.net",
        "storage": "core.windows.net",
    },
}


class FunctionError(Unsupported):
    """A function called with arguments ARM would reject (wrong type, out of range)."""


# --- helpers -------------------------------------------------------------------------------------------

def _need(name: str, args: list[Any], lo: int, hi: int | None = None) -> None:
    if len(args) < lo or (hi is not None and len(args) > hi):
        want = f"{lo}" if hi == lo else f"{lo}..{hi if hi is not None else 'n'}"
        raise FunctionError(f"{name}() takes {want} arguments, got {len(args)}")


def to_str(value: Any) -> str:
    """ARM's string conversion: JSON for objects and arrays, ``True``/``False`` for booleans."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise FunctionError(f"{name}(): expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise FunctionError(f"{name}(): expected an integer, got {to_str(value)!r}")


def _str(value: Any, name: str) -> str:
    if isinstance(value, str):
        return value
    raise FunctionError(f"{name}(): expected a string, got {type(value).__name__}")


def _lookup(obj: dict[str, Any], key: str) -> tuple[bool, Any]:
    if key in obj:
        return True, obj[key]
    low = key.lower()
    for k, v in obj.items():
        if k.lower() == low:
            return True, v
    return False, None


def _deep_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        if len(a) != len(b):
            return False
        for k, v in a.items():
            found, w = _lookup(b, k)
            if not found or not _deep_equal(v, w):
                return False
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _runtime_guard(name: str, *values: Any) -> None:
    for v in values:
        if is_symbolic(v):
            raise Unsupported(f"{name}() compares a value known only after deployment ({v})")


# --- string -------------------------------------------------------------------------------------------

_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}")


def _format_one(value: Any, spec: str | None) -> str:
    if spec and isinstance(value, (int, float)) and not isinstance(value, bool):
        kind, digits = spec[0].upper(), spec[1:]
        n = int(digits) if digits.isdigit() else None
        if kind == "D":
            text = str(abs(int(value))).zfill(n or 0)
            return ("-" if value < 0 else "") + text
        if kind == "N":
            return f"{value:,.{2 if n is None else n}f}"
        if kind == "F":
            return f"{value:.{2 if n is None else n}f}"
        if kind == "X":
            text = format(int(value), "x" if spec[0] == "x" else "X")
            return text.zfill(n or 0)
        if kind == "P":
            return f"{value * 100:.{2 if n is None else n}f} %"
        raise FunctionError(f"format(): unsupported format specifier {spec!r}")
    return to_str(value)


def fn_format(ctx: Any, args: list[Any]) -> str:
    _need("format", args, 1)
    fmt = _str(args[0], "format")
    values = args[1:]

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        idx = int(m.group(1))
        if idx >= len(values):
            raise FunctionError(f"format(): index {idx} out of range for {len(values)} arguments")
        text = _format_one(values[idx], m.group(3))
        if m.group(2):
            width = int(m.group(2))
            text = text.ljust(-width) if width < 0 else text.rjust(width)
        return text

    return _FORMAT_ITEM.sub(sub, fmt)


def fn_concat(ctx: Any, args: list[Any]) -> Any:
    if args and isinstance(args[0], list):
        out: list[Any] = []
        for a in args:
            if a is None:
                continue
            if not isinstance(a, list):
                raise FunctionError("concat(): mixes arrays and other values")
            out.extend(a)
        return out
    return "".join(to_str(a) for a in args)


def fn_contains(ctx: Any, args: list[Any]) -> bool:
    _need("contains", args, 2, 2)
    container, item = args
    if isinstance(container, str):
        return to_str(item) in container
    if isinstance(container, list):
        return any(_deep_equal(x, item) for x in container)
    if isinstance(container, dict):
        return _lookup(container, to_str(item))[0]
    if container is None:
        return False
    raise FunctionError("contains(): first argument must be a string, array or object")


def fn_empty(ctx: Any, args: list[Any]) -> bool:
    _need("empty", args, 1, 1)
    v = args[0]
    return v is None or (isinstance(v, (str, list, dict)) and len(v) == 0)


def fn_length(ctx: Any, args: list[Any]) -> int:
    _need("length", args, 1, 1)
    v = args[0]
    if isinstance(v, (str, list, dict)):
        return len(v)
    if v is None:
        return 0
    raise FunctionError("length(): argument must be a string, array or object")


def fn_split(ctx: Any, args: list[Any]) -> list[str]:
    _need("split", args, 2, 2)
    text = _str(args[0], "split")
    delims = args[1] if isinstance(args[1], list) else [args[1]]
    if not delims:
        return [text]
    pattern = "|".join(re.escape(_str(d, "split")) for d in delims)
    return re.split(pattern, text)


def fn_replace(ctx: Any, args: list[Any]) -> str:
    _need("replace", args, 3, 3)
    return _str(args[0], "replace").replace(_str(args[1], "replace"), to_str(args[2]))


def fn_substring(ctx: Any, args: list[Any]) -> str:
    _need("substring", args, 1, 3)
    text = _str(args[0], "substring")
    start = _int(args[1], "substring") if len(args) > 1 else 0
    length = _int(args[2], "substring") if len(args) > 2 else len(text) - start
    if start < 0 or length < 0 or start + length > len(text):
        raise FunctionError(f"substring(): start {start} and length {length} do not fit a string of "
                            f"{len(text)} characters")
    return text[start:start + length]


def fn_index_of(ctx: Any, args: list[Any]) -> int:
    _need("indexOf", args, 2, 2)
    if isinstance(args[0], list):
        for i, x in enumerate(args[0]):
            if _deep_equal(x, args[1]):
                return i
        return -1
    return _str(args[0], "indexOf").lower().find(to_str(args[1]).lower())


def fn_last_index_of(ctx: Any, args: list[Any]) -> int:
    _need("lastIndexOf", args, 2, 2)
    if isinstance(args[0], list):
        for i in range(len(args[0]) - 1, -1, -1):
            if _deep_equal(args[0][i], args[1]):
                return i
        return -1
    return _str(args[0], "lastIndexOf").lower().rfind(to_str(args[1]).lower())


def fn_pad_left(ctx: Any, args: list[Any]) -> str:
    _need("padLeft", args, 2, 3)
    text = to_str(args[0])
    pad = to_str(args[2]) if len(args) > 2 else " "
    if len(pad) != 1:
        raise FunctionError("padLeft(): padding must be one character")
    return text.rjust(_int(args[1], "padLeft"), pad)


def fn_uri(ctx: Any, args: list[Any]) -> str:
    _need("uri", args, 2, 2)
    return urllib.parse.urljoin(_str(args[0], "uri"), _str(args[1], "uri"))


def fn_string(ctx: Any, args: list[Any]) -> str:
    _need("string", args, 1, 1)
    return to_str(args[0])


def fn_base64(ctx: Any, args: list[Any]) -> str:
    _need("base64", args, 1, 1)
    return _b64.b64encode(_str(args[0], "base64").encode("utf-8")).decode("ascii")


def fn_base64_to_string(ctx: Any, args: list[Any]) -> str:
    _need("base64ToString", args, 1, 1)
    try:
        return _b64.b64decode(_str(args[0], "base64ToString")).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise FunctionError("base64ToString(): not valid base64 text") from None


def fn_json(ctx: Any, args: list[Any]) -> Any:
    _need("json", args, 1, 1)
    try:
        return json.loads(_str(args[0], "json"))
    except json.JSONDecodeError as exc:
        raise FunctionError(f"json(): not JSON ({exc.msg})") from None


def fn_data_uri(ctx: Any, args: list[Any]) -> str:
    _need("dataUri", args, 1, 1)
    return "data:text/plain;charset=utf8;base64," + fn_base64(ctx, [to_str(args[0])])


def fn_data_uri_to_string(ctx: Any, args: list[Any]) -> str:
    _need("dataUriToString", args, 1, 1)
    text = _str(args[0], "dataUriToString")
    head, _, data = text.partition(",")
    if ";base64" in head:
        return fn_base64_to_string(ctx, [data])
    return urllib.parse.unquote(data)


def _murmur64(data: bytes) -> int:
    """ARM's MurmurHash64 variant (two 32-bit lanes, seed 0) as used by uniqueString()."""
    m32 = 0xFFFFFFFF
    c1, c2, c3, c4 = 0xAB0E9789, 0x239B961B, 0x85EBCA6B, 0xC2B2AE35

    def rotl(x: int, r: int) -> int:
        return ((x << r) | (x >> (32 - r))) & m32

    def le32(buf: bytes, off: int, n: int = 4) -> int:
        return int.from_bytes(buf[off:off + n], "little")

    length = len(data)
    h1 = h2 = 0
    idx = 0
    while idx + 7 < length:
        k1 = rotl((le32(data, idx) * c2) & m32, 15) * c1 & m32
        k2 = rotl((le32(data, idx + 4) * c1) & m32, 17) * c2 & m32
        h1 = (rotl(h1 ^ k1, 19) + h2) & m32
        h1 = (h1 * 5 + 0x561CCD1B) & m32
        h2 = (rotl(h2 ^ k2, 13) + h1) & m32
        h2 = (h2 * 5 + 0x0BCAA747) & m32
        idx += 8
    rem = length - idx
    if rem > 0:
        k1 = le32(data, idx, min(rem, 4))
        h1 ^= rotl((k1 * c2) & m32, 15) * c1 & m32
        if rem > 4:
            k2 = le32(data, idx + 4, rem - 4)
            h2 ^= rotl((k2 * c1) & m32, 17) * c2 & m32
    r0 = (h2 ^ length) & m32
    r1 = ((h1 ^ length) + r0) & m32
    r2 = (r0 + r1) & m32

    def fmix(x: int) -> int:
        x = ((x ^ (x >> 16)) * c3) & m32
        x = ((x ^ (x >> 13)) * c4) & m32
        return (x ^ (x >> 16)) & m32

    r1, r2 = fmix(r1), fmix(r2)
    r1 = (r1 + r2) & m32
    r2 = (r2 + r1) & m32
    return (r2 << 32) | r1


_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def unique_string(*parts: str) -> str:
    h = _murmur64("-".join(parts).encode("utf-8"))
    h <<= 1  # 13 five-bit groups span 65 bits: the last group ends with one zero bit
    return "".join(_BASE32[(h >> (60 - 5 * i)) & 31] for i in range(13))


def fn_unique_string(ctx: Any, args: list[Any]) -> str:
    _need("uniqueString", args, 1)
    return unique_string(*(_str(a, "uniqueString") for a in args))


def fn_guid(ctx: Any, args: list[Any]) -> str:
    _need("guid", args, 1)
    return str(uuid.uuid5(GUID_NAMESPACE, "-".join(_str(a, "guid") for a in args)))


def fn_starts_with(ctx: Any, args: list[Any]) -> bool:
    _need("startsWith", args, 2, 2)
    return _str(args[0], "startsWith").lower().startswith(_str(args[1], "startsWith").lower())


def fn_ends_with(ctx: Any, args: list[Any]) -> bool:
    _need("endsWith", args, 2, 2)
    return _str(args[0], "endsWith").lower().endswith(_str(args[1], "endsWith").lower())


# --- arrays and objects -------------------------------------------------------------------------------

def fn_first(ctx: Any, args: list[Any]) -> Any:
    _need("first", args, 1, 1)
    v = args[0]
    if isinstance(v, str):
        return v[:1]
    if isinstance(v, list):
        return v[0] if v else None
    raise FunctionError("first(): argument must be a string or array")


def fn_last(ctx: Any, args: list[Any]) -> Any:
    _need("last", args, 1, 1)
    v = args[0]
    if isinstance(v, str):
        return v[-1:]
    if isinstance(v, list):
        return v[-1] if v else None
    raise FunctionError("last(): argument must be a string or array")


def fn_skip(ctx: Any, args: list[Any]) -> Any:
    _need("skip", args, 2, 2)
    n = max(0, _int(args[1], "skip"))
    if isinstance(args[0], (str, list)):
        return args[0][n:]
    raise FunctionError("skip(): first argument must be a string or array")


def fn_take(ctx: Any, args: list[Any]) -> Any:
    _need("take", args, 2, 2)
    n = max(0, _int(args[1], "take"))
    if isinstance(args[0], (str, list)):
        return args[0][:n]
    raise FunctionError("take(): first argument must be a string or array")


def fn_range(ctx: Any, args: list[Any]) -> list[int]:
    _need("range", args, 2, 2)
    start, count = _int(args[0], "range"), _int(args[1], "range")
    if count < 0 or count > 10000:
        raise FunctionError(f"range(): count {count} outside 0..10000")
    return list(range(start, start + count))


def fn_create_array(ctx: Any, args: list[Any]) -> list[Any]:
    return list(args)


def fn_create_object(ctx: Any, args: list[Any]) -> dict[str, Any]:
    if len(args) % 2:
        raise FunctionError("createObject(): needs key/value pairs")
    return {_str(args[i], "createObject"): args[i + 1] for i in range(0, len(args), 2)}


def fn_array(ctx: Any, args: list[Any]) -> list[Any]:
    _need("array", args, 1, 1)
    return args[0] if isinstance(args[0], list) else [args[0]]


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        existing = next((ek for ek in out if ek.lower() == k.lower()), None)
        if existing is not None and isinstance(out[existing], dict) and isinstance(v, dict):
            out[existing] = _merge(out[existing], v)
        else:
            if existing is not None and existing != k:
                del out[existing]
            out[k] = v
    return out


def fn_union(ctx: Any, args: list[Any]) -> Any:
    _need("union", args, 1)
    if all(isinstance(a, dict) or a is None for a in args):
        out: dict[str, Any] = {}
        for a in args:
            out = _merge(out, a or {})
        return out
    if all(isinstance(a, list) or a is None for a in args):
        res: list[Any] = []
        for a in args:
            for x in a or []:
                if not any(_deep_equal(x, y) for y in res):
                    res.append(x)
        return res
    raise FunctionError("union(): arguments must all be arrays or all objects")


def fn_intersection(ctx: Any, args: list[Any]) -> Any:
    _need("intersection", args, 2)
    if all(isinstance(a, dict) for a in args):
        out = {}
        for k, v in args[0].items():
            if all(_lookup(o, k)[0] and _deep_equal(_lookup(o, k)[1], v) for o in args[1:]):
                out[k] = v
        return out
    if all(isinstance(a, list) for a in args):
        res: list[Any] = []
        for x in args[0]:
            if all(any(_deep_equal(x, y) for y in o) for o in args[1:]) and not any(
                    _deep_equal(x, r) for r in res):
                res.append(x)
        return res
    raise FunctionError("intersection(): arguments must all be arrays or all objects")


def fn_items(ctx: Any, args: list[Any]) -> list[dict[str, Any]]:
    _need("items", args, 1, 1)
    if not isinstance(args[0], dict):
        raise FunctionError("items(): argument must be an object")
    return [{"key": k, "value": args[0][k]} for k in sorted(args[0], key=str.lower)]


def fn_object_keys(ctx: Any, args: list[Any]) -> list[str]:
    _need("objectKeys", args, 1, 1)
    if not isinstance(args[0], dict):
        raise FunctionError("objectKeys(): argument must be an object")
    return list(args[0])


def fn_shallow_merge(ctx: Any, args: list[Any]) -> dict[str, Any]:
    _need("shallowMerge", args, 1, 1)
    out: dict[str, Any] = {}
    for o in args[0] or []:
        if not isinstance(o, dict):
            raise FunctionError("shallowMerge(): array must hold objects")
        out.update(o)
    return out


def fn_flatten(ctx: Any, args: list[Any]) -> list[Any]:
    _need("flatten", args, 1, 1)
    out: list[Any] = []
    for a in args[0] or []:
        if not isinstance(a, list):
            raise FunctionError("flatten(): array must hold arrays")
        out.extend(a)
    return out


def fn_join(ctx: Any, args: list[Any]) -> str:
    _need("join", args, 2, 2)
    if not isinstance(args[0], list):
        raise FunctionError("join(): first argument must be an array")
    return _str(args[1], "join").join(to_str(x) for x in args[0])


def fn_try_get(ctx: Any, args: list[Any]) -> Any:
    _need("tryGet", args, 2)
    cur = args[0]
    for key in args[1:]:
        if isinstance(cur, dict) and isinstance(key, str):
            found, cur = _lookup(cur, key)
            if not found:
                return None
        elif isinstance(cur, list) and isinstance(key, int) and not isinstance(key, bool):
            if not -len(cur) <= key < len(cur):
                return None
            cur = cur[key]
        else:
            return None
    return cur


def fn_try_index_from_end(ctx: Any, args: list[Any]) -> Any:
    _need("tryIndexFromEnd", args, 2, 2)
    arr, n = args[0], _int(args[1], "tryIndexFromEnd")
    if isinstance(arr, list) and 0 < n <= len(arr):
        return arr[-n]
    return None


def fn_index_from_end(ctx: Any, args: list[Any]) -> Any:
    _need("indexFromEnd", args, 2, 2)
    arr, n = args[0], _int(args[1], "indexFromEnd")
    if isinstance(arr, list) and 0 < n <= len(arr):
        return arr[-n]
    raise FunctionError(f"indexFromEnd(): {n} out of range")


# --- comparison, logical, numeric ----------------------------------------------------------------------

def fn_equals(ctx: Any, args: list[Any]) -> bool:
    _need("equals", args, 2, 2)
    _runtime_guard("equals", *args)
    return _deep_equal(args[0], args[1])


def _compare(name: str, args: list[Any]) -> int:
    _need(name, args, 2, 2)
    _runtime_guard(name, *args)
    a, b = args
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return (a > b) - (a < b)
    raise FunctionError(f"{name}(): arguments must both be strings or both numbers")


def fn_coalesce(ctx: Any, args: list[Any]) -> Any:
    return next((a for a in args if a is not None), None)


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    raise FunctionError(f"{name}(): expected a boolean, got {to_str(value)!r}")


def fn_bool(ctx: Any, args: list[Any]) -> bool:
    _need("bool", args, 1, 1)
    v = args[0]
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    if isinstance(v, int):
        return v != 0
    raise FunctionError(f"bool(): cannot convert {to_str(v)!r}")


def fn_int(ctx: Any, args: list[Any]) -> int:
    _need("int", args, 1, 1)
    v = args[0]
    if isinstance(v, bool):
        raise FunctionError("int(): cannot convert a boolean")
    if isinstance(v, (int, float)):
        return int(v)
    try:
        return int(_str(v, "int").strip())
    except ValueError:
        raise FunctionError(f"int(): cannot convert {v!r}") from None


def fn_float(ctx: Any, args: list[Any]) -> float:
    _need("float", args, 1, 1)
    try:
        return float(args[0])
    except (TypeError, ValueError):
        raise FunctionError(f"float(): cannot convert {to_str(args[0])!r}") from None


def _trunc_div(a: int, b: int) -> int:
    if b == 0:
        raise FunctionError("div(): division by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def fn_min_max(which: Callable[..., Any], name: str) -> Callable[[Any, list[Any]], Any]:
    def f(ctx: Any, args: list[Any]) -> Any:
        values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        if not values:
            raise FunctionError(f"{name}(): needs at least one value")
        return which(values)
    return f


# --- deployment scope -----------------------------------------------------------------------------------

def _type_names(rtype: str, names: list[str]) -> str:
    """``A.B/c/d`` + ``[x, y]`` -> ``A.B/c/x/d/y``; names may also be given as one ``x/y``. A type with a
    trailing slash (``'Microsoft.ManagedServices/registrationDefinitions/'``, as Microsoft's own Azure Lighthouse
    onboarding templates spell it, and ARM deploys them) names the same type."""
    flat: list[str] = []
    for n in names:
        flat.extend(to_str(n).split("/"))
    segs = rtype.strip().rstrip("/").split("/")
    if len(segs) < 2:
        raise FunctionError(f"resource type {rtype!r} has no provider namespace")
    types = segs[1:]
    if len(flat) != len(types):
        raise FunctionError(f"resource type {rtype!r} needs {len(types)} name segments, got {len(flat)} "
                            f"({'/'.join(flat)})")
    out = [segs[0]]
    for t, n in zip(types, flat, strict=True):
        out.extend([t, n])
    return "/".join(out)


def subscription_id_prefix(sub: str) -> str:
    return f"/subscriptions/{sub}"


def rg_id(sub: str, rg: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def build_id(prefix: str, rtype: str, names: list[str]) -> str:
    """Id of ``rtype``/``names`` under the scope ``prefix`` ('' for tenant level)."""
    low = rtype.lower()
    flat = [p for n in names for p in to_str(n).split("/")]
    if low == "microsoft.resources/resourcegroups" and len(flat) == 1:
        sub_prefix = prefix.split("/resourceGroups/")[0] if "/resourcegroups/" in prefix.lower() else prefix
        return f"{sub_prefix}/resourceGroups/{flat[0]}"
    if low == "microsoft.resources/subscriptions" and len(flat) == 1:
        return f"/subscriptions/{flat[0]}"
    if low == "microsoft.management/managementgroups" and len(flat) == 1 and not prefix:
        return f"/providers/Microsoft.Management/managementGroups/{flat[0]}"
    return f"{prefix}/providers/{_type_names(rtype, flat)}"


def _split_type_arg(name: str, args: list[Any]) -> tuple[list[str], str, list[str]]:
    strs = [to_str(a) for a in args]
    for i, a in enumerate(strs):
        if "/" in a and "." in a.split("/")[0]:
            return strs[:i], a, strs[i + 1:]
    raise FunctionError(f"{name}(): no resource type among the arguments")


def fn_resource_id(ctx: Any, args: list[Any]) -> str:
    s = ctx.scope
    before, rtype, names = _split_type_arg("resourceId", args)
    if len(before) == 0:
        if s.kind == "resourceGroup":
            prefix = rg_id(s.subscription_id, s.resource_group)
        elif s.kind == "subscription":
            prefix = subscription_id_prefix(s.subscription_id)
        elif s.kind == "managementGroup":
            prefix = f"/providers/Microsoft.Management/managementGroups/{s.management_group}"
        else:
            prefix = ""
    elif len(before) == 1:
        prefix = rg_id(s.subscription_id, before[0])
    elif len(before) == 2:
        prefix = rg_id(before[0], before[1])
    else:
        raise FunctionError("resourceId(): too many arguments before the resource type")
    return build_id(prefix, rtype, names)


def fn_subscription_resource_id(ctx: Any, args: list[Any]) -> str:
    before, rtype, names = _split_type_arg("subscriptionResourceId", args)
    if len(before) > 1:
        raise FunctionError("subscriptionResourceId(): too many arguments before the resource type")
    sub = before[0] if before else ctx.scope.subscription_id
    return build_id(subscription_id_prefix(sub), rtype, names)


def fn_tenant_resource_id(ctx: Any, args: list[Any]) -> str:
    before, rtype, names = _split_type_arg("tenantResourceId", args)
    if before:
        raise FunctionError("tenantResourceId(): arguments before the resource type")
    return build_id("", rtype, names)


def fn_extension_resource_id(ctx: Any, args: list[Any]) -> str:
    _need("extensionResourceId", args, 3)
    base = to_str(args[0]).rstrip("/")
    _, rtype, names = _split_type_arg("extensionResourceId", args[1:])
    return build_id(base, rtype, names)


def fn_management_group_resource_id(ctx: Any, args: list[Any]) -> str:
    before, rtype, names = _split_type_arg("managementGroupResourceId", args)
    mg = before[0] if before else ctx.scope.management_group
    if not mg:
        raise FunctionError("managementGroupResourceId(): no management group in this deployment")
    return build_id(f"/providers/Microsoft.Management/managementGroups/{mg}", rtype, names)


def fn_subscription(ctx: Any, args: list[Any]) -> dict[str, Any]:
    s = ctx.scope
    return {"id": subscription_id_prefix(s.subscription_id), "subscriptionId": s.subscription_id,
            "tenantId": s.tenant_id, "displayName": f"subscription {s.subscription_id}"}


def fn_resource_group(ctx: Any, args: list[Any]) -> dict[str, Any]:
    s = ctx.scope
    if s.kind != "resourceGroup":
        raise FunctionError("resourceGroup() is only available in a resource group deployment")
    return {"id": rg_id(s.subscription_id, s.resource_group), "name": s.resource_group,
            "type": "Microsoft.Resources/resourceGroups", "location": s.location, "tags": {},
            "properties": {"provisioningState": "Succeeded"}}


def fn_tenant(ctx: Any, args: list[Any]) -> dict[str, Any]:
    return {"tenantId": ctx.scope.tenant_id, "countryCode": "US", "displayName": "tenant",
            "id": f"/tenants/{ctx.scope.tenant_id}"}


def fn_management_group(ctx: Any, args: list[Any]) -> dict[str, Any]:
    mg = ctx.scope.management_group
    if not mg:
        raise FunctionError("managementGroup() is only available in a management group deployment")
    return {"id": f"/providers/Microsoft.Management/managementGroups/{mg}", "name": mg,
            "type": "Microsoft.Management/managementGroups", "properties": {"tenantId": ctx.scope.tenant_id}}


def fn_environment(ctx: Any, args: list[Any]) -> dict[str, Any]:
    return json.loads(json.dumps(AZURE_CLOUD))


def fn_deployment(ctx: Any, args: list[Any]) -> dict[str, Any]:
    s = ctx.scope
    out: dict[str, Any] = {"name": s.deployment_name,
                           "properties": {"template": {"contentVersion": s.template.get("contentVersion",
                                                                                        "1.0.0.0")},
                                          "mode": "Incremental", "provisioningState": "Accepted"}}
    if s.kind != "resourceGroup":
        out["location"] = s.location
    return out


def fn_pick_zones(ctx: Any, args: list[Any]) -> list[str]:
    """pickZones() depends on the region's zone support; flaudit assumes none (zones do not affect access)."""
    _need("pickZones", args, 3, 5)
    return []


def fn_symbolic_now(kind: str) -> Callable[[Any, list[Any]], str]:
    def f(ctx: Any, args: list[Any]) -> str:
        return f"[symbolic:deployment:{kind}]"
    return f


def fn_date_time_add(ctx: Any, args: list[Any]) -> str:
    _need("dateTimeAdd", args, 2, 3)
    base = to_str(args[0])
    if is_symbolic(base):
        return base[:-1] + f"+{to_str(args[1])}]"
    raise Unsupported(f"dateTimeAdd({base!r}, {to_str(args[1])!r}) is not evaluated")


# --- lambdas --------------------------------------------------------------------------------------------

def _lam(value: Any, name: str, nparams: int | None = None) -> Lambda:
    if not isinstance(value, Lambda):
        raise FunctionError(f"{name}(): expected a lambda")
    return value


def fn_map(ctx: Any, args: list[Any]) -> list[Any]:
    _need("map", args, 2, 2)
    lam = _lam(args[1], "map")
    arr = args[0] or []
    return [ctx.apply(lam, [x, i]) for i, x in enumerate(arr)]


def fn_filter(ctx: Any, args: list[Any]) -> list[Any]:
    _need("filter", args, 2, 2)
    lam = _lam(args[1], "filter")
    return [x for i, x in enumerate(args[0] or []) if _bool(ctx.apply(lam, [x, i]), "filter")]


def fn_reduce(ctx: Any, args: list[Any]) -> Any:
    _need("reduce", args, 3, 3)
    lam = _lam(args[2], "reduce")
    acc = args[1]
    for i, x in enumerate(args[0] or []):
        acc = ctx.apply(lam, [acc, x, i])
    return acc


def fn_sort(ctx: Any, args: list[Any]) -> list[Any]:
    _need("sort", args, 2, 2)
    lam = _lam(args[1], "sort")
    import functools

    def cmp(a: Any, b: Any) -> int:
        if _bool(ctx.apply(lam, [a, b]), "sort"):
            return -1
        if _bool(ctx.apply(lam, [b, a]), "sort"):
            return 1
        return 0

    return sorted(args[0] or [], key=functools.cmp_to_key(cmp))


def fn_to_object(ctx: Any, args: list[Any]) -> dict[str, Any]:
    _need("toObject", args, 2, 3)
    key_lam = _lam(args[1], "toObject")
    val_lam = _lam(args[2], "toObject") if len(args) > 2 else None
    out: dict[str, Any] = {}
    for x in args[0] or []:
        out[to_str(ctx.apply(key_lam, [x]))] = ctx.apply(val_lam, [x]) if val_lam else x
    return out


def fn_map_values(ctx: Any, args: list[Any]) -> dict[str, Any]:
    _need("mapValues", args, 2, 2)
    lam = _lam(args[1], "mapValues")
    return {k: ctx.apply(lam, [v]) for k, v in (args[0] or {}).items()}


def fn_group_by(ctx: Any, args: list[Any]) -> dict[str, list[Any]]:
    _need("groupBy", args, 2, 2)
    lam = _lam(args[1], "groupBy")
    out: dict[str, list[Any]] = {}
    for x in args[0] or []:
        out.setdefault(to_str(ctx.apply(lam, [x])), []).append(x)
    return out


def _simple(f: Callable[..., Any], n: int) -> Callable[[Any, list[Any]], Any]:
    def g(ctx: Any, args: list[Any]) -> Any:
        if len(args) != n:
            raise FunctionError(f"expected {n} arguments, got {len(args)}")
        return f(*args)
    return g


def _num(name: str, op: Callable[[int, int], Any]) -> Callable[[Any, list[Any]], Any]:
    def g(ctx: Any, args: list[Any]) -> Any:
        _need(name, args, 2, 2)
        a, b = args
        if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) \
                or not isinstance(b, (int, float)):
            raise FunctionError(f"{name}(): arguments must be numbers")
        return op(a, b)
    return g


def _mod(a: int, b: int) -> int:
    if b == 0:
        raise FunctionError("mod(): division by zero")
    return a - b * _trunc_div(a, b)


FUNCTIONS: dict[str, Callable[[Any, list[Any]], Any]] = {
    # string
    "format": fn_format, "concat": fn_concat, "contains": fn_contains, "empty": fn_empty, "length": fn_length,
    "split": fn_split, "replace": fn_replace, "substring": fn_substring, "indexof": fn_index_of,
    "lastindexof": fn_last_index_of, "padleft": fn_pad_left, "uri": fn_uri, "string": fn_string,
    "base64": fn_base64, "base64tostring": fn_base64_to_string,
    "base64tojson": lambda ctx, a: fn_json(ctx, [fn_base64_to_string(ctx, a)]),
    "json": fn_json, "datauri": fn_data_uri, "datauritostring": fn_data_uri_to_string,
    "uniquestring": fn_unique_string, "guid": fn_guid, "startswith": fn_starts_with, "endswith": fn_ends_with,
    "tolower": lambda ctx, a: (_need("toLower", a, 1, 1), _str(a[0], "toLower").lower())[1],
    "toupper": lambda ctx, a: (_need("toUpper", a, 1, 1), _str(a[0], "toUpper").upper())[1],
    "trim": lambda ctx, a: (_need("trim", a, 1, 1), _str(a[0], "trim").strip())[1],
    "uricomponent": lambda ctx, a: urllib.parse.quote(_str(a[0], "uriComponent"), safe="-_.!~*'()"),
    "uricomponenttostring": lambda ctx, a: urllib.parse.unquote(_str(a[0], "uriComponentToString")),
    "utcnow": fn_symbolic_now("utcNow"), "newguid": fn_symbolic_now("newGuid"),
    "datetimeadd": fn_date_time_add,
    # arrays and objects
    "first": fn_first, "last": fn_last, "skip": fn_skip, "take": fn_take, "range": fn_range,
    "createarray": fn_create_array, "createobject": fn_create_object, "array": fn_array,
    "union": fn_union, "intersection": fn_intersection, "items": fn_items, "objectkeys": fn_object_keys,
    "shallowmerge": fn_shallow_merge, "flatten": fn_flatten, "join": fn_join, "tryget": fn_try_get,
    "tryindexfromend": fn_try_index_from_end, "indexfromend": fn_index_from_end,
    "null": lambda ctx, a: None,
    # comparison, logical
    "equals": fn_equals,
    "less": lambda ctx, a: _compare("less", a) < 0,
    "lessorequals": lambda ctx, a: _compare("lessOrEquals", a) <= 0,
    "greater": lambda ctx, a: _compare("greater", a) > 0,
    "greaterorequals": lambda ctx, a: _compare("greaterOrEquals", a) >= 0,
    "coalesce": fn_coalesce,
    "not": lambda ctx, a: (_need("not", a, 1, 1), not _bool(a[0], "not"))[1],
    "true": lambda ctx, a: True, "false": lambda ctx, a: False, "bool": fn_bool,
    # numeric
    "int": fn_int, "float": fn_float,
    "add": _num("add", lambda a, b: a + b), "sub": _num("sub", lambda a, b: a - b),
    "mul": _num("mul", lambda a, b: a * b), "div": _num("div", _trunc_div), "mod": _num("mod", _mod),
    "min": fn_min_max(min, "min"), "max": fn_min_max(max, "max"),
    # scope and ids
    "resourceid": fn_resource_id, "subscriptionresourceid": fn_subscription_resource_id,
    "tenantresourceid": fn_tenant_resource_id, "extensionresourceid": fn_extension_resource_id,
    "managementgroupresourceid": fn_management_group_resource_id,
    "subscription": fn_subscription, "resourcegroup": fn_resource_group, "tenant": fn_tenant,
    "managementgroup": fn_management_group, "environment": fn_environment, "deployment": fn_deployment,
    "pickzones": fn_pick_zones,
    # lambdas
    "map": fn_map, "filter": fn_filter, "reduce": fn_reduce, "sort": fn_sort, "toobject": fn_to_object,
    "mapvalues": fn_map_values, "groupby": fn_group_by,
}
