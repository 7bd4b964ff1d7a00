"""``flaudit collect``: read a deployment from Azure (read-only) and write a snapshot to audit offline later."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    from flaudit.sources.live import add_scope_arguments

    p = sub.add_parser(
        "collect", help="read a deployment from Azure into a snapshot (read-only)",
        description="Collect the resources flaudit audits from Azure Resource Manager (or Azure Resource Graph "
        "with --resource-graph) into a snapshot that `flaudit scan --input` audits offline. Needs Reader on "
        "the scope; sends only reads (GET, plus the read-only Resource Graph query). With Microsoft Graph "
        "Directory.Read.All it also reads the directory objects of users and service principals holding roles "
        "on collected storage (optional: without it FL-XT-002 stays unknown for them).",
        epilog="Exit codes: 0 snapshot written (unreadable types are listed in it); 2 usage or input error; "
        "3 nothing in scope could be read (no credential, subscription not found, no permission).",
    )
    add_scope_arguments(p)
    p.add_argument("--config", "-c", metavar="FILE",
                   help="FL config: aml.subscription_id and aml.resource_group_name give the scope when "
                   "--subscription is not given")
    p.add_argument("--output", "-o", required=True, metavar="PATH", help="snapshot file to write (JSON)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flaudit.config import load_config
    from flaudit.errors import InputError
    from flaudit.sources.live import collect_from_args, scope_from_args
    from flaudit.sources.live.collect import write_collected_snapshot

    out = Path(args.output)
    if out.is_dir():
        raise InputError(f"{out}: is a directory; give a file name for the snapshot")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise InputError(f"{out}: directory {out.parent} does not exist")
    config = load_config(args.config) if args.config else None
    scope_from_args(args, config)  # bad arguments fail before any credential is created
    inventory = collect_from_args(args, config)
    write_collected_snapshot(inventory, out)
    if not args.quiet:
        src = inventory.sources[-1]
        unreadable = len(inventory.unreadable)
        note = f"; {unreadable} unreadable (see the snapshot's 'unreadable')" if unreadable else ""
        directory = f" and {len(inventory.directory)} directory objects" if inventory.directory else ""
        print(f"flaudit: collected {len(inventory.resources)} resources{directory} with {src.detail.get('requests')} "
              f"requests in {src.detail.get('seconds')} s{note} -> {out}", file=sys.stderr)
    return 0
