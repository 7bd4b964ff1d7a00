"""Command line entry point: wires argument parsing to the command modules and maps errors to exit codes.

Exit codes: 0 the gate passes; 1 blocking findings (or blocking unknowns) for the profile; 2 usage or input
error; 3 the deployment could not be read; 4 internal error (an unexpected exception: a bug in flaudit, never a
verdict; one line naming the input and the stage that failed, the traceback with ``--verbose``, no report).
Each command lives in ``flaudit/commands/<name>.py`` with
``register(subparsers)``; their heavy imports happen inside ``run`` so ``flaudit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

from flaudit import __version__
from flaudit.errors import EXIT_INTERNAL, FlauditError, stage_of

COMMAND_MODULES = [
    "flaudit.commands.scan",
    "flaudit.commands.rules",
    "flaudit.commands.report",
    "flaudit.commands.diff",
    "flaudit.commands.train",
    "flaudit.commands.collect",
]

EXIT_OK, EXIT_BLOCKED, EXIT_USAGE, EXIT_UNREADABLE = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other input error
        self.exit(EXIT_USAGE, f"flaudit: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="flaudit",
        description="Audit a federated-learning deployment on Azure ML: VNet isolation, private endpoints, "
        "silo identities, and who can reach each silo's data.",
        epilog="Exit codes: 0 gate passes; 1 blocking findings; 2 usage or input error; 3 deployment unreadable; "
        "4 internal error.",
    )
    parser.add_argument("--version", action="version", version=f"flaudit {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="print the traceback of an internal error and the Azure SDK's own log lines")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for command in sub.choices.values():  # `flaudit scan --verbose` as well as `flaudit --verbose scan`
        if "--verbose" not in command._option_string_actions:  # scan declares its own (with -v)
            command.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                                 help="print the traceback of an internal error (a bug in flaudit)")
    return parser


def quiet_azure_logs(*, verbose: bool) -> None:
    """The Azure SDK logs a multi-line credential-chain dump at WARNING before flaudit's own one-line error;
    it belongs to ``--verbose``. flaudit's messages do not go through logging, so they are unaffected."""
    import logging

    logging.getLogger("azure").setLevel(logging.DEBUG if verbose else logging.CRITICAL)
    if verbose and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")


#: Commands that are done once their outputs are written and leave nothing for an exit handler to finish. The
#: console script ends them without the interpreter's teardown, which would free a fleet's inventory, model and
#: result object by object for nothing (0.15-0.2 s at 1,000 silos, more at 110k resources; mypy exits the same
#: way). ``train`` and ``collect`` (child processes, credential caches) exit normally.
FAST_EXIT_COMMANDS = frozenset({"scan", "report", "diff", "rules"})


def entry() -> NoReturn:
    """The ``flaudit`` console script and ``python -m flaudit``: :func:`main`, then exit with its code.

    After a command of :data:`FAST_EXIT_COMMANDS` the standard streams and logging handlers are flushed and the
    process ends at once (``os._exit``); output that cannot be flushed (a closed pipe) ends it as ``main`` would
    have, with the same code.
    """
    ran: list[str] = []
    code = main(sys.argv[1:], ran=ran)
    if ran and ran[0] in FAST_EXIT_COMMANDS:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (BrokenPipeError, OSError):
            pass
        logging = sys.modules.get("logging")  # not imported: no handler to flush
        if logging is not None:
            logging.shutdown()
        os._exit(code)
    raise SystemExit(code)


def main(argv: list[str] | None = None, *, ran: list[str] | None = None) -> int:
    """Run one command and return its exit code; ``ran`` (given by :func:`entry` alone) receives the command's
    name once its arguments parsed, and a command entry() will end with ``os._exit`` lets the audit keep its
    objects for the exit to free (:mod:`flaudit.lifetime`)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors: return the code instead of exiting
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    if ran is not None:  # only entry() asks: it ends FAST_EXIT_COMMANDS with os._exit
        ran.append(str(getattr(args, "command", "")))
        if ran[0] in FAST_EXIT_COMMANDS:
            from flaudit.lifetime import expect_fast_exit

            expect_fast_exit()
    quiet_azure_logs(verbose=bool(getattr(args, "verbose", False)))
    try:
        return int(args.func(args) or 0)
    except FlauditError as exc:
        print(f"flaudit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("flaudit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug: never a verdict, never a report, one line unless --verbose
        return internal_error(exc, args)


def internal_error(exc: Exception, args: argparse.Namespace) -> int:
    """Report an unexpected exception in one line naming the input and the stage that failed (the traceback
    too with ``--verbose``) and return :data:`EXIT_INTERNAL`."""
    where = stage_of(exc) or f"running flaudit {getattr(args, 'command', '')}".rstrip()
    inputs = describe_inputs(args)
    print(f"flaudit: internal error in {where}{f' on {inputs}' if inputs else ''}: {type(exc).__name__}: "
          f"{_one_line(str(exc))} (a bug in flaudit, not a verdict; no report was written"
          f"{'' if getattr(args, 'verbose', False) else '; --verbose shows the traceback'})", file=sys.stderr)
    if getattr(args, "verbose", False):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    return EXIT_INTERNAL


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_inputs(args: argparse.Namespace) -> str:
    """The inputs a command was given, for the internal-error line (``input a.json, b.json; config fl.yaml``)."""
    parts = []
    for attr, label in (("input", "input"), ("paths", "input"), ("sample", "sample"), ("template", "template"),
                        ("what_if", "what-if"), ("subscription", "subscription"),
                        ("management_group", "management group"), ("result", "result"), ("old", "old result"),
                        ("new", "new result"), ("run_dir", "run directory"), ("config", "config")):
        value = getattr(args, attr, None)
        if value in (None, [], "", False):
            continue
        values = value if isinstance(value, list) else [value]
        parts.append(f"{label} {', '.join(map(str, values))}")
    return "; ".join(parts)
