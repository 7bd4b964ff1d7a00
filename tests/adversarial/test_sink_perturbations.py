"""Attacks on FL-ID-010, FL-DM-010, FL-WSH-010/011 and declared administrators, starting from the hardened sample.

Each test is a way an attacker (or a careless export) would try to get a false pass; none may pass. Shapes as in
tests/rules/test_identity_takeover.py, test_data_sinks.py and test_sink_hardening.py (azure-rest-api-specs
examples named there).
"""

from __future__ import annotations

import copy

from flaudit.samples import generate
from tests.adversarial.common import CUSTOM, not_passing, role_definition
from tests.rules.test_data_sinks import _external
from tests.rules.test_identity_resources import vm
from tests.support import audit, config, identity, principal, role_assignment, sample_resources, statuses, storage

RG = f"/subscriptions/{generate.SUB}/resourceGroups/{generate.RG}"


def test_identity_key_with_trailing_slash_and_odd_case_is_still_the_silo_identity():
    res = sample_resources("hardened")
    uai = copy.deepcopy(identity(res, "uai-silo0"))
    uai["id"] = uai["id"].swapcase() + "/"
    res.append(vm(uai))
    not_passing(audit(res), "FL-ID-010", "silo0")


def test_identity_matched_by_principal_id_when_the_key_is_spelled_differently():
    res = sample_resources("hardened")
    uai = identity(res, "uai-silo2")
    other = vm(uai)
    other["identity"]["userAssignedIdentities"] = {
        "/subscriptions/x/resourcegroups/y/providers/microsoft.managedidentity/userassignedidentities/alias": {
            "principalId": uai["properties"]["principalId"]}}
    res.append(other)
    not_passing(audit(res), "FL-ID-010", "silo2")


def test_resource_graph_style_row_with_lower_case_type_is_read():
    res = sample_resources("hardened")
    row = vm(identity(res, "uai-silo1"))
    row["type"] = row["type"].lower()
    res.append(row)
    not_passing(audit(res), "FL-ID-010", "silo1")


def test_write_through_a_wildcard_custom_role_inherited_from_the_resource_group_reaches_a_public_sink():
    res = sample_resources("hardened")
    _external(res, public=True)
    res.append(role_definition(CUSTOM, data_actions=["Microsoft.Storage/storageAccounts/blobServices/containers/*"]))
    res.append(role_assignment(RG, CUSTOM, principal(res, "uai-silo1")))
    not_passing(audit(res), "FL-DM-010", "silo1")


def test_keys_alone_are_write_access_while_shared_keys_are_allowed():
    res = sample_resources("hardened")
    st = _external(res, public=True)
    st["properties"]["allowSharedKeyAccess"] = True
    res.append(role_assignment(st["id"], generate.ROLE["key-operator"], principal(res, "uai-silo0")))
    not_passing(audit(res), "FL-DM-010", "silo0")
    st["properties"]["allowSharedKeyAccess"] = False  # keys then do nothing: not a write path
    assert statuses(audit(res), "FL-DM-010", silo="silo0") == {"pass"}


def test_public_through_a_broad_ip_rule_only_is_still_public():
    res = sample_resources("hardened")
    orch = storage(res, "orchestrator")
    orch["properties"]["publicNetworkAccess"] = "Enabled"
    orch["properties"]["networkAcls"]["ipRules"] = [{"value": "0.0.0.0/1", "action": "Allow"}]
    not_passing(audit(res), "FL-DM-010", "silo0")


def test_nested_containers_names_do_not_confine_a_prefix_sharing_pair():
    res = sample_resources("hardened")
    ws = storage(res, "workspace")
    res.append(role_assignment(f"{ws['id']}/blobServices/default/containers/silo1", generate.ROLE["blob-contributor"],
                               principal(res, "uai-silo1")))
    res.append(role_assignment(f"{ws['id']}/blobServices/default/containers/silo1", generate.ROLE["blob-reader"],
                               principal(res, "uai-silo2")))
    not_passing(audit(res), "FL-DM-010", "silo1")


def test_declaring_an_administrator_does_not_hide_another_unlisted_reader_of_the_same_sink():
    res = sample_resources("hardened")
    st = _external(res)
    res.append(role_assignment(st["id"], generate.ROLE["blob-contributor"], principal(res, "uai-silo0")))
    admin, stranger = "11111111-2222-4333-8444-555555555555", "66666666-7777-4888-9999-000000000000"
    res.append(role_assignment(st["id"], generate.ROLE["blob-reader"], admin, principal_type="User"))
    res.append(role_assignment(st["id"], generate.ROLE["blob-reader"], stranger, principal_type="User"))
    cfg = config(federated_learning={**generate.fl_config(3)["federated_learning"],
                                     "administrators": [{"object_id": admin, "kind": "user", "reason": "DPO"}]})
    result = audit(res, cfg)
    not_passing(result, "FL-DM-010", "silo0")


def test_a_vault_shared_through_a_group_scope_assignment_above_it_is_shared():
    from tests.rules.test_sink_hardening import SECRETS_USER, _secrets_user, _shared, _vault

    res = sample_resources("hardened")
    res += [_vault(rbac=True), _secrets_user()]
    for i in (0, 2):
        res.append(role_assignment(RG, SECRETS_USER, principal(res, f"uai-silo{i}")))
    assert _shared(audit(res))["status"] == "fail"


def test_an_identity_list_instead_of_a_map_is_still_read():
    res = sample_resources("hardened")
    other = vm(identity(res, "uai-silo1"))
    other["identity"]["userAssignedIdentities"] = list(other["identity"]["userAssignedIdentities"])
    res.append(other)
    not_passing(audit(res), "FL-ID-010", "silo1")
