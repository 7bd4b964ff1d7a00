"""Vocabulary several rule areas share: who the FL members are, where each silo compute sits, and how a
per-resource judgement becomes a finding.

The leading underscore keeps the engine from loading this module as a rule module
(:func:`flaudit.engine.builtin_rules` skips ``_*``); it declares no rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flaudit.findings import Fail, Finding, NotApplicable, Pass, Unknown, note
from flaudit.model import Compute, Deployment, Member, Silo
from flaudit.network import Placement, compute_placement

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


def placement_of(d: Deployment, c: Compute) -> Placement:
    """Where the compute runs: a customer subnet, the workspace managed network, attached, none or unknown.

    Kept per compute on the deployment (a dozen rules ask about every compute); rules only read it."""
    cache = d.__dict__.setdefault("_rules_placements", {})
    hit = cache.get(id(c))
    if hit is None or hit[0] is not c:  # the compute is kept beside its placement, so its id is not reused
        hit = cache[id(c)] = (c, compute_placement(c, d.inventory))
    return hit[1]
