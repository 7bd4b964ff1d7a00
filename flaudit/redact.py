"""Strip secret-shaped values from ARM payloads before they are stored, evaluated or reported.

A GET can still return secrets (a datastore's inline credentials, a connection string in app settings, a
SAS URL). flaudit never needs a secret's value, only whether one exists, so every inventory passes through
:func:`redact` on load and the live collector applies it before writing a snapshot.

Cost: most resources hold nothing secret-shaped, and walking each one in Python was a third of loading a
fleet. :func:`redact` first serialises the object once in C and searches the text for a secret-shaped key or
value; only an object where one occurs is walked and copied. The search cannot miss what the walk would find:
JSON text holds every key and string verbatim apart from escapes of quotes, backslashes and control
characters, which no secret key contains and which every secret-value pattern tolerates (see
tests/test_redact.py, which compares both on generated inputs).
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"

# Property names whose values are secrets whatever their shape (compared case-insensitively).
_SECRET_KEYS = {
    "accountkey", "key", "key1", "key2", "primarykey", "secondarykey", "keys", "password", "clientsecret",
    "secret", "secrets", "sastoken", "sas", "connectionstring", "connectionstrings", "primaryconnectionstring",
    "secondaryconnectionstring", "certificate", "privatekey", "token", "accesstoken", "sharedaccesskey",
    "storageaccountkey", "value_secret", "pat", "securitytoken", "developertoken", "refreshtoken",
    "secretaccesskey",
}
# Values that look like secrets wherever they appear.
_SECRET_VALUE = re.compile(
    r"(AccountKey=[^;]+|SharedAccessSignature=[^;]+|SharedAccessKey=[^;]+|[?&]sig=[A-Za-z0-9%+/=]{16,}|"
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----)",
    re.IGNORECASE,
)
# In serialised JSON: a secret key as an object key ("Key":), or a secret-shaped value anywhere. Matching text
# that is no secret (a key named "Key" with an empty value, a pattern across two strings) only costs a walk.
_SECRET_IN_JSON = re.compile(
    '"(?:' + "|".join(sorted(_SECRET_KEYS, key=len, reverse=True)) + ')":|' + _SECRET_VALUE.pattern,
    re.IGNORECASE,
)
# The same search for ASCII text, several times faster: on the lower-cased text read backwards, each pattern starts
# with a rare literal (`:"` ends every key, `=` every key=value secret), which the regex engine skips to in C.
# For ASCII, lower-casing is exactly what IGNORECASE compares; the value patterns are reduced to their literal
# part (`AccountKey=`, `sig=`...), which every match contains.
def _trie(words: list[str]) -> str:
    """A regex matching exactly ``words``, shaped as a trie (``s(?:as|terces)`` rather than ``sas|secret``): the
    engine tries one branch per character instead of every word in turn, at each of the million keys of a fleet."""
    tree: dict[str, dict] = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        if "" in node:
            return "(?:" + "|".join(alts) + ")?"
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return emit(tree)


_KEY_BACKWARDS = re.compile(':"' + _trie([k[::-1] for k in _SECRET_KEYS]) + '"')
_VALUE_BACKWARDS = re.compile("=(?:" + "|".join(v[::-1] for v in ("accountkey", "sharedaccesssignature",
                                                                   "sharedaccesskey", "sig")) + ")")
_PRIVATE_KEY = "-----begin "


def _is_secret_key(key: str) -> bool:
    return key.lower() in _SECRET_KEYS


_PERMISSION_WORD = re.compile(r"^[A-Za-z]{1,40}$")


def _permission_names(value: Any) -> bool:
    """A key vault access policy's ``permissions.{keys, secrets, certificates}``: a list of permission names
    (``get``, ``list``, ``unwrapKey``...), which says who may use secrets and is no secret itself."""
    return isinstance(value, list) and all(isinstance(x, str) and _PERMISSION_WORD.match(x) for x in value)


def may_hold_secret(obj: Any) -> bool:
    """False only when ``obj`` certainly holds nothing :func:`redact` would change (one C serialisation and one
    regex search); True when it may, or when it cannot be serialised as JSON (then only the walk can tell)."""
    import orjson

    if isinstance(obj, str):
        return _SECRET_VALUE.search(obj) is not None
    if not isinstance(obj, dict | list):
        return False
    try:
        text = orjson.dumps(obj).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):
        return True  # non-string keys, lone surrogates, other types: walk it
    return _secret_shaped_json(text)


def _secret_shaped_json(text: str) -> bool:
    if not text.isascii():
        return _SECRET_IN_JSON.search(text) is not None
    low = text.lower()
    if _PRIVATE_KEY in low:
        return True
    backwards = low[::-1]
    return _KEY_BACKWARDS.search(backwards) is not None or _VALUE_BACKWARDS.search(backwards) is not None


def redact(obj: Any) -> Any:
    """``obj`` with secret values replaced by ``[redacted]`` (structure and non-secret data kept).

    A copy when something was redacted; ``obj`` itself when it holds nothing secret-shaped, so callers that
    keep the result must not change ``obj`` afterwards (the inventory keeps freshly parsed input)."""
    if not may_hold_secret(obj):
        return obj
    return _redact_walk(obj)


def _redact_walk(obj: Any) -> Any:
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(k, str) and k.lower() == "credentials" and isinstance(v, dict) and v and \
                    not any(isinstance(x, str) and x.lower() == "credentialstype" for x in v):
                # A workspace connection's credentials block (no credentialsType, unlike a datastore's) holds
                # only secrets in shapes that vary with its authType: keep none of it.
                out[k] = REDACTED
            elif isinstance(k, str) and k.lower() == "permissions" and isinstance(v, dict):
                out[k] = {pk: pv if _permission_names(pv) else redact({pk: pv})[pk] for pk, pv in v.items()}
            elif isinstance(k, str) and _is_secret_key(k) and v not in (None, "", [], {}):
                # A dict/list under a secret key might still carry harmless shape info (e.g. credentials
                # type); keep only a marker so rules can see that a secret was present.
                out[k] = REDACTED
            else:
                out[k] = _redact_walk(v)
        return out
    if isinstance(obj, list):
        return [_redact_walk(v) for v in obj]
    if isinstance(obj, str) and _SECRET_VALUE.search(obj):
        # A SAS URL keeps its (non-secret) address, so rules can still tell which account it reaches.
        head, query, _ = obj.partition("?")
        if query and "://" in head and not _SECRET_VALUE.search(head):
            return f"{head}?{REDACTED}"
        return REDACTED
    return obj


def contains_secret(obj: Any) -> bool:
    """True when ``obj`` still holds something :func:`redact` would remove (used by tests and the collector)."""
    return may_hold_secret(obj) and _redact_walk(obj) != obj
