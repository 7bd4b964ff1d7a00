"""The wheel must carry every package: rules/ and reports/ map to flaudit.rules / flaudit.reports."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"])
    mapping = conf["package-dir"]
    found = set()
    for pkg, folder in mapping.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if "__pycache__" in rel.parts:
                continue
            found.add(".".join([pkg, *rel.parts]))
    # subpackages of flaudit that live under flaudit/ (not the mapped rules/ and reports/)
    assert found - listed == set(), f"add to pyproject packages: {sorted(found - listed)}"
