"""FL-ID-010 (a resource outside the FL config runs as a silo's identity) and auxiliary identities (FL-ID-002).

Fixture shapes (Azure/azure-rest-api-specs, responses["200"]["body"]):
- VM: specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-11-01/examples/
  virtualMachineExamples/VirtualMachine_Create_WithEncryptionIdentity.json (identity.userAssignedIdentities)
- AKS: specification/containerservice/resource-manager/Microsoft.ContainerService/aks/stable/.../ManagedClustersGet
  (properties.identityProfile.kubeletidentity.{resourceId, objectId, clientId})
- Azure ML compute instance: specification/machinelearningservices/resource-manager/Microsoft.MachineLearningServices/
  stable/2025-06-01/examples/Compute/get/ComputeInstance.json, with the identity block of Compute/get/AmlCompute.json
- web app and container app: the common ManagedServiceIdentity block (identity.type UserAssigned,
  userAssignedIdentities {id: {principalId, clientId}}) of specification/web/.../GetSite.json and
  specification/app/.../ContainerApps_Get.json
"""

from __future__ import annotations

from flaudit.inventory import Inventory, Unreadable
from flaudit.samples import generate
from tests.support import audit, findings, identity, role_assignment, sample_resources, single, statuses

RG = f"/subscriptions/{generate.SUB}/resourceGroups/{generate.RG}"
WS = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/{generate.WS_NAME}"


def _uai_block(uai: dict) -> dict:
    return {"type": "UserAssigned", "userAssignedIdentities": {
        uai["id"]: {"principalId": uai["properties"]["principalId"], "clientId": uai["properties"]["clientId"]}}}


def vm(uai: dict, name: str = "vm-jump") -> dict:
    return {"name": name, "identity": {"type": "UserAssigned", "userAssignedIdentities": {uai["id"]: {}}},
            "properties": {"hardwareProfile": {"vmSize": "Standard_D2s_v3"}, "vmId": "5c0d55a7-c407-4ed6-bf7d-ddb810267c85",
                           "provisioningState": "Succeeded"},
            "type": "Microsoft.Compute/virtualMachines",
            "id": f"{RG}/providers/Microsoft.Compute/virtualMachines/{name}", "location": "westeurope"}


def aks_with_kubelet(uai: dict) -> dict:
    return {"id": f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks1", "name": "aks1",
            "type": "Microsoft.ContainerService/managedClusters", "location": "westeurope",
            "identity": {"principalId": "0a8af01e-842f-430e-a974-7bee16735f8f", "tenantId": generate.TENANT,
                         "type": "SystemAssigned"},
            "properties": {"kubernetesVersion": "1.30.3", "provisioningState": "Succeeded",
                           "identityProfile": {"kubeletidentity": {
                               "resourceId": uai["id"], "objectId": uai["properties"]["principalId"],
                               "clientId": uai["properties"]["clientId"]}}}}


def compute_instance(uai: dict, name: str = "ci-analyst") -> dict:
    return {"id": f"{WS}/computes/{name}", "type": "Microsoft.MachineLearningServices/workspaces/computes",
            "name": name, "location": "westeurope", "identity": _uai_block(uai),
            "properties": {"computeType": "ComputeInstance", "provisioningState": "Succeeded",
                           "properties": {"vmSize": "STANDARD_NC6", "state": "Running"}}}


def web_app(uai: dict) -> dict:
    return {"id": f"{RG}/providers/Microsoft.Web/sites/sitef6141", "name": "sitef6141", "type": "Microsoft.Web/sites",
            "kind": "app", "location": "westeurope", "identity": _uai_block(uai),
            "properties": {"state": "Running", "enabled": True}}


def unknown_type_with_identity(uai: dict) -> dict:
    """A type flaudit does not model (a Logic App workflow) still runs as the identity."""
    return {"id": f"{RG}/providers/Microsoft.Logic/workflows/wf1", "name": "wf1", "type": "Microsoft.Logic/workflows",
            "location": "westeurope", "identity": _uai_block(uai), "properties": {"state": "Enabled"}}


def test_hardened_sample_passes_fl_id_010():
    result = audit(sample_resources("hardened"))
    assert statuses(result, "FL-ID-010") == {"pass"}
    assert result["verdict"]["production"]["status"] == "ready"


def test_a_vm_running_as_a_silo_identity_fails_and_blocks_both_profiles():
    res = sample_resources("hardened")
    res.append(vm(identity(res, "uai-silo1")))
    result = audit(res)
    f = single(findings(result, "FL-ID-010", silo="silo1", status="fail"))
    assert "vm-jump" in f["message"]
    path = next(e for e in f["evidence"] if e["kind"] == "path")
    assert path["path_kind"] == "identity-takeover" and path["relation"] == "unlisted"
    assert statuses(result, "FL-ID-010", silo="silo0") == {"pass"}
    for profile in ("prototype", "production"):
        assert result["verdict"][profile]["status"] == "not_ready"
    edges = [e for e in result["access"] if e.get("path_kind") == "identity-takeover"]
    assert [e["principal_name"] for e in edges] == ["vm-jump"]


