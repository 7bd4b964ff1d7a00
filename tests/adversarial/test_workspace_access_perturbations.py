"""Workspace-access perturbations that must never pass: datastore credential types in other casing, missing or
unknown, a second datastore holding a key to silo storage (account name in other casing), and firewall
resource-instance rules naming the workspace in other casing or by wildcard."""

from __future__ import annotations

import copy

import pytest

from flaudit.samples import generate
from tests.adversarial.common import not_passing, workspace
from tests.support import audit, by_name, findings, sample_resources, storage

DATASTORE = "Microsoft.MachineLearningServices/workspaces/datastores"
MISSING = object()


@pytest.mark.parametrize("credentials", [{"credentialsType": "accountkey"}, {"credentialsType": "sas"},
                                         {"credentialsType": "ServicePrincipal"}, {"credentialsType": "Certificate"},
                                         {"credentialsType": "KerberosPassword"}, {"credentialsType": "Weird"},
                                         None, MISSING])
def test_silo_datastore_credentials_not_identity_based(credentials):
    res = sample_resources()
    props = by_name(res, DATASTORE, "datastore_silo1")["properties"]
    if credentials is MISSING:
        del props["credentials"]
    else:
        props["credentials"] = credentials
    not_passing(audit(res), "FL-WS-003", "silo1")


def test_another_datastore_with_a_key_to_silo_storage_named_in_other_casing():
    res = sample_resources()
    extra = copy.deepcopy(by_name(res, DATASTORE, "datastore_silo1"))
    extra["id"] = extra["id"].replace("datastore_silo1", "scratch")
    extra["name"] = "scratch"
    extra["properties"]["accountName"] = extra["properties"]["accountName"].upper()
    extra["properties"]["credentials"] = {"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey"}}
    res.append(extra)
    assert "fail" in {f["status"] for f in findings(audit(res), "FL-WS-003", silo="silo1")}


@pytest.mark.parametrize("resource_id", [
    lambda res: workspace(res)["id"].lower(),
    lambda res: f"/subscriptions/{generate.SUB}/resourcegroups/*/providers/"
                "Microsoft.MachineLearningServices/workspaces/*",
], ids=["workspace-id-lower-case", "wildcard"])
def test_resource_instance_rule_naming_azure_ml(resource_id):
    res = sample_resources()
    props = storage(res, "silo1")["properties"]
    props["publicNetworkAccess"] = "Enabled"
    props["networkAcls"]["resourceAccessRules"] = [{"tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                                                    "resourceId": resource_id(res)}]
    not_passing(audit(res), "FL-WS-002", "silo1")


def test_resource_instance_rule_under_a_property_name_in_other_casing():
    res = sample_resources()
    props = storage(res, "silo1")["properties"]
    props["publicNetworkAccess"] = "enabled"
    props["networkAcls"]["ResourceAccessRules"] = [{"tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                                                    "resourceId": workspace(res)["id"]}]
    not_passing(audit(res), "FL-WS-002", "silo1")
