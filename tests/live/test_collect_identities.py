"""Live collection of resources that can run as a user-assigned identity (FL-ID-010), GET only, flat in silos.

VM shape: azure-rest-api-specs specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-11-01/
examples/virtualMachineExamples/VirtualMachine_Create_WithEncryptionIdentity.json (responses 200 body); AKS shape:
specification/containerservice/resource-manager/Microsoft.ContainerService/aks/stable/2025-05-01/examples/
ManagedClustersGet.json (properties.identityProfile.kubeletidentity).
"""

from __future__ import annotations

from flaudit.audit import run_audit
from flaudit.config import parse_config
from flaudit.identities import IDENTITY_BEARING_TYPES
from flaudit.samples import generate
from tests.live.fakearm import FakeArm, arm_error
from tests.rules.test_identity_resources import aks_with_kubelet, vm
from tests.support import identity

SUB = generate.SUB
SUB_SCOPE = f"/subscriptions/{SUB}"


def _audit(inv):
    return run_audit(inv, parse_config(generate.fl_config(3), "config.yaml"), generated_at="2026-11-30T00:00:00+00:00")


def test_every_identity_bearing_type_is_listed_once_per_scope_with_get(live, sample):
    inv, fake = live(sample)
    for t in IDENTITY_BEARING_TYPES:
        assert fake.paths().count(f"{SUB_SCOPE}/providers/{t}".lower()) == 1, t
        assert inv.coverage(t) == "collected"
    assert fake.count("POST") == 0 and fake.count() == fake.count("GET")


def test_a_collected_vm_and_aks_cluster_running_as_silo_identities_fail_fl_id_010(live, sample):
    extra = [vm(identity(sample, "uai-silo1")), aks_with_kubelet(identity(sample, "uai-silo2")),
             {**vm(identity(sample, "uai-silo0"), name="vm-plain"), "identity": {"type": "SystemAssigned",
                                                                                   "principalId": "x"}}]
    inv, _ = live(sample + extra)
    assert len(inv.of_type("microsoft.compute/virtualmachines")) == 1  # the system-assigned-only VM is not kept
    assert inv.ignored_types["microsoft.compute/virtualmachines"] == 1
    result = _audit(inv)
    by_silo = {f["silo"]: f["status"] for f in result["findings"] if f["rule_id"] == "FL-ID-010"}
    assert by_silo == {"silo0": "pass", "silo1": "fail", "silo2": "fail"}


def test_403_on_virtual_machines_makes_fl_id_010_unknown(live, sample):
    fake = FakeArm(sample, [SUB])
    fake.queue(f"{SUB_SCOPE}/providers/Microsoft.Compute/virtualMachines",
               arm_error(403, "AuthorizationFailed", "no Microsoft.Compute/virtualMachines/read"))
    inv, _ = live(sample, fake=fake)
    result = _audit(inv)
    assert {f["status"] for f in result["findings"] if f["rule_id"] == "FL-ID-010"} == {"unknown"}
    assert result["verdict"]["production"]["status"] != "ready"


def test_request_count_does_not_grow_with_silos_beyond_the_per_identity_and_per_account_lists(live):
    """The identity-bearing types are listed once per scope; what grows with the silo count is only what ARM
    lists per parent (federated credentials per identity, replication and inventory policies per account)."""
    counts = []
    per_parent = ("/federatedidentitycredentials", "/objectreplicationpolicies", "/inventorypolicies")
    for n in (2, 6):
        _inv, fake = live(generate.Builder("hardened", n).build())
        counts.append(fake.count() - sum(1 for p in fake.paths() if p.endswith(per_parent)))
    assert counts[0] == counts[1]


def test_resource_graph_reads_the_same_identity_bearing_types():
    from flaudit.sources.live.graph import RESOURCE_TYPES, RESOURCES_QUERY

    for t in IDENTITY_BEARING_TYPES:
        assert t.lower() in RESOURCE_TYPES and f"'{t.lower()}'" in RESOURCES_QUERY
    assert "identity" in RESOURCES_QUERY  # the identity block is projected
