"""Every FL config shape the Azure ML FL sample ships resolves to a topology, and is read strictly."""

from __future__ import annotations

import copy

import pytest
import yaml

from flaudit.config import parse_config
from tests import support
from tests.fixtures.fl_sample_configs import CONFIGS

VERTICAL = {"bank_marketing_vertical", "ccfraud_vertical", "ccfraud_vertical_fedonce", "mnist_vertical",
            "utils/upload_data"}


def _parse(name: str):
    # through YAML text, as the pipelines' files are read
    return parse_config(yaml.safe_load(yaml.safe_dump(CONFIGS[name], sort_keys=False)), f"{name}/config.yaml")


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_sample_config_resolves_every_name_it_gives(name):
    cfg = _parse(name)
    silos = [s.name for s in cfg.silos]
    assert silos == (["host"] if name in VERTICAL else []) + ["silo0", "silo1", "silo2"]
    assert cfg.layout == ("vertical" if name in VERTICAL else
                          "scatter-gather" if "scatter" in name else "horizontal")
    result = support.audit(support.sample_resources("eyes-off"), cfg)
    by_name = {s["name"]: s for s in result["topology"]["silos"]}
    for s in cfg.silos:
        assert by_name[s.name]["computes"][0]["name"] == s.computes[0]
        assert by_name[s.name]["storage"]["name"], s.name
    assert support.statuses(result, "FL-TOP-002") == {"pass"}  # nothing the config names is missing


def test_in_vertical_fl_the_host_is_audited_as_a_silo_and_as_the_orchestrator():
    result = support.audit(support.sample_resources("hardened"), _parse("ccfraud_vertical"))
    topo = result["topology"]
    host = next(s for s in topo["silos"] if s["name"] == "host")
    assert host["storage"]["id"] == topo["orchestrator"]["storage"]["id"]
    assert host["computes"][0]["id"] == topo["orchestrator"]["computes"][0]["id"]
    assert any(f["silo"] == "host" and f["rule_id"] == "FL-PE-001" for f in result["findings"])


@pytest.mark.parametrize("encrypted, status", [(False, "fail"), (True, "pass"), (None, "unknown")])
def test_declared_host_silo_communication_must_be_encrypted_for_production(encrypted, status):
    doc = copy.deepcopy(CONFIGS["ccfraud_vertical"])
    if encrypted is None:
        del doc["federated_learning"]["communication"]["encrypted"]
    else:
        doc["federated_learning"]["communication"]["encrypted"] = encrypted
    result = support.audit(support.sample_resources("hardened"), parse_config(doc, "c.yaml"))
    assert support.statuses(result, "FL-TOP-007") == {status}
    blocking = {f["rule_id"] for f in result["findings"] if f["id"] in result["verdict"]["production"]["blocking"]}
    assert ("FL-TOP-007" in blocking) == (status != "pass")
    assert "FL-TOP-007" not in {f["rule_id"] for f in result["findings"]
                                if f["id"] in result["verdict"]["prototype"]["blocking"]}


def test_a_config_without_communication_is_not_applicable():
    result = support.audit(support.sample_resources("hardened"), support.config())
    assert support.statuses(result, "FL-TOP-007") == {"not_applicable"}


@pytest.mark.parametrize("name, path, key", [
    ("ccfraud", ("federated_learning", "silos", 0), "datastor"),
    ("ccfraud_vertical", ("federated_learning", "host"), "computes_"),
    ("fl_cross_silo_scatter_gather", ("strategy", "horizontal", 1), "datastores"),
    ("fl_cross_silo_scatter_gather", ("orchestrator",), "datstore"),
    ("ccfraud", ("federated_learning",), "orchestrators"),
])
def test_a_typo_in_any_sample_shape_is_one_config_error_with_a_suggestion(name, path, key):
    doc = copy.deepcopy(CONFIGS[name])
    node = doc
    for p in path:
        node = node[p]
    node[key] = "x"
    with pytest.raises(Exception, match=f"unknown key '{key}'.*did you mean"):
        parse_config(doc, "c.yaml")


def test_flaudit_extensions_are_accepted_and_kept():
    doc = copy.deepcopy(CONFIGS["ccfraud"])
    doc["federated_learning"]["silos"][0]["groups"] = ["00000000-0000-0000-0000-0000000000aa"]
    admins = [{"object_id": "00000000-0000-0000-0000-0000000000bb", "kind": "user", "reason": "break-glass, on call"}]
    doc["federated_learning"]["administrators"] = admins
    cfg = parse_config(doc, "c.yaml")
    assert cfg.silos[0].groups == ["00000000-0000-0000-0000-0000000000aa"]
    assert cfg.raw["federated_learning"]["administrators"] == admins
