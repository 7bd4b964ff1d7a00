"""Credentials are created in one place, for the chosen cloud and tenant, and cached across clients."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

import flaudit.sources.live.collect as collect_mod
from flaudit.cli import main
from flaudit.errors import CollectionError, InputError
from flaudit.sources.live.collect import collect, make_scope
from flaudit.sources.live.credential import CLOUDS, CachingCredential, check_credential, cloud_named, make_credential
from tests.live.conftest import SUB
from tests.live.fakearm import FakeCredential

TENANT = "4f3e2d1c-0b9a-4877-8665-5e4d3c2b1a09"


class Recorder:
    """Stands in for DefaultAzureCredential: records its options, hands out tokens."""

    made: list[dict[str, Any]] = []

    def __init__(self, **kwargs: Any) -> None:
        Recorder.made.append(kwargs)
        self.requests: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.requests.append((scopes, kwargs))
        return AccessToken("t", int(time.time()) + 3600)


@pytest.fixture
def recorder(monkeypatch):
    import azure.identity

    Recorder.made = []
    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", Recorder)
    return Recorder


def test_default_credential_targets_the_clouds_authority_and_tenant(recorder):
    cred = make_credential(TENANT, "AzureUSGovernment")
    [opts] = recorder.made
    assert opts["authority"] == "login.microsoftonline.us"
    assert opts["additionally_allowed_tenants"] == [TENANT]
    assert opts["workload_identity_tenant_id"] == TENANT
    assert opts["exclude_interactive_browser_credential"] is True
    cred.get_token(CLOUDS["AzureUSGovernment"].token_scope)
    assert cred.inner.requests == [(("https://management.usgovcloudapi.net/.default",), {"tenant_id": TENANT})]


def test_default_credential_without_tenant_names_none(recorder):
    make_credential(None, None)
    [opts] = recorder.made
    assert opts["authority"] == "login.microsoftonline.com"
    assert "additionally_allowed_tenants" not in opts


def test_tokens_are_cached_until_shortly_before_expiry():
    inner = FakeCredential()
    cred = CachingCredential(inner)
    for _ in range(5):
        cred.get_token("https://management.azure.com/.default")
    assert inner.calls == 1
    cred.get_token("https://management.azure.com/.default", claims='{"access_token":{}}')  # CAE challenge
    assert inner.calls == 2


def test_expiring_token_is_refreshed():
    class Short(FakeCredential):
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            self.calls += 1
            return AccessToken("t", int(time.time()) + 60)  # inside the 5-minute skew

    inner = Short()
    cred = CachingCredential(inner)
    cred.get_token("s")
    cred.get_token("s")
    assert inner.calls == 2


def test_sign_in_failure_is_exit_code_3_material():
    with pytest.raises(CollectionError, match="az login"):
        check_credential(FakeCredential(fail=ClientAuthenticationError("no identity")), CLOUDS["AzureCloud"])


def test_cloud_names_are_case_insensitive_and_checked():
    assert cloud_named("azurechinacloud").arm_endpoint == "https://management.chinacloudapi.cn"
    assert cloud_named(None).name == "AzureCloud"
    with pytest.raises(InputError, match="unknown cloud"):
        cloud_named("AzureGermanCloud")


def test_sovereign_cloud_requests_go_to_its_arm_endpoint_with_its_token_scope(rsps, retry):
    rsps.add_callback("GET", re.compile(r"https://management\.usgovcloudapi\.net/.*"),
                      callback=lambda req: (200, {"Content-Type": "application/json"},
                                            '{"value": []}' if "/providers/" in req.url else
                                            f'{{"id": "/subscriptions/{SUB}", "subscriptionId": "{SUB}"}}'))

    class Scopes(FakeCredential):
        seen: set[str] = set()

        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            Scopes.seen.update(scopes)
            return super().get_token(*scopes, **kwargs)

    inv = collect(make_scope([SUB]), credential=Scopes(), cloud="AzureUSGovernment", retry=retry)
    assert rsps.calls and all(c.request.url.startswith("https://management.usgovcloudapi.net/") for c in rsps.calls)
    assert Scopes.seen == {"https://management.usgovcloudapi.net/.default"}
    assert inv.metadata["scope"]["cloud"] == "AzureUSGovernment"


def test_cli_passes_tenant_and_cloud_to_the_credential_factory(rsps, monkeypatch, tmp_path):
    asked: list[tuple[Any, Any]] = []

    def factory(tenant=None, cloud=None):
        asked.append((tenant, cloud.name))
        return FakeCredential(fail=ClientAuthenticationError("stop here"))

    monkeypatch.setattr(collect_mod, "make_credential", factory)
    rc = main(["collect", "--subscription", SUB, "--tenant", TENANT, "--cloud", "AzureChinaCloud",
               "-o", str(tmp_path / "s.json"), "-q"])
    assert rc == 3
    assert asked == [(TENANT, "AzureChinaCloud")]
