"""``flaudit report RESULT.json``: re-render a saved result in any format, without touching Azure again.

Renderers read only the result contract (docs/result-contract.md), so a result saved by ``flaudit scan --format
json`` last month renders today exactly as it would have then. Output planning and writing are the scan's own
(plan_outputs / write_outputs), so both commands accept the same --format/--output combinations.
"""

from __future__ import annotations

import argparse


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
    from flaudit.result import load_result

    result = load_result(args.result)
    write_outputs(result, targets, quiet=args.quiet)
    return 0
