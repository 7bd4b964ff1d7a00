"""docs/result-contract.md: every evidence item carries a ``kind`` from the documented set, in every finding of
every bundled sample and of a deployment that fails in many ways, so renderers and consumers can dispatch on it."""

from __future__ import annotations

import pytest

from flaudit.audit import run_audit
from flaudit.config import parse_config
from flaudit.samples import generate
from tests.test_results_fleet_pinned import N_SILOS, _inventory, weakened

#: The evidence kinds docs/result-contract.md documents.
KINDS = {"property", "access", "nsg-rule", "network-path", "path", "note"}


def _bad_items(result: dict) -> list[tuple[str, dict]]:
    return [(f["rule_id"], e) for f in result["findings"] for e in f["evidence"] if e.get("kind") not in KINDS]


@pytest.mark.parametrize("posture", generate.POSTURES)
def test_every_evidence_item_of_a_sample_has_a_documented_kind(posture):
    inv = _inventory(generate.Builder(posture, 3).build())
    result = run_audit(inv, parse_config(generate.fl_config(3), "fl.yaml"))
    assert _bad_items(result) == []


def test_every_evidence_item_of_a_deployment_failing_in_many_ways_has_a_documented_kind():
    result = run_audit(_inventory(weakened()), parse_config(generate.fl_config(N_SILOS), "fleet.yaml"))
    assert any(f["status"] == "fail" for f in result["findings"])
    assert _bad_items(result) == []
