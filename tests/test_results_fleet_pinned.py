"""Caches and indexes in the model, the evaluators and the rules (issue #14, scan speed) must not change what
flaudit says. The bundled samples have 3 silos; this pins the whole result (findings with their evidence,
access[], network_paths[], topology, summary, verdict) of generated 20-silo deployments, in every posture and in
a deliberately weakened hardened one that breaks each isolation guarantee differently per silo (open egress,
cross-silo roles and peering, overlapping ABAC prefixes, a missing NSG, public storage, RG-wide roles), against
digests recorded with the code before the speed work (re-pinned once after merging it, with the merged code's
digests equal to those of the code before it: the topology gained subnet_ids/vnet_ids and FL-XT-002 names why a
principal is unplaced, both deliberate; then again when FL-XT-002's evidence became `access` items). A cache keyed on too little (one NSG's rules reused for
another, one silo's condition verdict for another) changes a digest and fails here."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest

from flaudit.audit import run_audit
from flaudit.config import parse_config
from flaudit.inventory import Inventory
from flaudit.samples import generate

N_SILOS = 20
BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"


def _by_name(resources: list[dict[str, Any]], rtype: str, name: str) -> dict[str, Any]:
    return next(r for r in resources if r["type"] == rtype and r["name"] == name)


def _principal(resources: list[dict[str, Any]], silo: str) -> str:
    return _by_name(resources, "Microsoft.ManagedIdentity/userAssignedIdentities", f"uai-{silo}")["properties"][
        "principalId"]


def weakened(n_silos: int = N_SILOS) -> list[dict[str, Any]]:
    """The hardened posture with a different weakness in many silos (and the rest left hardened)."""
    b = generate.Builder("hardened", n_silos)
    res = b.build()
    nsg = "Microsoft.Network/networkSecurityGroups"
    st = "Microsoft.Storage/storageAccounts"
    vnet = "Microsoft.Network/virtualNetworks"
    storage = {r["tags"].get("silo"): r for r in res if r["type"] == st and r["tags"].get("silo")}
    # silo1: outbound Internet on 443 allowed above the deny
    n1 = _by_name(res, nsg, "nsg-silo1")
    n1["properties"]["securityRules"].append(
        b._nsg_rule(n1["id"], "AllowWeb", 200, "Outbound", "Allow", "VirtualNetwork", "443", dest="Internet"))
    # silo2: SSH from anywhere, and the deny-Internet rule removed
    n2 = _by_name(res, nsg, "nsg-silo2")
    n2["properties"]["securityRules"] = [r for r in n2["properties"]["securityRules"]
                                         if r["name"] != "DenyInternetOutbound"]
    n2["properties"]["securityRules"].append(b._nsg_rule(n2["id"], "AllowSsh", 300, "Inbound", "Allow", "*", "22"))
    # silo3: egress to Storage in any region (service tag), a port range list
    n3 = _by_name(res, nsg, "nsg-silo3")
    r3 = b._nsg_rule(n3["id"], "AllowStorage", 150, "Outbound", "Allow", "VirtualNetwork", "", dest="Storage")
    r3["properties"]["destinationPortRange"] = None
    r3["properties"]["destinationPortRanges"] = ["443", "445"]
    n3["properties"]["securityRules"].append(r3)
    # silo4: subnet without an NSG
    v4 = _by_name(res, vnet, "vnet-silo4")
    v4["properties"]["subnets"][0]["properties"].pop("networkSecurityGroup")
    # silo5: public storage
    s5 = storage["silo5"]["properties"]
    s5["publicNetworkAccess"], s5["networkAcls"]["defaultAction"] = "Enabled", "Allow"
    # silo6 reads silo7's data; silo8 holds Contributor on the resource group
    b.assign(storage["silo7"]["id"], "blob-reader", _principal(res, "silo6"))
    b.assign(generate.rg_id(), "contributor", _principal(res, "silo8"))
    # silo9's ABAC prefix 'silo1' also covers silo10..silo19; silo10's condition is dropped
    for r in res:
        if r["type"] != "Microsoft.Authorization/roleAssignments":
            continue
        p = r["properties"]
        if p["principalId"] == _principal(res, "silo9") and p.get("condition"):
            p["condition"] = p["condition"].replace("'silo9/'", "'silo1'")
        if p["principalId"] == _principal(res, "silo10") and p.get("condition"):
            p["condition"], p["conditionVersion"] = None, None
    # silo11 and silo12 peered directly
    b.peer(_by_name(res, vnet, "vnet-silo11"), _by_name(res, vnet, "vnet-silo12"))
    # silo13: key operator on its own storage with shared keys enabled; silo14: a user with Owner-like reach
    storage["silo13"]["properties"]["allowSharedKeyAccess"] = True
    b.assign(storage["silo13"]["id"], "key-operator", _principal(res, "silo13"))
    b.assign(storage["silo14"]["id"], "blob-contributor", "11111111-2222-3333-4444-555555555555")
    # silo15: same NSG content as silo16 (a cache keyed on content must still cite each NSG's own ids)
    n15, n16 = _by_name(res, nsg, "nsg-silo15"), _by_name(res, nsg, "nsg-silo16")
    for n in (n15, n16):
        n["properties"]["securityRules"].append(
            b._nsg_rule(n["id"], "AllowRdp", 310, "Inbound", "Allow", "Internet", "3389"))
    return copy.deepcopy(res)


def _inventory(resources: list[dict[str, Any]]) -> Inventory:
    inv = Inventory()
    inv.extend(copy.deepcopy(resources))
    inv.collected = {(generate.rg_id().lower(), t) for t in generate.COLLECTED_TYPES}
    return inv


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:20]


def result_digests(resources: list[dict[str, Any]]) -> dict[str, str]:
    config = parse_config(generate.fl_config(N_SILOS), "fleet.yaml")
    result = run_audit(_inventory(resources), config, generated_at="2026-01-01T00:00:00+00:00")
    return {key: _digest(result[key])
            for key in ("verdict", "summary", "findings", "access", "network_paths", "topology")}


def deployments() -> dict[str, list[dict[str, Any]]]:
    out = {p: generate.Builder(p, N_SILOS).build() for p in generate.POSTURES}
    out["weakened"] = weakened()
    return out


PINNED: dict[str, dict[str, str]] = {
    'open': {'verdict': '6da29c12e3dc1c3e3330', 'summary': '942c6b729961090ae561', 'findings': '0234f6e926350b8d9d58', 'access': 'da90c2bc92a1a8adfd93', 'network_paths': '184a4e690053790c794f', 'topology': '42c05d3358e090fa3c3f'},
    'eyes-on': {'verdict': 'c2e7e708aaa1db9165e9', 'summary': '6ded1dce2e8fca7a501e', 'findings': 'e981cfea3498bd01c8c7', 'access': 'b9fcc34da4e2de3eb06e', 'network_paths': '184a4e690053790c794f', 'topology': 'fb376b6791cf07d4c2f1'},
    'eyes-off': {'verdict': '311e244f3fbf8ddb00f4', 'summary': '1a971119e728349ecade', 'findings': '5bb6356085a5785f4081', 'access': '14f509235bc33716ad7e', 'network_paths': 'a6b4550562c8d435cbbb', 'topology': 'fb376b6791cf07d4c2f1'},
    'private': {'verdict': '47c94b665bac8e57b3f0', 'summary': 'c3ba3ee54d5a76286748', 'findings': 'fbde04bebab8b5a350bc', 'access': '14f509235bc33716ad7e', 'network_paths': 'a6b4550562c8d435cbbb', 'topology': '04fdee9bdbc5cccf3073'},
    'hardened': {'verdict': '18d3d017f218c421eea8', 'summary': 'f8c60a0210f6e89d8045', 'findings': '0eaf5ae996b39993e332', 'access': '37b7c959f429889ee84e', 'network_paths': 'ba99d502eab7a1d850d4', 'topology': '04fdee9bdbc5cccf3073'},
    'weakened': {'verdict': 'c26319c98cfd05b63e90', 'summary': '4548acc1fdec79ad8781', 'findings': 'a727dca984827ce197d4', 'access': '51381fe0fe06c5236ae0', 'network_paths': '85dcf48686aae65721f2', 'topology': '04fdee9bdbc5cccf3073'},
}


@pytest.mark.parametrize("name", [*generate.POSTURES, "weakened"])
def test_fleet_result_matches_the_digest_pinned_before_the_speed_work(name):
    assert result_digests(deployments()[name]) == PINNED[name]


if __name__ == "__main__":  # print the digests (only to re-pin after a deliberate change of findings)
    print(json.dumps({n: result_digests(r) for n, r in deployments().items()}, indent=1))
