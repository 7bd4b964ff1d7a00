"""The path model's vocabulary (flaudit/paths.py) and the one place that gathers every producer's paths
(flaudit/reach.py): a path of an unknown kind or relation is refused, every path shows up in the result's
``access[]`` and in evidence with its chain, and producers are asked once per deployment."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flaudit import reach
from flaudit.paths import PATH_KINDS, RELATIONS, Hop, Path, kind_notes
from flaudit.topology import build_deployment
from tests.support import config, inventory, sample_resources


def _path(**changes) -> Path:
    fields = dict(kind="copy", silo="silo1", source_id="/subscriptions/s/resourceGroups/r/providers/"
                  "Microsoft.Storage/storageAccounts/stsilo1", outsider_id="/subscriptions/s/resourceGroups/r/"
                  "providers/Microsoft.Storage/storageAccounts/elsewhere", outsider_name="elsewhere",
                  relation="external", hops=(Hop("object replication policy p1 copies container data", "p1"),),
                  rule_id="FL-DM-001")
    fields.update(changes)
    return Path(**fields)


def test_a_path_of_a_kind_the_model_does_not_define_is_refused():
    with pytest.raises(ValueError, match="unknown path kind"):
        _path(kind="exfil")


def test_a_path_to_a_relation_the_model_does_not_define_is_refused():
    with pytest.raises(ValueError, match="unknown relation"):
        _path(relation="friend")


def test_only_the_silos_own_identity_stays_inside_the_boundary():
    assert not _path(relation="own-silo").crosses_boundary
    assert all(_path(relation=r).crosses_boundary for r in RELATIONS if r != "own-silo")


def test_path_evidence_carries_kind_meaning_and_the_whole_chain():
    ev = _path().evidence()
    assert ev["kind"] == "path" and ev["path_kind"] == "copy"
    assert ev["meaning"] == PATH_KINDS["copy"]
    assert ev["chain"] == [{"text": "object replication policy p1 copies container data", "ref": "p1"}]


def test_path_edge_has_the_access_edge_fields_renderers_read():
    edge = _path(inert=True).edge()
    assert edge["kinds"] == ["copy"] and edge["inert_kinds"] == ["copy"]
    assert edge["crosses_boundary"] is True and edge["relation"] == "external"
    assert edge["silo"] == "silo1" and edge["rule_id"] == "FL-DM-001"


def test_kind_notes_explain_each_kind_once_and_skip_unknown_words():
    notes = kind_notes(["copy", "copy", "no-such-kind", "network"])
    assert [n["text"].split(":")[0] for n in notes] == ["copy", "network"]


def test_every_producer_is_asked_once_per_deployment_and_paths_are_sorted(monkeypatch):
    calls = []

    def producer(d):
        calls.append(d)
        return [_path(silo="silo2"), _path(silo="silo1", kind="network", rule_id="FL-NET-009")]

    monkeypatch.setattr(reach, "_producers", lambda: [producer])
    d = build_deployment(inventory(sample_resources("hardened")), config())
    first = reach.all_paths(d)
    assert reach.all_paths(d) is first and len(calls) == 1
    assert [(p.silo, p.kind) for p in first] == [("silo1", "network"), ("silo2", "copy")]
    assert reach.paths_of(d, silo="silo2") == [first[1]]
    assert reach.paths_of(d, kinds=["network"]) == [first[0]]
    assert reach.paths_of(d, rule_id="FL-DM-001") == [first[1]]
    assert reach.edges(d)[0]["path_kind"] == "network"


def test_every_registered_producer_names_a_real_function():
    for spec in reach.PRODUCERS:
        module, _, func = spec.partition(":")
        assert module and func, spec
    assert len(reach._producers()) == len(reach.PRODUCERS)


def test_the_model_does_not_import_the_evaluators_that_read_it():
    code = ("import sys, flaudit.model, flaudit.topology; "
            "print(sorted(m for m in ('flaudit.access', 'flaudit.exposure', 'flaudit.reach') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
