"""Fixtures for the live-collection tests: a mocked ARM, a fake credential, retries that record instead of sleep."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from flaudit.samples import generate
from flaudit.sources.live.clients import RetrySettings
from flaudit.sources.live.collect import collect, make_scope
from tests.live.fakearm import FakeArm, FakeCredential

SUB = generate.SUB


@pytest.fixture(autouse=True)
def _never_the_real_credential_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    """DefaultAzureCredential probes a link-local managed-identity endpoint: constructing it fails a test."""
    import azure.identity

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a test constructed DefaultAzureCredential")

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", refuse)


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def retry(sleeps: list[float]) -> RetrySettings:
    """The default retry policy, except that waits are recorded instead of slept."""
    return RetrySettings(sleep=sleeps.append)


@pytest.fixture
def sample() -> list[dict[str, Any]]:
    return generate.Builder("hardened", 3).build()


@pytest.fixture
def live(rsps, retry):
    """``live(resources, **fake_options) -> (inventory, fake)``: collect the subscription from a fake ARM."""

    def run(resources: list[dict[str, Any]], *, scope: Any = None, fake: FakeArm | None = None,
            **options: Any) -> tuple[Any, FakeArm]:
        fake = fake or FakeArm(resources, [SUB], **options)
        fake.register(rsps)
        inv = collect(scope or make_scope([SUB]), credential=FakeCredential(), retry=retry)
        return inv, fake

    return run
