"""``flaudit diff OLD.json NEW.json``: findings new, fixed and changed between two results."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diff", help="compare two JSON results (drift since a signed-off review)",
                       description="List findings that are new, fixed or changed status between two saved JSON "
                       "results, and resources added or removed. Exit 1 when there are new or regressed "
                       "failing findings, else 0.")
    p.add_argument("old", metavar="OLD.json")
    p.add_argument("new", metavar="NEW.json")
    p.add_argument("--format", "-f", choices=("terminal", "markdown", "json"), default="terminal")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing; rely on the exit code")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flaudit import diff
    from flaudit.output import write_text_atomic
    from flaudit.result import load_result

    d = diff.diff_results(load_result(args.old), load_result(args.new))
    text = {"terminal": diff.render_terminal, "markdown": diff.render_markdown, "json": diff.render_json}[args.format](d)
    if args.output:
        write_text_atomic(Path(args.output), text)
    elif not args.quiet:
        sys.stdout.write(text)
    regressed = d["new_findings"] or [c for c in d["changed"] if c["new_status"] in diff.FAILING]
    return 1 if regressed else 0
