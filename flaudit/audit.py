"""One audit, start to finish: inventory -> deployment model -> rules -> findings -> result dict.

Used by ``flaudit scan``, by ``flaudit train`` (the gate) and by programs that embed flaudit.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flaudit.config import FLConfig, load_config
from flaudit.declarations import apply_declarations, validate_declarations
from flaudit.errors import stage
from flaudit.inventory import Inventory
from flaudit.progress import ScanProgress
from flaudit.selection import RuleSelection
from flaudit.waivers import DEFAULT_FILE, DEFAULT_MAX_DAYS, WaiverSet, apply_waivers, load_waivers, validate_waivers


def add_audit_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that audits (scan, train): inputs, FL config, profile, rules."""
    from flaudit import sources

    sources.add_arguments(parser)
    parser.add_argument("--config", "-c", metavar="FILE", help="FL config (config.yaml of the Azure ML FL sample)")
    parser.add_argument("--profile", choices=("prototype", "production"), default="production",
                        help="readiness profile the exit code gates on (default: production)")
    parser.add_argument("--rules-dir", action="append", default=[], metavar="DIR",
                        help="also load the rules declared in DIR/*.py (repeatable)")
    parser.add_argument("--waivers", metavar="FILE",
                        help=f"waiver file (default: ./{DEFAULT_FILE} when it exists)")
    parser.add_argument("--waiver-max-days", type=int, default=DEFAULT_MAX_DAYS, metavar="N",
                        help=f"longest a waiver may run from today (default {DEFAULT_MAX_DAYS})")


@dataclass
class Evaluation:
    """Everything one evaluation produced, before it is assembled into the result dict."""

    deployment: Any
    rules: list[Any]
    findings: list[Any]
    access: list[dict[str, Any]]
    network_paths: list[dict[str, Any]]
    skipped: list[Any] | None = None  # rules the selection (--rule / --skip-rule) left out
    pack: list[Any] | None = None  # every rule loaded, selected or not (waivers are checked against it)


#: A generation-2 threshold no audit reaches (the count of generation-1 collections between full ones).
_NO_FULL_COLLECTIONS = 1 << 30
_long_lived_depth = 0


@contextmanager
def long_lived(*, young: bool = True) -> Iterator[None]:
    """The one place an audit manages the cyclic garbage collector (re-entrant: the outermost wins).

    Why: an audit builds millions of containers that live as long as it does and almost never form cycles (the
    inventory, the model and its RBAC / network / path indexes, findings, the result). Each collection that
    walks them frees nothing: parsing a 100 MB input runs three times slower with the collector on, and at
    1,000 silos six full collections during evaluation cost ~0.3 s and freed nothing. So:

    ``young=False`` (``flaudit scan`` / ``train`` of files, templates or samples): no collection at all until the
    audit ends; what it built is freed by reference counting as usual, the collector resumes afterwards.

    ``young=True`` (live collection, whose SDK objects and retries do make garbage cycles, and programs that
    call :func:`run_audit` or :func:`evaluate`): what exists is moved out of the collector's way
    (``gc.freeze``) and full collections wait until the audit ends; young ones (generations 0 and 1) still
    reclaim short-lived cycles with their usual thresholds.

    (Outside an audit, :mod:`flaudit.readers` keeps the collector off for the length of one JSON parse, so a
    command that reads a large saved result is as quick.)"""
    global _long_lived_depth
    if _long_lived_depth:
        yield
        return
    enabled = gc.isenabled()
    thresholds = gc.get_threshold()
    if young:
        gc.freeze()
        gc.set_threshold(thresholds[0], thresholds[1], _NO_FULL_COLLECTIONS)
    else:
        gc.disable()
    _long_lived_depth += 1
    try:
        yield
    finally:
        _long_lived_depth -= 1
        if young:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
        elif enabled:
            # Everything the audit allocated is still in the youngest generation (nothing was collected), so
            # the first collection after gc.enable() would walk all of it (~0.15 s at 1,000 silos). Moving it
            # to the oldest generation first (freeze + unfreeze: two list splices) leaves it for the next full
            # collection, as if it had aged there.
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def evaluate(inventory: Inventory, config: FLConfig | None = None, *, rules_dirs: Iterable[Path] = (),
             selection: RuleSelection | None = None) -> Evaluation:
    """Model building and rule evaluation: the part whose speed the engine benchmark pins."""
    from flaudit.access import access_edges
    from flaudit.engine import load_rules, run_rules
    from flaudit.exposure import network_paths
    from flaudit.reach import edges
    from flaudit.topology import build_deployment

    with long_lived():
        with stage("the deployment model (flaudit.topology.build_deployment)"):
            deployment = build_deployment(inventory, config)
        from flaudit.selection import select

        pack = load_rules(rules_dirs)
        rules, skipped = select(pack, selection)
        findings = run_rules(deployment, rules)
        with stage("the access evaluation (flaudit.access, flaudit.reach)"):
            access = access_edges(deployment) + edges(deployment)
        with stage("the network paths (flaudit.exposure)"):
            paths = network_paths(deployment)
        return Evaluation(deployment, rules, findings, access, paths, skipped, pack)


