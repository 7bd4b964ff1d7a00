"""The template source keeps resources of any type that run as a user-assigned identity (FL-ID-010), with the
identity block's keys evaluated (ARM evaluates expressions in property names: the usual
``userAssignedIdentities: {"[resourceId(...)]": {}}`` pattern)."""

from __future__ import annotations

import json

from flaudit.identities import attached_identities
from flaudit.inventory import Inventory
from flaudit.sources.template import expand_into
from tests.template.helpers import RG_ID

UAI = "Microsoft.ManagedIdentity/userAssignedIdentities"


def test_vm_and_logic_app_running_as_an_identity_are_kept_with_evaluated_keys(tmp_path):
    ident = "[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', 'uai-silo1')]"
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [
            {"type": UAI, "apiVersion": "2023-01-31", "name": "uai-silo1", "location": "westeurope"},
            {"type": "Microsoft.Compute/virtualMachines", "apiVersion": "2024-11-01", "name": "vm-jump",
             "location": "westeurope", "identity": {"type": "UserAssigned", "userAssignedIdentities": {ident: {}}},
             "properties": {"hardwareProfile": {"vmSize": "Standard_D2s_v3"}}},
            {"type": "Microsoft.Logic/workflows", "apiVersion": "2019-05-01", "name": "wf1", "location": "westeurope",
             "identity": {"type": "UserAssigned", "userAssignedIdentities": {ident: {}}}, "properties": {}},
            {"type": "Microsoft.Web/sites", "apiVersion": "2024-04-01", "name": "plain-site",
             "location": "westeurope", "properties": {}},
        ],
    }
    path = tmp_path / "t.json"
    path.write_text(json.dumps(template))
    inv = Inventory()
    expand_into(inv, path, subscription_id="00000000-0000-0000-0000-000000000000", resource_group="rg-template")
    vm = inv.get(f"{RG_ID}/providers/Microsoft.Compute/virtualMachines/vm-jump")
    wf = inv.get(f"{RG_ID}/providers/Microsoft.Logic/workflows/wf1")
    assert vm is not None and wf is not None
    assert [r.identity_id for r in attached_identities(vm)] == [f"{RG_ID}/providers/{UAI}/uai-silo1".lower()]
    assert inv.get(f"{RG_ID}/providers/Microsoft.Web/sites/plain-site") is None
