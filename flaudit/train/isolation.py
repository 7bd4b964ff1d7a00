"""How the local backend keeps silo workers apart from each other and from the orchestrator's secrets.

As root (the usual case in a container or CI runner), every silo worker runs under its own numeric uid/gid
(``UID_BASE + index``; no account needs to exist), with no supplementary groups, ``umask 077`` and
``PR_SET_NO_NEW_PRIVS``. Its data is a 0600 copy in a 0700 directory owned by its uid, whose randomly named
parent is 0711 (traversable, not listable), so another silo's uid cannot list, guess or open it. The run
directory is 0700 root. The worker's environment is built from nothing (no ``FLAUDIT_ATTESTATION_KEY``, no
``AZURE_*``), its command line holds no path (the data paths arrive over its stdin pipe), and model weights
travel over its pipes, not through a shared directory.

The Python interpreter may live where other uids cannot read it (``/root/.pyenv``), so the worker starts as
root, imports Python, torch and its other libraries, and drops to its uid itself (:func:`drop`) before it
reads the data paths or runs any plug-in code. setuid from root clears the saved uid too, so it cannot regain
root.

Not root: the workers run as the invoking user, so they can read each other's copies and the run directory;
the run is marked ``best-effort`` in the output and the attestation. Linux user namespaces are not used.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

UID_BASE = 60000
#: Environment variables a worker may inherit (thread limits are set by the orchestrator).
PASS_ENV = ("LANG", "LC_ALL", "TZ")


@dataclass
class SiloSandbox:
    silo: str
    uid: int | None
    gid: int | None
    home: Path
    train: Path
    test: Path


@dataclass
class Isolation:
    mode: str  # uid | best-effort
    base: Path
    sandboxes: dict[str, SiloSandbox] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "uids": {k: s.uid for k, s in self.sandboxes.items()},
            "summary": ("each silo worker under its own uid/gid, 0700 private data copy, minimal environment, "
                        "updates over pipes" if self.mode == "uid" else
                        "best-effort: not root, so every silo worker runs as the invoking user and could read "
                        "the other silos' copies; environment minimal, updates over pipes"),
            "warnings": list(self.warnings),
        }

    def cleanup(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


def is_root() -> bool:
    return os.geteuid() == 0


def _world_readable(path: Path) -> bool:
    """Readable by any local user: the file has o+r and every ancestor directory o+x."""
    p = path.resolve()
    try:
        if not p.stat().st_mode & stat.S_IROTH:
            return False
        return all(a.stat().st_mode & stat.S_IXOTH for a in p.parents)
    except OSError:
        return False


def prepare(silos: list[Any]) -> Isolation:
    """Private copies of each silo's files, owned by that silo's uid when we are root."""
    root = is_root()
    base = Path(tempfile.mkdtemp(prefix="flaudit-silos-"))
    os.chmod(base, 0o711 if root else 0o700)
    iso = Isolation("uid" if root else "best-effort", base)
    try:
        for i, s in enumerate(silos):
            uid = gid = (UID_BASE + i) if root else None
            home = base / secrets.token_hex(12)
            home.mkdir(mode=0o700)
            box = SiloSandbox(s.silo, uid, gid, home, home / "train.csv", home / "test.csv")
            for src, dst in ((s.train, box.train), (s.test, box.test)):
                shutil.copyfile(src, dst)
                os.chmod(dst, 0o600)
                if _world_readable(Path(src)):
                    iso.warnings.append(f"silo {s.silo}: {src} is readable by every local user; the worker "
                                        "reads its private copy, but any process on this machine can read the "
                                        "original")
            if root:
                for p in (home, box.train, box.test):
                    os.chown(p, uid, gid)
            iso.sandboxes[s.silo] = box
    except BaseException:
        iso.cleanup()
        raise
    return iso


def worker_env(threads: int = 1) -> dict[str, str]:
    """A worker's whole environment: no secrets, no Azure settings, only what Python and torch need."""
    import sys

    env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
    env.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "OMP_NUM_THREADS": str(threads),
                "MKL_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    # Plug-in models (module:function) must import in the worker exactly as they did here.
    env["PYTHONPATH"] = os.pathsep.join(p for p in [os.getcwd(), *sys.path] if p)
    return env


def drop(uid: int, gid: int) -> None:
    """In the worker: become uid/gid for good (no groups, umask 077, no new privileges)."""
    import ctypes

    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    os.umask(0o077)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: no setuid binary can give root back
    except OSError:
        pass
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != gid:
        raise RuntimeError("could not drop privileges")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise RuntimeError("privileges were not dropped: setuid(0) still works")
