"""Sinks a silo can write to: storage accounts where data from a silo's compute ends up beyond the silo's control.

Silo compute can move data wherever one of its identities can write and its network can reach. Writing is the
FL protocol only where the orchestrator aggregates model updates; a write into any account that is

* (``public``) reachable from public networks: ``publicNetworkAccess`` enabled with the firewall allowing by
  default, or an IP rule (flaudit/exposure.py decides; the orchestrator's storage included, since model updates
  are derived from silo data and can be inverted towards it);
* (``shared``) also readable or writable by another silo without per-silo confinement (a container of its own, or
  an ABAC condition confining each to its own path): the workspace's default storage, or any other account both
  silos hold roles on. The orchestrator's storage is FL-ID-008's (silos reading each other's model updates);
* (``outsider-readable``) readable by a principal outside the FL deployment: one the FL config does not name (a
  declared administrator's read is shown as administrative, not blocking), or anyone when anonymous blob access
  is allowed (``allowBlobPublicAccess`` not false: missing means true on older accounts, fail closed). The
  orchestrator reading the updates it aggregates is the protocol, not a leak; the workspace's identities are part
  of the deployment;

is a path out of the silo (kind ``data``, judged by FL-DM-010). Write means a data write action (blob/file/queue/
table write, add, the probes of flaudit/rbac.py), live account keys (``allowSharedKeyAccess`` not false), or the
right to assign roles there (role-admin); a role flaudit cannot read is an unknown path. Who can write is the RBAC
evaluator's answer (:func:`flaudit.access.storage_reach`), who is exposed the exposure evaluator's
(:func:`flaudit.exposure.storage_exposure`); neither is re-implemented here. The silo's own account and other silos'
accounts are not sinks here: other silos' are FL-ID-004's.

References: https://learn.microsoft.com/azure/storage/common/storage-network-security,
https://learn.microsoft.com/azure/storage/blobs/anonymous-read-access-prevent,
https://learn.microsoft.com/azure/storage/blobs/storage-auth-abac-examples,
https://learn.microsoft.com/azure/machine-learning/how-to-data-exfiltration-prevention.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flaudit import memo
from flaudit.arm import get_path, is_within, norm
from flaudit.paths import Hop, Path

if TYPE_CHECKING:  # pragma: no cover
    from flaudit.model import Deployment, Identity, Silo, StorageAccount
    from flaudit.rbac import Access, Grant

RULE = "FL-DM-010"


@dataclass(frozen=True)
class Region:
    """The part of an account a grant reaches: all of it, one container, or the places an ABAC condition allows
    for one data action (``key`` is then the condition, ``action`` the action it was evaluated for)."""

    kind: str  # all | container | condition
    key: str
    action: str = ""

    def overlaps(self, other: Region) -> bool:
        if "all" in (self.kind, other.kind):
            return True
        if self.kind == other.kind == "container":
            return self.key == other.key or is_within(self.key, other.key) or is_within(other.key, self.key)
        if self.kind == other.kind == "condition":
            return self.key == other.key or _conditions_meet(self, other)
        return True  # a path condition and a container scope can meet (fail closed)


def _conditions_meet(a: Region, b: Region) -> bool:
    """Whether two conditions may admit a common place, judged by evaluating them (flaudit/conditions.py), not by
    their shape: each condition is evaluated against the places the other singles out (the witnesses of
    flaudit/confinement.py: ``StringStartsWith 'silo1'`` singles out ``silo1...``, which ``'silo10'`` does not
    admit but ``'silo1'`` admits for ``silo10/x``). Undecidable counts as meeting (fail closed)."""
    from flaudit import conditions as c
    from flaudit.confinement import residual_of, witnesses_of

    for mine, theirs in ((a, b), (b, a)):
        rest = residual_of(theirs.key, theirs.action)
        if rest is None or rest is True:
            return True
        if rest is False:
            continue
        if any(c.evaluate(rest, w.request(theirs.action)) is not False for w in witnesses_of("", [mine.key], [])):
            return True
    return False


def region_of(grant: Grant, account_id: str) -> Region:
    """Where ``grant`` reaches inside ``account_id``: a container below the account, the paths a confining ABAC
    condition allows for the grant's action (evaluated: flaudit/confinement.py), or the whole account."""
    from flaudit.confinement import residual_of

    a = grant.assignment
    if grant.kind == "data" and a.condition:
        rest = residual_of(a.condition, grant.action)
        if rest is not None and rest is not True:  # the condition limits this action (parsed and evaluated)
            return Region("condition", a.condition, grant.action)
    if a.scope != norm(account_id) and is_within(a.scope, account_id):
        return Region("container", a.scope)
    return Region("all", "")


