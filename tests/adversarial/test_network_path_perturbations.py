"""Exfiltration and ingress perturbations that must never pass (issue #11 item 9): each opens one way for silo1's
data to leave for an account the attacker owns, or for an outside network to reach silo1, in the hardened sample
(which passes FL-NET-005 and FL-NET-009 otherwise)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.adversarial.common import not_passing, nsg, security_rule
from tests.support import audit, by_name, sample_resources

OUT = "Outbound"
ATTACKER_VNET = "/subscriptions/99999999-0000-0000-0000-000000000000/resourceGroups/rg-x/providers/" \
                "Microsoft.Network/virtualNetworks/vnet-x"


def _with(*rules: dict[str, Any]) -> list[dict[str, Any]]:
    res = sample_resources()
    nsg(res, "nsg-silo1")["properties"]["securityRules"].extend(copy.deepcopy(list(rules)))
    return res


@pytest.mark.parametrize("rule", [
    security_rule("storage-plural", 200, OUT, "Allow", destinationAddressPrefix="",
                  destinationAddressPrefixes=["10.0.0.0/8", "Storage.WestEurope"], destinationPortRange="443"),
    security_rule("storage-upper", 200, OUT, "Allow", destinationAddressPrefix="STORAGE", destinationPortRange="443"),
    security_rule("sql-behind-storage-port", 201, OUT, "Allow", destinationAddressPrefix="Sql",
                  destinationPortRange="443"),
    security_rule("eventhub-amqp", 200, OUT, "Allow", destinationAddressPrefix="EventHub.WestEurope",
                  destinationPortRange="5671-5672"),
    security_rule("acr-push", 200, OUT, "Allow", destinationAddressPrefix="AzureContainerRegistry",
                  destinationPortRange="443"),
    security_rule("frontdoor-frontend", 200, OUT, "Allow", destinationAddressPrefix="AzureFrontDoor.Frontend",
                  destinationPortRange="443"),
    security_rule("cosmos-any-port", 200, OUT, "Allow", destinationAddressPrefix="AzureCosmosDB"),
], ids=lambda r: r["name"])
def test_egress_to_services_any_customer_owns_is_not_a_pass(rule):
    rules = [rule]
    if rule["name"] == "sql-behind-storage-port":  # an earlier Allow on the same port must not hide it
        rules.insert(0, security_rule("amlonly", 150, OUT, "Allow", destinationAddressPrefix="AzureMachineLearning",
                                      destinationPortRange="443"))
    not_passing(audit(_with(*rules)), "FL-NET-005", "silo1")


def test_storage_policy_on_a_different_subnet_does_not_confine_silo1():
    res = _with(security_rule("storage", 200, OUT, "Allow", destinationAddressPrefix="Storage.westeurope",
                              destinationPortRange="443"))
    vnet0 = by_name(res, "Microsoft.Network/virtualNetworks", "vnet-silo0")
    vnet0["properties"]["subnets"][0]["properties"]["serviceEndpointPolicies"] = [{"id": "/x/sep"}]
    not_passing(audit(res), "FL-NET-005", "silo1")


@pytest.mark.parametrize("state,flags", [("Connected", {}), ("Initiated", {}),
                                         ("Connected", {"allowVirtualNetworkAccess": False})])
def test_outside_peerings_are_not_a_pass(state, flags):
    res = sample_resources()
    vnet = by_name(res, "Microsoft.Network/virtualNetworks", "vnet-silo1")
    vnet["properties"]["virtualNetworkPeerings"].append({
        "id": f"{vnet['id']}/virtualNetworkPeerings/x", "name": "x",
        "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
        "properties": {"remoteVirtualNetwork": {"id": ATTACKER_VNET}, "peeringState": state, **flags}})
    not_passing(audit(res), "FL-NET-009", "silo1")
