"""``scan --compact`` (passing findings keep only evidence of assumed defaults and notes, JSON without indentation, same
findings and verdicts) and the progress line (only on a TTY, only after a second, never with --quiet)."""

from __future__ import annotations

import io
import json
import time

from flaudit.cli import main
from flaudit.progress import ScanProgress


def _scan(tmp_path, name: str, *extra: str) -> tuple[dict, str]:
    out = tmp_path / name
    assert main(["scan", "--sample", "eyes-off", "--format", "json", "--output", str(out), *extra]) == 1
    text = out.read_text()
    return json.loads(text), text


def test_compact_result_keeps_findings_and_verdicts_and_drops_pass_evidence_except_assumed_defaults_and_notes(
        tmp_path):
    full, full_text = _scan(tmp_path, "full.json")
    compact, compact_text = _scan(tmp_path, "compact.json", "--compact")
    assert compact["compact"] is True and "compact" not in full
    assert compact["verdict"] == full["verdict"] and compact["summary"] == full["summary"]
    assert compact["input"]["sha256"] == full["input"]["sha256"]
    assert [(f["id"], f["status"], f["message"]) for f in compact["findings"]] == \
           [(f["id"], f["status"], f["message"]) for f in full["findings"]]
    kept_defaults = kept_notes = dropped = 0
    for c, f in zip(compact["findings"], full["findings"], strict=True):
        if f["status"] in ("fail", "unknown"):
            assert c["evidence"] == f["evidence"]
        else:
            assert c["evidence"] == [e for e in f["evidence"] if e.get("default_assumed") or e.get("kind") == "note"]
            kept_defaults += sum(1 for e in c["evidence"] if e.get("default_assumed"))
            kept_notes += sum(1 for e in c["evidence"] if e.get("kind") == "note")
            dropped += len(f["evidence"]) - len(c["evidence"])
    # the sample has passes that rest on Azure defaults, and passes whose notes say where they stop (what was
    # not collected, what a setting does not cover): those stay visible; the values read and found fine go
    assert kept_defaults > 0 and kept_notes > 0 and dropped > 0
    assert "\n" not in compact_text.rstrip("\n") and "\n  " in full_text
    assert len(compact_text) < len(full_text) * 0.7


def test_a_compact_result_is_re_rendered_by_flaudit_report(tmp_path, capsys):
    _scan(tmp_path, "compact.json", "--compact")
    assert main(["report", str(tmp_path / "compact.json"), "--format", "html", "--output",
                 str(tmp_path / "r.html")]) == 0
    assert main(["report", str(tmp_path / "compact.json"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["compact"] is True


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_appears_on_a_tty_after_the_delay_and_is_erased():
    stream = _Tty()
    with ScanProgress(True, delay=0.05, stream=stream) as progress:
        progress.phase("loading inputs")
        time.sleep(0.3)
        assert progress.shown
        progress.phase("evaluating 12,022 resources")
        time.sleep(0.2)
    assert not progress.shown
    assert "flaudit: loading inputs" in stream.getvalue() or "flaudit: evaluating" in stream.getvalue()


def test_no_progress_line_for_a_quick_scan_off_a_tty_or_when_quiet():
    quick = _Tty()
    with ScanProgress(True, delay=5, stream=quick) as progress:
        progress.phase("loading inputs")
    assert quick.getvalue() == "" and not progress.shown
    pipe = io.StringIO()
    with ScanProgress(True, delay=0, stream=pipe) as progress:
        progress.phase("loading inputs")
        time.sleep(0.1)
    assert pipe.getvalue() == "" and not progress.shown
    quiet = _Tty()
    with ScanProgress(False, delay=0, stream=quiet) as progress:  # --quiet
        progress.phase("loading inputs")
        time.sleep(0.1)
    assert quiet.getvalue() == "" and not progress.shown


def test_a_phase_with_its_own_display_takes_the_line_down_until_the_next_phase():
    stream = _Tty()
    with ScanProgress(True, delay=0.05, stream=stream) as progress:
        progress.phase("collecting", own_display=True)  # live collection shows its own bar
        time.sleep(0.2)
        assert not progress.shown
        progress.phase("evaluating 3 resources")
        assert progress.shown
    assert not progress.shown
