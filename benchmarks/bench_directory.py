"""Microsoft Graph directory reads: requests and wall time against a mocked Graph answering each GET in 50 ms.

For 10, 100, 1,000 and 1,500 principals holding Storage Blob Data Reader on one silo's storage (alternately B2B guests
and member users, none a managed identity the inventory describes), it runs
``flaudit.sources.live.directory.read_directory`` on the collected inventory and prints the Graph requests, the wall
time, the floor (requests x 50 ms / 8 workers) and how many principals were left unread by the 1,000 cap.

Run: ``python benchmarks/bench_directory.py`` (about 20 s).
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import responses  # noqa: E402

from flaudit.inventory import Inventory  # noqa: E402
from flaudit.samples import generate  # noqa: E402
from flaudit.sources.live.clients import ArmSession, RetrySettings  # noqa: E402
from flaudit.sources.live.credential import CLOUDS  # noqa: E402
from flaudit.sources.live.directory import GRAPH_TYPE, MAX_DIRECTORY_OBJECTS, WORKERS, read_directory  # noqa: E402
from tests.live.fakearm import FakeArm, FakeCredential  # noqa: E402
from tests.support import role_assignment, storage  # noqa: E402

LATENCY = 0.05
READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"


def user(pid: str, i: int) -> dict:
    guest = i % 2 == 0
    return {"@odata.type": "#microsoft.graph.user", "id": pid, "displayName": f"user {i}",
            "userType": "Guest" if guest else "Member", "externalUserState": "Accepted" if guest else None,
            "creationType": "Invitation" if guest else None,
            "identities": [{"signInType": "federated" if guest else "userPrincipalName",
                            "issuer": "fabrikam.com" if guest else "contoso.onmicrosoft.com",
                            "issuerAssignedId": f"user{i}@example.com"}]}


def run(n: int) -> tuple[int, float, int, int]:
    res = generate.Builder("hardened", 3).build()
    st = storage(res, "silo1")["id"]
    pids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"principal-{i}")) for i in range(n)]
    res += [role_assignment(st, READER, p, principal_type="User") for p in pids]
    inv = Inventory()
    inv.extend(res)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeArm([], [generate.SUB], latency=LATENCY,
                       directory={p: user(p, i) for i, p in enumerate(pids)}).register(rsps)
        session = ArmSession(FakeCredential(), CLOUDS["AzureCloud"], RetrySettings(sleep=lambda s: None))
        t0 = time.perf_counter()
        read_directory(session, inv)
        wall = time.perf_counter() - t0
        session.close()
    unread = sum(1 for u in inv.unreadable if u.resource_type == GRAPH_TYPE)
    return fake.count(), wall, len(inv.directory), unread


def main() -> None:
    print(f"mocked Microsoft Graph at {LATENCY * 1000:.0f} ms a GET, {WORKERS} at a time, cap {MAX_DIRECTORY_OBJECTS}")
    print("| principals | Graph requests | objects read | not read (cap) | wall s | floor s |")
    print("|---|---|---|---|---|---|")
    for n in (10, 100, 1000, 1500):
        requests, wall, read, unread = run(n)
        floor = -(-requests // WORKERS) * LATENCY
        print(f"| {n:,} | {requests:,} | {read:,} | {unread:,} | {wall:.2f} | {floor:.2f} |")


if __name__ == "__main__":
    main()
