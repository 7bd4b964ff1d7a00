"""Walk the example shapes of every resource type flaudit reads (tests/input/corpus, see its README).

Each corpus file follows one Microsoft REST API example (provider, type, newest stable API version) and adds
the variants ``az`` and Resource Graph print for the same resource. Fed one by one, and then together as an
FL deployment, they must give: no traceback or internal error, no rejection of a genuine shape (every item
read, or counted as a type flaudit does not read), and nothing that could not be placed passing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flaudit.arm import norm, type_of
from flaudit.cli import main
from flaudit.config import parse_config
from flaudit.errors import EXIT_INTERNAL
from flaudit.inventory import KNOWN_TYPES
from flaudit.sources.files import parse_document

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.json"))


def _cases() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    out = []
    for path in FILES:
        doc = json.loads(path.read_text())
        for case in doc["cases"]:
            out.append((f"{path.stem}:{case['name']}", doc["follows"], case))
    return out


CASES = _cases()


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return body
    for key in ("value", "data"):
        if isinstance(body, dict) and isinstance(body.get(key), list):
            return body[key]
    return [body]


def test_every_type_flaudit_reads_is_walked():
    walked = {norm(f"{json.loads(p.read_text())['follows']['provider']}/{json.loads(p.read_text())['follows']['type']}")
              for p in FILES}
    missing = sorted(KNOWN_TYPES - walked)
    assert not missing, f"resource types flaudit reads with no corpus file in {CORPUS}: {missing}"


def test_every_corpus_file_names_the_example_it_follows():
    for path in FILES:
        follows = json.loads(path.read_text())["follows"]
        assert follows["spec"].startswith("specification/") and follows["spec"].endswith(".json"), path
        assert f"/{follows['api_version']}/" in follows["spec"], path
        assert path.stem == f"{follows['provider']}__{follows['type'].replace('/', '.')}__{follows['api_version']}"


@pytest.mark.parametrize("label, follows, case", CASES, ids=[c[0] for c in CASES])
def test_each_example_shape_is_read_or_refused_by_name(tmp_path, capsys, label, follows, case):
    src = tmp_path / "body.json"
    src.write_text(json.dumps(case["body"]))
    out = tmp_path / "result.json"
    rc = main(["scan", str(src), "--format", "json", "--output", str(out)])
    err = capsys.readouterr().err
    assert rc != EXIT_INTERNAL and "Traceback" not in err, err
    if case.get("refuse"):
        assert rc == 2 and case["refuse"] in err and err.count("\n") == 1, err
        assert not out.exists()
        return
    assert rc in (0, 1), err
    inv = parse_document(case["body"], label)
    items = _items(case["body"])
    ignored = sum(inv.ignored_types.values())
    assert len(inv.resources) + ignored == len(items)  # every item read, or counted as a type flaudit ignores
    if case.get("ignored"):
        assert ignored == len(items)
    else:
        assert ignored == 0 and {type_of(k) for k in inv.resources} == {norm(follows["provider"] + "/" + follows["type"])}
    result = json.loads(out.read_text())
    assert isinstance(result["input"]["notes"], list)


def _fl_deployment() -> list[dict[str, Any]]:
    """One resource per GET example (plus the unique list/put ones), as one export of one deployment."""
    resources: list[dict[str, Any]] = []
    for _, _, case in CASES:
        # the list and placeholder variants repeat a GET's resource (same id or same account name)
        if case["name"].startswith("rest-") and case["name"] not in ("rest-list", "rest-placeholder-subscription") \
                and not case.get("refuse"):
            resources += _items(case["body"])
    return resources


WALK_CONFIG = {
    "aml": {"subscription_id": "7c1e5b9a-3f20-4d6e-9a41-0c5d2e8f6b13", "resource_group_name": "rg-walk",
            "workspace_name": "mlw-walk"},
    "federated_learning": {"orchestrator": {"compute": "aks-walk"},
                           "silos": [{"name": "silo0", "computes": ["silo0-01"], "datastore": "datastore_silo0"},
                                     {"name": "silo1", "computes": ["silo1-01"], "datastore": "datastore_silo1"}]},
}


def test_the_corpus_as_one_deployment_never_passes_what_it_could_not_place(tmp_path, capsys):
    src = tmp_path / "walk.json"
    src.write_text(json.dumps(_fl_deployment()))
    cfg = tmp_path / "fl.yaml"
    cfg.write_text(json.dumps(WALK_CONFIG))  # JSON is YAML
    out = tmp_path / "result.json"
    rc = main(["scan", str(src), "--config", str(cfg), "--format", "json", "--output", str(out)])
    err = capsys.readouterr().err
    assert rc in (0, 1) and "Traceback" not in err, err
    result = json.loads(out.read_text())
    assert any("type derived from the id" in n for n in result["input"]["notes"])
    assert any("leading slash restored" in n for n in result["input"]["notes"])
    for f in result["findings"]:
        if f["area"] in ("network-isolation", "private-endpoints") and f["resource_id"].endswith(
                ("/computes/silo0-01", "/computes/silo1-01")):
            # both silo computes name the subnet "test-subnet-resource-id": nothing about their network holds
            assert f["status"] not in ("pass", "not_applicable"), (f["rule_id"], f["message"])
        assert "same VNet" not in f["message"], f["message"]  # the shared free-text subnet groups nothing
        if f["status"] == "pass":
            assert "test-subnet-resource-id" not in json.dumps(f), f
    net001 = {f["silo"]: f["status"] for f in result["findings"] if f["rule_id"] == "FL-NET-001"}
    assert net001 == {"silo0": "unknown", "silo1": "unknown"}
    silo1 = next(s for s in result["topology"]["silos"] if s["name"] == "silo1")
    assert silo1["datastore"]["container_name"] == "silo1"  # ADLS Gen2: filesystem is the container


def test_the_walk_config_is_a_valid_fl_config():
    assert [s.name for s in parse_config(WALK_CONFIG, "walk").silos] == ["silo0", "silo1"]
