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
