"""Compile a ``.bicep`` file to ARM JSON with the Bicep CLI already on the machine (never downloaded).

``bicep build --stdout`` is preferred; ``az bicep build --stdout`` works too when the Azure CLI has its
Bicep extension. Without either, the user gets one line saying how to compile the file themselves.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from flaudit.errors import InputError

COMPILE_HINT = ("install the Bicep CLI (https://aka.ms/bicep-install) or run "
                "'az bicep build --file {path} --outfile {json}' and pass the .json with --template")
TIMEOUT_S = 120


def compile_bicep(path: Path) -> str:
    """ARM JSON text for ``path``; raises :class:`InputError` when no compiler is available or it fails."""
    commands: list[list[str]] = []
    bicep = shutil.which("bicep")
    if bicep:
        commands.append([bicep, "build", str(path), "--stdout"])
    az = shutil.which("az")
    if az:
        commands.append([az, "bicep", "build", "--file", str(path), "--stdout"])
    if not commands:
        hint = COMPILE_HINT.format(path=path, json=path.with_suffix(".json"))
        raise InputError(f"{path}: a .bicep file needs the Bicep CLI, and neither 'bicep' nor 'az' is on PATH: "
                         f"{hint}")
    last = ""
    for cmd in commands:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            last = str(exc)
            continue
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout
        lines = (proc.stderr or proc.stdout or "").strip().splitlines()
        last = lines[-1] if lines else f"exit code {proc.returncode}"
    raise InputError(f"{path}: bicep build failed: {last}")
