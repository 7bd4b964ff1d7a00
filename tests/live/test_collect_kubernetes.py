"""Live collection of Kubernetes silos against a mocked ARM: AKS and Arc clusters are listed once per scope,
each cluster's extensions with a GET list under it, and an unreadable extension list makes the extension rules
unknown. Fixture shapes: tests/kubernetes_fixtures.py (REST spec examples)."""

from __future__ import annotations

from flaudit.arm import norm
from flaudit.audit import run_audit
from tests.kubernetes_fixtures import SAMPLE_EXTENSION, aks_silo, connected_cluster
from tests.live.conftest import SUB
from tests.live.fakearm import FakeArm, arm_error
from tests.support import config, statuses


def test_aks_cluster_and_its_azureml_extension_are_collected_and_judged(live, sample):
    cl = aks_silo(sample, "silo1", extension=SAMPLE_EXTENSION)
    inv, fake = live(sample)
    assert inv.unreadable == []
    assert inv.get(cl["id"]) == cl
    ext_path = norm(cl["id"] + "/providers/Microsoft.KubernetesConfiguration/extensions")
    assert ext_path in fake.paths()
    assert fake.count() == fake.count("GET")
    result = run_audit(inv, config(), generated_at="2026-11-30T00:00:00+00:00")
    assert statuses(result, "FL-NET-001", silo="silo1") == {"pass"}
    assert statuses(result, "FL-K8S-008", silo="silo1") == {"fail"}


def test_unreadable_extension_list_is_unreadable_and_the_extension_rules_unknown(rsps, retry, sample):
    cl = aks_silo(sample, "silo1")
    fake = FakeArm(sample, [SUB])
    fake.queue(cl["id"] + "/providers/Microsoft.KubernetesConfiguration/extensions",
               arm_error(403, "AuthorizationFailed", "no read on extensions"))
    inv, _ = _collect(rsps, retry, fake)
    assert [u.resource_type for u in inv.unreadable] == ["Microsoft.KubernetesConfiguration/extensions"]
    result = run_audit(inv, config(), generated_at="2026-11-30T00:00:00+00:00")
    for rid in ("FL-K8S-003", "FL-K8S-004", "FL-K8S-005"):
        assert statuses(result, rid, silo="silo1") == {"unknown"}, rid


def test_arc_connected_clusters_are_listed(live, sample):
    arc = connected_cluster("partner-k8s")
    sample.append(arc)
    inv, _ = live(sample)
    assert inv.get(arc["id"]) == arc


def _collect(rsps, retry, fake):
    from flaudit.sources.live.collect import collect, make_scope
    from tests.live.fakearm import FakeCredential

    fake.register(rsps)
    return collect(make_scope([SUB]), credential=FakeCredential(), retry=retry), fake


def test_node_resource_group_network_is_listed_for_an_aks_managed_vnet(live, sample):
    cl = aks_silo(sample, "silo1", route_to_firewall=False)
    del cl["properties"]["agentPoolProfiles"][0]["vnetSubnetID"]
    node_rg = cl["properties"]["nodeResourceGroup"]
    inv, fake = live(sample)
    assert inv.unreadable == []
    assert norm(f"/subscriptions/{SUB}/resourceGroups/{node_rg}/providers/Microsoft.Network/virtualNetworks") \
        in fake.paths()
    result = run_audit(inv, config(), generated_at="2026-11-30T00:00:00+00:00")
    assert statuses(result, "FL-NET-001", silo="silo1") == {"unknown"}  # the AKS-managed VNet is not there
