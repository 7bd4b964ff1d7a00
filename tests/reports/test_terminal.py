"""The terminal report: matrix words, verdicts, evidence, and colour only when asked for."""

from __future__ import annotations

import re

from flaudit.reports import terminal

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_plain_output_has_no_ansi_escapes_and_uses_status_words(result):
    text = terminal.render(result, color=False)
    assert "\x1b" not in text
    row = next(line for line in text.splitlines() if "silo-1 " in line)
    assert "FAIL" in row and "PASS" in row
    assert "UNKNOWN" in next(line for line in text.splitlines() if "silo-2 " in line)
    assert "WAIVED" in next(line for line in text.splitlines() if "silo-3 " in line)
    assert "(deployment-wide)" in text


def test_color_output_has_ansi_escapes_and_the_same_words(result):
    text = terminal.render(result, color=True, width=120)
    assert ANSI.search(text)
    plain = ANSI.sub("", text)
    assert "NOT READY" in plain and "WAIVED" in plain


def test_verdict_per_profile_and_summary_line(result, ready_result):
    text = terminal.render(result, color=False)
    assert "Prototype (non-sensitive data): NOT READY" in text
    assert "Production (sensitive data): NOT READY" in text
    assert text.rstrip().splitlines()[-1].startswith("5 silos, ")
    ready = terminal.render(ready_result, color=False)
    assert "Production (sensitive data): READY" in ready
    assert "Failing and unknown findings" not in ready


def test_blocking_findings_come_first_by_severity_with_their_evidence(result):
    text = terminal.render(result, color=False)
    section = text.split("Failing and unknown findings", 1)[1]
    order = [m.group(1) for m in re.finditer(r"^\s+(?:FAIL|UNKNOWN) \[\w+\] (FL-[A-Z]+-\d+)", section, re.MULTILINE)]
    # blocking (critical, high, high, medium) before the non-blocking low finding
    assert order == ["FL-ID-001", "FL-PE-001", "FL-NET-001", "FL-WS-001", "FL-WH-001"]
    assert "properties.publicNetworkAccess = Enabled" in section
    assert "Storage Blob Data Reader at" in section
    assert "uai-silo-2 (other-silo) -[data]-> stsilo1" in text


def test_unknown_verdict_explains_what_unknown_means(result):
    for f in result["findings"]:
        if f["status"] == "fail":
            f["status"] = "pass"
    result["verdict"]["production"]["status"] = "unknown"
    text = terminal.render(result, color=False)
    assert "Production (sensitive data): UNKNOWN" in text
    assert "never counted as ready" in text


def test_large_deployments_are_cut_with_a_note(big_result):
    text = terminal.render(big_result, color=False)
    assert "more silos not shown" not in text  # 25 rows fit
    from synthetic import make_result

    huge = terminal.render(make_result(60), color=False)
    assert "more silos not shown" in huge
    assert "silo-1 " in huge  # failing silos are kept


def test_cut_note_counts_what_was_left_out():
    from synthetic import make_result

    text = terminal.render(make_result(40), color=False)
    assert "... 11 more silos not shown (11 PASS)" in text
