"""Renderers: each module turns the JSON result dict (docs/result-contract.md) into one output format.

Every module provides ``EXTENSION`` (file suffix) and ``render(result: dict, **options) -> str``; they read
only the result, never the deployment model, so any saved result can be re-rendered.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from flaudit.errors import InputError

FORMATS: dict[str, str] = {
    "terminal": "flaudit.reports.terminal",
    "json": "flaudit.reports.json_report",
    "sarif": "flaudit.reports.sarif",
    "junit": "flaudit.reports.junit",
    "html": "flaudit.reports.html",
    "markdown": "flaudit.reports.markdown",
}


def renderer(name: str) -> ModuleType:
    try:
        return importlib.import_module(FORMATS[name])
    except KeyError:
        raise InputError(f"unknown format {name!r} (choose from {', '.join(FORMATS)})") from None


def parse_formats(value: str) -> list[str]:
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    if not names:
        raise InputError("--format needs at least one format")
    for n in names:
        renderer(n) if n not in FORMATS else None
    return names
