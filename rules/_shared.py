"""Vocabulary several rule areas share: who the FL members are, where each silo compute sits, and how a
per-resource judgement becomes a finding.

The leading underscore keeps the engine from loading this module as a rule module
(:func:`flaudit.engine.builtin_rules` skips ``_*``); it declares no rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flaudit.arm import name_of, norm
from flaudit.findings import Fail, Finding, NotApplicable, Pass, Unknown, note
from flaudit.model import Compute, Deployment, Member, Silo
from flaudit.network import Placement, placements_of  # noqa: F401  (where a compute runs; rules import it here)

_MAKE = {"pass": Pass, "fail": Fail, "unknown": Unknown, "not_applicable": NotApplicable}


@dataclass
class Verdict:
    """What a rule concluded about one resource: status, one sentence, evidence.

    A judge function returns this so it stays a plain decision about a setting; the caller, which knows the
    resource and the member it belongs to, turns it into the finding with :meth:`finding`.
    """

    status: str  # pass | fail | unknown | not_applicable
    message: str
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def finding(self, resource_id: str, message: str, **kwargs: Any) -> Finding:
        """The finding for ``resource_id`` with this verdict's status and evidence and the given message."""
        return _MAKE[self.status](resource_id, message, evidence=self.evidence, **kwargs)


def members(d: Deployment) -> Iterator[tuple[Member, str | None]]:
    """Every FL member with the silo name its findings carry: each silo, then the orchestrator (``None``)."""
    for s in d.silos:
        yield s, s.name
    yield d.orchestrator, None


def silo_computes(d: Deployment) -> Iterator[tuple[Silo, Compute | None]]:
    """Each silo's computes; a silo with none resolved yields ``(silo, None)`` once."""
    for silo in d.silos:
        if not silo.computes:
            yield silo, None
        for c in silo.computes:
            yield silo, c


def unresolved(silo: Silo) -> Finding:
    """The silo's compute is not known, so nothing about its network can be vouched for."""
    return Unknown("", f"Silo {silo.name}: its compute could not be resolved, so its network cannot be checked.",
                   silo=silo.name, subject=silo.name, evidence=[note(m) for m in silo.missing])


#: Worst-case order of statuses when one compute runs in several subnets.
_RANK = {"fail": 3, "unknown": 2, "pass": 1, "not_applicable": 0}


def site(p: Placement) -> str:
    """The agent pools and subnet of one placement, as a finding names them."""
    where = f"subnet {name_of(p.subnet_id or '')}"
    if not p.pools:
        return where
    return f"agent pool{'s' if len(p.pools) > 1 else ''} {', '.join(p.pools)} in {where}"


def each_placement(d: Deployment, c: Compute, judge: Callable[[Placement], Iterable[Finding]]) -> Iterator[Finding]:
    """``judge(placement)`` for each placement of ``c``, its findings combined worst-case per (resource, subject).

    A compute in one place gets the judge's findings unchanged. A compute whose nodes run in several subnets
    (an AKS cluster's agent pools) is isolated only if every subnet is, because the Azure ML extension can put
    silo code on any pool: each subnet is judged by the same rule logic, then any fail fails (naming the pools
    and subnets that fail), else any unknown is unknown, else the finding passes; the evidence keeps every
    subnet's judgement and the pool property that placed it.
    """
    places = placements_of(d, c)
    if len(places) == 1:
        yield from judge(places[0])
        return
    groups: dict[tuple[str, str], list[tuple[Placement, Finding]]] = {}
    for p in places:
        for f in judge(p):
            groups.setdefault((norm(f.resource_id), f.subject.lower()), []).append((p, f))
    for parts in groups.values():
        yield worst_case(c, parts)


def worst_case(c: Compute, parts: list[tuple[Placement, Finding]]) -> Finding:
    """One finding out of a compute's per-subnet findings of one rule (see :func:`each_placement`)."""
    if len(parts) == 1:
        return parts[0][1]
    status = max((f.status for _, f in parts), key=lambda s: _RANK.get(s, 0))
    chosen = [(p, f) for p, f in parts if f.status == status]
    verb = {"fail": "fail", "unknown": "are unknown"}.get(status, "do not apply")
    if status == "pass":
        message = (f"Compute {c.name} runs in {len(parts)} subnets (its AKS agent pools'; silo code can run on any "
                   "of them) and every one passes: ")
    else:
        message = f"Compute {c.name} runs in {len(parts)} subnets and {len(chosen)} of them {verb}: "
    message += "; ".join(f"{site(p)}: {f.message}" for p, f in chosen)
    evidence: list[dict[str, Any]] = []
    for p, f in parts:
        evidence.append(note(f"{site(p)}: {f.status}"))
        evidence += [e for e in c.subnet_evidence(p.subnet_id) + f.evidence if e not in evidence]
    first = chosen[0][1]
    return _MAKE[status](first.resource_id, message, silo=first.silo, evidence=evidence, subject=first.subject)
