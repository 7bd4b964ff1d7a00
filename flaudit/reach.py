"""Every path of a deployment, from every evaluator that produces paths, computed once.

:mod:`flaudit.paths` is the vocabulary; this module asks each producer for its paths. A producer is a function
``(Deployment) -> Iterable[Path]`` that lives with the evaluator that understands its kind (data movement with
the data-movement evaluator, identity takeover with the RBAC evaluator, network reach with the network
evaluator). Rules read :func:`paths_of`; the result's ``access[]`` lists them all (:func:`edges`).

Data flow: model -> evaluators (producers) -> this module -> rules. Nothing here imports a rule.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flaudit import memo

if TYPE_CHECKING:  # pragma: no cover
    from flaudit.model import Deployment
    from flaudit.paths import Path

#: "module:function" of every producer, imported on first use (the CLI's start-up never pays for them).
PRODUCERS: tuple[str, ...] = (
    "flaudit.takeover:identity_takeover_paths",
    "flaudit.netreach:silo_network_paths",
    "flaudit.movement:copy_paths",
    "flaudit.identities:identity_paths",
    "flaudit.sinks:sink_paths",
)


def _producers() -> list[Callable[[Deployment], Iterable[Path]]]:
    out = []
    for spec in PRODUCERS:
        module, _, func = spec.partition(":")
        out.append(getattr(importlib.import_module(module), func))
    return out


@memo.whole("_paths")
def all_paths(d: Deployment) -> list[Path]:
    """Every path every producer finds, in a stable order (computed once per deployment)."""
    found = [p for produce in _producers() for p in produce(d)]
    found.sort(key=lambda p: (p.silo, p.kind, p.rule_id, p.source_id.lower(), p.outsider_id.lower()))
    return found


def paths_of(d: Deployment, *, silo: str | None = None, kinds: Iterable[str] | None = None,
             rule_id: str | None = None) -> list[Path]:
    """The paths of one silo, of some kinds, or judged by one rule (any combination).

    Rules ask per silo, so the paths are indexed by silo and by rule once per deployment: a lookup costs the
    size of the answer, not of every path (1,000 silos x 5,000 paths would otherwise be quadratic)."""
    by_silo, by_rule = _index(d)
    if silo is not None:
        pool = by_silo.get(silo, [])
    elif rule_id is not None:
        pool = by_rule.get(rule_id, [])
    else:
        pool = all_paths(d)
    wanted = set(kinds) if kinds is not None else None
    return [p for p in pool
            if (silo is None or p.silo == silo) and (wanted is None or p.kind in wanted)
            and (rule_id is None or p.rule_id == rule_id)]


@memo.whole("_paths_index")
def _index(d: Deployment) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    by_silo: dict[str, list[Path]] = {}
    by_rule: dict[str, list[Path]] = {}
    for p in all_paths(d):
        by_silo.setdefault(p.silo, []).append(p)
        by_rule.setdefault(p.rule_id, []).append(p)
    return by_silo, by_rule


def edges(d: Deployment) -> list[dict[str, Any]]:
    """The result's ``access[]`` entries for every path (role-based access to silo storage comes from
    :func:`flaudit.access.access_edges`; these are the other paths)."""
    out = [p.edge() for p in all_paths(d)]
    for e in out:
        if e["relation"] == "administrator":  # a declared administrator's path: shown with the declared reason
            admin = d.administrators.get(str(e["principal_id"]).lower())
            e["administrator_reason"] = admin.reason if admin else None
    return out
