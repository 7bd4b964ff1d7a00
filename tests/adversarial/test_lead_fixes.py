"""False passes found by the red-team pass and fixed in the rule modules."""

from __future__ import annotations

from tests import support

READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"  # Storage Blob Data Reader


def test_cross_silo_check_is_unknown_when_another_silos_storage_is_not_resolved():
    res = support.sample_resources("hardened")
    st2 = support.storage(res, "silo2")
    res.remove(st2)
    res.append(support.role_assignment(st2["id"], READER, support.principal(res, "uai-silo0")))
    result = support.audit(res)
    assert support.statuses(result, "FL-ID-004", silo="silo0") == {"unknown"}
    assert result["verdict"]["production"]["status"] != "ready"


def test_public_network_access_must_be_explicitly_disabled_to_pass():
    res = support.sample_resources("hardened")
    support.storage(res, "silo1")["properties"]["publicNetworkAccess"] = "Restricted"
    assert support.statuses(support.audit(res), "FL-PE-001", silo="silo1") != {"pass"}


def test_hierarchical_namespace_given_as_a_string_still_requires_a_dfs_endpoint():
    res = support.sample_resources("hardened")
    support.storage(res, "silo1")["properties"]["isHnsEnabled"] = "true"
    support.by_name(res, "Microsoft.MachineLearningServices/workspaces/datastores",
                    "datastore_silo1")["properties"]["datastoreType"] = "AzureDataLakeGen2"
    dfs = [f for f in support.findings(support.audit(res), "FL-PE-002", silo="silo1") if f["subject"] == "dfs"]
    assert [f["status"] for f in dfs] == ["fail"]


def test_key_rights_message_names_what_was_checked():
    result = support.audit(support.sample_resources("hardened"))
    msgs = [f["message"] for f in support.findings(result, "FL-ID-005", status="pass")]
    assert msgs and all("own silo's storage" in m for m in msgs)


def _managed(res, outbound_rules):
    """The hardened sample with every compute in an AllowOnlyApprovedOutbound managed network."""
    ws = support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0]
    ws["properties"]["managedNetwork"] = {"isolationMode": "AllowOnlyApprovedOutbound",
                                          "outboundRules": outbound_rules}
    for c in support.by_type(res, "Microsoft.MachineLearningServices/workspaces/computes"):
        c["properties"]["properties"].pop("subnet", None)
    return res


def test_managed_network_rules_that_reopen_the_internet_fail_egress():
    ok = {"pypi": {"type": "FQDN", "category": "UserDefined", "destination": "pypi.org"}}
    bad = {"everything": {"type": "ServiceTag", "category": "UserDefined",
                          "destination": {"serviceTag": "Internet", "protocol": "*", "portRanges": "*",
                                          "action": "Allow"}},
           "prefixes": {"type": "ServiceTag", "category": "UserDefined",
                        "destination": {"serviceTag": "AzureCloud.WestEurope", "protocol": "TCP", "portRanges": "443",
                                        "addressPrefixes": ["0.0.0.0/0"]}},
           "wild": {"type": "FQDN", "category": "UserDefined", "destination": "*"}}
    good = support.audit(_managed(support.sample_resources("hardened"), ok))
    assert support.statuses(good, "FL-NET-005", silo="silo0") == {"pass"}
    assert support.statuses(good, "FL-WSH-002", silo=None) == {"pass"}
    for name, rule in bad.items():
        result = support.audit(_managed(support.sample_resources("hardened"), {name: rule}))
        assert support.statuses(result, "FL-NET-005", silo="silo0") == {"fail"}, name
        assert support.statuses(result, "FL-WSH-002", silo=None) == {"fail"}, name


def test_a_private_endpoint_that_failed_to_provision_is_not_approved():
    res = support.sample_resources("hardened")
    pe = support.by_name(res, "Microsoft.Network/privateEndpoints", f"pe-{support.storage(res, 'silo1')['name']}-blob")
    pe["properties"]["provisioningState"] = "Failed"
    assert support.statuses(support.audit(res), "FL-PE-002", silo="silo1") == {"fail"}
