"""build_result's memos (issue #14, the end of a scan): each silo's natural sort key replaced by its rank, each
resource id lower-cased once, each (resource, subject) digest computed once, the summary and the verdicts counted
in one walk. Each must give what the plain per-finding definitions give, on findings made to tell them apart."""

from __future__ import annotations

from collections import defaultdict

from flaudit.findings import AREAS, PROFILES, STATUSES, Finding
from flaudit.gate import natural_key
from flaudit.result import _in_result_order, _tally, _verdicts, pass_evidence, summarize, verdict_for
from tests.support import varied_findings as _findings


def test_result_order_and_ids_equal_the_per_finding_definitions():
    findings = _findings()
    expected = sorted(findings, key=lambda f: (f.area, f.rule_id, natural_key(f.silo), f.resource_id.lower(),
                                               f.subject))
    ordered, ids, rows = _in_result_order(findings, compact=False)
    assert [id(f) for f in ordered] == [id(f) for f in expected]  # the same objects: ties keep the rules' order
    assert ids == [f.id for f in expected]
    assert rows == [f.to_dict() for f in expected]
    # the case-insensitive ids really are shared, and the silos tied as natural numbers are ordered by their text
    assert len(set(ids)) < len(ids)
    assert natural_key("silo1")[0] == natural_key("silo01")[0] == natural_key("Silo1")[0]
    assert len({natural_key(s) for s in ("silo1", "silo01", "Silo1")}) == 3


def test_compact_rows_keep_only_the_evidence_that_says_more_than_a_pass():
    findings = _findings()
    ordered, _, rows = _in_result_order(findings, compact=True)
    for f, row in zip(ordered, rows, strict=True):
        quiet = f.status in ("pass", "not_applicable")
        assert row["evidence"] == (pass_evidence(f.evidence) if quiet else f.evidence)
        assert len(f.evidence) >= 1  # the finding itself is not trimmed
    assert any(r["evidence"] != f.evidence for f, r in zip(ordered, rows, strict=True))


def _plain_summary(findings: list[Finding]) -> dict:
    by_status = dict.fromkeys(STATUSES, 0)
    by_area = {a: dict.fromkeys(STATUSES, 0) for a in AREAS}
    by_severity: dict[str, int] = defaultdict(int)
    for f in findings:
        by_status[f.status] += 1
        by_area.setdefault(f.area, dict.fromkeys(STATUSES, 0))[f.status] += 1
        if f.status in ("fail", "unknown"):
            by_severity[f.severity] += 1
    return {"total": len(findings), "by_status": by_status, "by_area": by_area,
            "failing_by_severity": dict(by_severity), "waived": sum(1 for f in findings if f.waiver),
            "declared": sum(1 for f in findings if f.declaration)}


def test_one_walk_summary_and_verdicts_equal_the_plain_definitions_keys_in_the_same_order():
    ordered, ids, _ = _in_result_order(_findings(), compact=False)
    summary, verdicts = _tally(ordered, ids)
    plain = _plain_summary(ordered)
    assert summary == plain == summarize(ordered)
    assert list(summary["failing_by_severity"]) == list(plain["failing_by_severity"])  # order is in the bytes
    assert list(summary["by_area"]) == list(plain["by_area"])
    assert "made-up-area" in summary["by_area"]
    assert verdicts == {p: verdict_for(ordered, p) for p in PROFILES} == _verdicts(ordered, ids)
    assert all(v["blocking"] for v in verdicts.values())
