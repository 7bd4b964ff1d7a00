"""End-to-end ``flaudit scan`` benchmark: what the user waits for, from the first byte read to the last written.

Each scan runs as a subprocess (``python -m flaudit scan --input SNAPSHOT --config FL.yaml --format F -o OUT``)
on generated deployments flaudit never saw:

``100`` / ``1000``  hardened deployments of 100 and 1,000 silos (about 1.2k and 12k resources) with their FL
                    config (a 26 KB and a 260 KB YAML file);
``110k``            the 1,000-silo deployment with 100,000 role assignments, as bench_engine.py pads it;
``200MB``           the 110k deployment plus resources of types flaudit does not read (web apps, VMs, disks,
                    public IPs with realistic properties) up to a 200 MB snapshot, what a busy subscription's
                    export looks like.

For each it prints the best and median wall time, CPU time (user + system) and peak RSS of ``--repeat`` runs,
and the output size. Beside every figure it prints the **floor** measured in the same run: a subprocess that
parses the same input with orjson and the same config with libyaml, and writes the scan's JSON result once with
orjson (the result is loaded before the clock starts), plus the interpreter start-up with those two imports; and
the ratio to it. The machine is shared and noisy: compare ratios within one run, and CPU time when wall time
is inflated by other processes.

    python benchmarks/bench_cli.py [--cases 100,1000,110k,200MB] [--formats json,terminal,html,sarif] [--compare TREE]
                                   [--repeat 3] [--keep DIR]

``--compare TREE`` also runs another flaudit source tree (an export of an earlier commit, say) on the same inputs,
alternately with this one, for json: its best wall and CPU time and peak RSS, and whether its result is the same
bytes but for ``generated_at``.

Targets (issue #14): at 1,000 silos a json scan under 1.5 s wall and within 2.5x the floor; 110k resources
under 5 s; the 200 MB input under 5 s with peak memory under 600 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import BLOB_READER, READER, _assignment  # noqa: E402

from flaudit.samples import generate  # noqa: E402

CASES = ("100", "1000", "110k", "200MB")
FORMATS = ("json", "terminal", "html", "sarif")
EXT = {"json": "json", "terminal": "txt", "html": "html", "sarif": "sarif"}

FLOOR_SCRIPT = r"""
import gc, sys, time
import orjson, yaml
gc.disable()  # the fastest way to parse: no collector passes over the new objects
src, cfg, result_path, out = sys.argv[1:5]
result = orjson.loads(open(result_path, "rb").read())   # not timed: the content to write
t0, c0 = time.perf_counter(), time.process_time()
doc = orjson.loads(open(src, "rb").read())
conf = yaml.load(open(cfg, "rb").read(), Loader=yaml.CSafeLoader)
with open(out, "wb") as fh:
    fh.write(orjson.dumps(result, option=orjson.OPT_INDENT_2))
