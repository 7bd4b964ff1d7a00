"""Live Azure as an input source: ``flaudit scan --subscription ID`` (or an FL config naming the workspace).

Collects with :func:`collect` (ARM, one list per type and scope) or, with ``--resource-graph``,
:func:`collect_fleet` (Azure Resource Graph plus authorization API cross-checks), then hands the inventory
to the audit exactly as a snapshot file would be. Embedding programs call
``flaudit.sources.live.collect.collect(scope, credential=their_token_credential)`` directly.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from flaudit.errors import InputError
from flaudit.inventory import Inventory
from flaudit.sources.live.credential import CLOUDS

__all__ = [
    "Scope", "add_arguments", "add_scope_arguments", "collect_fleet", "collect_from_args", "load",
    "make_scope", "scope_from_args", "wanted", "write_collected_snapshot",
]


def add_scope_arguments(target: Any, *, resource_group: bool = True) -> None:
    """Options naming what to collect and how to authenticate (shared by ``scan`` and ``collect``)."""
    target.add_argument("--subscription", action="append", default=[], metavar="ID",
                        help="collect this Azure subscription live (repeatable; needs Reader on it)")
    if resource_group:
        target.add_argument("--resource-group", action="append", default=[], metavar="RG",
                            help="only these resource groups of the one --subscription (repeatable); "
                            "assignments inherited from the subscription and above are still read")
    target.add_argument("--tenant", metavar="ID", help="Entra tenant to authenticate in")
    target.add_argument("--cloud", choices=sorted(CLOUDS), default=None,
                        help="Azure cloud (default: AzureCloud)")
    target.add_argument("--resource-graph", action="store_true",
                        help="fleet mode: read resources through Azure Resource Graph (many subscriptions or "
                        "a management group), cross-checking role assignments with the authorization API")
    target.add_argument("--management-group", metavar="MG",
                        help="with --resource-graph: every subscription below this management group")


def add_arguments(group: argparse._ArgumentGroup) -> None:
    # The template source owns scan's single-valued --resource-group (the group a template deploys to); live
    # collection reads the same option, so it is added here only when that source is not loaded.
    from flaudit.sources import SOURCE_MODULES

    add_scope_arguments(group, resource_group="flaudit.sources.template" not in SOURCE_MODULES)
    group.add_argument("--save-snapshot", metavar="PATH",
                       help="also write what live collection read as a snapshot (re-audit it with --input)")


def _other_input(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "input", None) or getattr(args, "paths", None) or getattr(args, "sample", None)
                or getattr(args, "template", None)
                or getattr(args, "what_if", None))


def wanted(args: argparse.Namespace) -> bool:
    if getattr(args, "subscription", None) or getattr(args, "management_group", None):
        return True
    if getattr(args, "save_snapshot", None) or getattr(args, "resource_graph", False):
        return True  # load() explains what scope it needs if none is given
    config = getattr(args, "fl_config", None)
    return not _other_input(args) and config is not None and bool(getattr(config, "subscription_id", None))


def scope_from_args(args: argparse.Namespace, config: Any = None) -> Any:
    """The scope the arguments (or, failing them, the FL config's ``aml`` block) name."""
    from flaudit.sources.live.collect import make_scope

    subs = list(getattr(args, "subscription", None) or [])
    rg_arg = getattr(args, "resource_group", None) or []
    rgs = [rg_arg] if isinstance(rg_arg, str) else list(rg_arg)
    mg = getattr(args, "management_group", None)
    if mg and not getattr(args, "resource_graph", False):
        raise InputError("--management-group needs --resource-graph (fleet mode)")
    if not subs and not mg and config is not None and getattr(config, "subscription_id", None):
        subs = [config.subscription_id]
        # fleet mode reads whole subscriptions, so the config's resource group only narrows live mode
        if not rgs and getattr(config, "resource_group", None) and not getattr(args, "resource_graph", False):
            rgs = [config.resource_group]
    if getattr(args, "resource_graph", False) and rgs:
        raise InputError("--resource-group cannot be combined with --resource-graph (fleet mode reads whole "
                         "subscriptions)")
    return make_scope(subs, rgs, mg)


def collect_from_args(args: argparse.Namespace, config: Any = None, *, credential: Any = None) -> Inventory:
    """Collect what the parsed arguments name; a progress bar only on a TTY and without ``--quiet``."""
    from flaudit.sources.live.collect import collect
    from flaudit.sources.live.graph import collect_fleet

    progress = not getattr(args, "quiet", False) and sys.stderr.isatty()
    if config is not None and not getattr(args, "subscription", None) and not getattr(args, "management_group", None):
        from flaudit.sources.live.scopes import collect_config_scopes, names_other_scopes

        if names_other_scopes(config):  # silos in other subscriptions or tenants: every scope, one credential each
            return collect_config_scopes(config, tenant=getattr(args, "tenant", None), cloud=getattr(args, "cloud", None),
                                         credential_for=(lambda _t: credential) if credential is not None else None,
                                         progress=progress, resource_graph=getattr(args, "resource_graph", False))
    scope = scope_from_args(args, config)
    kwargs = {"credential": credential, "cloud": getattr(args, "cloud", None),
              "tenant": getattr(args, "tenant", None), "progress": progress}
    if getattr(args, "resource_graph", False):
        return collect_fleet(scope, **kwargs)
    return collect(scope, **kwargs)


def load(args: argparse.Namespace, inventory: Inventory) -> None:
    from flaudit.sources.live.collect import write_collected_snapshot

    config = getattr(args, "fl_config", None)
    if (getattr(args, "save_snapshot", None) or getattr(args, "resource_graph", False)) and not (
            getattr(args, "subscription", None) or getattr(args, "management_group", None)
            or (not _other_input(args) and config is not None and getattr(config, "subscription_id", None))):
        raise InputError("--save-snapshot and --resource-graph need a live scope: give --subscription or "
                         "--management-group (or an FL config with aml.subscription_id and no other input)")
    collected = collect_from_args(args, config)
    if getattr(args, "save_snapshot", None):
        write_collected_snapshot(collected, args.save_snapshot)
    inventory.merge(collected)


def __getattr__(name: str) -> Any:
    """Lazy re-exports, so importing the source module (for ``flaudit scan --help``) loads no Azure SDK."""
    if name in ("make_scope", "write_collected_snapshot", "Scope"):
        import importlib

        return getattr(importlib.import_module("flaudit.sources.live.collect"), name)
    if name == "collect_fleet":
        from flaudit.sources.live.graph import collect_fleet

        return collect_fleet
    raise AttributeError(name)
