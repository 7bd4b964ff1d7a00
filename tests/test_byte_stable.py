"""The same input gives the same bytes in every run: no report may follow the order of a set or dict of strings,
which changes with the interpreter's string hash seed (PYTHONHASHSEED). Found once by differential fuzzing: two
silos named silo2 and silo02 (equal in natural order) were listed in either order."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flaudit.samples import generate

FORMATS = "json,html,markdown,sarif,junit"
_STAMP = re.compile(rb'"generated_at": ?"[^"]*"|generated (at )?\d{4}-\d\d-\d\d[^<"\n]*|\d{4}-\d\d-\d\dT[\d:.+]+(Z|[+-]\d\d:\d\d)?')


def _scan(tmp: Path, seed: int, snapshot: Path, config: Path) -> dict[str, bytes]:
    out = tmp / f"seed{seed}"
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    proc = subprocess.run([sys.executable, "-m", "flaudit", "scan", "--input", str(snapshot), "--config", str(config),
                           "--format", FORMATS, "--output", str(out), "--quiet"], env=env, capture_output=True)
    assert proc.returncode in (0, 1), proc.stderr.decode()
    return {p.name: _STAMP.sub(b"", p.read_bytes()) for p in sorted(out.iterdir())}


@pytest.mark.parametrize("posture", ["open", "hardened"])
def test_every_report_is_the_same_bytes_under_two_hash_seeds_with_silos_equal_in_natural_order(tmp_path, posture):
    snapshot, config = tmp_path / "in.json", tmp_path / "fl.yaml"
    snapshot.write_text(json.dumps(generate.snapshot(posture, 4)))
    doc = generate.fl_config(4)
    for silo, name in zip(doc["federated_learning"]["silos"], ["silo0", "silo2", "silo02", "silo002"], strict=True):
        silo["name"] = name
    config.write_text(yaml.safe_dump(doc))
    first, second = _scan(tmp_path, 1, snapshot, config), _scan(tmp_path, 4, snapshot, config)
    assert sorted(first) == sorted(second) and len(first) == len(FORMATS.split(","))
    for name in first:
        assert first[name] == second[name], f"{name} differs between hash seeds 1 and 4"
