"""Markdown for PR comments: verdict, matrix table, failing findings, escaped values, capped under GitHub's limit."""

from __future__ import annotations

import copy
import re

from flaudit.reports import markdown
from synthetic import XSS_IMG, XSS_SCRIPT, make_result

from flaudit.findings import AREAS


def test_verdict_matrix_and_failing_findings_with_evidence(result):
    text = markdown.render(result)
    assert "**Production (sensitive data): ❌ NOT READY** (4 blocking)" in text
    assert "| silo | Network isolation | Private endpoints |" in text
    row = next(line for line in text.splitlines() if line.startswith("| silo-2 |"))
    assert "❓ UNKNOWN" in row
    assert "⚪ WAIVED" in next(line for line in text.splitlines() if line.startswith("| silo-3 |"))
    assert re.search(r"### ❌ FAIL · critical · (\[FL-ID-001\]\(<https://[^>]+>\)|FL-ID-001) ", text)
    assert "properties.publicNetworkAccess = Enabled" in text
    assert "## Waived (1)" in text and "Migration until 2027-01" in text


def test_unknown_verdict_explains_itself(result):
    result["verdict"]["production"]["status"] = "unknown"
    assert "never counted as ready" in markdown.render(result)


def test_deployment_values_cannot_inject_html_or_break_the_table(hostile_result):
    text = markdown.render(hostile_result)
    assert XSS_SCRIPT not in text
    prose = re.sub(r"```sh\n.*?\n```", "", text, flags=re.S)  # rule remediation commands, not deployment values
    assert not re.search(r"(?<!\\)<(?!https://)", prose), "every < from the deployment is backslash-escaped"
    assert "\\<script\\>" in text and "&lt;" not in text
    piped = copy.deepcopy(hostile_result)
    piped["topology"]["silos"][0]["name"] = "a|b"
    for f in piped["findings"]:
        if f["silo"] == "silo-0":
            f["silo"] = "a|b"
    row = next(line for line in markdown.render(piped).splitlines() if line.startswith("| a"))
    assert row.startswith("| a\\|b |")
    assert row.count(" | ") == len(AREAS)  # silo name + one cell per area: the pipe in the name added no column
    assert XSS_IMG not in text


def test_huge_deployments_are_capped_and_say_what_was_cut():
    result = make_result(300)
    template = next(f for f in result["findings"] if f["rule_id"] == "FL-PE-001" and f["status"] == "fail"
                    and not f["waiver"])
    for i in range(3000):
        f = copy.deepcopy(template)
        f["id"] = f"FL-PE-001:{i:012x}"
        f["silo"] = f"silo-{i % 300}"
        f["message"] = f"Storage account {i} accepts traffic from the public internet " + "x" * 80
        result["findings"].append(f)
    problems = sum(1 for f in result["findings"] if f["status"] in ("fail", "unknown") and not f["waiver"])
    text = markdown.render(result)
    assert len(text) <= markdown.GITHUB_COMMENT_LIMIT
    assert "**Cut to fit a PR comment:**" in text
    assert "more silos not shown" in text
    assert f"## Failing and unknown findings ({problems})" in text


def test_small_results_are_not_cut(result):
    text = markdown.render(result)
    assert "Cut to fit" not in text and "more silos not shown" not in text


def test_pr_comment_has_the_gate_fix_first_remediation_and_rule_links_without_html_entities(sample_results):
    result = sample_results["eyes-off"]
    text = markdown.render(result)
    assert "## Gate\n\n**exit 1: production is NOT READY; 20 blocking findings decide it**" in text
    assert "## Fix first: 11 changes make production ready" in text
    first = text.split("## Fix first", 1)[1]
    assert "1. **[FL-" in first and "](<https://learn.microsoft.com/" in first
    assert "**Fix:** Give each silo a container" in text  # FL-ID-008's remediation, once, under its rule
    assert text.count("**Fix:** Give each silo a container") == 1
    assert "uai-silo0 \\-\\>" not in text and "-\\>" in text  # an arrow, escaped for Markdown, not as &gt;
    assert not re.search(r"&(lt|gt|amp|quot);", text)


def test_a_cut_comment_points_at_the_full_report():
    result = make_result(300)
    template = next(f for f in result["findings"] if f["status"] == "fail" and not f["waiver"])
    for i in range(3000):
        f = copy.deepcopy(template)
        f["id"] = f"{template['rule_id']}:{i:012x}"
        f["message"] = "m" * 200
        result["findings"].append(f)
    text = markdown.render(result)
    assert len(text) <= markdown.GITHUB_COMMENT_LIMIT
    assert "flaudit report RESULT.json --format html" in text
