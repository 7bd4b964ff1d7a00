"""ARM/Bicep template source: ``flaudit scan --template main.json`` audits what a template would create.

The template is evaluated into ARM-REST-shaped resources (see :mod:`.evaluate`), which go into the same
inventory a live snapshot fills, so the same rules judge both. Where each resource came from (file, line,
JSON path) is kept in ``inventory.locations`` for SARIF and annotations; constructs that could not be
evaluated are listed in ``inventory.unsupported``.

Defaults when the deployment scope is not given (documented in docs/templates.md): subscription
``00000000-0000-0000-0000-000000000000``, resource group ``rg-template``, location ``eastus`` (used for
``resourceGroup().location``; a template's own ``location`` parameter default applies as usual).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from flaudit.arm import norm
from flaudit.errors import InputError
from flaudit.inventory import Inventory, SourceInfo
from flaudit.readers import load_json, parse_json, read_text

DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_TENANT = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "rg-template"
DEFAULT_LOCATION = "eastus"
STRING_TYPES = {"string", "securestring"}


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--template", metavar="FILE",
                       help="ARM template (.json, as 'bicep build' emits it) or .bicep (compiled with the "
                       "Bicep CLI on PATH) to audit before it is deployed")
    group.add_argument("--parameters", metavar="FILE",
                       help="ARM parameter file for --template ({\"parameters\": {\"x\": {\"value\": ...}}})")
    group.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="template parameter (repeatable; VALUE is JSON for non-string parameters)")
    group.add_argument("--subscription-id", metavar="ID",
                       help=f"subscription a --template deploys to (default {DEFAULT_SUBSCRIPTION})")
    if "--resource-group" not in group._option_string_actions:  # live collection defines it too; share it
        group.add_argument("--resource-group", action="append", default=[], metavar="NAME",
                           help="--template: the resource group it deploys to (one; default "
                           f"{DEFAULT_RESOURCE_GROUP}); live collection: only these resource groups of the "
                           "--subscription (repeatable; assignments inherited from above are still read)")
    group.add_argument("--location", metavar="REGION",
                       help=f"location of that resource group, i.e. resourceGroup().location "
                       f"(default {DEFAULT_LOCATION})")


def wanted(args: argparse.Namespace) -> bool:
    if not getattr(args, "template", None):
        for flag in ("parameters", "param", "subscription_id", "location"):
            if getattr(args, flag, None):
                raise InputError(f"--{flag.replace('_', '-')} needs --template")
        return False
    return True


def load(args: argparse.Namespace, inventory: Inventory) -> None:
    expand_into(
        inventory, Path(args.template),
        parameters_file=Path(args.parameters) if getattr(args, "parameters", None) else None,
        params=list(getattr(args, "param", None) or []),
        subscription_id=getattr(args, "subscription_id", None),
        resource_group=_one_resource_group(getattr(args, "resource_group", None)),
        location=getattr(args, "location", None),
    )


def _one_resource_group(value: Any) -> str | None:
    """--resource-group is shared with live collection (repeatable there); a template deploys to one."""
    if isinstance(value, list):
        if len(value) > 1:
            raise InputError("--template deploys to one resource group; give --resource-group once")
        return value[0] if value else None
    return value or None


def read_template(path: Path) -> tuple[dict[str, Any], str]:
    """(template, JSON text) of ``path``; a .bicep file is compiled first."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() == ".bicep":
        from flaudit.sources.template.bicep import compile_bicep

        text = compile_bicep(path)
    else:
        text = read_text(path, "ARM template")
    doc = parse_json(text, str(path))
    if not isinstance(doc, dict) or not isinstance(doc.get("resources"), (list, dict)):
        what = "a parameter file" if isinstance(doc, dict) and "parameters" in doc and "resources" not in doc \
            else "not an ARM template"
        raise InputError(f"{path}: {what} (expected an object with a 'resources' array or object)")
    return doc, text


def parse_param_file(path: Path) -> dict[str, Any]:
    """Parameter values from an ARM parameter file; Key Vault references become unknown secrets."""
    from flaudit.sources.template.evaluate import keyvault_symbol

    doc = load_json(path, "ARM parameter file")
    if not isinstance(doc, dict) or not isinstance(doc.get("parameters"), dict):
        raise InputError(f"{path}: not an ARM parameter file (expected {{\"parameters\": {{...}}}})")
    out: dict[str, Any] = {}
    for name, entry in doc["parameters"].items():
        if isinstance(entry, dict) and "value" in entry:
            out[name] = entry["value"]
        elif isinstance(entry, dict) and "reference" in entry:
            out[name] = keyvault_symbol(entry["reference"])
        else:
            raise InputError(f"{path}: parameter '{name}' needs a 'value' or a Key Vault 'reference'")
    return out


