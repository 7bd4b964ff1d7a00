"""The --template source as the CLI uses it: parameters, scope defaults, bad input, Bicep, end-to-end audit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from flaudit.cli import main
from flaudit.errors import InputError
from flaudit.inventory import Inventory
from flaudit.sources.template import DEFAULT_RESOURCE_GROUP, DEFAULT_SUBSCRIPTION, expand_into, parse_param_args
from tests.template.helpers import FIXTURES, expand_file, write_json

FL = str(FIXTURES / "fl_silos.json")


def test_missing_required_parameter_is_an_input_error_naming_it():
    with pytest.raises(InputError, match=r"required parameter 'prefix' has no value"):
        expand_file("fl_silos.json")


def test_parameter_not_declared_by_the_template_is_an_input_error():
    with pytest.raises(InputError, match=r"has no parameter 'nope'"):
        expand_file("fl_silos.json", params=["prefix=x", "nope=1"])


def test_param_values_are_json_for_non_string_parameters_and_raw_for_strings():
    declared = {"prefix": {"type": "string"}, "siloregions": {"type": "array"}, "n": {"type": "int"}}
    out = parse_param_args(['prefix=123', 'siloRegions=["a","b"]', "n=4"], declared)
    assert out == {"prefix": "123", "siloRegions": ["a", "b"], "n": 4}
    with pytest.raises(InputError, match="NAME=VALUE"):
        parse_param_args(["novalue"], declared)


def test_param_overrides_parameter_file(tmp_path):
    inv = expand_file("fl_silos.json", parameters_file=FIXTURES / "fl_silos.parameters.json",
                      params=['siloRegions=["westeurope"]'])
    assert len(inv.of_type("Microsoft.ManagedIdentity/userAssignedIdentities")) == 1


def test_key_vault_reference_parameters_become_unknown_secrets_never_read(tmp_path):
    template = write_json(tmp_path / "t.json", {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "parameters": {"token": {"type": "securestring"}},
        "resources": [{"type": "Microsoft.KeyVault/vaults", "apiVersion": "2023-07-01", "name": "kv1",
                       "properties": {"tokenRef": "[parameters('token')]"}}]})
    pfile = write_json(tmp_path / "p.json", {"parameters": {
        "token": {"reference": {"keyVault": {"id": "/subscriptions/s/resourceGroups/r/providers/"
                                                    "Microsoft.KeyVault/vaults/kv"}, "secretName": "tok"}}}})
    inv = Inventory()
    expand_into(inv, template, parameters_file=pfile)
    vault = inv.of_type("Microsoft.KeyVault/vaults")[0]
    assert vault["properties"]["tokenRef"] == ("[symbolic:/subscriptions/s/resourcegroups/r/providers/"
                                              "microsoft.keyvault/vaults/kv/secrets/tok:secret]")


@pytest.mark.parametrize("doc, message", [
    ({"parameters": {"prefix": "x"}}, "needs a 'value'"),
    ({"params": {}}, "not an ARM parameter file"),
])
def test_bad_parameter_files_are_input_errors_naming_the_file(tmp_path, doc, message):
    pfile = write_json(tmp_path / "bad.parameters.json", doc)
    with pytest.raises(InputError, match=message) as err:
        expand_file("fl_silos.json", parameters_file=pfile)
    assert "bad.parameters.json" in str(err.value)


def test_not_json_and_not_a_template_are_input_errors_naming_the_file(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{ not json")
    with pytest.raises(InputError, match=r"broken.json: not JSON"):
        expand_into(Inventory(), bad)
    resources = write_json(tmp_path / "resources.json", [{"id": "/x", "type": "y"}])
    with pytest.raises(InputError, match=r"resources.json: not an ARM template"):
        expand_into(Inventory(), resources)
    with pytest.raises(InputError, match=r"missing.json: no such file"):
        expand_into(Inventory(), tmp_path / "missing.json")


def test_bicep_without_a_compiler_on_path_says_how_to_compile(tmp_path, monkeypatch):
    main_bicep = tmp_path / "main.bicep"
    main_bicep.write_text("param prefix string\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(InputError) as err:
        expand_into(Inventory(), main_bicep)
    text = str(err.value)
    assert "main.bicep" in text and "az bicep build --file" in text and "\n" not in text


def test_bicep_is_compiled_with_the_cli_on_path(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "bicep"
    template = (FIXTURES / "symbolic_v2.json").read_text()
    (tmp_path / "compiled.json").write_text(template)
    fake.write_text(f"#!/bin/sh\n[ \"$1\" = build ] && [ \"$3\" = --stdout ] && cat {tmp_path / 'compiled.json'}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    main_bicep = tmp_path / "main.bicep"
    main_bicep.write_text("// compiled by the fake bicep\n")
    inv = Inventory()
    assert expand_into(inv, main_bicep) == 7


def test_scope_defaults_and_overrides_are_recorded_in_the_source():
    inv = expand_file("fl_silos.json", params=["prefix=a"])
    detail = inv.sources[-1].detail
    assert detail["subscription_id"] == DEFAULT_SUBSCRIPTION
    assert detail["resource_group"] == DEFAULT_RESOURCE_GROUP and detail["location"] == "eastus"
    inv2 = expand_file("fl_silos.json", params=["prefix=a"], subscription_id="11111111-1111-1111-1111-111111111111",
                       resource_group="rg-prod", location="swedencentral")
    ws = inv2.of_type("Microsoft.MachineLearningServices/workspaces")[0]
    assert ws["id"].startswith("/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-prod/")
    assert ws["location"] == "swedencentral"


def run_cli(*argv: str) -> int:
    return main(list(argv))


def test_cli_scan_of_a_template_writes_locations_into_findings(tmp_path):
    out = tmp_path / "r.json"
    code = run_cli("scan", "--template", FL, "--param", "prefix=fltest", "--format", "json", "-o", str(out))
    assert code in (0, 1)
    result = json.loads(out.read_text())
    source = result["input"]["sources"][0]
    assert source["kind"] == "template" and source["path"] == FL
    located = [f for f in result["findings"] if f.get("location")]
    assert located, "findings on template resources carry their file location"
    assert all(f["location"]["file"] == FL and f["location"]["line"] >= 1 for f in located)
    assert result["input"]["unsupported"] == []


def test_cli_reports_unsupported_constructs_in_the_result(tmp_path):
    out = tmp_path / "r.json"
    run_cli("scan", "--template", str(FIXTURES / "outer_scope.json"), "--format", "json", "-o", str(out))
    result = json.loads(out.read_text())
    assert len(result["input"]["unsupported"]) == 3


def test_cli_bad_template_is_a_one_line_error_with_exit_2(tmp_path, capsys):
    bad = tmp_path / "t.json"
    bad.write_text("[]")
    assert run_cli("scan", "--template", str(bad), "-q") == 2
    err = capsys.readouterr().err
    assert "t.json: not an ARM template" in err and err.count("\n") == 1


def test_cli_parameters_without_template_is_an_error(tmp_path, capsys):
    pfile = write_json(tmp_path / "p.json", {"parameters": {}})
    assert run_cli("scan", "--sample", "hardened", "--parameters", str(pfile), "-q") == 2
    assert "--parameters needs --template" in capsys.readouterr().err


def test_cli_missing_parameter_names_it(capsys):
    assert run_cli("scan", "--template", FL, "-q") == 2
    assert "required parameter 'prefix'" in capsys.readouterr().err


def test_resource_group_given_twice_is_an_error_for_templates(capsys):
    assert run_cli("scan", "--template", FL, "--param", "prefix=a", "--resource-group", "a",
                   "--resource-group", "b", "-q") == 2
    assert "give --resource-group once" in capsys.readouterr().err


def test_template_path_is_kept_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(FIXTURES)
    inv = Inventory()
    expand_into(inv, Path("symbolic_v2.json"))
    assert {loc["file"] for loc in inv.locations.values()} == {"symbolic_v2.json"}
