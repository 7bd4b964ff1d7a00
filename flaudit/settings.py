"""Project settings: what a repository wants every ``flaudit scan`` to do, so CI and people run the same gate.

Read from ``.flaudit.yaml`` in the working directory, or from ``[tool.flaudit]`` in ``pyproject.toml`` there
(``--settings FILE`` names another file; ``--no-settings`` ignores them). Both places hold the same keys::

    profile: production             # prototype | production
    format: terminal,html,sarif     # or a list
    output: flaudit-out             # file for one format, directory for several
    fail-on: high                   # critical | high | medium | low | info
    waivers: flaudit.waivers.yaml
    rules: [network-isolation, FL-ID-*]   # --rule: ids, areas or globs
    skip-rules: [FL-WSH-003]              # --skip-rule

``fail_on`` and ``skip_rules`` are accepted for ``fail-on`` and ``skip-rules``. A command-line option always
wins over the file. Unknown keys and wrong types are input errors (exit 2) with a suggestion, because a
misspelt ``fail_on`` silently doing nothing is a gate that is looser than its owners think. Relative paths
are relative to the settings file's directory.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flaudit.errors import InputError
from flaudit.findings import PROFILES, SEVERITIES

YAML_FILE = ".flaudit.yaml"
PYPROJECT = "pyproject.toml"
KEYS = ("profile", "format", "output", "fail-on", "waivers", "rules", "skip-rules")


@dataclass
class Settings:
    path: str | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        return self.values.get(key)


def _list(value: Any, key: str, origin: str) -> list[str]:
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise InputError(f"{origin}: '{key}' must be a string or a list of strings")


def parse_settings(doc: Any, origin: str, base: Path) -> Settings:
    if doc is None:
        return Settings(origin, {})
    if not isinstance(doc, dict):
        raise InputError(f"{origin}: flaudit settings must be a mapping")
    out: dict[str, Any] = {}
    for raw_key, value in doc.items():
        key = str(raw_key).replace("_", "-")
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(KEYS)})"
            raise InputError(f"{origin}: unknown setting '{raw_key}'{hint}")
        if key == "profile":
            if value not in PROFILES:
                raise InputError(f"{origin}: profile must be one of {', '.join(PROFILES)}, got {value!r}")
            out[key] = value
        elif key == "fail-on":
            if value not in SEVERITIES:
                raise InputError(f"{origin}: fail-on must be one of {', '.join(SEVERITIES)}, got {value!r}")
            out[key] = value
        elif key == "format":
            out[key] = ",".join(_list(value, key, origin))
        elif key in ("output", "waivers"):
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"{origin}: '{raw_key}' must be a path")
            out[key] = str(base / value) if not Path(value).is_absolute() else value
        else:
            out[key] = _list(value, key, origin)
    return Settings(origin, out)


def load_settings(path: str | None = None, *, cwd: Path | None = None) -> Settings:
    """The named settings file, else ``.flaudit.yaml``, else ``[tool.flaudit]`` of ``pyproject.toml``."""
    from flaudit.readers import load_yaml, read_text

    cwd = cwd or Path(".")
    if path is not None:
        p = Path(path)
        if p.name == PYPROJECT or p.suffix == ".toml":
            return _from_pyproject(p, read_text(p, "settings file"), required=True)
        return parse_settings(load_yaml(p, "settings file"), str(p), p.parent)
    yaml_path, toml_path = cwd / YAML_FILE, cwd / PYPROJECT
    from_toml = _from_pyproject(toml_path, read_text(toml_path, "pyproject.toml"), required=False) \
        if toml_path.is_file() else None
    if yaml_path.is_file():
        if from_toml is not None and from_toml.path is not None:
            raise InputError(f"{yaml_path} and [tool.flaudit] in {toml_path} both hold flaudit settings: keep one")
        return parse_settings(load_yaml(yaml_path, "settings file"), str(yaml_path), yaml_path.parent)
    return from_toml or Settings()


def _from_pyproject(path: Path, text: str, *, required: bool) -> Settings:
    import tomllib

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    section = (doc.get("tool") or {}).get("flaudit")
    if section is None:
        if required:
            raise InputError(f"{path}: no [tool.flaudit] section")
        return Settings()
    return parse_settings(section, f"{path} [tool.flaudit]", path.parent)