def parse_param_args(items: list[str], declared: dict[str, Any]) -> dict[str, Any]:
    """``--param name=value``: JSON for non-string parameters, the raw text for string ones."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--param {item!r}: expected NAME=VALUE")
        name = name.strip()
        decl = declared.get(name.lower()) or {}
        ptype = str(decl.get("type") or "").lower()
        if ptype in STRING_TYPES:
            out[name] = raw
            continue
        try:
            out[name] = json.loads(raw)
        except json.JSONDecodeError:
            out[name] = raw
    return out


def expand_into(inventory: Inventory, path: Path, *, parameters_file: Path | None = None,
                params: list[str] | dict[str, Any] | None = None, subscription_id: str | None = None,
                resource_group: str | None = None, location: str | None = None) -> int:
    """Evaluate the template at ``path`` into ``inventory``; returns how many resources it would create."""
    from flaudit.sources.template.evaluate import Target, TemplateExpander, schema_kind
    from flaudit.sources.template.locate import line_index

    template, text = read_template(path)
    declared = {k.lower(): v for k, v in (template.get("parameters") or {}).items() if isinstance(v, dict)}
    values: dict[str, Any] = {}
    if parameters_file is not None:
        values.update(parse_param_file(parameters_file))
    if isinstance(params, dict):
        values.update(params)
    elif params:
        values.update(parse_param_args(params, declared))
    for name in values:
        if name.lower() not in declared:
            origin = parameters_file if parameters_file is not None else "--param"
            raise InputError(f"{origin}: template {path} has no parameter '{name}'")
    missing = [name for name, decl in (template.get("parameters") or {}).items()
               if isinstance(decl, dict) and "defaultValue" not in decl
               and not any(v.lower() == name.lower() for v in values)]
    if missing:
        raise InputError(f"{path}: required parameter '{missing[0]}' has no value and no default "
                         f"(give --param {missing[0]}=VALUE or --parameters FILE)")
    kind = schema_kind(template)
    target = Target(kind, subscription_id or DEFAULT_SUBSCRIPTION,
                    (resource_group or DEFAULT_RESOURCE_GROUP) if kind == "resourceGroup" else None,
                    location or DEFAULT_LOCATION, DEFAULT_TENANT)
    expander = TemplateExpander(str(path), line_index(text))
    expander.expand(template, dict(values), target, path.stem or "template")
    added = 0
    for res in expander.resources:
        added += bool(inventory.add(res))
    from flaudit.sources.template.scripts import script_resources

    for res, script in script_resources(expander.resources):  # az k8s-extension create in deployment scripts
        if inventory.add(res):
            added += 1
            inventory.notes["{n} cluster extension(s) read from the az k8s-extension command line of a template's "
                            "deployment script"] += 1
            if (loc := expander.locations.get(norm(script.get("id")))) is not None:
                inventory.locations[norm(res["id"])] = loc
    from flaudit.sources.template.aks import aks_managed_networks

    for res, cluster in aks_managed_networks(expander.resources):  # the VNet and NSG AKS itself creates
        if inventory.get(res["id"]) is None and inventory.add(res):
            added += 1
            inventory.notes["{n} network resource(s) AKS creates in a cluster's node resource group (no vnetSubnetID: "
                            "VNet 10.224.0.0/12 and an NSG with Azure's default rules) added from the template"] += 1
            if (loc := expander.locations.get(norm(cluster.get("id")))) is not None:
                inventory.locations[norm(res["id"])] = loc
    _children_known_absent(inventory, expander.resources)
    inventory.locations.update(expander.locations)
    inventory.unsupported.extend(expander.unsupported)
    inventory.sources.append(SourceInfo("template", str(path), added, {
        "parameters": sorted(values), "subscription_id": target.subscription_id,
        "resource_group": target.resource_group, "location": target.location,
        "unsupported": len(expander.unsupported)}))
    return added


#: Child types a newly created parent starts without: a template that creates the parent declares every one of
#: them it will have (resources added later by hand are drift, which a snapshot of the deployed state shows).
CREATED_WITHOUT = {
    "microsoft.machinelearningservices/workspaces": ("microsoft.machinelearningservices/workspaces/connections",),
    "microsoft.storage/storageaccounts": ("microsoft.storage/storageaccounts/objectreplicationpolicies",
                                          "microsoft.storage/storageaccounts/inventorypolicies"),
    "microsoft.managedidentity/userassignedidentities": (
        "microsoft.managedidentity/userassignedidentities/federatedidentitycredentials",),
}


def _children_known_absent(inventory: Inventory, resources: list[dict[str, Any]]) -> None:
    """Record the child lists of the parents this template creates as known (``collected``): a workspace, storage
    account or identity the template creates has exactly the connections, policies and federated credentials the
    template declares, so their absence is "none", not "not read". Parents the template only references
    (``existing``) are not in ``resources`` and stay unknown."""
    known = {(norm(r.get("id")), child) for r in resources
             for child in CREATED_WITHOUT.get(norm(r.get("type")), ())}
    if known:
        inventory.collected = (inventory.collected or set()) | known
