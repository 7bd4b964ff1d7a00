"""Resolve the FL topology (workspace, orchestrator, silos) out of the inventory.

With an FL config, names are looked up exactly (case-insensitively, as Azure ML does) and anything missing
is recorded on the silo so rules can fail on it. Without one, silos are inferred from resource names and
``silo``/``orchestrator`` tags, and the result says so.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from flaudit.arm import get_path, name_of, norm
from flaudit.config import FLConfig
from flaudit.inventory import Inventory
from flaudit.kubernetes import cluster_for
from flaudit.model import Compute, Datastore, Deployment, Identity, Orchestrator, Silo, StorageAccount, Workspace
from flaudit.readers import identity_type, user_assigned_identities

WS = "microsoft.machinelearningservices/workspaces"
COMPUTE = "microsoft.machinelearningservices/workspaces/computes"
DATASTORE = "microsoft.machinelearningservices/workspaces/datastores"
STORAGE = "microsoft.storage/storageaccounts"
UAI = "microsoft.managedidentity/userassignedidentities"

_SILO_TOKEN = re.compile(r"(silo[a-z0-9]*)", re.IGNORECASE)
_ORCH_TOKEN = re.compile(r"orchestrator|orch\b", re.IGNORECASE)


def identities_of(resource: dict[str, Any], inventory: Inventory) -> list[Identity]:
    """The managed identities an ARM resource runs as, from its ``identity`` block (read through
    :func:`flaudit.readers.user_assigned_identities`, so the map, list and snake-case shapes all work)."""
    ident = resource.get("identity") or {}
    if not isinstance(ident, dict):
        return []
    out: list[Identity] = []
    if "systemassigned" in identity_type(ident):
        out.append(Identity(id=f"{resource.get('id', '')}#system", name=f"{resource.get('name', '')} (system-assigned)",
                            principal_id=ident.get("principalId") or ident.get("principal_id"), client_id=None,
                            kind="system-assigned"))
    for uid, val in user_assigned_identities(ident).items():
        res = inventory.get(uid)
        principal = val.get("principalId") or get_path(res, "properties.principalId")
        client = val.get("clientId") or get_path(res, "properties.clientId")
        out.append(Identity(id=uid, name=name_of(uid), principal_id=principal, client_id=client,
                            kind="user-assigned", resource=res))
    return out


class _Lookup:
    """Name indexes over the inventory, built once."""

    def __init__(self, inv: Inventory):
        self.inv = inv
        self.workspaces = inv.of_type(WS)
        self.computes: dict[str, list[dict]] = defaultdict(list)  # name -> resources
        for c in inv.of_type(COMPUTE):
            self.computes[str(c.get("name", name_of(c["id"]))).split("/")[-1].lower()].append(c)
        self.datastores: dict[str, list[dict]] = defaultdict(list)
        for d in inv.of_type(DATASTORE):
            self.datastores[str(d.get("name", name_of(d["id"]))).split("/")[-1].lower()].append(d)
        # Storage account names are globally unique in Azure, so a datastore names its account by name alone;
        # two accounts of one name in the input (two spellings of the subscription, say) are ambiguous.
        self.storage: dict[str, list[dict]] = defaultdict(list)
        for s in inv.of_type(STORAGE):
            self.storage[str(s.get("name") or name_of(s["id"])).lower()].append(s)

    def in_workspace(self, items: list[dict], ws: Workspace | None) -> list[dict]:
        if ws is None:
            return items
        prefix = norm(ws.id) + "/"
        return [i for i in items if norm(i["id"]).startswith(prefix)]

    def compute(self, name: str, ws: Workspace | None) -> Compute | None:
        found = self.in_workspace(self.computes.get(name.lower(), []), ws)
        if not found:
            return None
        c = found[0]
        return Compute(id=c["id"], name=name_of(c["id"]), raw=c, identities=identities_of(c, self.inv),
                       cluster=cluster_for(c, self.inv))

    def datastore(self, name: str, ws: Workspace | None) -> Datastore | None:
        found = self.in_workspace(self.datastores.get(name.lower(), []), ws)
        if not found:
            return None
        d = found[0]
        ds = Datastore(id=d["id"], name=name_of(d["id"]), raw=d)
        found_storage = self.storage.get(ds.account_name.lower(), []) if ds.account_name else []
        if len(found_storage) == 1:
            s = found_storage[0]
            ds.storage = StorageAccount(id=s["id"], name=name_of(s["id"]), raw=s)
        elif found_storage:
            ds.ambiguous_storage = [s["id"] for s in found_storage]
        return ds


def _workspace(res: dict, inv: Inventory) -> Workspace:
    return Workspace(id=res["id"], name=name_of(res["id"]), raw=res, identities=identities_of(res, inv))


def _resolve_member(member: Silo | Orchestrator, computes: list[str], datastore: str | None,
                    look: _Lookup, ws: Workspace | None) -> None:
    for cname in computes:
        c = look.compute(cname, ws)
        if c is None:
            member.missing.append(f"compute {cname!r} not found in the inventory")
        else:
            member.computes.append(c)
    if datastore:
        ds = look.datastore(datastore, ws)
        if ds is None:
            member.missing.append(f"datastore {datastore!r} not found in the inventory")
        else:
            member.datastore = ds
            if ds.storage is not None:
                member.storage = ds.storage
            elif ds.ambiguous_storage:
                member.missing.append(f"storage account {ds.account_name!r} (behind datastore {datastore!r}) matches "
                                      f"{len(ds.ambiguous_storage)} accounts in the inventory "
                                      f"({', '.join(ds.ambiguous_storage)}); which one holds the data is ambiguous")
            elif ds.account_name:
                member.missing.append(f"storage account {ds.account_name!r} (behind datastore {datastore!r}) "
                                      "not found in the inventory")
            else:
                member.missing.append(f"datastore {datastore!r} names no storage account")


def build_deployment(inventory: Inventory, config: FLConfig | None = None) -> Deployment:
    look = _Lookup(inventory)
    problems: list[str] = []
    if config is not None:
        return _from_config(inventory, config, look, problems)
    return _inferred(inventory, look, problems)


def _from_config(inventory: Inventory, config: FLConfig, look: _Lookup, problems: list[str]) -> Deployment:
    ws = None
    if config.workspace_name:
        matches = [w for w in look.workspaces if name_of(w["id"]).lower() == config.workspace_name.lower()
                   and (not config.resource_group or f"/resourcegroups/{config.resource_group.lower()}/" in norm(w["id"]))
                   and (not config.subscription_id or f"/subscriptions/{config.subscription_id.lower()}/" in norm(w["id"]))]
        if matches:
            ws = _workspace(matches[0], inventory)
        else:
            problems.append(f"workspace {config.workspace_name!r} named in the FL config is not in the inventory")
    elif len(look.workspaces) == 1:
        ws = _workspace(look.workspaces[0], inventory)
    elif look.workspaces:
        problems.append(f"{len(look.workspaces)} workspaces in the inventory and the FL config names none "
                        "(set aml.workspace_name)")
    orch = Orchestrator(name="orchestrator")
    _resolve_member(orch, config.orchestrator_computes, config.orchestrator_datastore, look, ws)
    silos = []
    for sc in config.silos:
        silo = Silo(name=sc.name, groups=list(sc.groups))
        _resolve_member(silo, sc.computes, sc.datastore, look, ws)
        if not sc.computes:
            silo.missing.append("the FL config names no compute for this silo")
        if not sc.datastore:
            silo.missing.append("the FL config names no datastore for this silo")
        silos.append(silo)
    return Deployment(inventory, config, "config", ws, orch, silos, problems)


def _tag(resource: dict, *names: str) -> str | None:
    tags = resource.get("tags") or {}
    if not isinstance(tags, dict):
        return None
    low = {str(k).lower(): v for k, v in tags.items()}
    for n in names:
        v = low.get(n)
        if isinstance(v, str) and v:
            return v
    return None


def _silo_name(resource: dict) -> str | None:
    tagged = _tag(resource, "silo", "fl-silo", "fl_silo")
    if tagged:
        return tagged
    m = _SILO_TOKEN.search(name_of(resource["id"]))
    return m.group(1).lower() if m else None


def _is_orchestrator(resource: dict) -> bool:
    role = (_tag(resource, "fl-role", "fl_role", "role") or "").lower()
    return role == "orchestrator" or _tag(resource, "orchestrator") is not None or bool(
        _ORCH_TOKEN.search(name_of(resource["id"])))


def _inferred(inventory: Inventory, look: _Lookup, problems: list[str]) -> Deployment:
    ws = None
    if len(look.workspaces) == 1:
        ws = _workspace(look.workspaces[0], inventory)
    elif look.workspaces:
        # The workspace holding the most silo-looking computes is the FL workspace.
        def score(w: dict) -> int:
            prefix = norm(w["id"]) + "/"
            return sum(1 for c in inventory.of_type(COMPUTE) if norm(c["id"]).startswith(prefix)
                       and (_silo_name(c) or _is_orchestrator(c)))
        best = max(look.workspaces, key=score)
        ws = _workspace(best, inventory)
        problems.append(f"{len(look.workspaces)} workspaces in the inventory; inferred {ws.name!r} as the FL "
                        "workspace (pass --config to say which)")
    silo_computes: dict[str, list[str]] = defaultdict(list)
    silo_datastores: dict[str, list[str]] = defaultdict(list)
    orch_computes: list[str] = []
    orch_datastores: list[str] = []
    for c in look.in_workspace(inventory.of_type(COMPUTE), ws):
        if _is_orchestrator(c):
            orch_computes.append(name_of(c["id"]))
        elif (s := _silo_name(c)):
            silo_computes[s].append(name_of(c["id"]))
    for d in look.in_workspace(inventory.of_type(DATASTORE), ws):
        if _is_orchestrator(d):
            orch_datastores.append(name_of(d["id"]))
        elif (s := _silo_name(d)):
            silo_datastores[s].append(name_of(d["id"]))
    orch = Orchestrator(name="orchestrator")
    _resolve_member(orch, orch_computes, orch_datastores[0] if orch_datastores else None, look, ws)
    if len(orch_datastores) > 1:
        problems.append(f"several orchestrator datastores look alike ({', '.join(orch_datastores)}); used the first")
    silos = []
    for name in sorted(set(silo_computes) | set(silo_datastores)):
        silo = Silo(name=name)
        dss = silo_datastores.get(name, [])
        _resolve_member(silo, silo_computes.get(name, []), dss[0] if dss else None, look, ws)
        if not silo_computes.get(name):
            silo.missing.append("no compute found for this silo by name or tag")
        if not dss:
            silo.missing.append("no datastore found for this silo by name or tag")
        elif len(dss) > 1:
            silo.missing.append(f"several datastores look like this silo's ({', '.join(dss)}); pass --config")
        silos.append(silo)
    problems.insert(0, "topology inferred from resource names and tags (no FL config given)")
    return Deployment(inventory, None, "inferred", ws, orch, silos, problems)
