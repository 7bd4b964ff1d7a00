"""A scan that ends with os._exit keeps its inventory, model and result for the exit to free (flaudit.lifetime);
anything else (tests, programs calling run_audit) keeps nothing and frees as usual."""

from __future__ import annotations

import subprocess
import sys
import weakref

from flaudit import lifetime
from flaudit.audit import run_audit
from tests.support import config, inventory, sample_resources


def sample_inventory(posture: str):
    return inventory(sample_resources(posture)), config()


def test_without_a_fast_exit_ahead_an_audit_frees_its_model_on_return(monkeypatch):
    monkeypatch.setattr(lifetime, "_parked", None)
    inventory, config = sample_inventory("hardened")
    run_audit(inventory, config)
    ref = weakref.ref(inventory)
    del inventory
    assert ref() is None and lifetime.parked() == 0


def test_with_a_fast_exit_ahead_the_audit_parks_its_model_and_inventory(monkeypatch):
    monkeypatch.setattr(lifetime, "_parked", None)
    lifetime.expect_fast_exit()
    inventory, config = sample_inventory("hardened")
    run_audit(inventory, config)
    ref = weakref.ref(inventory)
    del inventory
    assert ref() is not None and lifetime.parked() >= 1


def test_the_console_script_expects_a_fast_exit_for_scan_and_not_for_train_which_audits_too(tmp_path):
    probe = (
        "import sys\n"
        "from flaudit import cli, lifetime\n"
        "seen = []\n"
        "real = lifetime.expect_fast_exit\n"
        "lifetime.expect_fast_exit = lambda: (seen.append(1), real())\n"
        "sys.argv = ['flaudit'] + sys.argv[1:]\n"
        "code = cli.main(sys.argv[1:], ran=[])\n"
        "print('PROBE', len(seen), lifetime.parked() > 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, "scan", "--sample", "hardened", "--format", "json",
                          "--output", str(tmp_path / "r.json"), "--quiet"], capture_output=True, text=True)
    assert out.stdout.splitlines()[-1].split() == ["PROBE", "1", "True"], out.stderr
    out = subprocess.run([sys.executable, "-c", probe, "train", "--sample", "hardened", "--dry-run",
                          "--output", str(tmp_path / "run")], capture_output=True, text=True)
    assert out.stdout.splitlines()[-1].split() == ["PROBE", "0", "False"], out.stderr