def test_aks_kubelet_identity_is_read_from_identity_profile():
    res = sample_resources("hardened")
    res.append(aks_with_kubelet(identity(res, "uai-silo2")))
    assert statuses(audit(res), "FL-ID-010", silo="silo2") == {"fail"}


def test_a_compute_instance_in_the_workspace_not_in_the_config_is_a_workspace_path():
    res = sample_resources("hardened")
    res.append(compute_instance(identity(res, "uai-silo0")))
    result = audit(res)
    f = single(findings(result, "FL-ID-010", silo="silo0", status="fail"))
    path = next(e for e in f["evidence"] if e["kind"] == "path")
    assert path["relation"] == "workspace"


def test_web_app_and_a_type_flaudit_does_not_model_are_both_found():
    res = sample_resources("hardened")
    uai = identity(res, "uai-silo1")
    res += [web_app(uai), unknown_type_with_identity(uai)]
    result = audit(res)
    names = {e["outsider_name"] for f in findings(result, "FL-ID-010", silo="silo1", status="fail")
             for e in f["evidence"] if e["kind"] == "path"}
    assert names == {"sitef6141", "wf1"}


def test_inventory_keeps_unknown_types_only_when_they_run_as_an_identity():
    res = sample_resources("hardened")
    inv = Inventory()
    assert inv.add(unknown_type_with_identity(identity(res, "uai-silo1")))
    assert not inv.add({"id": f"{RG}/providers/Microsoft.Logic/workflows/wf2", "type": "Microsoft.Logic/workflows",
                        "name": "wf2", "identity": {"type": "SystemAssigned", "principalId": "x"}})
    assert inv.ignored_types["microsoft.logic/workflows"] == 1


def test_matching_is_case_insensitive_on_the_identity_id():
    res = sample_resources("hardened")
    uai = dict(identity(res, "uai-silo1"))
    uai["id"] = uai["id"].upper()
    res.append(vm(uai))
    assert statuses(audit(res), "FL-ID-010", silo="silo1") == {"fail"}


def test_unreadable_identity_bearing_type_makes_fl_id_010_unknown():
    from tests.support import inventory

    inv = inventory(sample_resources("hardened"))
    inv.unreadable.append(Unreadable(RG, "Microsoft.Compute/virtualMachines", 403, "AuthorizationFailed"))
    result = audit(inv)
    assert statuses(result, "FL-ID-010") == {"unknown"}
    assert result["verdict"]["production"]["status"] != "ready"


def _shared_acr_identity(res: list[dict], roles: list[tuple[str, str]]) -> dict:
    """An identity attached to every silo and orchestrator compute, with the given (scope, role guid) roles."""
    b = generate.Builder("hardened")
    shared = b.identity("uai-acrpull")
    res.append(shared)
    for c in res:
        if c["type"] == "Microsoft.MachineLearningServices/workspaces/computes":
            c["identity"]["userAssignedIdentities"][shared["id"]] = {
                "principalId": shared["properties"]["principalId"], "clientId": shared["properties"]["clientId"]}
    for scope, guid in roles:
        res.append(role_assignment(scope, guid, shared["properties"]["principalId"]))
    return shared


ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"


def test_an_acrpull_only_identity_on_every_compute_is_not_a_shared_silo_identity():
    res = sample_resources("hardened")
    acr = next(r for r in res if r["type"] == "Microsoft.ContainerRegistry/registries")
    _shared_acr_identity(res, [(acr["id"], ACR_PULL)])
    result = audit(res)
    assert statuses(result, "FL-ID-002") == {"pass"}
    shared = [f for f in findings(result, "FL-ID-002") if "uai-acrpull" in f["message"]]
    assert shared and all("not a shared silo identity" in f["message"] for f in shared)
    assert statuses(result, "FL-ID-003") == {"pass"}  # training reads data as the silo's own identity
    assert result["verdict"]["production"]["status"] == "ready"


def test_a_shared_identity_with_any_role_on_silo_storage_still_fails_fl_id_002():
    from tests.support import storage_id

    res = sample_resources("hardened")
    _shared_acr_identity(res, [(storage_id(res, "silo0"), generate.ROLE["blob-reader"])])
    result = audit(res)
    assert "fail" in statuses(result, "FL-ID-002")
    assert result["verdict"]["production"]["status"] == "not_ready"


