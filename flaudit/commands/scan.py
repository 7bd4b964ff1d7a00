"""``flaudit scan``: audit a deployment and write the reports; the exit code is the gate."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from flaudit.findings import SEVERITIES
from flaudit.progress import ScanProgress


def register(sub: argparse._SubParsersAction) -> None:
    from flaudit.audit import add_audit_arguments

    p = sub.add_parser("scan", help="audit a deployment and report its readiness",
                       description="Audit an FL deployment (files, a bundled sample, a template or live Azure) "
                       "and report readiness for the prototype and production profiles.")
    add_audit_arguments(p)
    add_output_arguments(p)
    p.add_argument("--fail-on", choices=SEVERITIES, metavar="SEVERITY",
                   help="only blocking findings of this severity or worse fail the exit code "
                   f"({'|'.join(SEVERITIES)}; default: any blocking finding)")
    p.add_argument("--baseline", metavar="RESULT.json",
                   help="a signed-off JSON result to compare with (adds result.baseline)")
    p.add_argument("--fail-on-new", action="store_true",
                   help="with --baseline: exit 1 only for blocking findings not already in the baseline")
    add_gate_arguments(p)
    p.add_argument("--compact", action="store_true",
                   help="passing findings keep only the evidence that says more than their status (assumed Azure "
                   "defaults, notes), and the JSON result is written without indentation (a 1,000-silo result "
                   "shrinks to under half)")
    p.set_defaults(func=run)


def add_gate_arguments(p: argparse.ArgumentParser) -> None:
    """Rule selection, project settings and verbosity (the gate's own options)."""
    p.add_argument("--rule", action="append", default=[], metavar="PATTERN",
                   help="run only these rules: id, area or glob (FL-NET-002, network-isolation, 'FL-WSH-*'); "
                   "repeatable or comma-separated")
    p.add_argument("--skip-rule", action="append", default=[], metavar="PATTERN",
                   help="do not run these rules (id, area or glob); skipped blocking rules are named in every "
                   "output and in the verdict")
    p.add_argument("--settings", metavar="FILE",
                   help="project settings file (default: ./.flaudit.yaml, else [tool.flaudit] in ./pyproject.toml)")
    p.add_argument("--no-settings", action="store_true", help="ignore the project settings file")
    p.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS,
                   help="print the traceback of an internal error, and the Azure SDK's own log lines (credential "
                   "chain attempts, retries)")
    # Unset means "not given": the project settings may fill these before the built-in defaults apply.
    p.set_defaults(profile=None, format=None)


def apply_settings(args: argparse.Namespace) -> None:
    """Fill every option the command line left unset from the project settings, then the built-in defaults."""
    from flaudit.selection import RuleSelection, split_patterns
    from flaudit.settings import Settings, load_settings

    settings = Settings() if args.no_settings else load_settings(args.settings)
    for attr, key, default in (("profile", "profile", "production"), ("format", "format", "terminal"),
                               ("output", "output", None), ("fail_on", "fail-on", None),
                               ("waivers", "waivers", None)):
        if getattr(args, attr, None) is None:
            setattr(args, attr, settings.get(key) if settings.get(key) is not None else default)
    include = split_patterns(args.rule) or tuple(settings.get("rules") or ())
    exclude = split_patterns(args.skip_rule) or tuple(settings.get("skip-rules") or ())
    args.rule_selection = RuleSelection(include, exclude)


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", "-f", default="terminal", metavar="LIST",
                   help="comma-separated: terminal,json,html,markdown,sarif,junit (default: terminal)")
    p.add_argument("--output", "-o", metavar="PATH",
                   help="file for one format, or a directory for several (flaudit-report.<ext>)")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing on stdout; rely on the exit code")


def run(args: argparse.Namespace) -> int:
    from flaudit.errors import InputError
    from flaudit.reports import parse_formats
    from flaudit.result import load_result
    from flaudit.sources import live

    apply_settings(args)
    if args.fail_on_new and not args.baseline:
        raise InputError("--fail-on-new needs --baseline RESULT.json")
    formats = parse_formats(args.format)
    targets = plan_outputs(formats, args.output)
    baseline = load_result(args.baseline) if args.baseline else None
    from flaudit.audit import long_lived

    # Garbage collection for the whole scan, loading to writing: see flaudit.audit.long_lived.
    with long_lived(young=live.wanted(args)):
        return _scan(args, targets, baseline)


