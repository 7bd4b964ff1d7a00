"""``flaudit report RESULT.json``: re-render a saved result in any format, without touching Azure again.

Renderers read only the result contract (docs/result-contract.md), so a result saved by ``flaudit scan --format
json`` last month renders today exactly as it would have then. Output planning and writing are the scan's own
(plan_outputs / write_outputs), so both commands accept the same --format/--output combinations.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SUPPORTED_MAJOR = "1"


def register(sub: argparse._SubParsersAction) -> None:
    from flaudit.commands.scan import add_output_arguments

    p = sub.add_parser("report", help="render a saved JSON result as html, markdown, sarif, junit or terminal",
                       description="Render a result saved with `flaudit scan --format json` (use - for stdin).")
    p.add_argument("result", metavar="RESULT.json", help="a result file written by flaudit scan --format json")
    add_output_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from flaudit.commands.scan import plan_outputs, write_outputs
    from flaudit.reports import parse_formats

    formats = parse_formats(args.format)
    targets = plan_outputs(formats, args.output)
    result = load_result(args.result)
    write_outputs(result, targets, quiet=args.quiet)
    return 0


def load_result(path: str) -> dict[str, Any]:
    """Read and check a saved result: JSON, an object, a flaudit ``schema_version`` of a major we read."""
    from flaudit.errors import InputError

    name = "<stdin>" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a result file") from None
    except UnicodeDecodeError:
        raise InputError(f"{name}: not a UTF-8 text file (expected a flaudit JSON result)") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise InputError(f"{name}: not a flaudit result (expected a JSON object, got {type(data).__name__})")
    version = data.get("schema_version")
    if not isinstance(version, str) or not version:
        raise InputError(f"{name}: not a flaudit result (no schema_version; write one with "
                         "`flaudit scan --format json`)")
    if version.split(".", 1)[0] != SUPPORTED_MAJOR:
        raise InputError(f"{name}: result schema_version {version} is not supported by this flaudit "
                         f"(reads {SUPPORTED_MAJOR}.x)")
    for key, kind in (("findings", list), ("verdict", dict)):
        if not isinstance(data.get(key), kind):
            raise InputError(f"{name}: not a flaudit result ({key!r} missing or not a {kind.__name__})")
    return data
