"""What the collector stores is the ARM REST shape, whichever client fetched it.

The fixtures hold list responses in the shapes of the official azure-rest-api-specs examples (camelCase,
nested ``properties``); each item must come out of the collector unchanged. This pins the msrest
``serialize(keep_readonly=True)`` path (authorization, msi) and the plain GETs (Azure ML, network, storage),
and shows that the network and storage SDK models' ``as_dict()`` would store exactly the same thing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses

from flaudit.arm import norm
from flaudit.sources.live.collect import collect, make_scope, to_rest
from tests.live.fakearm import FakeArm, FakeCredential, arm_unreadable

SHAPES = json.loads((Path(__file__).parent / "fixtures" / "rest_shapes.json").read_text())
SUB = "0b0f5e2c-3d4a-4b7e-9c61-2a8d7f4e1c35"
KINDS = sorted(k for k in SHAPES if not k.startswith("_"))


@pytest.fixture(scope="module")
def collected():
    fake = FakeArm([], [SUB])
    for kind in KINDS:
        entry = SHAPES[kind]
        fake.lists[(norm(entry["path"]), "")] = entry["body"]["value"]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        from flaudit.sources.live.clients import RetrySettings

        return collect(make_scope([SUB]), credential=FakeCredential(), retry=RetrySettings(sleep=lambda s: None))


@pytest.mark.parametrize("kind", KINDS)
def test_stored_resource_equals_the_rest_example_shape(collected, kind):
    assert arm_unreadable(collected) == []
    for item in SHAPES[kind]["body"]["value"]:
        stored = collected.get(item["id"])
        assert stored is not None, item["id"]
        if kind == "datastores":  # ARM's explicit null survives the plain GET path verbatim
            assert stored["properties"]["properties"] is None
        assert stored == item


def test_msrest_models_as_dict_would_not_be_rest_shape():
    """Why to_rest uses serialize(): the authorization SDK's as_dict() flattens and snake_cases."""
    from azure.mgmt.authorization.v2022_04_01.models import RoleAssignment

    item = SHAPES["role_assignments"]["body"]["value"][0]
    model = RoleAssignment.deserialize(item)
    assert "role_definition_id" in model.as_dict()
    assert to_rest(model) == item


@pytest.mark.parametrize("kind,model_path", [
    ("storage_accounts", "azure.mgmt.storage.models:StorageAccount"),
    ("private_endpoints", "azure.mgmt.network.models:PrivateEndpoint"),
    ("virtual_networks", "azure.mgmt.network.models:VirtualNetwork"),
    ("network_security_groups", "azure.mgmt.network.models:NetworkSecurityGroup"),
])
def test_network_and_storage_sdk_models_give_the_same_rest_shape(collected, kind, model_path):
    """The plain GET stores what the SDK's hybrid models would give through as_dict(), without their cost."""
    import importlib

    module, name = model_path.split(":")
    model_cls = getattr(importlib.import_module(module), name)
    for item in SHAPES[kind]["body"]["value"]:
        assert to_rest(model_cls(item)) == item == collected.get(item["id"])
