"""Reports are written whole or not at all: every format is written beside its target and renamed into place only
when all renderers succeeded, including the JSON result streamed in pieces."""

from __future__ import annotations

import json

import pytest
from flaudit.reports import json_report, sarif

from flaudit.commands.scan import write_outputs
from flaudit.output import stage
from tests.support import audit, sample_resources


def _targets(tmp_path):
    return [("json", tmp_path / "r.json"), ("sarif", tmp_path / "r.sarif")]


def test_every_format_is_in_place_when_all_renderers_succeed(tmp_path):
    result = audit(sample_resources("eyes-off"))
    write_outputs(result, _targets(tmp_path), quiet=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.sarif"]
    assert json.loads((tmp_path / "r.json").read_text()) == json.loads(json.dumps(result))


def test_a_renderer_that_fails_after_a_streamed_one_leaves_no_file(tmp_path, monkeypatch):
    result = audit(sample_resources("eyes-off"))
    (tmp_path / "r.json").write_text("yesterday's report\n")

    def broken(*_, **__):
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(sarif, "render_bytes", broken)
    with pytest.raises(RuntimeError):
        write_outputs(result, _targets(tmp_path), quiet=True)
    # the streamed JSON's temporary file is gone and yesterday's report is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    assert (tmp_path / "r.json").read_text() == "yesterday's report\n"


def test_a_stream_that_fails_midway_leaves_no_file(tmp_path, monkeypatch):
    result = audit(sample_resources("eyes-off"))

    def half(r, **_):
        yield b'{"schema_version": '
        raise ValueError("unserialisable value")

    monkeypatch.setattr(json_report, "render_chunks", half)
    with pytest.raises(ValueError):
        write_outputs(result, [("json", tmp_path / "r.json")], quiet=True)
    assert list(tmp_path.iterdir()) == []


def test_staged_content_is_invisible_until_committed(tmp_path):
    staged = stage(tmp_path / "out.json", [b"{", b"}\n"])
    assert not (tmp_path / "out.json").exists()
    staged.commit()
    assert (tmp_path / "out.json").read_bytes() == b"{}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
