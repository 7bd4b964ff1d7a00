"""A silo worker, taken over by hostile code (here: a plug-in model), cannot reach another silo's data, another
silo's paths or the orchestrator's secrets; a worker that dies or hangs stops the run with one line naming it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("torch")  # the trainer extra: pip install 'flaudit[train]'
pytest.importorskip("safetensors")

from flaudit.train import isolation, local
from flaudit.train.data import SiloData
from flaudit.train.params import parse_params

from .conftest import write_silo_csvs

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop needs root")

PROBE = '''
import glob, json, os, sys

import torch.nn as nn

LEAK = {leak!r}
SECRET = {secret!r}
ORIGINALS = {originals!r}


def _try_read(path):
    try:
        with open(path, "rb") as fh:
            return "read:%d" % len(fh.read(64))
    except OSError as exc:
        return type(exc).__name__


def build(n_features, n_classes, params):
    if os.getuid() == 0:  # the orchestrator resolves the plug-in once before any silo starts
        return nn.Linear(n_features, n_classes)
    me = os.getcwd()
    report = {{"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "umask": os.umask(0o077),
               "env_has_secret": any(SECRET in v for v in os.environ.values()),
               "env_keys": sorted(os.environ), "originals": {{}}, "other_copies": {{}}, "cmdline_hits": [],
               "environ_of_others": {{}}}}
    for p in ORIGINALS:
        report["originals"][p] = _try_read(p)
    try:
        os.listdir(os.path.dirname(me))
        report["list_parent"] = "listed"
    except OSError as exc:
        report["list_parent"] = type(exc).__name__
    with open(LEAK) as fh:  # as if the attacker had guessed every sandbox's random name
        homes = json.load(fh)
    for silo, home in homes.items():
        if home != me:
            report["other_copies"][silo] = _try_read(os.path.join(home, "train.csv"))
    for cmd in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            text = open(cmd, "rb").read().decode(errors="replace")
        except OSError:
            continue
        if any(os.path.dirname(p) in text for p in ORIGINALS) or any(h in text for h in homes.values()):
            report["cmdline_hits"].append(text.replace(chr(0), " ")[:200])
    for env in glob.glob("/proc/[0-9]*/environ"):
        pid = env.split("/")[2]
        if int(pid) == os.getpid():
            continue
        try:
            data = open(env, "rb").read()
        except OSError:
            continue
        if SECRET.encode() in data:
            report["environ_of_others"][pid] = "secret"
    print("PROBE " + json.dumps(report), file=sys.stderr, flush=True)
    return nn.Linear(n_features, n_classes)
'''


def _silos(root: Path, n: int = 3) -> list[SiloData]:
    write_silo_csvs(root, n)
    return [SiloData(f"silo{i}", str(root / f"silo{i}/train.csv"), str(root / f"silo{i}/test.csv")) for i in range(n)]


def _plugin(tmp_path: Path, monkeypatch, name: str, source: str) -> str:
    d = tmp_path / "plugins"
    d.mkdir(exist_ok=True)
    (d / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(d))
    return f"{name}:build"


@needs_root
def test_a_hostile_worker_cannot_read_other_silos_data_paths_or_the_attestation_key(tmp_path, monkeypatch):
    secret = "attestation-key-7f3a9c"
    monkeypatch.setenv("FLAUDIT_ATTESTATION_KEY", secret)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", secret)
    silos = _silos(tmp_path / "fl")
    # the leak file is world-readable on purpose: it hands the attacker every sandbox's path
    leak_dir = Path(__import__("tempfile").mkdtemp(prefix="flaudit-test-leak-"))
    leak_dir.chmod(0o755)
    leak = leak_dir / "homes.json"
    real_prepare = isolation.prepare

    def prepare_and_leak(s, mode=None):
        iso = real_prepare(s, mode)
        leak.write_text(json.dumps({k: str(b.home) for k, b in iso.sandboxes.items()}))
        leak.chmod(0o644)
        return iso

    monkeypatch.setattr(isolation, "prepare", prepare_and_leak)
    originals = [p for s in silos for p in (s.train, s.test)]
    spec = _plugin(tmp_path, monkeypatch, "hostile_probe",
                   PROBE.format(leak=str(leak), secret=secret, originals=originals))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    try:
        m = local.run_local(run_dir, silos, parse_params({"num_of_iterations": 1, "model": spec}))
    finally:
        import shutil

        shutil.rmtree(leak_dir, ignore_errors=True)
    assert m["isolation"]["mode"] == "uid"
    reports = {}
    for s in silos:
        lines = [ln for ln in (run_dir / "logs" / f"{s.silo}.log").read_text().splitlines() if ln.startswith("PROBE ")]
        reports[s.silo] = json.loads(lines[0][len("PROBE "):])
    uids = set()
    for silo, r in reports.items():
        uids.add(r["uid"])
        assert r["uid"] >= isolation.UID_BASE and r["gid"] == r["uid"] and r["groups"] == []
        assert r["umask"] == 0o077
        # the originals live in the test's 0700 directory: no silo uid can open any of them
        assert set(r["originals"].values()) == {"PermissionError"}, r["originals"]
        assert r["list_parent"] == "PermissionError"
        assert set(r["other_copies"]) == {s.silo for s in silos} - {silo}
        assert set(r["other_copies"].values()) == {"PermissionError"}, r["other_copies"]
        assert r["cmdline_hits"] == []  # no data path, original or copy, on any process's command line
        assert not r["env_has_secret"] and r["environ_of_others"] == {}
        assert not any(k.startswith(("AZURE", "FLAUDIT")) for k in r["env_keys"])
    assert len(uids) == 3  # one uid per silo


def test_namespace_mode_hides_other_silos_the_run_directory_and_proc_behind_locked_mounts(tmp_path, monkeypatch):
    """The non-root fallback, forced here (we are root, so the real uid can open root-owned files as their owner:
    only the mounts stand between the worker and the other silos)."""
    if not isolation.namespaces_available():
        pytest.skip("user namespaces are not available here")
    secret = "attestation-key-9c1b"
    monkeypatch.setenv("FLAUDIT_ATTESTATION_KEY", secret)
    silos = _silos(tmp_path / "fl")
    leak_dir = Path(__import__("tempfile").mkdtemp(prefix="flaudit-test-leak-"))
    leak_dir.chmod(0o755)
    leak = leak_dir / "homes.json"
    real_prepare = isolation.prepare

    def prepare_and_leak(s, mode=None):
        iso = real_prepare(s, mode)
        leak.write_text(json.dumps({k: str(b.home) for k, b in iso.sandboxes.items()}))
        return iso

    monkeypatch.setattr(isolation, "prepare", prepare_and_leak)
    originals = [p for s in silos for p in (s.train, s.test)]
    unmount = (
        "\nimport ctypes\n"
        "def _umount(path):\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    return libc.umount2(path.encode(), 2) == 0\n"
    )
    probe = PROBE.replace("if os.getuid() == 0:  # the orchestrator", "if os.environ.get('HOME') is not None and "
                          "'flaudit-silos' not in os.getcwd():  # the orchestrator")
    probe = probe.replace('print("PROBE "', 'report["unmounted"] = [h for h in json.load(open(LEAK)).values() if h != me '
                          'and _umount(h)]\n    print("PROBE "')
    spec = _plugin(tmp_path, monkeypatch, "hostile_probe_ns",
                   unmount + probe.format(leak=str(leak), secret=secret, originals=originals))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    try:
        m = local.run_local(run_dir, silos, parse_params({"num_of_iterations": 1, "model": spec}),
                            isolation_mode="namespace")
    finally:
        import shutil

        shutil.rmtree(leak_dir, ignore_errors=True)
    assert m["isolation"]["mode"] == "namespace" and "namespace" in m["isolation"]["summary"]
    for s in silos:
        lines = [ln for ln in (run_dir / "logs" / f"{s.silo}.log").read_text().splitlines() if ln.startswith("PROBE ")]
        r = json.loads(lines[0][len("PROBE "):])
        own = {s.train, s.test}
        for path, outcome in r["originals"].items():
            if path not in own:  # another silo's original: replaced by /dev/null
                assert outcome in ("read:0", "PermissionError", "FileNotFoundError"), (path, outcome)
        assert set(r["other_copies"].values()) <= {"FileNotFoundError", "PermissionError"}, r["other_copies"]
        assert r["cmdline_hits"] == [] and r["environ_of_others"] == {} and not r["env_has_secret"]
        assert r["unmounted"] == []  # the hiding mounts are locked


def test_isolation_falls_back_to_best_effort_and_says_so_when_not_root(tmp_path, monkeypatch):
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    monkeypatch.setattr(isolation, "namespaces_available", lambda: False)
    silos = _silos(tmp_path / "fl", 2)
    iso = isolation.prepare(silos)
    try:
        d = iso.describe()
        assert d["mode"] == "best-effort" and "best-effort" in d["summary"]
        assert all(b.uid is None for b in iso.sandboxes.values())
        assert oct(iso.base.stat().st_mode & 0o777) == "0o700"
    finally:
        iso.cleanup()
    assert not iso.base.exists()


def test_world_readable_silo_data_is_warned_about(tmp_path):
    silos = _silos(tmp_path / "fl", 1)
    for p in [tmp_path, *[q for q in Path(silos[0].train).parents if q.is_relative_to(tmp_path)]]:
        p.chmod(0o755)
    Path(silos[0].train).chmod(0o644)
    iso = isolation.prepare(silos)
    try:
        if all(q.stat().st_mode & 0o001 for q in Path(silos[0].train).resolve().parents):
            assert any("readable by every local user" in w for w in iso.warnings)
    finally:
        iso.cleanup()


def test_worker_environment_carries_no_secrets(monkeypatch):
    monkeypatch.setenv("FLAUDIT_ATTESTATION_KEY", "k")
    monkeypatch.setenv("FLAUDIT_ATTESTATION_SIGNING_KEY", "/keys/x.pem")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s")
    env = isolation.worker_env()
    assert not any(k.startswith(("FLAUDIT", "AZURE")) for k in env)
    assert env["OMP_NUM_THREADS"] == "1"


DIES = '''
import os
import torch.nn.functional as F


def step(model, optimizer, x, y):
    os._exit(3)
'''

HANGS = '''
import time


def step(model, optimizer, x, y):
    time.sleep(60)
'''


@pytest.mark.parametrize("source,timeout,message", [
    (DIES, 60.0, r"silo silo\d: worker died \(exit code 3"),
    (HANGS, 2.0, r"silo silo\d: no answer to 'update' within 2 s"),
], ids=["dies", "hangs"])
def test_a_silo_that_dies_or_hangs_stops_the_round_with_one_line_naming_it(tmp_path, monkeypatch, source, timeout,
                                                                           message):
    name = f"fl_step_{abs(hash(source)) % 10**6}"
    d = tmp_path / "plugins"
    d.mkdir()
    (d / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(d))
    silos = _silos(tmp_path / "fl", 2)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    params = parse_params({"num_of_iterations": 1, "train_step": f"{name}:step"})
    with pytest.raises(local.WorkerError, match=message):
        local.run_local(run_dir, silos, params, round_timeout=timeout)


def test_a_hardening_prctl_the_kernel_refuses_is_an_error_not_a_silent_gap():
    """PR_SET_DUMPABLE / PR_SET_NO_NEW_PRIVS that fail would leave a worker ptrace-able or able to regain
    privileges while the output says it is isolated: the failure is raised, never swallowed."""
    import ctypes
    import errno

    class RefusingLibc:
        def prctl(self, *args):
            ctypes.set_errno(errno.EPERM)
            return -1

    with pytest.raises(OSError, match="prctl"):
        isolation._prctl(RefusingLibc(), isolation.PR_SET_DUMPABLE, 0)

    class AcceptingLibc:
        def prctl(self, *args):
            return 0

    isolation._prctl(AcceptingLibc(), isolation.PR_SET_NO_NEW_PRIVS, 1)  # no error when the kernel agrees
