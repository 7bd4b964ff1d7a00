"""``flaudit report RESULT.json``: re-render a saved result; bad files are one-line input errors (exit 2)."""

from __future__ import annotations

import json

import pytest
from synthetic import make_result

from flaudit.cli import main


@pytest.fixture
def saved(tmp_path, result):
    path = tmp_path / "result.json"
    path.write_text(json.dumps(result), encoding="utf-8")
    return path


def test_renders_one_format_to_a_file(saved, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", str(saved), "--format", "html", "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_renders_several_formats_into_a_directory(saved, tmp_path, capsys):
    out = tmp_path / "reports"
    assert main(["report", str(saved), "--format", "html,markdown,sarif,junit,json", "--output", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "flaudit-report.html", "flaudit-report.json", "flaudit-report.md", "flaudit-report.sarif",
        "flaudit-report.xml"]
    assert json.loads((out / "flaudit-report.json").read_text()) == json.loads(saved.read_text())
    assert capsys.readouterr().out == ""


def test_terminal_is_the_default_and_plain_when_not_a_tty(saved, capsys):
    assert main(["report", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "Production (sensitive data): NOT READY" in out and "\x1b[" not in out


def test_single_format_without_output_goes_to_stdout(saved, capsys):
    assert main(["report", str(saved), "-f", "sarif"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "2.1.0"


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not JSON (Expecting property name enclosed in double quotes at line 1"),
    ("[1, 2]", "expected a JSON object"),
    ('{"findings": []}', "no schema_version"),
    (json.dumps({**make_result(1), "schema_version": "2.0"}), "schema_version 2.0 is not supported"),
    (json.dumps({"schema_version": "1.0", "verdict": {}}), "'findings' missing"),
])
def test_bad_result_files_are_input_errors(tmp_path, capsys, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    out = tmp_path / "r.html"
    assert main(["report", str(path), "-f", "html", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_missing_file_and_unknown_format(tmp_path, saved, capsys):
    assert main(["report", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["report", str(saved), "-f", "pdf"]) == 2
    assert "unknown format 'pdf'" in capsys.readouterr().err


def test_reads_the_result_from_stdin(saved, monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(saved.read_text(encoding="utf-8")))
    assert main(["report", "-", "-f", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("# flaudit readiness report")