def _write_grants(acc: Access, storage_raw: dict[str, Any]) -> tuple[list[Grant], list[Grant]]:
    """(grants that let a principal put data into the account, grants flaudit cannot read)."""
    from flaudit.access import split_inert
    from flaudit.rbac import WRITE_DATA_ACTIONS

    live, _inert = split_inert(acc, storage_raw)
    writes = [g for g in live if (g.kind == "data" and g.action in WRITE_DATA_ACTIONS)
              or g.kind in ("keys", "role-admin")]
    return writes, [g for g in live if g.kind == "unknown"]


def _reads(acc: Access, storage_raw: dict[str, Any]) -> list[Grant]:
    from flaudit.access import split_inert

    live, _inert = split_inert(acc, storage_raw)
    return [g for g in live if (g.kind == "data" and g.action.endswith("/read")) or g.kind in ("keys", "role-admin")]


class _Account:
    """What one candidate sink account looks like to every silo, computed once per account."""

    def __init__(self, d: Deployment, st: StorageAccount) -> None:
        from flaudit.access import classify
        from flaudit.exposure import storage_exposure

        self.st = st
        orch = d.orchestrator.storage
        ws_storage = d.workspace.prop("properties.storageAccount") if d.workspace else None
        if orch is not None and norm(orch.id) == norm(st.id):
            self.owner, self.label = "orchestrator", f"the orchestrator's storage {st.name}"
        elif ws_storage and norm(ws_storage) == norm(st.id):
            self.owner, self.label = "workspace", f"the workspace's default storage {st.name}"
        else:
            self.owner, self.label = "external", f"storage account {st.name} (not an FL member's)"
        exposure = storage_exposure(st.raw, d.network)
        self.public = [p for p in exposure.open_public_paths if p.path_kind in ("public", "ip-rule")]
        self.perimeter = exposure.perimeter
        anon = get_path(st.raw, "properties.allowBlobPublicAccess")
        self.anonymous = anon is not False
        self.anonymous_default = anon is None
        # Other silos' regions (for "shared") and outsiders' reads (for "outsider-readable"), by principal.
        self.regions: dict[str, list[tuple[Region, str]]] = defaultdict(list)  # silo name -> [(region, pid)]
        self.readers: list[tuple[Any, list[Grant]]] = []
        self._reader_hops: list[tuple[str, str, Hop, str, str]] | None = None
        silo0 = d.silos[0] if d.silos else None
        holders = _silos_by_principal(d)
        for pid, acc in d.rbac.principals_with_access(st.id).items():
            owners = holders.get(pid)
            if owners:
                if self.owner == "orchestrator":
                    continue  # silos sharing the orchestrator's storage are FL-ID-008's
                live, _inert = _write_grants(acc, st.raw)
                regions = [region_of(g, st.id) for g in [*live, *_reads(acc, st.raw)]]
                for name in owners:  # an identity several silos run as gives each of them these grants
                    self.regions[name].extend((r, pid) for r in regions)
                continue
            if silo0 is None:
                continue
            who = classify(d, pid, silo0)
            if who.relation in ("unlisted", "external", "administrator"):
                reads = _reads(acc, st.raw) + acc.of("unknown")
                if reads:
                    self.readers.append((who, reads))

    def reader_hops(self, d: Deployment) -> list[tuple[str, str, Hop, str, str]]:
        """(outsider id, outsider name, hop, relation, path kind) for the account's outside readers, built once
        per account: one path for the unlisted readers together (a reader more is the same sink), one per
        declared administrator (each shown with its reason)."""
        if self._reader_hops is None:
            from flaudit.access import chain_evidence

            def via(reads: list[Grant]) -> str:
                return "; ".join(f"{e['role_name']} at {e['scope']} ({e['assignment_id']})"
                                 for e in chain_evidence(reads)[:2])

            self._reader_hops = []
            unlisted = [(who, reads) for who, reads in self.readers if who.relation != "administrator"]
            if unlisted:
                known = [(w, r) for w, r in unlisted if any(g.kind != "unknown" for g in r)]
                shown = known or unlisted
                names = "; ".join(f"{w.name or w.id} via {via(r)}" for w, r in shown[:5])
                more = f"; and {len(shown) - 5} more" if len(shown) > 5 else ""
                hop = Hop(f"{len(shown)} principal(s) not named in the FL config can read it: {names}{more}",
                          self.st.id)
                self._reader_hops.append((f"{self.st.id}#outside-readers", f"{len(shown)} outside reader(s)", hop,
                                          "unlisted", "data" if known else "unknown"))
            for who, reads in self.readers:
                if who.relation == "administrator":
                    kinds = ", ".join(sorted({g.kind for g in reads}))
                    hop = Hop(f"{who.name or who.id} (declared administrator: {who.administrator_reason(d)}) can "
                              f"read it ({kinds}) via {via(reads)}", self.st.id)
                    self._reader_hops.append((who.id, who.name or who.id, hop, "administrator", "administrative"))
        return self._reader_hops

    def sharers(self, silo: Silo, writes: list[Grant]) -> list[str]:
        """Other silos whose grants reach a region ``silo``'s write grants reach."""
        if self.owner == "orchestrator" or not (set(self.regions) - {silo.name}):
            return []  # the orchestrator's storage is FL-ID-008's
        regions = [region_of(g, self.st.id) for g in writes]
        out = []
        for name, theirs in self.regions.items():
            if name != silo.name and any(r.overlaps(t) for r in regions for t, _ in theirs):
                out.append(name)
        return sorted(out)