print(time.perf_counter() - t0, time.process_time() - c0)
"""


# -- inputs -----------------------------------------------------------------------------------------------
def _snapshot(resources: list[dict]) -> dict:
    doc = generate.snapshot("hardened", 1)
    doc["resources"] = resources
    doc["scope"]["note"] = "bench_cli.py: generated"
    return doc


def _padded(n_silos: int, n_assignments: int) -> list[dict]:
    """The hardened deployment padded with role assignments, as bench_engine.py builds it."""
    resources = generate.Builder("hardened", n_silos).build()
    rg = generate.rg_id()
    storage = [r["id"] for r in resources if r["type"] == "Microsoft.Storage/storageAccounts"]
    have = sum(1 for r in resources if r["type"] == "Microsoft.Authorization/roleAssignments")
    for i in range(max(0, n_assignments - have)):
        bucket = i % 100
        if bucket < 90:
            scope = f"/subscriptions/{generate.SUB}/resourceGroups/rg-app{i % 500}/providers/Microsoft.Web/sites/app{i}"
            role = READER
        elif bucket < 95:
            scope, role = (rg if i % 50 else f"/subscriptions/{generate.SUB}"), READER
        else:
            scope, role = storage[i % len(storage)], BLOB_READER
        resources.append(_assignment(scope, role, str(i)))
    return resources


def _unrelated(i: int) -> dict:
    """A resource of a type flaudit does not read, with properties of a realistic size (about 1.5 KB)."""
    rg = f"/subscriptions/{generate.SUB}/resourceGroups/rg-app{i % 500}"
    kind = i % 3
    if kind == 0:
        name = f"vm{i}"
        return {"id": f"{rg}/providers/Microsoft.Compute/virtualMachines/{name}", "name": name,
                "type": "Microsoft.Compute/virtualMachines", "location": "westeurope",
                "tags": {"owner": f"team{i % 40}", "costCenter": f"cc-{i % 97}", "env": "prod"},
                "properties": {"vmId": str(uuid.UUID(int=i)), "hardwareProfile": {"vmSize": "Standard_D4s_v5"},
                               "storageProfile": {"imageReference": {"publisher": "Canonical",
                                                                     "offer": "0001-com-ubuntu-server-jammy",
                                                                     "sku": "22_04-lts-gen2", "version": "latest"},
                                                  "osDisk": {"osType": "Linux", "name": f"{name}_OsDisk_1",
                                                             "createOption": "FromImage", "caching": "ReadWrite",
                                                             "managedDisk": {"storageAccountType": "Premium_LRS",
                                                                             "id": f"{rg}/providers/Microsoft.Compute/disks/{name}_OsDisk_1"},
                                                             "diskSizeGB": 30}, "dataDisks": []},
                               "osProfile": {"computerName": name, "adminUsername": "azureuser",
                                             "linuxConfiguration": {"disablePasswordAuthentication": True,
                                                                    "provisionVMAgent": True,
                                                                    "patchSettings": {"patchMode": "ImageDefault",
                                                                                      "assessmentMode": "ImageDefault"}},
                                             "secrets": [], "allowExtensionOperations": True},
                               "networkProfile": {"networkInterfaces": [{"id": f"{rg}/providers/Microsoft.Network/networkInterfaces/{name}-nic"}]},
                               "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
                               "provisioningState": "Succeeded", "timeCreated": "2026-03-01T10:00:00.0000000+00:00"}}
    if kind == 1:
        name = f"app{i}"
        return {"id": f"{rg}/providers/Microsoft.Web/sites/{name}", "name": name, "type": "Microsoft.Web/sites",
                "kind": "app,linux", "location": "westeurope", "tags": {"owner": f"team{i % 40}"},
                "properties": {"state": "Running", "hostNames": [f"{name}.azurewebsites.net"],
                               "enabledHostNames": [f"{name}.azurewebsites.net", f"{name}.scm.azurewebsites.net"],
                               "hostNameSslStates": [{"name": f"{name}.azurewebsites.net", "sslState": "Disabled",
                                                      "hostType": "Standard"},
                                                     {"name": f"{name}.scm.azurewebsites.net", "sslState": "Disabled",
                                                      "hostType": "Repository"}],
                               "serverFarmId": f"{rg}/providers/Microsoft.Web/serverfarms/plan{i % 50}",
                               "siteConfig": {"numberOfWorkers": 1, "linuxFxVersion": "PYTHON|3.11",
                                              "alwaysOn": True, "http20Enabled": True, "minTlsVersion": "1.2",
                                              "ftpsState": "Disabled"},
                               "httpsOnly": True, "clientCertEnabled": False, "publicNetworkAccess": "Enabled",
                               "outboundIpAddresses": ",".join(f"20.{i % 250}.{j}.{i % 200}" for j in range(8)),
                               "defaultHostName": f"{name}.azurewebsites.net", "usageState": "Normal",
                               "availabilityState": "Normal", "lastModifiedTimeUtc": "2026-05-04T11:22:33.44"}}
    name = f"disk{i}"
    return {"id": f"{rg}/providers/Microsoft.Compute/disks/{name}", "name": name, "type": "Microsoft.Compute/disks",
            "location": "westeurope", "sku": {"name": "Premium_LRS", "tier": "Premium"},
            "tags": {"owner": f"team{i % 40}", "backup": "daily"},
            "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 256, "diskIOPSReadWrite": 1100,
                           "diskMBpsReadWrite": 125, "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
                           "networkAccessPolicy": "AllowAll", "publicNetworkAccess": "Enabled",
                           "timeCreated": "2026-03-01T10:00:00.0000000+00:00", "provisioningState": "Succeeded",
                           "diskState": "Attached", "diskSizeBytes": 274877906944, "uniqueId": str(uuid.UUID(int=i)),
                           "tier": "P15"}}


def write_inputs(case: str, work: Path) -> tuple[Path, Path]:
    """The case's snapshot and FL config in ``work`` (reused when present), generated in a child process: Linux
    carries a process's peak RSS over to the children it forks, so a parent that had held a 200 MB deployment in
    memory would report that peak for every scan it then timed."""
    src, cfg = work / f"{case}.json", work / f"{case}.yaml"
    if not (src.exists() and cfg.exists()):
        subprocess.run([sys.executable, __file__, "--write-inputs", case, str(work)], check=True, env=ENV)
    return src, cfg


def _write_inputs(case: str, work: Path) -> None:
    src, cfg = work / f"{case}.json", work / f"{case}.yaml"
    import yaml

    n_silos = 100 if case == "100" else 1000
    cfg.write_text(yaml.safe_dump(generate.fl_config(n_silos), sort_keys=False))
    if case in ("100", "1000"):
        src.write_text(json.dumps(_snapshot(generate.Builder("hardened", n_silos).build()), indent=2))
        return
    resources = _padded(1000, 100_000)
    if case == "110k":
        src.write_text(json.dumps(_snapshot(resources), indent=2))
        return
    # 200 MB: add unrelated resources until the indented snapshot reaches 200 MB (sizes measured per resource)
    base = len(json.dumps(_snapshot(resources), indent=2))
    per = len(json.dumps([_unrelated(i) for i in range(300)], indent=2)) / 300 + 4
    need = int((200 * 1024 * 1024 - base) / per)
    resources.extend(_unrelated(i) for i in range(need))
    src.write_text(json.dumps(_snapshot(resources), indent=2))


# -- measuring --------------------------------------------------------------------------------------------
#: What a user's installed flaudit runs with: compiled modules cached (this workspace sets
#: PYTHONDONTWRITEBYTECODE, which would make every run recompile every module).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str], stdout_path: Path | None = None, cwd: Path | None = None) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (user + system), peak RSS in MB and stdout of one subprocess."""
    out = open(stdout_path, "wb") if stdout_path else subprocess.PIPE
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=ENV, cwd=cwd)
    text = b"" if stdout_path else proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if stdout_path:
        out.close()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {err.decode()[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, text.decode()


def scan(src: Path, cfg: Path, fmt: str, out: Path, extra: list[str],
         tree: Path | None = None) -> tuple[float, float, int]:
    """One scan; ``tree``: run the flaudit source tree there instead (``python -m flaudit`` from that directory)."""
    cmd = [sys.executable, "-m", "flaudit", "scan", "--input", str(src), "--config", str(cfg), "--format", fmt]
    if fmt == "terminal":
        wall, cpu, rss, _ = run(cmd + extra, stdout_path=out, cwd=tree)
    else:
        wall, cpu, rss, _ = run(cmd + ["--output", str(out)] + extra, cwd=tree)
    return wall, cpu, rss


SAME_SCRIPT = r"""
import re, sys
stamp = re.compile(rb'"generated_at": ?"[^"]*"')
a, b = (stamp.sub(b"", open(p, "rb").read()) for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
"""


def _same_result(a: Path, b: Path) -> bool:
    """Whether two JSON results are the same bytes but for ``generated_at``, compared in a child process: this
    one's peak RSS would otherwise be carried over to every scan it starts afterwards (see write_inputs)."""
    return subprocess.run([sys.executable, "-c", SAME_SCRIPT, str(a), str(b)]).returncode == 0


def floor(src: Path, cfg: Path, result: Path, out: Path) -> tuple[float, float]:
    """(floor seconds, its CPU seconds): interpreter start with orjson and yaml, plus the timed work."""
    start_wall, start_cpu, _, _ = run([sys.executable, "-c", "import orjson, yaml"])
    _, _, _, text = run([sys.executable, "-c", FLOOR_SCRIPT, str(src), str(cfg), str(result), str(out)])
    work_wall, work_cpu = (float(v) for v in text.split())
    return start_wall + work_wall, start_cpu + work_cpu


def runnable_tree(tree: Path, work: Path) -> Path:
    """A directory from which ``python -m flaudit`` runs ``tree``'s code alone.

    In the repository the rule pack and the renderers sit beside the package (``rules/``, ``reports/``) and are
    installed as ``flaudit.rules`` and ``flaudit.reports``; run from the tree as it is, those two would come from
    the installed (editable) flaudit, mixing two versions. So the package is copied under ``work`` with the two
    linked into it; a tree that already holds ``flaudit/rules`` (an installed layout) is used as it is."""
    if not (tree / "flaudit" / "__init__.py").is_file():
        raise SystemExit(f"--compare {tree}: no flaudit package there")
    if (tree / "flaudit" / "rules").exists() or not (tree / "rules").is_dir():
        return tree
    import shutil

    out = work / "compare-tree"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(tree / "flaudit", out / "flaudit", ignore=shutil.ignore_patterns("__pycache__"))
    for sub in ("rules", "reports"):
        (out / "flaudit" / sub).symlink_to(tree / sub, target_is_directory=True)
    return out


def stats(values: list[float]) -> tuple[float, float]:
    return min(values), statistics.median(values)


def bench_case(case: str, formats: list[str], repeat: int, work: Path, compare: Path | None = None) -> list[str]:
    src, cfg = write_inputs(case, work)
    size_mb = src.stat().st_size / 1e6
    print(f"\n{case}: {src.name} {size_mb:,.1f} MB, FL config {cfg.stat().st_size / 1e3:,.0f} KB", flush=True)
    misses = []
    variants = [(f, []) for f in formats]
    if case == "1000" and "json" in formats:
        variants.append(("json", ["--compact"]))
    floors: list[tuple[float, float]] = []
    for fmt, extra in variants:
        out = work / f"{case}-out{'-compact' if extra else ''}.{EXT[fmt]}"
        runs = []
        other_runs = []
        other_out = work / f"{case}-compare-out{'-compact' if extra else ''}.{EXT[fmt]}"
        for _ in range(repeat):
            runs.append(scan(src, cfg, fmt, out, extra))
            if compare is not None and fmt == "json":  # alternately, so both see the same machine
                other_runs.append(scan(src, cfg, fmt, other_out, extra, tree=compare))
            if fmt == "json" and not extra and len(floors) < repeat:
                floors.append(floor(src, cfg, out, work / f"{case}-floor.json"))
        if not floors:  # json not asked for: the floor needs a result to write
            scan(src, cfg, "json", work / f"{case}.json.out", [])
            floors = [floor(src, cfg, work / f"{case}.json.out", work / f"{case}-floor.json") for _ in range(repeat)]
        wall_best, wall_med = stats([r[0] for r in runs])
        cpu_best, cpu_med = stats([r[1] for r in runs])
        rss_best = min(r[2] for r in runs)
        f_best, f_med = stats([f[0] for f in floors])
        fc_best, _ = stats([f[1] for f in floors])
        label = fmt + (" --compact" if extra else "")
        size = out.stat().st_size
        size_text = f"{size / 1e6:6.2f} MB" if size >= 1e5 else f"{size / 1e3:6.1f} KB"
        print(f"  {label:15s} wall best {wall_best:5.2f} s median {wall_med:5.2f} s | cpu best {cpu_best:5.2f} s "
              f"median {cpu_med:5.2f} s | peak RSS {rss_best:5d} MB | output {size_text} | "
              f"floor best {f_best:4.2f} s median {f_med:4.2f} s (cpu {fc_best:4.2f} s) | "
              f"ratio wall {wall_best / f_best:4.2f}x, cpu {cpu_best / fc_best:4.2f}x", flush=True)
        if other_runs:
            print(f"  {label + ' (compare)':15s} wall best {min(r[0] for r in other_runs):5.2f} s | cpu best "
                  f"{min(r[1] for r in other_runs):5.2f} s | peak RSS {min(r[2] for r in other_runs):5d} MB | "
                  f"{compare}: result {'identical' if _same_result(out, other_out) else 'DIFFERENT'} "
                  "but for generated_at", flush=True)
        if fmt == "json" and not extra:
            if case == "1000" and not (wall_best < 1.5 and wall_best / f_best <= 2.5):
                misses.append(f"1000 json: {wall_best:.2f} s, {wall_best / f_best:.2f}x the floor "
                              "(target < 1.5 s and <= 2.5x)")
            if case == "110k" and not wall_best < 5:
                misses.append(f"110k json: {wall_best:.2f} s (target < 5 s)")
            if case == "200MB" and not (wall_best < 5 and rss_best < 600):
                misses.append(f"200MB json: {wall_best:.2f} s, {rss_best} MB (target < 5 s, < 600 MB)")
    return misses


def main() -> None:
    if sys.argv[1:2] == ["--write-inputs"]:  # the child write_inputs starts
        _write_inputs(sys.argv[2], Path(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", metavar="DIR", help="keep generated inputs and outputs here (reused when present)")
    ap.add_argument("--compare", metavar="TREE",
                    help="also run the flaudit source tree TREE (a checkout or `git archive OLD | tar -x -C TREE`; "
                    "its own rules/ and reports/ are used, see runnable_tree) alternately with this one for json, "
                    "and say whether the results are identical")
    args = ap.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    formats = [f for f in args.formats.split(",") if f]
    for c in cases:
        if c not in CASES:
            ap.error(f"unknown case {c} (choose from {', '.join(CASES)})")
    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="flaudit-bench-cli-")
    work = Path(args.keep or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    print(f"end-to-end flaudit scan, best and median of {args.repeat}; floor = parse input (orjson) + config "
          "(libyaml) + write the result once (orjson), with interpreter start-up")
    # Warm-up: every module a scan and each renderer imports is compiled and cached once, as after an install.
    with tempfile.TemporaryDirectory() as warm:
        run([sys.executable, "-m", "flaudit", "scan", "--sample", "--format", "json,html,sarif,junit,markdown",
             "--output", warm])
        run([sys.executable, "-m", "flaudit", "scan", "--sample"])
    compare = runnable_tree(Path(args.compare).resolve(), work) if args.compare else None
    if compare is not None:  # its modules compiled and cached once too
        run([sys.executable, "-m", "flaudit", "scan", "--sample"], cwd=compare)
    misses = []
    for case in cases:
        misses += bench_case(case, formats, args.repeat, work, compare)
    print("\ntargets: " + ("all met" if not misses else "MISSED: " + "; ".join(misses)))
    if tmp is not None:
        tmp.cleanup()
    sys.exit(1 if misses else 0)


if __name__ == "__main__":
    main()
