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

Not root, where unprivileged Linux user namespaces work (mode ``namespace``): every worker still runs as the
invoking user, but after its imports it enters a new user and mount namespace, mounts an empty read-only tmpfs
over every other silo's sandbox, the run directory and ``/proc``, binds ``/dev/null`` over every other silo's
original files and the FL config, then enters a second user and mount namespace so those mounts are locked (a
worker cannot unmount them), and marks itself non-dumpable (no ptrace by the other workers); the orchestrator
marks itself non-dumpable too. Workers still share a uid: they can signal each other, ptrace other dumpable
processes of that user (a login shell holding the attestation key in its environment, say), and read anything
readable by that user outside the hidden paths.

Not root and no user namespaces: the workers run as the invoking user and can read each other's copies and the
run directory; the run is marked ``best-effort`` in the output and the attestation.
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
        summary = {
            "uid": "each silo worker under its own uid/gid, 0700 private data copy, minimal environment, "
                   "updates over pipes",
            "namespace": "not root: each silo worker in its own user and mount namespace with the other silos' "
                         "copies and files, the run directory and /proc hidden and locked; one shared uid; "
                         "minimal environment, updates over pipes",
            "best-effort": "best-effort: not root and no user namespaces, so every silo worker runs as the invoking "
                           "user and could read the other silos' copies; environment minimal, updates over pipes",
        }[self.mode]
        return {"mode": self.mode, "uids": {k: s.uid for k, s in self.sandboxes.items()}, "summary": summary,
                "warnings": list(self.warnings)}

    def hidden_from(self, silo: str, silos: list[Any], extra: list[str]) -> list[str]:
        """What a worker in ``namespace`` mode must not see: everything of the other silos, and ``extra``."""
        out = [str(b.home) for k, b in self.sandboxes.items() if k != silo]
        out += [p for s in silos if s.silo != silo for p in (s.train, s.test)]
        return [str(Path(p).resolve()) for p in out + list(extra)]

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


def namespaces_available() -> bool:
    """Can an unprivileged process here create a user + mount namespace? Tried in a throw-away child."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    pid = os.fork()
    if pid == 0:  # the child only tries the call and exits
        os._exit(0 if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def choose_mode() -> str:
    if is_root():
        return "uid"
    return "namespace" if namespaces_available() else "best-effort"


def prepare(silos: list[Any], mode: str | None = None) -> Isolation:
    """Private copies of each silo's files, owned by that silo's uid in ``uid`` mode (root)."""
    mode = mode or choose_mode()
    root = mode == "uid"
    base = Path(tempfile.mkdtemp(prefix="flaudit-silos-"))
    os.chmod(base, 0o711 if root else 0o700)
    iso = Isolation(mode, base)
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


CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 4096, 16384, 1 << 18


def _own_userns(libc, uid: int, gid: int, proc_fd: int) -> None:
    """Enter a new user + mount namespace and map ``uid``/``gid`` to root in it; ``proc_fd`` is an open /proc
    (the second call runs after /proc is hidden)."""
    import ctypes

    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        fd = os.open(f"self/{name}", os.O_WRONLY, dir_fd=proc_fd)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)


def enter_namespace(hide: list[str]) -> None:
    """In the worker (not root): hide ``hide`` and /proc behind locked mounts; see the module docstring."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def enc(v: str | None) -> bytes | None:
        return v.encode() if v is not None else None

    def mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
        if libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount {target}: {os.strerror(err)}")

    uid, gid = os.getuid(), os.getgid()
    proc_fd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
    try:
        _own_userns(libc, uid, gid, proc_fd)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        for path in [*hide, "/proc"]:
            if os.path.isdir(path):
                mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000")
            elif os.path.exists(path):
                mount("/dev/null", path, None, MS_BIND)
        # a second, nested namespace: mounts inherited from a more privileged mount namespace are locked
        # together, so the worker cannot unmount what hides the other silos
        _own_userns(libc, 0, 0, proc_fd)
    finally:
        os.close(proc_fd)
    _prctl(libc, PR_SET_DUMPABLE, 0)  # the other workers (same uid) cannot ptrace this one
    os.umask(0o077)


PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38


def _prctl(libc: Any, option: int, value: int) -> None:
    """prctl(option, value), raising when the kernel refuses: a hardening step that silently did not happen would
    leave the isolation weaker than the output and the attestation say (fail closed)."""
    import ctypes

    if libc.prctl(option, value, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}, {value}): {os.strerror(err)}")


def undumpable() -> None:
    """PR_SET_DUMPABLE 0 for this process: same-uid processes can no longer ptrace it or read its /proc files."""
    import ctypes

    _prctl(ctypes.CDLL(None, use_errno=True), PR_SET_DUMPABLE, 0)


def drop(uid: int, gid: int) -> None:
    """In the worker: become uid/gid for good (no groups, umask 077, no new privileges)."""
    import ctypes

    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    os.umask(0o077)
    _prctl(ctypes.CDLL(None, use_errno=True), PR_SET_NO_NEW_PRIVS, 1)  # no setuid binary can give root back
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != gid:
        raise RuntimeError("could not drop privileges")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise RuntimeError("privileges were not dropped: setuid(0) still works")
