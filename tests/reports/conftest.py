"""Fixtures for renderer tests: contract-exact result dicts (see synthetic.py) and the real bundled samples."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import synthetic


@pytest.fixture
def result() -> dict[str, Any]:
    """Five silos: a boundary crossing, a public path, an unknown, a waiver and deployment-wide failures."""
    return synthetic.make_result(5)


@pytest.fixture
def hostile_result() -> dict[str, Any]:
    """Silo, storage and principal names carrying script and attribute-breaking payloads."""
    return synthetic.make_result(5, hostile_names=True)


@pytest.fixture
def big_result() -> dict[str, Any]:
    """25 silos: beyond the diagram's legibility limit."""
    return synthetic.make_result(25)


@pytest.fixture
def ready_result() -> dict[str, Any]:
    return synthetic.make_ready_result()


@pytest.fixture(scope="session")
def sample_results() -> dict[str, dict[str, Any]]:
    """Every bundled sample, audited as `flaudit scan --sample NAME` does (computed once per session)."""
    from browser import sample_result

    from flaudit.sources.samples import NAMES

    return {name: sample_result(name) for name in NAMES}


@pytest.fixture(scope="session")
def hostile_sample(tmp_path_factory) -> dict[str, Any]:
    """The eyes-off sample with a script in a silo name (FL config) and an attribute-breaking identity name."""
    import json

    import yaml
    from synthetic import XSS_IMG, XSS_SCRIPT

    from flaudit.audit import run_audit
    from flaudit.config import load_config
    from flaudit.sources.files import parse_snapshot
    from flaudit.sources.samples import config_path, sample_text

    def rename(o: Any) -> Any:
        if isinstance(o, str):
            return o.replace("uai-silo1", "uai-silo1" + XSS_IMG)
        if isinstance(o, list):
            return [rename(x) for x in o]
        if isinstance(o, dict):
            return {k: rename(v) for k, v in o.items()}
        return o

    cfg = yaml.safe_load(Path(config_path()).read_text(encoding="utf-8"))
    cfg["federated_learning"]["silos"][0]["name"] = "silo0" + XSS_SCRIPT
    cfg_path = tmp_path_factory.mktemp("hostile") / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    inventory = parse_snapshot(rename(json.loads(sample_text("eyes-off"))), "hostile")
    return run_audit(inventory, load_config(str(cfg_path)), generated_at="2026-11-30T06:00:00+00:00")
