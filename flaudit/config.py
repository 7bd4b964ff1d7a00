"""The FL config: the same ``config.yaml`` the Azure ML FL sample pipelines read.

Keys read (all others are ignored, so one file serves the pipelines, the audit and the trainer):

``aml.{subscription_id, resource_group_name, workspace_name}``
``federated_learning.orchestrator.{compute, datastore}``
``federated_learning.silos[].{name, computes[] (or compute), datastore, training_data, testing_data}``
``federated_learning.silos[].groups[]`` (flaudit extension): object ids of Entra groups that belong to the
silo, so a group-held role assignment on that silo's storage is not reported as a foreign principal.
``federated_learning.administrators[].{object_id, kind, reason}`` (flaudit extension): principals the
organisation trusts to administer the deployment (Owners, break-glass accounts, the deployment pipeline). Their
paths to silo data are shown as administrative access (relation ``administrator``) in every output and do not
block; every other path still does. ``kind`` is one of :data:`ADMIN_KINDS`; ``reason`` is required.
``training_parameters`` (trainer only).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flaudit.errors import InputError


@dataclass
class SiloConfig:
    name: str
    computes: list[str]
    datastore: str | None
    training_data: Any = None
    testing_data: Any = None
    groups: list[str] = field(default_factory=list)


#: Principal kinds a declared administrator may be (Entra object types that role assignments name).
ADMIN_KINDS = ("user", "group", "service-principal", "managed-identity")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Administrator:
    """A principal the FL config declares as a trusted administrator of the deployment."""

    object_id: str  # lower case
    kind: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"object_id": self.object_id, "kind": self.kind, "reason": self.reason}


@dataclass
class FLConfig:
    path: str | None
    subscription_id: str | None
    resource_group: str | None
    workspace_name: str | None
    orchestrator_computes: list[str]
    orchestrator_datastore: str | None
    silos: list[SiloConfig]
    training_parameters: dict[str, Any]
    raw: dict[str, Any]
    sha256: str
    administrators: list[Administrator] = field(default_factory=list)


def _names(value: Any, where: str, path: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InputError(f"{path}: {where} must be a name or a list of names")


def _opt_str(value: Any, where: str, path: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    raise InputError(f"{path}: {where} must be a string")


def load_config(path: str | Path) -> FLConfig:
    from flaudit.readers import parse_yaml, read_bytes

    data = read_bytes(path, "FL config")
    return parse_config(parse_yaml(data, str(path)), str(path), hashlib.sha256(data).hexdigest())


def parse_config(doc: Any, origin: str, digest: str = "") -> FLConfig:
    if not isinstance(doc, dict):
        raise InputError(f"{origin}: FL config must be a YAML mapping")
    aml = doc.get("aml") or {}
    fl = doc.get("federated_learning")
    if not isinstance(aml, dict):
        raise InputError(f"{origin}: 'aml' must be a mapping")
    if not isinstance(fl, dict):
        raise InputError(f"{origin}: missing 'federated_learning' mapping")
    orch = fl.get("orchestrator") or {}
    if not isinstance(orch, dict):
        raise InputError(f"{origin}: federated_learning.orchestrator must be a mapping")
    silos_raw = fl.get("silos")
    if not isinstance(silos_raw, list):
        raise InputError(f"{origin}: federated_learning.silos must be a list")
    silos: list[SiloConfig] = []
    seen: set[str] = set()
    for i, s in enumerate(silos_raw):
        if not isinstance(s, dict):
            raise InputError(f"{origin}: federated_learning.silos[{i}] must be a mapping")
        name = s.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(f"{origin}: federated_learning.silos[{i}] needs a 'name'")
        if name.lower() in seen:
            raise InputError(f"{origin}: silo name {name!r} appears twice")
        seen.add(name.lower())
        computes = _names(s.get("computes", s.get("compute")), f"silos[{i}].computes", origin)
        silos.append(SiloConfig(
            name=name,
            computes=computes,
            datastore=_opt_str(s.get("datastore"), f"silos[{i}].datastore", origin),
            training_data=s.get("training_data"),
            testing_data=s.get("testing_data"),
            groups=[g.lower() for g in _names(s.get("groups"), f"silos[{i}].groups", origin)],
        ))
    administrators = _administrators(fl.get("administrators"), origin)
    tp = doc.get("training_parameters") or {}
    if not isinstance(tp, dict):
        raise InputError(f"{origin}: training_parameters must be a mapping")
    return FLConfig(
        path=origin,
        subscription_id=_opt_str(aml.get("subscription_id"), "aml.subscription_id", origin),
        resource_group=_opt_str(aml.get("resource_group_name"), "aml.resource_group_name", origin),
        workspace_name=_opt_str(aml.get("workspace_name"), "aml.workspace_name", origin),
        orchestrator_computes=_names(orch.get("computes", orch.get("compute")), "orchestrator.compute", origin),
        orchestrator_datastore=_opt_str(orch.get("datastore"), "orchestrator.datastore", origin),
        silos=silos,
        training_parameters=tp,
        raw=doc,
        sha256=digest,
        administrators=administrators,
    )


def _administrators(value: Any, origin: str) -> list[Administrator]:
    """``federated_learning.administrators``: a list of {object_id, kind, reason}; absent means none."""
    if value is None:
        return []
    where = "federated_learning.administrators"
    if not isinstance(value, list):
        raise InputError(f"{origin}: {where} must be a list of {{object_id, kind, reason}}")
    out: list[Administrator] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise InputError(f"{origin}: {where}[{i}] must be a mapping with object_id, kind and reason")
        unknown = sorted(set(item) - {"object_id", "kind", "reason"})
        if unknown:
            raise InputError(f"{origin}: {where}[{i}] has unknown key(s) {', '.join(unknown)}")
        oid, kind, reason = item.get("object_id"), item.get("kind"), item.get("reason")
        if not isinstance(oid, str) or not _GUID.match(oid.strip()):
            raise InputError(f"{origin}: {where}[{i}].object_id must be an Entra object id (a GUID)")
        if not isinstance(kind, str) or kind.strip().lower() not in ADMIN_KINDS:
            raise InputError(f"{origin}: {where}[{i}].kind must be one of {', '.join(ADMIN_KINDS)}")
        if not isinstance(reason, str) or not reason.strip():
            raise InputError(f"{origin}: {where}[{i}].reason must say why this principal is trusted")
        oid = oid.strip().lower()
        if oid in seen:
            raise InputError(f"{origin}: {where}: object id {oid} appears twice")
        seen.add(oid)
        out.append(Administrator(oid, kind.strip().lower(), reason.strip()))
    return out
