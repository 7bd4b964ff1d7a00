"""``flaudit rules list`` and ``flaudit rules show ID``: the rule pack, explained from its own metadata."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rules", help="list or explain the rules")
    rs = p.add_subparsers(dest="rules_command", metavar="ACTION", parser_class=type(p))
    lst = rs.add_parser("list", help="every rule with its area, severity and the profiles it blocks")
    lst.add_argument("--rules-dir", action="append", default=[], metavar="DIR")
    lst.add_argument("--json", action="store_true", help="machine-readable")
    lst.set_defaults(func=run_list)
    show = rs.add_parser("show", help="one rule: rationale, remediation, references")
    show.add_argument("rule_id")
    show.add_argument("--rules-dir", action="append", default=[], metavar="DIR")
    show.set_defaults(func=run_show)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def _rules(args: argparse.Namespace):
    from flaudit.engine import load_rules

    return load_rules([Path(d) for d in args.rules_dir])


def run_list(args: argparse.Namespace) -> int:
    rules = _rules(args)
    if args.json:
        print(json.dumps([r.to_dict() for r in rules], indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rules)} rules", show_lines=False)
    for col in ("id", "area", "severity", "blocks", "title"):
        table.add_column(col)
    for r in sorted(rules, key=lambda r: (r.area, r.id)):
        table.add_row(r.id, r.area, r.severity, ",".join(r.blocks) or "-", r.title)
    Console(width=160).print(table)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from flaudit.errors import InputError

    rules = {r.id.lower(): r for r in _rules(args)}
    r = rules.get(args.rule_id.lower())
    if r is None:
        raise InputError(f"no rule {args.rule_id!r} (see flaudit rules list)")
    lines = [
        f"{r.id}  {r.title}",
        f"area: {r.area}   severity: {r.severity}   blocks: {', '.join(r.blocks) or 'nothing (informational)'}",
        "",
        "Why it matters",
        f"  {r.rationale}",
        "",
        "Remediation",
    ]
    if r.remediation.text:
        lines.append(f"  {r.remediation.text}")
    lines += ["  az CLI:", *("    " + x for x in r.remediation.cli.splitlines()), "  Bicep:",
              *("    " + x for x in r.remediation.bicep.splitlines())]
    if r.references:
        lines += ["", "References", *("  " + x for x in r.references)]
    if r.policy:
        lines += ["", "Azure Policy definitions", *("  " + x for x in r.policy)]
    print("\n".join(lines))
    return 0