def test_a_shared_identity_is_not_auxiliary_when_role_assignments_are_unreadable():
    from tests.support import inventory

    res = sample_resources("hardened")
    acr = next(r for r in res if r["type"] == "Microsoft.ContainerRegistry/registries")
    _shared_acr_identity(res, [(acr["id"], ACR_PULL)])
    inv = inventory(res)
    inv.unreadable.append(Unreadable(RG, "Microsoft.Authorization/roleAssignments", 403, "AuthorizationFailed"))
    assert "fail" in statuses(audit(inv), "FL-ID-002")


def test_a_vm_running_as_an_auxiliary_identity_is_no_takeover_path():
    res = sample_resources("hardened")
    acr = next(r for r in res if r["type"] == "Microsoft.ContainerRegistry/registries")
    shared = _shared_acr_identity(res, [(acr["id"], ACR_PULL)])
    res.append(vm(shared))
    assert statuses(audit(res), "FL-ID-010") == {"pass"}


def test_the_takeover_path_is_shown_with_its_hops_in_terminal_and_markdown():
    from flaudit.reports import markdown, terminal

    res = sample_resources("hardened")
    res.append(vm(identity(res, "uai-silo1")))
    result = audit(res)
    shown = {"terminal": terminal.render(result, width=400), "markdown": markdown.render(result)}
    assert "silo1: uai-silo1 -[identity-takeover]-> vm-jump (unlisted) via " in shown["terminal"]
    assert "path identity-takeover (unlisted) vm-jump: " in shown["markdown"] and "&gt;" not in shown["markdown"]
    assert all("runs as silo1's identity uai-silo1" in text for text in shown.values())


def test_the_workspace_running_as_a_silo_identity_is_fl_id_002s_not_fl_id_010s():
    res = sample_resources("hardened")
    uai = identity(res, "uai-silo0")
    ws = next(r for r in res if r["type"] == "Microsoft.MachineLearningServices/workspaces")
    ws["identity"] = {"type": "SystemAssigned,UserAssigned", "principalId": ws["identity"]["principalId"],
                      "tenantId": generate.TENANT, "userAssignedIdentities": {
                          uai["id"]: {"principalId": uai["properties"]["principalId"]}}}
    result = audit(res)
    assert statuses(result, "FL-ID-010", silo="silo0") == {"pass"}
    assert "fail" in statuses(result, "FL-ID-002", silo="silo0")


def test_an_aks_add_on_identity_named_anywhere_in_properties_is_read():
    """AKS add-on identities (azure-rest-api-specs ManagedClustersCreate_AzureKeyvaultSecretsProvider.json:
    properties.addonProfiles.azureKeyvaultSecretsProvider.identity.{resourceId, clientId, objectId})."""
    res = sample_resources("hardened")
    uai = identity(res, "uai-silo0")
    aks = aks_with_kubelet(identity(res, "uai-orchestrator"))
    aks["properties"]["addonProfiles"] = {"azureKeyvaultSecretsProvider": {
        "enabled": True, "config": {"enableSecretRotation": "true"},
        "identity": {"resourceId": uai["id"], "clientId": uai["properties"]["clientId"],
                     "objectId": uai["properties"]["principalId"]}}}
    res.append(aks)
    result = audit(res)
    f = single(findings(result, "FL-ID-010", silo="silo0", status="fail"))
    assert "properties.addonProfiles.azureKeyvaultSecretsProvider.identity.resourceId" in f["message"]


def test_a_container_app_running_as_a_silo_identity_fails():
    """Body of Microsoft.App/stable/2025-01-01/examples/ContainerApps_Get.json (trimmed) with the common
    ManagedServiceIdentity block, the identity also named for registry pulls (configuration.registries[].identity)."""
    res = sample_resources("hardened")
    uai = identity(res, "uai-silo2")
    app = {"id": f"{RG}/providers/Microsoft.App/containerApps/testcontainerapp0", "name": "testcontainerapp0",
           "type": "Microsoft.App/containerApps", "location": "East US", "identity": _uai_block(uai),
           "properties": {"provisioningState": "Succeeded",
                          "managedEnvironmentId": f"{RG}/providers/Microsoft.App/managedEnvironments/demokube",
                          "configuration": {"registries": [{"server": "acr.azurecr.io", "identity": uai["id"]}]},
                          "template": {"containers": [{"image": "repo/testcontainerapp0:v4",
                                                       "name": "testcontainerapp0",
                                                       "resources": {"cpu": 0.5, "memory": "1Gi"}}]}}}
    res.append(app)
    f = single(findings(audit(res), "FL-ID-010", silo="silo2", status="fail"))
    assert "Microsoft.App/containerApps testcontainerapp0 runs as silo2's identity" in f["message"]
