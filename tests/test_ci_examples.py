"""The ready-made CI files (GitHub Action, example workflows, Azure DevOps template, Dockerfile) are valid, use only
commands and flags flaudit has, map every input to a real flag, and install flaudit from a pinned commit."""

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
FILES = [ROOT / "examples/ci/github-actions.yml", ROOT / "examples/ci/azure-devops/azure-pipelines.yml",
         ROOT / "examples/ci/azure-devops/flaudit-steps.yml", ROOT / "action.yml"]
#: Inputs of the Action that configure the Action itself, not `flaudit scan`.
ACTION_ONLY = {"upload-sarif", "sarif-category", "artifact-name", "python-version"}
TEMPLATE_ONLY = {"flauditRepository", "flauditRef", "azureSubscription", "pythonVersion"}


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


@pytest.mark.parametrize("path", [ROOT / "examples/ci/azure-devops/azure-pipelines.yml", ROOT / "action.yml",
                                  ROOT / "examples/ci/azure-devops/flaudit-steps.yml",
                                  ROOT / ".pre-commit-hooks.yaml"], ids=lambda p: p.name)
def test_ci_files_are_valid_yaml_and_reference_only_existing_flags(path):
    doc = yaml.safe_load(path.read_text())
    commands = [c for s in _strings(doc) for c in _flaudit_commands(s)]
    assert commands or path.name == "azure-pipelines.yml", f"{path.name} runs no flaudit command"
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
    ado = (ROOT / "examples/ci/azure-devops/azure-pipelines.yml").read_text()
    assert "Workload identity federation" in ado and "secret" not in ado.lower().replace("no secret", "")


def _flags_by_variable(script: str) -> dict[str, set[str]]:
    """``FLAUDIT_X`` -> the flags the script passes it to: ``--flag "$FLAUDIT_X"`` anywhere, or a line that tests
    the variable and adds a flag (``[ "$FLAUDIT_X" = "true" ] && args+=(--flag)``)."""
    out: dict[str, set[str]] = {}
    for line in script.splitlines():
        for flag, var in re.findall(r'(--[a-z-]+) "[^"]*\$(FLAUDIT_[A-Z_]+)', line):
            out.setdefault(var, set()).add(flag)
        added = re.findall(r"args\+=\((--[a-z-]+)[ )]", line)
        for var in re.findall(r"\$(FLAUDIT_[A-Z_]+)", line):
            out.setdefault(var, set()).update(added)
    return out


def _scan_options() -> set[str]:
    return _options(_subparser(build_parser(), "scan"))


def _check_mapping(inputs: dict, env: dict, script: str, skip: set[str], expr: str) -> None:
    flags = _flags_by_variable(script)
    scan = _scan_options()
    for name in inputs:
        if name in skip:
            continue
        var = next((v for v, value in env.items() if str(value).replace(" ", "") == expr.format(name)), None)
        assert var, f"input {name} is not passed to the scan step"
        assert flags.get(var), f"input {name} ({var}) maps to no flaudit flag"
        assert flags[var] <= scan, f"input {name} maps to {flags[var] - scan}, which flaudit scan does not have"


def test_every_action_input_maps_to_a_real_scan_flag():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    scan = next(s for s in action["runs"]["steps"] if s.get("id") == "scan")
    _check_mapping(action["inputs"], scan["env"], scan["run"], ACTION_ONLY, "${{{{inputs.{}}}}}")
    install = next(s for s in action["runs"]["steps"] if "pip install" in s.get("run", ""))
    assert '"$GITHUB_ACTION_PATH"' in install["run"]  # flaudit from the action's own (pinned) checkout


def test_every_azure_devops_parameter_maps_to_a_real_scan_flag():
    tpl = yaml.safe_load((ROOT / "examples/ci/azure-devops/flaudit-steps.yml").read_text())
    params = {p["name"]: p for p in tpl["parameters"]}
    scan = next(s for s in tpl["steps"] if s.get("displayName") == "flaudit scan")
    _check_mapping(params, scan["env"], scan["inputs"]["inlineScript"], TEMPLATE_ONLY, "${{{{parameters.{}}}}}")
    install = next(s for s in tpl["steps"] if "pip install" in s.get("script", ""))
    assert 'git fetch -q --depth 1 "$FLAUDIT_REPOSITORY" "$FLAUDIT_REF"' in install["script"]
    assert "^[0-9a-f]{40}$" in install["script"]  # only a full commit SHA is accepted
    pipeline = yaml.safe_load((ROOT / "examples/ci/azure-devops/azure-pipelines.yml").read_text())
    used = next(s for s in pipeline["steps"] if s.get("template") == "flaudit-steps.yml")
    assert set(used["parameters"]) <= set(params)
    assert {p for p, spec in params.items() if "default" not in spec} <= set(used["parameters"])


def test_the_example_workflow_uses_the_action_at_a_pinned_commit_with_real_inputs():
    wf = yaml.safe_load((ROOT / "examples/ci/github-actions.yml").read_text())
    inputs = set(yaml.safe_load((ROOT / "action.yml").read_text())["inputs"])
    steps = [s for job in wf["jobs"].values() for s in job["steps"]]
    uses = [s for s in steps if s.get("uses") == "./.flaudit"]
    assert len(uses) == 2
    for s in uses:
        assert set(s.get("with") or {}) <= inputs
    fetch = [s for s in steps if (s.get("with") or {}).get("path") == ".flaudit"]
    assert all(f["with"]["ref"] == "${{ vars.FLAUDIT_REF }}" for f in fetch)
    check = next(s for s in steps if "FLAUDIT_REF" in s.get("run", ""))
    assert "^[0-9a-f]{40}$" in check["run"]
    text = (ROOT / "examples/ci/github-actions.yml").read_text()
    assert "pip install flaudit" not in text


def test_no_example_installs_flaudit_from_a_package_index():
    for path in FILES + [ROOT / "README.md", ROOT / "Dockerfile"]:
        assert not re.search(r"pip install (-U )?flaudit\b(?!/)", path.read_text()), path.name


def test_the_docker_image_holds_the_audit_only_and_copies_every_package():
    """The files the Dockerfile copies hold every package directory of the wheel it builds (no extras, no tests)."""
    text = (ROOT / "Dockerfile").read_text()
    copied = re.findall(r"^COPY (?!--from)(.+?) \S+$", text, re.M)
    names = [n for line in copied for n in line.split()]
    assert names == ["pyproject.toml", "README.md", "flaudit", "rules", "reports"]
    assert "[train" not in text and "torch" not in text.lower().split("no torch")[-1]
    assert re.search(r"^USER flaudit$", text, re.M)  # not root
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"tests", ".venv", ".git"} <= set(ignored)
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["readme"] in names
    package_dirs = set(project["tool"]["setuptools"]["package-dir"].values())
    assert {d.split("/", 1)[0] for d in package_dirs} <= set(names), "a package directory is not copied"
