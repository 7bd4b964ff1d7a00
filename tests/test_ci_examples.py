"""The ready-made CI files are valid YAML and only use commands and flags flaudit has."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest
import yaml
from flaudit.reports import FORMATS, renderer

from flaudit.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "examples/ci/github-actions.yml", ROOT / "examples/ci/azure-pipelines.yml"]


SHELL_KEYS = {"run", "script", "inlineScript", "entry"}  # GitHub Actions, Azure DevOps, pre-commit


def _strings(node, key=None):
    """Every shell snippet in a CI file: the values of run / script / inlineScript / entry keys."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v, key)
    elif isinstance(node, str) and key in SHELL_KEYS:
        yield node


def _flaudit_commands(text: str) -> list[list[str]]:
    """flaudit invocations in shell text: at the start of a line or after `do`, `&&`, `||`, `;`."""
    cmds = []
    for line in text.splitlines():
        for m in re.finditer(r"(?:^\s*|;\s*do\s+|&&\s*|\|\|\s*|;\s*)flaudit\s+([^;'\"|&]*)", line):
            cmds.append(shlex.split(re.sub(r"\$\([^)]*\)", "X", m.group(1))))
    return cmds


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            return action.choices[name]
    raise AssertionError(f"flaudit has no command {name!r}")


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings}


@pytest.mark.parametrize("path", FILES + [ROOT / ".pre-commit-hooks.yaml"], ids=lambda p: p.name)
def test_ci_files_are_valid_yaml_and_reference_only_existing_flags(path):
    doc = yaml.safe_load(path.read_text())
    commands = [c for s in _strings(doc) for c in _flaudit_commands(s)]
    assert commands, f"{path.name} runs no flaudit command"
    parser = build_parser()
    for argv in commands:
        sub = _subparser(parser, argv[0])
        known = _options(sub)
        for tok in argv[1:]:
            if tok.startswith("--"):
                assert tok.split("=")[0] in known, f"{path.name}: flaudit {argv[0]} has no {tok}"
        if "--format" in argv:
            for fmt in argv[argv.index("--format") + 1].split(","):
                assert fmt in FORMATS, f"{path.name}: unknown format {fmt}"


def test_report_file_names_in_ci_files_match_the_renderers():
    names = {f"flaudit-report.{renderer(f).EXTENSION}" for f in FORMATS if f != "terminal"}
    for path in FILES:
        for used in re.findall(r"flaudit-report\.[a-z.]+", path.read_text()):
            assert used in names, f"{path.name} refers to {used}, which flaudit never writes"


def test_ci_files_hold_no_secrets_and_use_oidc():
    gha = (ROOT / "examples/ci/github-actions.yml").read_text()
    assert "id-token: write" in gha and "client-secret" not in gha and "secrets." not in gha
    ado = (ROOT / "examples/ci/azure-pipelines.yml").read_text()
    assert "Workload identity federation" in ado and "secret" not in ado.lower().replace("no secret", "")
