"""An AKS silo provisioned the way the Azure ML FL sample provisions it (fixtures/aks_silo.json: our own template
with the structure of the sample's vnet_aks_storage_pair, vnet_new_aks_with_confcomp and
deploy_aks_azureml_extension_via_script modules) gives definite network answers, matching what it provisions."""

from __future__ import annotations

from flaudit.audit import run_audit
from flaudit.sources.template.scripts import extension_from_command, script_resources
from tests.support import findings
from tests.template.helpers import FIXTURES, SUB, expand_file


def _audit(**params):
    inv = expand_file("aks_silo.json", params=[f"{k}={v}" for k, v in params.items()])
    return inv, run_audit(inv, None)


def test_aks_silo_template_has_no_unknown_network_findings_and_they_match_the_template():
    inv, result = _audit()
    net = {f["rule_id"]: f["status"] for f in findings(result, "FL-NET-001", silo="silo0")
           + [f for f in result["findings"] if f["silo"] == "silo0" and f["area"] == "network-isolation"]}
    assert "unknown" not in net.values(), net
    # what the template provisions: a subnet with an NSG that keeps Azure's default AllowInternetOutBound,
    # loadBalancer egress (no outboundType: AKS default), no node public IPs, a public API server
    assert (net["FL-NET-001"], net["FL-NET-002"], net["FL-NET-003"], net["FL-NET-005"]) == \
        ("pass", "pass", "pass", "fail")
    assert net["FL-K8S-001"] == "fail" and net["FL-K8S-004"] == "not_applicable"


def test_extension_settings_come_from_the_deployment_scripts_az_command_line():
    inv, result = _audit()
    [ext] = inv.of_type("microsoft.kubernetesconfiguration/extensions")
    assert ext["properties"]["configurationSettings"]["allowInsecureConnections"] == "True"
    f = findings(result, "FL-K8S-008", silo="silo0")[0]
    assert (f["status"], f["severity"], f["blocks"]) == ("fail", "low", [])  # the sample's default, inference off
    assert findings(result, "FL-K8S-003", silo="silo0")[0]["status"] == "not_applicable"
    assert any("deployment script" in n for n in result["input"]["notes"])
    _, on = _audit(enableInference="true")
    assert findings(on, "FL-K8S-003", silo="silo0")[0]["blocks"] == ["production"]
    assert findings(on, "FL-K8S-004", silo="silo0")[0]["status"] == "pass"  # internal load balancer


def test_private_cluster_parameter_passes_the_api_server_rule():
    _, result = _audit(enablePrivateCluster="true")
    assert findings(result, "FL-K8S-001", silo="silo0")[0]["status"] == "pass"


def test_only_az_k8s_extension_create_with_a_cluster_is_read_and_protected_settings_are_never_kept():
    base = ["az", "k8s-extension", "create", "--name", "e", "--extension-type", "Microsoft.AzureML.Kubernetes",
            "--cluster-type", "managedClusters", "--cluster-name", "c", "--resource-group", "g"]
    ext = extension_from_command(base + ["--config", "a=1", "--config-protected", "sslKeyPemFile=SECRET"], SUB)
    assert ext["properties"]["configurationSettings"] == {"a": "1"}
    assert "SECRET" not in str(ext)
    assert extension_from_command(base[:-2], SUB) is None  # no resource group: no cluster to hang it on
    assert extension_from_command(["az", "k8s-extension", "delete"] + base[3:], SUB) is None
    script = {"id": f"/subscriptions/{SUB}/resourceGroups/g/providers/Microsoft.Resources/deploymentScripts/s",
              "type": "Microsoft.Resources/deploymentScripts", "kind": "AzureCLI",
              "properties": {"scriptContent": "echo 'unbalanced; " + " ".join(base)}}
    assert script_resources([script]) == []  # a quote that never closes: nothing is guessed


def test_cluster_without_a_subnet_runs_in_the_network_aks_creates_and_is_judged(tmp_path):
    import json

    from flaudit.inventory import Inventory
    from flaudit.sources.template import expand_into

    doc = json.loads((FIXTURES / "aks_silo.json").read_text())
    cluster = next(r for r in doc["resources"] if r["type"] == "Microsoft.ContainerService/managedClusters")
    del cluster["properties"]["agentPoolProfiles"][0]["vnetSubnetID"]  # as open_aks_with_confcomp_storage_pair
    path = tmp_path / "open_aks.json"
    path.write_text(json.dumps(doc))
    inv = Inventory()
    expand_into(inv, path)
    result = run_audit(inv, None)
    net = {f["rule_id"]: f["status"] for f in result["findings"]
           if f["silo"] == "silo0" and f["area"] == "network-isolation"}
    assert "unknown" not in net.values(), net
    # AKS's own VNet and NSG (Azure defaults only): private, no inbound from the Internet, egress open
    assert (net["FL-NET-001"], net["FL-NET-003"], net["FL-NET-004"], net["FL-NET-005"]) == \
        ("pass", "pass", "pass", "fail")
    f = findings(result, "FL-NET-001", silo="silo0")[0]
    node_rg = next(e for e in f["evidence"] if e.get("path") == "properties.nodeResourceGroup")
    assert node_rg["default_assumed"] is True and node_rg["value"].startswith("MC_rg-template_silo0-01_")
    assert any("AKS creates" in n for n in result["input"]["notes"])


def test_cluster_with_its_own_subnet_gets_no_aks_created_network():
    inv, _ = _audit()
    assert not [v for v in inv.of_type("microsoft.network/virtualnetworks") if "/mc_" in v["id"].lower()]
