"""Small helpers shared by the template tests: evaluate one expression, expand a template dict or file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flaudit.inventory import Inventory
from flaudit.sources.template import expand_into
from flaudit.sources.template.evaluate import Target, TemplateExpander

FIXTURES = Path(__file__).parent / "fixtures"
SUB = "00000000-0000-0000-0000-000000000000"
RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg-template"


def target(kind: str = "resourceGroup") -> Target:
    return Target(kind, SUB, "rg-template" if kind == "resourceGroup" else None, "eastus", SUB)


def expander_for(template: dict[str, Any], params: dict[str, Any] | None = None,
                 kind: str = "resourceGroup") -> TemplateExpander:
    ex = TemplateExpander("inline.json")
    ex.expand(template, dict(params or {}), target(kind), "inline")
    return ex


def evaluate(expression: Any, *, parameters: dict[str, Any] | None = None,
             variables: dict[str, Any] | None = None,
             values: dict[str, Any] | None = None) -> tuple[Any, list[dict[str, Any]]]:
    """(value, unsupported entries) of one expression in an otherwise empty template."""
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "parameters": parameters or {},
        "variables": variables or {},
        "resources": [],
        "outputs": {"out": {"type": "any", "value": expression}},
    }
    ex = expander_for(template, values)
    out = ex.outputs.get("out")
    return (out["value"] if out else None), ex.unsupported


def expand_file(name: str, **kwargs: Any) -> Inventory:
    inv = Inventory()
    expand_into(inv, FIXTURES / name, **kwargs)
    return inv


def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path
