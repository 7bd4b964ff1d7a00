"""Strip secret-shaped values from ARM payloads before they are stored, evaluated or reported.

A GET can still return secrets (a datastore's inline credentials, a connection string in app settings, a
SAS URL). flaudit never needs a secret's value, only whether one exists, so every inventory passes through
:func:`redact` on load and the live collector applies it before writing a snapshot.
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


def _is_secret_key(key: str) -> bool:
    return key.lower() in _SECRET_KEYS


_PERMISSION_WORD = re.compile(r"^[A-Za-z]{1,40}$")


def _permission_names(value: Any) -> bool:
    """A key vault access policy's ``permissions.{keys, secrets, certificates}``: a list of permission names
    (``get``, ``list``, ``unwrapKey``...), which says who may use secrets and is no secret itself."""
    return isinstance(value, list) and all(isinstance(x, str) and _PERMISSION_WORD.match(x) for x in value)


def redact(obj: Any) -> Any:
    """Copy of ``obj`` with secret values replaced by ``[redacted]`` (structure and non-secret data kept)."""
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
                out[k] = redact(v)
        return out
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    if isinstance(obj, str) and _SECRET_VALUE.search(obj):
        # A SAS URL keeps its (non-secret) address, so rules can still tell which account it reaches.
        head, query, _ = obj.partition("?")
        if query and "://" in head and not _SECRET_VALUE.search(head):
            return f"{head}?{REDACTED}"
        return REDACTED
    return obj


def contains_secret(obj: Any) -> bool:
    """True when ``obj`` still holds something :func:`redact` would remove (used by tests and the collector)."""
    return redact(obj) != obj
