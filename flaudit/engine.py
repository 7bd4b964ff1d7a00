"""The rule engine: rules are plain functions over the deployment model, declared with their metadata.

A rule module looks like::

    from flaudit.engine import rule, Remediation
    from flaudit.findings import Pass, Fail, Unknown

    @rule(id="FL-NET-001", title="Silo computes run in a virtual network", area="network-isolation",
          severity="high", blocks=("production",), rationale="...",
          remediation=Remediation(cli="az ml compute create ...", bicep="..."),
          references=("https://learn.microsoft.com/...",), policy=("7804b5c7-01dc-4723-969b-ae300cc07ff1",))
    def silo_compute_in_vnet(d):
        for silo in d.silos:
            ...
            yield Fail(compute.id, "...", silo=silo.name, evidence=[...])

The loader collects every :class:`Rule` object a module defines, so user rule packs (``--rules-dir``) use the
same API and nothing is registered globally.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flaudit.errors import InputError, stage
from flaudit.findings import AREAS, PROFILES, SEVERITIES, Finding, Unknown, note


@dataclass(frozen=True)
class Remediation:
    cli: str
    bicep: str
    text: str = ""


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    area: str
    severity: str
    blocks: tuple[str, ...]
    rationale: str
    remediation: Remediation
    references: tuple[str, ...] = ()
    policy: tuple[str, ...] = ()  # Azure Policy built-in definition GUIDs
    func: Callable[[Any], Iterable[Finding]] = field(default=lambda d: (), repr=False, compare=False)
    module: str = ""

    def __call__(self, deployment: Any) -> Iterable[Finding]:
        return self.func(deployment)

    @property
    def help_uri(self) -> str:
        return self.references[0] if self.references else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "area": self.area, "severity": self.severity,
            "blocks": list(self.blocks), "rationale": self.rationale,
            "remediation": {"cli": self.remediation.cli, "bicep": self.remediation.bicep,
                            "text": self.remediation.text},
            "references": list(self.references), "policy": list(self.policy),
        }


def rule(*, id: str, title: str, area: str, severity: str, blocks: Iterable[str], rationale: str,
         remediation: Remediation, references: Iterable[str] = (), policy: Iterable[str] = ()
         ) -> Callable[[Callable[[Any], Iterable[Finding]]], Rule]:
    """Declare a rule; the metadata is validated here so a typo fails at load time, not in a report."""
    if area not in AREAS:
        raise ValueError(f"rule {id}: area {area!r} is not one of {', '.join(AREAS)}")
    if severity not in SEVERITIES:
        raise ValueError(f"rule {id}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    blocks = tuple(blocks)
    bad = [p for p in blocks if p not in PROFILES]
    if bad:
        raise ValueError(f"rule {id}: unknown profile(s) {bad}")

    def wrap(func: Callable[[Any], Iterable[Finding]]) -> Rule:
        return Rule(id=id, title=title, area=area, severity=severity, blocks=blocks, rationale=rationale,
                    remediation=remediation, references=tuple(references), policy=tuple(policy), func=func,
                    module=func.__module__)

    return wrap


def _rules_in(module: Any) -> list[Rule]:
    return [v for v in vars(module).values() if isinstance(v, Rule)]


#: The package of the built-in rule pack (installed from rules/).
BUILTIN_PACKAGE = "flaudit.rules"


def builtin_rules() -> list[Rule]:
    import flaudit.rules as pack

    rules: list[Rule] = []
    for info in sorted(pkgutil.iter_modules(pack.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        rules.extend(_rules_in(importlib.import_module(f"flaudit.rules.{info.name}")))
    return rules


def load_rules_dir(directory: Path) -> list[Rule]:
    """Import every ``*.py`` in ``directory`` (a user's rule pack) and return the rules it declares."""
    if not directory.is_dir():
        raise InputError(f"{directory}: --rules-dir is not a directory")
    rules: list[Rule] = []
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        mod_name = f"flaudit_user_rules.{directory.name}.{path.stem}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise InputError(f"{path}: cannot load as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # a user's rule file is input: report it in one line
            raise InputError(f"{path}: rule module failed to load ({type(exc).__name__}: {exc})") from None
        rules.extend(_rules_in(module))
    if not rules:
        raise InputError(f"{directory}: no rules found (declare them with flaudit.engine.rule)")
    return rules


def load_rules(rules_dirs: Iterable[Path] = ()) -> list[Rule]:
    rules = builtin_rules()
    for d in rules_dirs:
        rules.extend(load_rules_dir(Path(d)))
    seen: dict[str, Rule] = {}
    for r in rules:
        if r.id in seen:
            raise InputError(f"rule id {r.id} is declared twice ({seen[r.id].module} and {r.module})")
        seen[r.id] = r
    return sorted(rules, key=lambda r: r.id)


def run_rules(deployment: Any, rules: Iterable[Rule]) -> list[Finding]:
    """Evaluate every rule.

    A built-in rule that raises is a bug in flaudit: the exception propagates, labelled with the rule, and the
    CLI ends the run as an internal error (exit 4, no report), never as a verdict. A rule loaded with
    ``--rules-dir`` is the user's code: it yields one ``unknown`` finding and the run goes on (fail closed).
    """
    findings: list[Finding] = []
    locations = getattr(getattr(deployment, "inventory", None), "locations", {}) or {}
    for r in rules:
        try:
            with stage(f"rule {r.id}"):
                produced = list(r.func(deployment))
        except Exception as exc:  # fail closed: a broken rule must not look like a pass
            if r.module.startswith(BUILTIN_PACKAGE + "."):
                raise
            produced = [Unknown("", f"rule {r.id} could not be evaluated: {type(exc).__name__}: {exc}",
                                evidence=[note("the rule raised an error; its result is unknown")],
                                subject="rule-error")]
        rid, title, area, severity, blocks = r.id, r.title, r.area, r.severity, r.blocks
        for f in produced:  # 50,000 findings at 1,000 silos: the rule's metadata read once per rule
            f.rule_id, f.title, f.area = rid, title, area
            if not f.severity:
                f.severity = severity
            if not f.blocks:
                f.blocks = blocks
        if locations:  # only IaC inputs carry locations
            for f in produced:
                if f.location is None and f.resource_id:
                    f.location = locations.get(f.resource_id.lower().rstrip("/"))
        findings += produced
    return findings
