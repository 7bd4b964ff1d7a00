"""The FL config: the same ``config.yaml`` the Azure ML FL sample pipelines read, in every shape the sample ships.

Shapes resolved to one topology (orchestrator + silos):

* horizontal: ``federated_learning.{orchestrator, silos[]}``;
* vertical: ``federated_learning.{host, silos[], communication}``; the host holds data of its own, so it is
  audited as a silo (named ``host``) as well as the orchestrator, and ``communication.encrypted`` is audited
  (FL-TOP-007: unencrypted traffic between host and silos fails production);
* scatter-gather: top-level ``orchestrator`` and ``strategy.horizontal[]`` (silo name from ``inputs.name``);
* data utilities: ``federated_learning.silos[]`` alone, or with ``host``.

Silos without a ``name`` are named by their index (``silo0``, ``silo1``...); ``compute`` and ``computes`` are
both accepted. Keys read: ``aml.{subscription_id, resource_group_name, workspace_name}``, the computes and
datastore of the orchestrator/host and each silo, ``training_parameters`` (trainer only).

Reading is strict where a typo changes the audit: an unknown key inside ``federated_learning``, the
orchestrator, the host or a silo entry is an input error with a suggestion ("did you mean 'datastore'?"),
because a misspelt ``datastor:`` would otherwise resolve nothing and turn into a pile of findings instead of
one config error. Every key the sample's own configs use there is accepted (data inputs the pipelines read,
such as ``training_data`` or ``silo_data``, are kept but not audited). Top-level sections flaudit does not read
(``inputs``, ``iterations``, ``confidentiality``...) are left alone so one file serves the pipelines too.

flaudit extensions: ``federated_learning.silos[].groups[]``, object ids of Entra groups that belong to the silo
(a group-held role assignment on that silo's storage is then not a foreign principal), and
``federated_learning.administrators[].{object_id, kind, reason}``: principals the organisation trusts to administer the deployment (Owners, break-glass accounts, the deployment pipeline). Their
paths to silo data are shown as administrative access (relation ``administrator``) in every output and do not
block; every other path still does. ``kind`` is one of :data:`ADMIN_KINDS`; ``reason`` is required.
Also: ``federated_learning.silos[].external`` / ``declarations`` (an external silo and its owner's declarations for
the controls flaudit cannot see: :mod:`flaudit.declarations`), ``silos[].subscription_id`` /
``resource_group_name`` / ``tenant_id`` and ``aml.tenant_id`` (silos in other subscriptions and tenants, all
collected: :mod:`flaudit.sources.live.scopes`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flaudit.declarations import parse_declarations
from flaudit.errors import InputError


@dataclass
class SiloConfig:
    name: str
    computes: list[str]
    datastore: str | None
    training_data: Any = None
    testing_data: Any = None
    groups: list[str] = field(default_factory=list)
    #: A silo outside what Azure shows (a partner's or on-premises cluster, usually Arc-connected).
    external: bool = False
    #: The silo owner's declarations for controls flaudit cannot see (flaudit.declarations).
    declarations: list[Any] = field(default_factory=list)
    #: Where the silo's own resources live when not with the orchestrator (flaudit.sources.live.scopes).
    subscription_id: str | None = None
    resource_group: str | None = None
    tenant_id: str | None = None


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
    layout: str = "horizontal"  # horizontal | vertical | scatter-gather
    communication: dict[str, Any] | None = None  # federated_learning.communication (vertical FL), as declared
    administrators: list[Administrator] = field(default_factory=list)
    tenant_id: str | None = None  # aml.tenant_id: the orchestrator's tenant (else the credential's home tenant)


FL_KEYS = ("orchestrator", "host", "silos", "communication", "administrators")
ORCHESTRATOR_KEYS = ("compute", "computes", "datastore", "instance_type")
HOST_KEYS = ("compute", "computes", "datastore", "training_data", "testing_data", "instance_type")
SILO_KEYS = ("name", "compute", "computes", "datastore", "groups", "training_data", "testing_data", "silo_data",
             "input_data", "output_data", "inputs", "external", "declarations", "instance_type", "subscription_id", "resource_group_name",
             "tenant_id")
COMMUNICATION_KEYS = ("backend", "encrypted")
HOST_SILO = "host"


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


def _strict(mapping: Any, allowed: tuple[str, ...], where: str, origin: str) -> dict[str, Any]:
    """``mapping`` as a dict whose keys are all in ``allowed``; else one error naming the key and the closest."""
    import difflib

    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise InputError(f"{origin}: {where} must be a mapping")
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(allowed)}"
            raise InputError(f"{origin}: unknown key '{key}' in {where} ({hint})")
    return mapping


def load_config(path: str | Path) -> FLConfig:
    from flaudit.readers import parse_yaml, read_bytes

    data = read_bytes(path, "FL config")
    return parse_config(parse_yaml(data, str(path)), str(path), hashlib.sha256(data).hexdigest())


def parse_config(doc: Any, origin: str, digest: str = "") -> FLConfig:
    if not isinstance(doc, dict):
        raise InputError(f"{origin}: FL config must be a YAML mapping")
    aml = doc.get("aml") or {}
    if not isinstance(aml, dict):
        raise InputError(f"{origin}: 'aml' must be a mapping")
    fl_raw = doc.get("federated_learning")
    strategy = doc.get("strategy")
    if fl_raw is None and strategy is None:
        raise InputError(f"{origin}: missing 'federated_learning' mapping (or the scatter-gather shape's "
                         "top-level 'orchestrator' and 'strategy.horizontal')")
    fl = _strict(fl_raw, FL_KEYS, "federated_learning", origin)
    layout = "horizontal"
    if strategy is not None:
        if fl.get("silos") is not None or fl.get("orchestrator") is not None or fl.get("host") is not None:
            raise InputError(f"{origin}: both federated_learning and strategy.horizontal describe the silos; "
                             "keep one")
        if not isinstance(strategy, dict) or not isinstance(strategy.get("horizontal"), list):
            raise InputError(f"{origin}: strategy.horizontal must be a list of silos")
        silos_raw, silos_where = strategy["horizontal"], "strategy.horizontal"
        orch = _strict(doc.get("orchestrator"), ORCHESTRATOR_KEYS, "orchestrator", origin)
        layout = "scatter-gather"
    else:
        silos_raw, silos_where = fl.get("silos"), "federated_learning.silos"
        if fl.get("orchestrator") is not None and fl.get("host") is not None:
            raise InputError(f"{origin}: federated_learning has both 'orchestrator' and 'host'; keep one")
        if fl.get("host") is not None:
            orch = _strict(fl.get("host"), HOST_KEYS, "federated_learning.host", origin)
            layout = "vertical"
        else:
            orch = _strict(fl.get("orchestrator"), ORCHESTRATOR_KEYS, "federated_learning.orchestrator", origin)
    if not isinstance(silos_raw, list):
        raise InputError(f"{origin}: {silos_where} must be a list")
    communication = _strict(fl.get("communication"), COMMUNICATION_KEYS, "federated_learning.communication", origin)
    encrypted = communication.get("encrypted")
    if encrypted is not None and not isinstance(encrypted, bool):
        raise InputError(f"{origin}: federated_learning.communication.encrypted must be true or false")
    silos: list[SiloConfig] = []
    seen: set[str] = set()
    for i, s in enumerate(silos_raw):
        where = f"{silos_where}[{i}]"
        s = _strict(s, SILO_KEYS, where, origin)
        inputs = s.get("inputs")
        name = s.get("name")
        if name is None and isinstance(inputs, dict) and isinstance(inputs.get("name"), str):
            name = inputs["name"]  # the scatter-gather shape names a silo in its inputs
        if name is None:
            name = f"silo{i}"
        if not isinstance(name, str) or not name:
            raise InputError(f"{origin}: {where}.name must be a non-empty string")
        if name.lower() in seen or (layout == "vertical" and name.lower() == HOST_SILO):
            raise InputError(f"{origin}: silo name {name!r} appears twice")
        seen.add(name.lower())
        computes = _names(s.get("computes", s.get("compute")), f"{where}.computes", origin)
        external = s.get("external", False)
        if not isinstance(external, bool):
            raise InputError(f"{origin}: {where}.external must be true or false")
        if s.get("declarations") is not None and not external:
            raise InputError(f"{origin}: {where} carries declarations but is not marked 'external: true' "
                             "(only an external silo's owner declares what flaudit cannot see)")
        silo_sub = _opt_str(s.get("subscription_id"), f"{where}.subscription_id", origin)
        silo_tenant = _opt_str(s.get("tenant_id"), f"{where}.tenant_id", origin)
        if silo_tenant and not silo_sub:
            raise InputError(f"{origin}: {where}.tenant_id needs {where}.subscription_id (the silo's subscription "
                             "in that tenant)")
        silos.append(SiloConfig(
            name=name,
            computes=computes,
            datastore=_opt_str(s.get("datastore"), f"{where}.datastore", origin),
            training_data=s.get("training_data"),
            testing_data=s.get("testing_data"),
            groups=[g.lower() for g in _names(s.get("groups"), f"{where}.groups", origin)],
            external=external,
            declarations=parse_declarations(s.get("declarations"), name, where, origin),
            subscription_id=silo_sub,
            resource_group=_opt_str(s.get("resource_group_name"), f"{where}.resource_group_name", origin),
            tenant_id=silo_tenant,
        ))
    orch_computes = _names(orch.get("computes", orch.get("compute")), "orchestrator.compute", origin)
    orch_datastore = _opt_str(orch.get("datastore"), "orchestrator.datastore", origin)
    if layout == "vertical":
        # The host trains on data of its own: audit it as a silo too (its storage must be its own alone).
        silos.insert(0, SiloConfig(name=HOST_SILO, computes=list(orch_computes), datastore=orch_datastore,
                                   training_data=orch.get("training_data"), testing_data=orch.get("testing_data")))
    administrators = _administrators(fl.get("administrators"), origin)
    tp = doc.get("training_parameters") or {}
    if not isinstance(tp, dict):
        raise InputError(f"{origin}: training_parameters must be a mapping")
    return FLConfig(
        path=origin,
        subscription_id=_opt_str(aml.get("subscription_id"), "aml.subscription_id", origin),
        resource_group=_opt_str(aml.get("resource_group_name"), "aml.resource_group_name", origin),
        workspace_name=_opt_str(aml.get("workspace_name"), "aml.workspace_name", origin),
        orchestrator_computes=orch_computes,
        orchestrator_datastore=orch_datastore,
        silos=silos,
        training_parameters=tp,
        raw=doc,
        sha256=digest,
        layout=layout,
        communication=dict(communication) if fl.get("communication") is not None else None,
        administrators=administrators,
        tenant_id=_opt_str(aml.get("tenant_id"), "aml.tenant_id", origin),
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