@memo.whole("_sink_holders")
def _silos_by_principal(d: Deployment) -> dict[str, list[str]]:
    """Principal id -> every silo whose computes run as it or whose FL config names it as a group (the model's
    ``silo_by_principal`` keeps only the first silo of a shared identity)."""
    out: dict[str, list[str]] = defaultdict(list)
    for s in d.silos:
        for pid in sorted(s.principal_ids | {norm(g) for g in s.groups}):
            out[pid].append(s.name)
    return out


def _account(d: Deployment, st: StorageAccount) -> _Account:
    return memo.keyed(d, "_sink_accounts", norm(st.id), lambda: _Account(d, st))


def silo_writers(silo: Silo) -> list[Identity]:
    """Every identity the silo's computes run as (an auxiliary identity writes as well as any other)."""
    return [i for i in silo.identities if i.principal_id]


def sink_paths(d: Deployment) -> Iterator[Path]:
    """One ``data`` path per (silo identity, sink account, reason) - see the module docstring."""
    from flaudit.access import storage_reach

    reach = storage_reach(d)
    for silo in d.silos:
        own = norm(silo.storage.id) if silo.storage else None
        for ident in silo_writers(silo):
            for st, acc in reach.get(norm(ident.principal_id), ()):
                sid = norm(st.id)
                if sid == own or sid in d.silo_by_storage:
                    continue  # its own data; other silos' storage is FL-ID-004's
                yield from _paths_to(d, silo, ident, st, acc)


def _paths_to(d: Deployment, silo: Silo, ident: Identity, st: StorageAccount, acc: Access) -> Iterator[Path]:
    """The sink paths from one silo identity into one account it holds a role on."""
    writes, unknown = _write_grants(acc, st.raw)
    if not writes and not unknown:
        return
    a = _account(d, st)
    grants = writes or unknown
    head: list[tuple[Hop, bool]] = []  # the first hop and conditional, built for the first path (most yield none)

    def path(reason_hop: Hop, outsider_id: str, outsider_name: str, relation: str, kind: str = "data") -> Path:
        if not head:
            roles = ", ".join(sorted({g.role.name if g.role else g.assignment.role_guid for g in grants}))
            head.append((Hop(f"{silo.name}'s identity {ident.name} can "
                             + ("write to" if writes else "hold a role flaudit cannot read on")
                             + f" {a.label} ({roles})", grants[0].assignment.id),
                         bool(writes) and all(g.conditional for g in writes)))
        first, cond = head[0]
        return Path(kind=kind, silo=silo.name, source_id=ident.id, outsider_id=outsider_id,
                    outsider_name=outsider_name, relation=relation, rule_id=RULE, hops=(first, reason_hop),
                    conditional=cond)

    if not writes:
        yield path(Hop("the role may grant write access; flaudit cannot tell", st.id), st.id, st.name, a.owner,
                   kind="unknown")
        return
    for p in a.public:
        yield path(Hop(f"{st.name} is reachable from public networks: {p.detail}", st.id),
                   f"{st.id}#public", f"{st.name} (public network: {p.source})", a.owner)
    if a.perimeter:
        yield path(Hop(f"{st.name} is SecuredByPerimeter: whether it is public depends on network security "
                       "perimeter rules flaudit does not collect", st.id),
                   f"{st.id}#perimeter", f"{st.name} (perimeter)", a.owner, kind="unknown")
    for other in a.sharers(silo, writes):
        yield path(Hop(f"silo {other} can also read or write there with no per-silo confinement (no container "
                       "of its own, no ABAC condition separating the silos)", st.id),
                   f"{st.id}#silo:{other}", f"silo {other}", "other-silo")
    if a.anonymous:
        how = ("allowBlobPublicAccess is missing (older accounts allow anonymous access)"
               if a.anonymous_default else "allowBlobPublicAccess is true")
        yield path(Hop(f"{how}: a container set to public access is readable by anyone; containers are not "
                       "collected", st.id), f"{st.id}#anonymous", "anonymous readers", a.owner)
    for outsider_id, outsider_name, hop, relation, kind in a.reader_hops(d):
        yield path(hop, outsider_id, outsider_name, relation, kind=kind)
