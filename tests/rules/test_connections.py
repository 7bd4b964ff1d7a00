"""Workspace connections (FL-WS-005): a connection to silo storage that stores a secret or names a managed
identity is a ``credential`` path; identity-only auth passes; unknown auth and unread connections are unknown;
credentials never survive loading. Shapes: specification/machinelearningservices/resource-manager/
Microsoft.MachineLearningServices/stable/2025-06-01/examples/WorkspaceConnection/list.json, get.json,
listSecrets.json (the last only to prove that a pasted listsecrets answer is redacted)."""

from __future__ import annotations

import json
from typing import Any

import flaudit.rules.workspace_access as pack
import pytest

from flaudit.inventory import Inventory, Unreadable
from tests import movement_fixtures as mf
from tests import support

RULES = [r for r in support.rules_of(pack) if r.id == "FL-WS-005"]
WS = "Microsoft.MachineLearningServices/workspaces"


def run(resources: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return support.run_area(resources, RULES, **kw)


def ws_id(res: list[dict[str, Any]]) -> str:
    return support.by_type(res, WS)[0]["id"]


def silo_finding(result: dict[str, Any], silo: str) -> dict[str, Any]:
    return support.single(support.findings(result, "FL-WS-005", silo=silo))


@pytest.mark.parametrize("auth", ["AccountKey", "SAS", "ServicePrincipal", "ManagedIdentity", "PAT"])
def test_connection_storing_a_credential_to_silo_storage_fails_as_a_credential_path(auth):
    res = support.sample_resources("hardened")
    s1 = support.storage(res, "silo1")
    res.append(mf.connection(ws_id(res), "silo1-blob", f"https://{s1['name']}.blob.core.windows.net/data", auth))
    f = silo_finding(run(res), "silo1")
    assert f["status"] == "fail" and f["blocks"] == ["prototype", "production"]
    p = support.single([e for e in f["evidence"] if e["kind"] == "path"])
    assert (p["path_kind"], p["relation"]) == ("credential", "workspace")
    assert silo_finding(run(res), "silo0")["status"] == "pass"


def test_connection_found_by_metadata_account_name_or_resource_id():
    res = support.sample_resources("hardened")
    s0, s2 = support.storage(res, "silo0"), support.storage(res, "silo2")
    res.append(mf.connection(ws_id(res), "by-name", "https://example.invalid/", "SAS",
                             metadata={"AccountName": s0["name"], "ContainerName": "data"}))
    res.append(mf.connection(ws_id(res), "by-id", s2["id"], "AccountKey", category="ADLSGen2"))
    result = run(res)
    assert silo_finding(result, "silo0")["status"] == "fail"
    assert silo_finding(result, "silo2")["status"] == "fail"


def test_identity_only_connection_passes_and_unknown_auth_is_unknown():
    res = support.sample_resources("hardened")
    s0, s1 = support.storage(res, "silo0"), support.storage(res, "silo1")
    res.append(mf.connection(ws_id(res), "aad", f"https://{s0['name']}.dfs.core.windows.net/", "AAD",
                             category="ADLSGen2"))
    res.append(mf.connection(ws_id(res), "odd", f"https://{s1['name']}.blob.core.windows.net/", "QuantumKey"))
    result = run(res)
    assert silo_finding(result, "silo0")["status"] == "pass"
    assert silo_finding(result, "silo1")["status"] == "unknown"


def test_connection_to_a_look_alike_host_is_not_silo_storage():
    res = support.sample_resources("hardened")
    s0 = support.storage(res, "silo0")
    res.append(mf.connection(ws_id(res), "web", f"https://{s0['name']}.example.com/", "PAT",
                             category="ContainerRegistry"))
    assert silo_finding(run(res), "silo0")["status"] == "pass"


def test_connections_not_read_are_unknown():
    res = support.sample_resources("hardened")
    u = Unreadable(ws_id(res), "Microsoft.MachineLearningServices/workspaces/connections", 403, "denied")
    assert silo_finding(run(res, unreadable=[u]), "silo0")["status"] == "unknown"
    assert silo_finding(run(res, collected=False), "silo0")["status"] == "unknown"


def test_a_pasted_listsecrets_answer_keeps_no_secret():
    conn = mf.connection("/subscriptions/x/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w",
                         "c", "https://acct.blob.core.windows.net/", "AccessKey")
    conn["properties"]["credentials"] = {"accessKeyId": "AKIA-visible-id", "secretAccessKey": "s3cr3t-value"}
    other = json.loads(json.dumps(conn))
    other["properties"]["authType"], other["properties"]["credentials"] = "PAT", {"pat": "ghp_token_value"}
    inv = Inventory()
    inv.extend([conn, dict(other, id=other["id"] + "2")])
    text = json.dumps(inv.resources)
    assert "s3cr3t-value" not in text and "ghp_token_value" not in text and "AKIA-visible-id" not in text
    assert "AccessKey" in text  # the auth type stays: rules need it


def test_a_sas_url_target_keeps_its_address_and_counts_as_a_stored_sas_whatever_the_auth_type():
    res = support.sample_resources("hardened")
    name = support.storage(res, "silo2")["name"]
    sas = f"https://{name}.blob.core.windows.net/data?sv=2024-11-04&ss=b&srt=co&sp=rl&sig=AbCdEfGhIjKlMnOpQrStUv%3D"
    res.append(mf.connection(ws_id(res), "sas-url", sas, "None"))  # the secret hides in the URL, auth says None
    inv = support.inventory(res)
    stored = inv.get(f"{ws_id(res)}/connections/sas-url")["properties"]["target"]
    assert "sig=" not in stored and stored.startswith(f"https://{name}.blob.core.windows.net/data?")
    f = silo_finding(run(res), "silo2")  # authType says None, but the workspace stores the URL's SAS
    assert f["status"] == "fail" and "a SAS in its target URL" in f["message"]


def test_a_connection_string_target_that_was_redacted_whole_makes_every_silo_unknown():
    res = support.sample_resources("hardened")
    name = support.storage(res, "silo0")["name"]
    res.append(mf.connection(ws_id(res), "cs", f"DefaultEndpointsProtocol=https;AccountName={name};AccountKey=c2VjcmV0;"
                             "EndpointSuffix=core.windows.net", "AccountKey"))
    result = run(res)
    assert {f["status"] for f in support.findings(result, "FL-WS-005")} == {"unknown"}
