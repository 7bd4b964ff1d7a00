"""Tabular silo data: CSV files with a header row, numeric feature columns and an integer label column.

Every check that can fail on a user's file happens here, so a missing file, a missing label column or a
non-numeric cell is one ``InputError`` line naming the file, raised before any silo process starts.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flaudit.errors import InputError


@dataclass
class Table:
    """One CSV file read into plain lists (numpy conversion happens in the worker that trains on it)."""

    path: str
    features: list[str]
    x: list[list[float]]
    y: list[int]

    @property
    def rows(self) -> int:
        return len(self.y)

    def labels(self) -> set[int]:
        return set(self.y)


@dataclass(frozen=True)
class SiloData:
    """The local paths of one silo's training and testing files."""

    silo: str
    train: str
    test: str


def data_path(value: Any, where: str) -> str:
    """``training_data`` / ``testing_data`` as a path: a string, or the FL sample's ``{type, mode, path}``."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("path"), str) and value["path"]:
        return value["path"]
    raise InputError(f"{where}: needs a path (a string, or a mapping with 'path')")


def read_csv(path: str | Path, target: str = "label") -> Table:
    """Read and validate one CSV file: header row, numeric finite features, integer labels >= 0."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    try:
        fh = p.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    with fh:
        try:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header:
                raise InputError(f"{p}: empty file (a header row is required)")
            header = [h.strip() for h in header]
            if target not in header:
                raise InputError(f"{p}: no label column {target!r} in the header (columns: "
                                 f"{', '.join(header[:8])}{', ...' if len(header) > 8 else ''})")
            if len(set(header)) != len(header):
                raise InputError(f"{p}: the header names a column twice")
            li = header.index(target)
            features = [h for i, h in enumerate(header) if i != li]
            if not features:
                raise InputError(f"{p}: no feature columns besides {target!r}")
            xs: list[list[float]] = []
            ys: list[int] = []
            for n, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise InputError(f"{p}: line {n} has {len(row)} cells, the header has {len(header)}")
                vals: list[float] = []
                for i, cell in enumerate(row):
                    try:
                        v = float(cell)
                    except ValueError:
                        raise InputError(f"{p}: line {n}, column {header[i]!r}: {cell.strip()[:30]!r} is "
                                         "not a number (features must be numeric)") from None
                    if not math.isfinite(v):
                        raise InputError(f"{p}: line {n}, column {header[i]!r}: {cell.strip()!r} is not finite")
                    vals.append(v)
                label = vals.pop(li)
                if label != int(label) or label < 0:
                    raise InputError(f"{p}: line {n}: label {row[li].strip()!r} is not a class index "
                                     "(integers 0, 1, 2, ...)")
                xs.append(vals)
                ys.append(int(label))
        except csv.Error as exc:
            raise InputError(f"{p}: not a readable CSV file ({exc})") from None
        except UnicodeDecodeError:
            raise InputError(f"{p}: not a UTF-8 text file") from None
    if not ys:
        raise InputError(f"{p}: no data rows")
    return Table(str(p), features, xs, ys)


@dataclass
class Schema:
    """What the orchestrator learns from the pre-flight check: shapes and sizes, never the rows."""

    features: list[str]
    n_classes: int
    train_rows: dict[str, int]
    test_rows: dict[str, int]


def preflight(silos: list[SiloData], target: str = "label") -> Schema:
    """Check every silo's files before any process starts: same feature columns everywhere, labels known.

    The local backend runs all silos on this machine, so it can check them all up front; only the schema
    (column names, row counts, the largest label) leaves this function.
    """
    if not silos:
        raise InputError("FL config: federated_learning.silos is empty (nothing to train)")
    features: list[str] | None = None
    first = ""
    top = 0
    train_rows: dict[str, int] = {}
    test_rows: dict[str, int] = {}
    for s in silos:
        for kind, path in (("train", s.train), ("test", s.test)):
            t = read_csv(path, target)
            if features is None:
                features, first = t.features, t.path
            elif t.features != features:
                raise InputError(f"{t.path}: feature columns differ from {first} "
                                 f"({len(t.features)} vs {len(features)} columns, or another order)")
            top = max(top, max(t.y))
            (train_rows if kind == "train" else test_rows)[s.silo] = t.rows
    assert features is not None
    return Schema(features=features, n_classes=max(top + 1, 2), train_rows=train_rows, test_rows=test_rows)


def write_csv(path: Path, features: list[str], x: Any, y: Any, target: str = "label") -> None:
    """Write a table in the format :func:`read_csv` reads (used by the demo)."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*features, target])
        for row, label in zip(x, y, strict=True):
            w.writerow([f"{float(v):.6g}" for v in row] + [int(label)])
