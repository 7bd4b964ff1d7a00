"""Live-collection benchmark: requests and wall time against a mocked ARM that answers each request in 50 ms.

For deployments of 3, 30 and 300 silos it runs flaudit's collector (one list per type and scope, 24 lists at a
time) and a naive collector that walks the silos one by one with a GET per resource, and prints both. The
collector's requests stay flat in the silo count except for pagination (100 items a page here) and the lists
ARM offers only per parent: one federated-identity-credential list per user-assigned identity (ARM has no list
across identities) and two policy lists per storage account (object replication, blob inventory: the storage
resource provider lists them per account only). The slowest single paginated list, measured on its own in the
same run, is printed for comparison (the ratio grows with those per-parent lists). Azure Lighthouse registration
assignments add one list at the subscription and one per resource group holding storage or identities.

Run: ``python benchmarks/bench_collect.py`` (about two minutes, most of it the naive 300-silo walk; pass
``--no-naive-300`` to skip that one).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import responses  # noqa: E402

from flaudit.arm import norm  # noqa: E402
from flaudit.samples import generate  # noqa: E402
from flaudit.sources.live.clients import ArmSession, RetrySettings  # noqa: E402
from flaudit.sources.live.collect import DEFAULT_WORKERS, collect, make_scope  # noqa: E402
from flaudit.sources.live.credential import CLOUDS  # noqa: E402
from tests.live.fakearm import FakeArm, FakeCredential  # noqa: E402

PER_SILO_TYPES = frozenset({
    "microsoft.machinelearningservices/workspaces/computes", "microsoft.machinelearningservices/workspaces/datastores",
    "microsoft.storage/storageaccounts", "microsoft.managedidentity/userassignedidentities",
    "microsoft.network/virtualnetworks", "microsoft.network/networksecuritygroups", "microsoft.network/privateendpoints",
})
LATENCY = 0.05
PAGE = 100
SUB = generate.SUB


def flaudit_collect(resources: list[dict]) -> tuple[int, float, int]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeArm(resources, [SUB], page_size=PAGE, latency=LATENCY).register(rsps)
        fake.prime()
        t0 = time.perf_counter()
        inv = collect(make_scope([SUB]), credential=FakeCredential(), retry=RetrySettings(sleep=lambda s: None))
        wall = time.perf_counter() - t0
    assert not inv.unreadable, inv.unreadable
    return fake.count(), wall, len(inv.resources)


def slowest_list(resources: list[dict]) -> tuple[str, int, float]:
    """Time the longest list (most pages) alone: the floor any collector that lists it must pay."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeArm(resources, [SUB], page_size=PAGE, latency=LATENCY).register(rsps)
        (path, _), items = max(((k, v) for k, v in fake.lists.items() if k[1] == ""), key=lambda kv: len(kv[1]))
        fake.prime()
        session = ArmSession(FakeCredential(), CLOUDS["AzureCloud"], RetrySettings(sleep=lambda s: None))
        t0 = time.perf_counter()
        got = session.list_all(path, "2024-01-01")
        wall = time.perf_counter() - t0
        session.close()
    assert len(got) == len(items)
    return path, fake.count(), wall


def naive_collect(resources: list[dict], n_silos: int) -> tuple[int, float]:
    """What a per-silo script does: for each silo, GET its compute, datastore, storage, identity, VNet, NSG and
    private endpoint, then list the role assignments on its storage account; one request at a time."""
    suffix = generate._uuid(SUB, generate.RG)[:6].replace("-", "")  # the sample's storage-name suffix
    silo_ids: list[list[str]] = []
    for i in range(n_silos):
        own = re.compile(rf"silo{i}(?:{suffix}|(?!\d))")
        silo_ids.append([r["id"] for r in resources if r["type"].lower() in PER_SILO_TYPES
                         and own.search(r["id"].rsplit("/", 1)[-1].lower())])
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeArm(resources, [SUB], page_size=PAGE, latency=LATENCY).register(rsps)
        for r in resources:
            fake.gets[norm(r["id"])] = r
        session = ArmSession(FakeCredential(), CLOUDS["AzureCloud"], RetrySettings(sleep=lambda s: None))
        t0 = time.perf_counter()
        for ids in silo_ids:
            for rid in ids:
                session.get_json(rid, "2024-01-01")
                if "/microsoft.storage/storageaccounts/" in rid.lower():
                    fake.lists.setdefault((norm(f"{rid}/providers/Microsoft.Authorization/roleAssignments"), ""),
                                          [])
                    session.list_all(f"{rid}/providers/Microsoft.Authorization/roleAssignments", "2022-04-01")
        wall = time.perf_counter() - t0
        session.close()
    return fake.count(), wall


def main(argv: list[str]) -> int:
    skip_naive_300 = "--no-naive-300" in argv
    print(f"mocked ARM: {LATENCY * 1000:.0f} ms per response, {PAGE} items per page, "
          f"{DEFAULT_WORKERS} concurrent lists")
    print(f"{'silos':>5} {'resources':>9} | {'flaudit req':>11} {'wall s':>7} | {'slowest list':>12} {'pages':>5} "
          f"{'wall s':>7} {'ratio':>5} | {'naive req':>9} {'wall s':>7}")
    flaudit_collect(generate.Builder("hardened", 2).build())  # warm-up: SDK imports are not collection time
    for n in (3, 30, 300):
        resources = generate.Builder("hardened", n).build()
        requests_, wall, count = flaudit_collect(resources)
        path, pages, list_wall = slowest_list(resources)
        if n == 300 and skip_naive_300:
            naive = "skipped", float("nan")
        else:
            naive = naive_collect(resources, n)
        kind = path.rsplit("/", 1)[-1]
        print(f"{n:>5} {count:>9} | {requests_:>11} {wall:>7.2f} | {kind[:12]:>12} {pages:>5} {list_wall:>7.2f} "
              f"{wall / list_wall:>5.2f} | {naive[0]!s:>9} {naive[1]:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
