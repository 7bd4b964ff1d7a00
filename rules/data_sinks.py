"""Data sinks: a silo's compute can move data wherever one of its identities can write. Writing model updates to
the orchestrator's private storage is the FL protocol; writing anywhere public, shared with other silos, or
readable by principals outside the deployment is a way out of the silo.

The paths come from flaudit/sinks.py (built on the RBAC and exposure evaluators); this module only decides what
each means for readiness. Which rule owns what: FL-ID-004 owns writes into other silos' storage, FL-ID-008 owns
silos reading or overwriting each other's updates in the orchestrator's storage, FL-WSH-009 owns the workspace
default storage being public as such; FL-DM-010 owns a silo identity's write access to a public account (the
orchestrator's included), to a non-orchestrator account other silos also reach without per-silo confinement (the
workspace default storage first of all), and to an account a principal outside the deployment can read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from flaudit.access import any_coverage_problem, deduplicated
from flaudit.arm import norm
from flaudit.engine import Remediation, rule
from flaudit.findings import Fail, Finding, Pass, Unknown, note
from flaudit.model import Deployment
from flaudit.paths import kind_notes

STORAGE_NETWORK_DOCS = "https://learn.microsoft.com/azure/storage/common/storage-network-security"
EXFIL_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-data-exfiltration-prevention"
ANON_DOCS = "https://learn.microsoft.com/azure/storage/blobs/anonymous-read-access-prevent"
ABAC_DOCS = "https://learn.microsoft.com/azure/storage/blobs/storage-auth-abac-examples"


@rule(
    id="FL-DM-010",
    title="Silo identities write to no public, shared or outsider-readable storage",
    area="data-movement",
    severity="high",
    blocks=("production",),
    rationale="Silo compute can copy its data wherever one of its identities can write. A write (data write "
    "actions, live account keys, or role-admin) into a storage account that is reachable from public networks "
    "(publicNetworkAccess enabled with the firewall allowing by default, or an IP rule; the orchestrator's "
    "storage included, since model updates are derived from silo data), that another silo can also read or write "
    "without a container or ABAC-confined path of its own (the workspace default storage, typically), that a "
    "principal the FL config does not name can read, or that allows anonymous blob access (allowBlobPublicAccess "
    "not false; missing is treated as true because older accounts allow it) is a path out of the silo. The "
    "orchestrator reading the updates it aggregates is the protocol, not a leak. Silos sharing the orchestrator's "
    "storage are FL-ID-008's; writes into other silos' storage FL-ID-004's. A declared administrator's read is "
    "shown as administrative access, not blocking. A role flaudit cannot read, or an account secured by a "
    "network security perimeter (rules not collected), is unknown.",
    remediation=Remediation(
        cli="az storage account update --name <account> --resource-group <rg> --public-network-access Disabled "
        "--allow-blob-public-access false\n"
        "az role assignment delete --assignee <silo-principal-id> --scope <account-id>",
        bicep="resource orchestratorStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  ...\n"
        "  properties: {\n    publicNetworkAccess: 'Disabled'\n    allowBlobPublicAccess: false\n"
        "    networkAcls: { defaultAction: 'Deny', bypass: 'None' }\n  }\n}",
        text="Give silo identities write access only to their own path of a private orchestrator storage (see "
        "FL-ID-008); remove their roles on other accounts, or make those accounts private, confine each silo to a "
        "container or ABAC path of its own, and remove readers outside the FL deployment.",
    ),
    references=(STORAGE_NETWORK_DOCS, EXFIL_DOCS, ANON_DOCS, ABAC_DOCS),
)
@deduplicated
def no_silo_writes_to_sinks(d: Deployment) -> Iterable[Finding]:
    from flaudit.reach import paths_of

    by_identity: dict[tuple[str, str], list] = defaultdict(list)
    for p in paths_of(d, rule_id="FL-DM-010"):
        by_identity[(p.silo, norm(p.source_id))].append(p)
    problem = any_coverage_problem(d)
    if problem is None and (unreadable := d.inventory.unreadable_for("microsoft.storage/storageaccounts")):
        u = unreadable[0]
        problem = (f"storage accounts could not be read at {u.scope or 'some scope'} "
                   f"(HTTP {u.status}: {u.message}), so accounts it can write to may be missing")
    for silo in d.silos:
        if not silo.computes:
            yield Unknown("", f"{silo.name}: no compute was resolved for this silo, so where its identities can "
                          "write is unknown.", silo=silo.name, subject=f"{silo.name}|unresolved",
                          evidence=[note(m) for m in silo.missing])
            continue
        for ident in silo.identities:
            if not ident.principal_id:
                yield Unknown(ident.id, f"{silo.name}: the principal id of {ident.name} is not in the input, so "
                              "where it can write cannot be checked.", silo=silo.name,
                              subject=f"{ident.id}|{silo.name}")
                continue
            found = by_identity.get((silo.name, norm(ident.id)), [])
            by_account: dict[str, list] = defaultdict(list)
            for p in found:
                by_account[p.hops[1].ref].append(p)  # the second hop names the sink account
            for account, paths in by_account.items():
                yield _sink_finding(silo.name, ident.id, account, paths)
            if found:
                continue
            if problem:
                yield Unknown(ident.id, f"{silo.name}: cannot tell where {ident.name} can write: {problem}.",
                              silo=silo.name, evidence=[note(problem)], subject=f"{ident.id}|{silo.name}")
            else:
                yield Pass(ident.id, f"{silo.name}: {ident.name} can write to no public, shared or "
                           "outsider-readable storage account.", silo=silo.name, subject=f"{ident.id}|{silo.name}",
                           evidence=[note("checked every storage account in the input it holds a role on, other "
                                          "than its own silo's (other silos' accounts: FL-ID-004)")])


def _sink_finding(silo: str, identity_id: str, account: str, paths: list) -> Finding:
    """One finding per (silo identity, sink account): fail when any path is a real sink, unknown when one may be,
    pass (administrative, shown) when every path is a declared administrator's read."""
    blocking = [p for p in paths if p.relation != "administrator" and p.kind != "unknown"]
    unknown = [p for p in paths if p.relation != "administrator" and p.kind == "unknown"]
    ev = [p.evidence() for p in paths] + kind_notes([p.kind for p in paths])
    reasons = [p.hops[1].text for p in (blocking or unknown or paths)]
    msg = f"{silo}: {paths[0].hops[0].text}; " + "; ".join(reasons[:3]) + (
        f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
    if blocking:
        cond = " (conditional: every write grant carries an ABAC condition)" if all(p.conditional for p in blocking) \
            else ""
        return Fail(account, msg + cond + ".", silo=silo, evidence=ev, subject=f"{identity_id}|{silo}")
    if unknown:
        return Unknown(account, msg + ".", silo=silo, evidence=ev, subject=f"{identity_id}|{silo}")
    return Pass(account, msg + ": administrative access, shown, not blocking.", silo=silo, evidence=ev,
                subject=f"{identity_id}|{silo}")
