"""Input sources. Each module turns one kind of input into inventory; the scan command wires them.

A source module provides three functions:

``add_arguments(group)``
    adds its options to ``flaudit scan`` (and ``flaudit train``, which audits the same way);
``wanted(args) -> bool``
    whether the parsed arguments ask for it;
``load(args, inventory) -> None``
    adds what it read to ``inventory`` (sources run in the order below, so a later one, such as a what-if
    result, can amend what an earlier one loaded).

Adding an input format is adding one module to :data:`SOURCE_MODULES`; no other layer changes.
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType

from flaudit.errors import InputError, stage
from flaudit.inventory import Inventory

SOURCE_MODULES: list[str] = [
    "flaudit.sources.files",
    "flaudit.sources.samples",
    "flaudit.sources.live",
    "flaudit.sources.template",
    "flaudit.sources.whatif",
]


def modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in SOURCE_MODULES]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("inputs")
    for mod in modules():
        mod.add_arguments(group)


def load_inventory(args: argparse.Namespace) -> Inventory:
    """Every wanted source's resources, in :data:`SOURCE_MODULES` order. The garbage collector is managed as for an
    audit (:func:`flaudit.audit.long_lived`; a no-op inside one), also when a caller only loads: ``train --result``
    and an attestation check recompute the inventory digest of a fleet."""
    from flaudit.audit import long_lived
    from flaudit.sources import live

    inventory = Inventory()
    used = [mod for mod in modules() if mod.wanted(args)]
    if not used:
        raise InputError("no input: give --input PATH, --sample NAME, or another source (see flaudit scan --help)")
    with long_lived(young=live.wanted(args)):
        for mod in used:
            with stage(f"source {mod.__name__}"):
                mod.load(args, inventory)
    return inventory