def run_audit(inventory: Inventory, config: FLConfig | None = None, *, profile: str = "production",
              rules_dirs: Iterable[Path] = (), waivers: WaiverSet | None = None,
              today: _dt.date | None = None, generated_at: str | None = None,
              selection: RuleSelection | None = None, compact: bool = False) -> dict[str, Any]:
    """``compact``: passing findings carry only the evidence that says more than their status (see
    :func:`flaudit.result.pass_evidence`); everything else is the same."""
    from flaudit.gate import fix_first_all
    from flaudit.lifetime import park
    from flaudit.result import build_result
    from flaudit.selection import selection_report
    from flaudit.unmodelled import unmodelled_children

    with long_lived():
        ev = evaluate(inventory, config, rules_dirs=rules_dirs, selection=selection)
        topology = ev.deployment.topology_dict()
        validate_waivers(waivers, [r.id for r in ev.pack or ev.rules],
                         [str(s.get("name")) for s in topology.get("silos") or [] if s.get("name")])
        waiver_report = apply_waivers(ev.findings, waivers, today=today or _today())
        declared = [d for s in (config.silos if config else []) for d in s.declarations]
        validate_declarations(declared, [r.id for r in ev.pack or ev.rules], config.path if config else "")
        declaration_report = apply_declarations(ev.findings, declared, today=today or _today())
        result = build_result(
            findings=ev.findings, profile=profile, inventory=inventory, topology=topology,
            access=ev.access, network_paths=ev.network_paths, rules=ev.rules, waivers=waiver_report,
            generated_at=generated_at, unmodelled=[u.to_dict() for u in unmodelled_children(ev.deployment)],
            compact=compact, config_sha256=config.sha256 if config else None,
        )
        result["declarations"] = declaration_report
        park(ev, inventory)  # freed by the process exit, if one is near (flaudit.lifetime)
        if selection is not None and selection.active:
            result["selection"] = selection_report(selection, ev.skipped or [])
            for p, v in result["verdict"].items():
                v["skipped_rules"] = [r.id for r in ev.skipped or [] if p in r.blocks]
            result["summary"]["fix_first"] = fix_first_all(result)
    return result


def audit_from_args(args: argparse.Namespace, progress: ScanProgress | None = None) -> dict[str, Any]:
    """Load the inputs and FL config named on the command line and audit them, saying which phase runs on
    ``progress`` (a line on a TTY, see :mod:`flaudit.progress`)."""
    from flaudit.sources import live

    progress = progress or ScanProgress(False)
    with long_lived(young=live.wanted(args)):
        return _audit_from_args(args, progress)


def _audit_from_args(args: argparse.Namespace, progress: ScanProgress) -> dict[str, Any]:
    from flaudit import sources
    from flaudit.sources import live

    if getattr(args, "config", None):
        progress.phase(f"reading FL config {args.config}")
    config = load_config(args.config) if getattr(args, "config", None) else None
    args.fl_config = config  # sources such as live collection read the workspace from it
    waivers = waivers_from_args(args)
    progress.phase("loading inputs", own_display=live.wanted(args))  # live collection shows its own bar
    inventory = sources.load_inventory(args)
    progress.phase(f"evaluating {len(inventory.resources):,} resources")
    return run_audit(inventory, args.fl_config, profile=args.profile,
                     rules_dirs=[Path(d) for d in getattr(args, "rules_dir", [])], waivers=waivers,
                     selection=getattr(args, "rule_selection", None),
                     compact=bool(getattr(args, "compact", False)))


def _today() -> _dt.date:
    return _dt.datetime.now(_dt.UTC).date()


def waivers_from_args(args: argparse.Namespace) -> WaiverSet | None:
    """The waiver file named with --waivers, else ./flaudit.waivers.yaml when it exists, else none."""
    path = getattr(args, "waivers", None)
    if path is None and Path(DEFAULT_FILE).is_file():
        path = DEFAULT_FILE
    if path is None:
        return None
    return load_waivers(path, today=_today(), max_days=getattr(args, "waiver_max_days", DEFAULT_MAX_DAYS))
