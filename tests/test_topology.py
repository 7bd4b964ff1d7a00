"""Resolving silos from the FL config, inferring them without one, and failing on what is missing."""

from __future__ import annotations

import pytest

from flaudit.config import parse_config
from flaudit.errors import InputError
from flaudit.samples import generate
from flaudit.topology import build_deployment
from tests import support


def test_config_resolves_each_silo_to_compute_identity_datastore_and_storage():
    d = build_deployment(support.inventory(support.sample_resources("eyes-off")), support.config())
    assert d.source == "config" and d.workspace is not None
    assert [s.name for s in d.silos] == ["silo0", "silo1", "silo2"]
    for s in d.silos:
        assert [c.name for c in s.computes] == [f"{s.name}-01"]
        assert s.storage is not None and s.storage.name.startswith(f"st{s.name}")
        assert [i.name for i in s.user_assigned] == [f"uai-{s.name}"]
        assert s.principal_ids and not s.missing
        assert s.vnet_ids == [f"{generate.rg_id()}/providers/microsoft.network/virtualnetworks/vnet-{s.name}".lower()]
    assert d.orchestrator.storage is not None


def test_names_missing_from_the_inventory_are_recorded_not_crashed_on():
    doc = generate.fl_config()
    doc["federated_learning"]["silos"][1]["computes"] = ["silo1-99"]
    doc["federated_learning"]["silos"][2]["datastore"] = "nope"
    d = build_deployment(support.inventory(support.sample_resources("open")), parse_config(doc, "c.yaml"))
    assert any("silo1-99" in m for m in d.silos[1].missing)
    assert any("'nope'" in m for m in d.silos[2].missing) and d.silos[2].storage is None


def test_missing_config_names_fail_the_topology_rule():
    doc = generate.fl_config()
    doc["federated_learning"]["silos"][1]["computes"] = ["silo1-99"]
    result = support.audit(support.sample_resources("hardened"), parse_config(doc, "c.yaml"))
    bad = support.findings(result, "FL-TOP-002", silo="silo1", status="fail")
    assert bad and "silo1-99" in bad[0]["message"]
    assert result["verdict"]["prototype"]["status"] == "not_ready"


def test_topology_is_inferred_from_names_and_tags_without_a_config():
    d = build_deployment(support.inventory(support.sample_resources("eyes-on")), None)
    assert d.source == "inferred"
    assert [s.name for s in d.silos] == ["silo0", "silo1", "silo2"]
    assert [c.name for c in d.orchestrator.computes] == ["orchestrator-01"]
    assert d.problems[0].startswith("topology inferred")


def test_inferred_topology_is_said_in_the_result_and_blocks_production_only():
    result = support.audit(support.sample_resources("hardened"), None)
    assert result["topology"]["source"] == "inferred"
    assert support.statuses(result, "FL-TOP-005") == {"unknown"}
    assert result["verdict"]["production"]["status"] != "ready"


def test_zero_silos_is_a_failing_finding_that_blocks_both_profiles():
    result = support.audit([], None)
    assert support.statuses(result, "FL-TOP-001") == {"fail"}
    assert result["verdict"]["prototype"]["status"] == "not_ready"
    assert result["verdict"]["production"]["status"] == "not_ready"


def test_zero_silos_in_the_config_fails_too():
    doc = generate.fl_config()
    doc["federated_learning"]["silos"] = []
    result = support.audit(support.sample_resources("hardened"), parse_config(doc, "c.yaml"))
    assert support.statuses(result, "FL-TOP-001") == {"fail"}


def test_storage_shared_between_silos_fails():
    res = support.sample_resources("hardened")
    ds = support.by_name(res, "Microsoft.MachineLearningServices/workspaces/datastores", "datastore_silo1")
    ds["properties"]["accountName"] = support.storage(res, "silo0")["name"]
    result = support.audit(res)
    assert support.statuses(result, "FL-TOP-003", silo="silo1") == {"fail"}
    assert support.statuses(result, "FL-TOP-003", silo="silo2") == {"pass"}


def test_compute_shared_with_the_orchestrator_fails():
    doc = generate.fl_config()
    doc["federated_learning"]["silos"][0]["computes"] = ["orchestrator-01"]
    result = support.audit(support.sample_resources("hardened"), parse_config(doc, "c.yaml"))
    assert support.statuses(result, "FL-TOP-004", silo="silo0") == {"fail"}


@pytest.mark.parametrize("doc, message", [
    ([], "must be a YAML mapping"),
    ({"aml": {}}, "missing 'federated_learning'"),
    ({"federated_learning": {"silos": "x"}}, "silos must be a list"),
    ({"federated_learning": {"silos": [{"name": 3}]}}, "name must be a non-empty string"),
    ({"federated_learning": {"silos": [{"name": "a", "datastor": "d"}]}},
     r"unknown key 'datastor' in federated_learning.silos\[0\] \(did you mean 'datastore'\?\)"),
    ({"federated_learning": {"orchestrator": {"computee": "o"}, "silos": []}},
     "unknown key 'computee' in federated_learning.orchestrator"),
    ({"federated_learning": {"host": {"compute": "h", "datastor": "d"}, "silos": []}},
     "unknown key 'datastor' in federated_learning.host"),
    ({"federated_learning": {"silo": []}}, "unknown key 'silo' in federated_learning \\(did you mean 'silos'\\?\\)"),
    ({"federated_learning": {"orchestrator": {}, "host": {}, "silos": []}}, "both 'orchestrator' and 'host'"),
    ({"federated_learning": {"communication": {"encrypted": "no"}, "silos": []}}, "must be true or false"),
    ({"orchestrator": {"compute": "o"}, "strategy": {"vertical": []}}, "strategy.horizontal must be a list"),
    ({"federated_learning": {"silos": [{"name": "a"}, {"name": "A"}]}}, "appears twice"),
    ({"federated_learning": {"silos": [{"name": "a", "computes": [1]}]}}, "list of names"),
])
def test_bad_fl_config_is_an_input_error(doc, message):
    with pytest.raises(InputError, match=message):
        parse_config(doc, "c.yaml")


def test_fl_sample_singular_compute_key_is_accepted():
    cfg = parse_config({"federated_learning": {"orchestrator": {"compute": "o"},
                                               "silos": [{"name": "s", "compute": "s-01", "datastore": "d"}]}}, "c")
    assert cfg.silos[0].computes == ["s-01"] and cfg.orchestrator_computes == ["o"]
