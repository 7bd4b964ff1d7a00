"""FL-XT-002 places users and service principals by the Microsoft Graph directory object the input carries
(``inventory.directory``, read by live collection): each documented sign of a B2B user, each service principal
type, and every way the object can be missing keeps the verdict honest (unknown, never the home tenant)."""

from __future__ import annotations

import pytest

from flaudit.inventory import Unreadable
from flaudit.samples import generate
from tests.support import audit, findings, inventory, role_assignment, sample_resources, storage

HOME = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER = "3c2b1a09-8f7e-4d6c-9b5a-1e2f3a4b5c6d"
READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"  # Storage Blob Data Reader
PID = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
GRAPH_OBJECT = f"https://graph.microsoft.com/v1.0/directoryObjects/{PID}"


def _subscription() -> dict:
    """The sample's subscription in the shape of Subscriptions_Get.json, in tenant HOME."""
    return {"id": f"/subscriptions/{generate.SUB}", "subscriptionId": generate.SUB, "displayName": "FL",
            "state": "Enabled", "tenantId": HOME, "authorizationSource": "RoleBased"}


def _xt002(obj: dict | None, principal_type: str, *, tenants: bool = True, unreadable: Unreadable | None = None
           ) -> dict:
    res = sample_resources("hardened")
    res.append(role_assignment(storage(res, "silo1")["id"], READER, PID, principal_type=principal_type))
    if tenants:
        res.append(_subscription())
    inv = inventory(res)
    if obj is not None:
        inv.directory[PID] = {"id": PID, **obj}
    if unreadable is not None:
        inv.unreadable.append(unreadable)
    [f] = findings(audit(inv), "FL-XT-002", silo="silo1")
    return f


USER = "#microsoft.graph.user"
SP = "#microsoft.graph.servicePrincipal"


@pytest.mark.parametrize("signs, path", [
    ({"userType": "Guest"}, "userType"),
    ({"userType": "Member", "creationType": "Invitation"}, "creationType"),
    ({"userType": "Member", "externalUserState": "PendingAcceptance"}, "externalUserState"),
    ({"userType": "Member", "identities": [{"signInType": "federated", "issuer": "fabrikam.com"}]},
     "identities[signInType=federated].issuer"),
])
def test_each_documented_sign_of_a_b2b_user_crosses_the_tenant(signs, path):
    f = _xt002({"@odata.type": USER, "displayName": "Partner analyst", **signs}, "User")
    assert f["status"] == "fail" and "a B2B guest of another tenant" in f["message"]
    assert any(e.get("kind") == "property" and e["resource_id"] == GRAPH_OBJECT and e["path"] == path
               for e in f["evidence"])


def test_a_member_user_without_any_external_sign_is_of_the_tenant():
    f = _xt002({"@odata.type": USER, "userType": "Member", "externalUserState": None, "creationType": None,
                "identities": [{"signInType": "userPrincipalName", "issuer": "contoso.onmicrosoft.com"}]}, "User")
    assert f["status"] == "pass"


def test_a_user_whose_user_type_graph_did_not_return_stays_unknown():
    assert _xt002({"@odata.type": USER, "displayName": "x"}, "User")["status"] == "unknown"


@pytest.mark.parametrize("sp, status", [
    ({"servicePrincipalType": "Application", "appOwnerOrganizationId": OTHER}, "fail"),
    ({"servicePrincipalType": "Application", "appOwnerOrganizationId": HOME.upper()}, "pass"),
    ({"servicePrincipalType": "ManagedIdentity"}, "pass"),
    ({"servicePrincipalType": "Legacy"}, "pass"),
    ({"servicePrincipalType": "Application"}, "unknown"),  # no owning tenant returned
    ({"servicePrincipalType": "SocialIdp", "appOwnerOrganizationId": HOME}, "unknown"),
])
def test_service_principals_are_placed_by_type_and_owning_tenant(sp, status):
    assert _xt002({"@odata.type": SP, **sp}, "ServicePrincipal")["status"] == status


def test_an_application_cannot_be_compared_without_the_storage_tenant():
    f = _xt002({"@odata.type": SP, "servicePrincipalType": "Application", "appOwnerOrganizationId": OTHER},
               "ServicePrincipal", tenants=False)
    assert f["status"] == "unknown" and "appOwnerOrganizationId" in f["message"]


def test_a_refused_directory_read_is_unknown_and_says_so():
    refused = Unreadable(f"/directoryObjects/{PID}", "Microsoft.Graph/directoryObjects", 403,
                         "Directory read was refused (403 Authorization_RequestDenied: Insufficient privileges to "
                         "complete the operation.); the collecting identity needs Microsoft Graph Directory.Read.All")
    f = _xt002(None, "User", unreadable=refused)
    assert f["status"] == "unknown" and "Directory read was refused" in f["message"]
    assert any(e.get("kind") == "note" and "Directory.Read.All" in e["text"] for e in f["evidence"])


def test_without_directory_objects_a_user_stays_unknown_and_the_note_points_at_collect():
    f = _xt002(None, "User")
    assert f["status"] == "unknown"
    assert any(e.get("kind") == "note" and "flaudit collect" in e["text"] for e in f["evidence"])


def test_a_crossing_principal_is_reported_even_when_another_holder_is_unknown():
    res = sample_resources("hardened")
    st = storage(res, "silo1")["id"]
    res += [role_assignment(st, READER, PID, principal_type="User"), _subscription(),
            role_assignment(st, READER, "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", principal_type="User")]
    inv = inventory(res)
    inv.directory[PID] = {"@odata.type": USER, "id": PID, "userType": "Guest"}
    [f] = findings(audit(inv), "FL-XT-002", silo="silo1")
    assert f["status"] == "fail"
