"""Bundled sample deployments: ``--sample NAME`` reads flaudit/samples/NAME.json with the sample FL config.

The samples are snapshots written by flaudit/samples/generate.py; see its docstring for what each posture is.
"""

from __future__ import annotations

import argparse
import json
from importlib import resources

from flaudit.errors import InputError
from flaudit.inventory import Inventory, SourceInfo

NAMES = ("open", "eyes-on", "eyes-off", "private", "hardened")
DEFAULT = "hardened"


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--sample", nargs="?", const=DEFAULT, metavar="NAME",
                       help=f"a bundled sample deployment: {', '.join(NAMES)} (default {DEFAULT}); "
                       "uses the bundled FL config unless --config is given")


def wanted(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "sample", None))


def sample_text(name: str, suffix: str = "json") -> str:
    if name not in NAMES:
        raise InputError(f"unknown sample {name!r} (choose from {', '.join(NAMES)})")
    return resources.files("flaudit.samples").joinpath(f"{name}.{suffix}").read_text("utf-8")


def config_path() -> str:
    return str(resources.files("flaudit.samples").joinpath("config.yaml"))


def load(args: argparse.Namespace, inventory: Inventory) -> None:
    from flaudit.config import load_config
    from flaudit.sources.files import parse_snapshot

    inv = parse_snapshot(json.loads(sample_text(args.sample)), f"sample:{args.sample}")
    inv.sources = [SourceInfo("sample", f"sample:{args.sample}", len(inv.resources))]
    sample_file = str(resources.files("flaudit.samples").joinpath(f"{args.sample}.json"))
    for rid in inv.resources:  # findings name the sample file they came from (SARIF artifact, HTML)
        inv.locations.setdefault(rid, {"file": sample_file})
    inventory.merge(inv)
    if getattr(args, "fl_config", None) is None:
        args.fl_config = load_config(config_path())
