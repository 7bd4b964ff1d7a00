"""The result's verdicts and the gate's blocking findings are computed in one pass over the findings (issue #14,
scan speed); they must equal the per-profile definitions they replace, whatever blocks which profile."""

from __future__ import annotations

from flaudit.findings import PROFILES, SEVERITY_RANK
from flaudit.gate import at_or_above, blocking_by_profile, blocking_findings, decide, fix_first, fix_first_all
from flaudit.result import _verdicts, verdict_for
from tests.support import varied_findings as _findings


def test_one_pass_verdicts_equal_each_profiles_verdict():
    findings = _findings()
    ids = [f.id for f in findings]
    assert _verdicts(findings, ids) == {p: verdict_for(findings, p) for p in PROFILES}
    assert any(v["blocking"] for v in _verdicts(findings, ids).values())


def _naive_blocking(result, profile, fail_on=None):
    ids = result["verdict"][profile]["blocking"]
    order = {fid: i for i, fid in enumerate(ids)}
    threshold = SEVERITY_RANK[fail_on] if fail_on else 0
    out = [f for f in result["findings"] if f["id"] in order and SEVERITY_RANK.get(f["severity"], 99) >= threshold]
    return sorted(out, key=lambda f: order[f["id"]])


def test_one_pass_blocking_findings_equal_the_per_profile_filter_at_every_threshold():
    findings = _findings()
    result = {"findings": [f.to_dict() for f in findings], "rules": [],
              "verdict": {p: verdict_for(findings, p) for p in PROFILES}}
    both = blocking_by_profile(result, PROFILES)
    for p in PROFILES:
        assert both[p] == _naive_blocking(result, p) and both[p]
        for fail_on in (None, *SEVERITY_RANK):
            assert blocking_findings(result, p, fail_on) == _naive_blocking(result, p, fail_on)
            if fail_on:
                assert at_or_above(both[p], fail_on) == _naive_blocking(result, p, fail_on)
            gate = decide(result, p, fail_on=fail_on)
            assert gate["blocking"] == len(_naive_blocking(result, p))
            assert gate["deciding"] == [f["id"] for f in _naive_blocking(result, p, fail_on)]
        assert fix_first_all(result)[p] == fix_first(result, p)
