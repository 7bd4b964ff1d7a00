"""Faster loading, redaction and writing must not change what flaudit says: every bundled sample's input digest,
verdicts, summary and findings (id, rule, status, severity, message, evidence) are compared with the record
main's code produced before the end-to-end performance work (tests/fixtures/pin_sample_results.py)."""

from __future__ import annotations

import json

import pytest

from flaudit.sources.samples import NAMES
from tests.fixtures.pin_sample_results import FIXTURE, record

PINNED = json.loads(FIXTURE.read_text("utf-8"))


@pytest.mark.parametrize("name", NAMES)
def test_sample_audit_matches_the_pinned_record(name):
    now = record(name)
    before = PINNED[name]
    assert now["input_sha256"] == before["input_sha256"]
    assert now["verdict"] == before["verdict"]
    assert now["summary"] == before["summary"]
    assert now["access"] == before["access"] and now["network_paths"] == before["network_paths"]
    assert now["findings"] == before["findings"]


def test_every_bundled_sample_is_pinned():
    assert sorted(PINNED) == sorted(NAMES)