def _scan(args: argparse.Namespace, targets: list[tuple[str, Path | None]], baseline: dict[str, Any] | None) -> int:
    from flaudit.audit import audit_from_args
    from flaudit.diff import new_since_baseline
    from flaudit.gate import decide
    from flaudit.lifetime import park

    with ScanProgress(not args.quiet) as progress:
        result = audit_from_args(args, progress)
        if baseline is not None:
            new = new_since_baseline(result, baseline, args.profile)
            result["baseline"] = {"file": args.baseline, "input_sha256": baseline.get("input", {}).get("sha256"),
                                  "new_blocking": new}
        result["gate"] = decide(result, args.profile, fail_on=args.fail_on, fail_on_new=args.fail_on_new)
        write_outputs(result, targets, quiet=args.quiet, progress=progress)
    park(result)  # freed by the process exit (flaudit.lifetime)
    written = [str(path) for _, path in targets if path is not None]
    if written and not args.quiet:
        print(files_line(result, written), file=sys.stderr)
    return int(result["gate"]["exit_code"])


def files_line(result: dict[str, Any], written: list[str]) -> str:
    """The one stderr line of a scan that wrote files: verdicts, the gate's reason, where the reports are."""
    from flaudit.gate import VERDICT_WORDS

    verdicts = ", ".join(f"{p} {VERDICT_WORDS.get(v.get('status'), v.get('status'))}"
                         for p, v in (result.get("verdict") or {}).items())
    return f"flaudit: {verdicts}; {result['gate']['reason']}; wrote {', '.join(written)}"


def plan_outputs(formats: list[str], output: str | None) -> list[tuple[str, Path | None]]:
    """Where each format goes (None = stdout), decided before the audit so a bad --output fails early."""
    from flaudit.errors import InputError
    from flaudit.reports import renderer

    files = [f for f in formats if f != "terminal"]
    plan: list[tuple[str, Path | None]] = [("terminal", None)] if "terminal" in formats else []
    if not files:
        return plan
    if output is None:
        if len(files) > 1 or plan:
            raise InputError(f"--format {','.join(formats)} writes files: give --output DIR")
        return [(files[0], None)]
    out = Path(output)
    if len(files) == 1 and not out.is_dir():
        if not (out.parent if str(out.parent) else Path(".")).is_dir():
            raise InputError(f"{out}: directory {out.parent} does not exist")
        return plan + [(files[0], out)]
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: several formats need a directory, and this is a file")
    out.mkdir(parents=True, exist_ok=True)
    return plan + [(f, out / f"flaudit-report.{renderer(f).EXTENSION}") for f in files]


def write_outputs(result: dict[str, Any], targets: list[tuple[str, Path | None]], *, quiet: bool,
                  progress: ScanProgress | None = None) -> None:
    """Render every format before any is in place: each file is written beside its target first and all are
    renamed into place only when every renderer succeeded, so a renderer that fails (a bug) leaves no partial
    report. Files go before stdout, so the progress line is down before stdout is written. Renderers with
    ``render_chunks`` (JSON) stream their file in pieces, never holding the whole text beside the result; those
    with ``render_bytes`` (SARIF) hand over UTF-8 directly: no decoded copy of a large result."""
    from flaudit.errors import stage
    from flaudit.output import Staged
    from flaudit.output import stage as stage_file
    from flaudit.reports import renderer

    staged: list[Staged] = []
    to_stdout: list[bytes] = []
    try:
        for fmt, path in sorted(targets, key=lambda t: t[1] is None):
            if path is None and quiet:
                continue
            color = path is None and fmt == "terminal" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
            mod = renderer(fmt)
            with stage(f"the {fmt} renderer"):
                if path is None:
                    to_stdout.append(_render_bytes(mod, result, color=color))
                    continue
                if progress is not None:
                    progress.phase(f"writing {fmt} to {path}")
                chunks = getattr(mod, "render_chunks", None)
                staged.append(stage_file(path, chunks(result) if chunks is not None
                                         else (_render_bytes(mod, result, color=color),)))
    except BaseException:
        for s in staged:
            s.discard()
        raise
    for i, s in enumerate(staged):
        try:
            s.commit()
        except BaseException:
            for rest in staged[i + 1:]:
                rest.discard()
            raise
    for data in to_stdout:
        if progress is not None:
            progress.stop()
        sys.stdout.flush()
        stream = getattr(sys.stdout, "buffer", None)
        if stream is not None:
            stream.write(data)
            stream.flush()
        else:  # a text-only stdout (tests, embedding)
            sys.stdout.write(data.decode("utf-8"))


def _render_bytes(mod: Any, result: dict[str, Any], **options: Any) -> bytes:
    render_bytes = getattr(mod, "render_bytes", None)
    if render_bytes is not None:
        return render_bytes(result, **options)
    return mod.render(result, **options).encode("utf-8")
