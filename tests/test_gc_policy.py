"""One garbage-collection policy for an audit (flaudit.audit.long_lived): off for a scan of files, full collections
deferred otherwise, the outermost use wins, and the collector is back as it was afterwards, also on an error."""

from __future__ import annotations

import gc

import pytest

from flaudit.audit import long_lived
from flaudit.cli import main


def test_a_scan_of_files_runs_without_the_collector_and_restores_it():
    with long_lived(young=False):
        assert not gc.isenabled()
        with long_lived():  # run_audit / evaluate inside the scan: the outer policy holds
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_live_collection_keeps_young_collections_and_defers_full_ones():
    before = gc.get_threshold()
    with long_lived(young=True):
        assert gc.isenabled()
        young0, young1, full = gc.get_threshold()
        assert (young0, young1) == before[:2] and full > 1_000_000
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_the_collector_is_restored_when_the_audit_fails():
    with pytest.raises(RuntimeError), long_lived(young=False):
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off():
    gc.disable()
    try:
        with long_lived(young=False):
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_after_a_scan_command_the_collector_is_on(tmp_path):
    assert main(["scan", "--sample", "eyes-off", "--format", "json", "--output", str(tmp_path / "r.json")]) == 1
    assert gc.isenabled() and gc.get_threshold()[2] < 1_000_000


def test_what_a_scan_of_files_built_is_aged_out_of_the_youngest_generation():
    """Nothing was collected while the collector was off, so all of it would sit in generation 0 and the first
    collection afterwards would walk it all (0.15 s at 1,000 silos): it is moved to the oldest generation."""
    with long_lived(young=False):
        kept = [[i] for i in range(50_000)]
    assert gc.get_count()[0] < 1_000 and gc.get_freeze_count() == 0
    assert any(kept[0] is o for o in gc.get_objects(generation=2))
