"""Data movement: no copy of a silo's data is already configured to go anywhere but the silo's own account.

The paths come from the data-movement evaluator (flaudit/movement.py): object replication, blob inventory
reports, vaulted backup. Each rule here judges one kind of configured movement per silo; a copy the audit
cannot see (a policy type that was not read) is unknown, never a pass.
"""

from __future__ import annotations

from collections.abc import Iterable

from flaudit.arm import get_path, name_of
from flaudit.engine import Remediation, rule
from flaudit.findings import Fail, Finding, Pass, Unknown, note, prop
from flaudit.model import Deployment, Silo
from flaudit.movement import (
    BACKUP_INSTANCE,
    BACKUP_VAULT,
    DATASET,
    INVENTORY_POLICY,
    ORP,
    RULE_BACKUP,
    RULE_INVENTORY,
    RULE_REPLICATION,
    RULE_SHARE,
    SHARE_ACCOUNT,
    backups,
    inventory_rules,
)
from flaudit.paths import kind_notes
from flaudit.reach import paths_of

ORP_DOCS = "https://learn.microsoft.com/azure/storage/blobs/object-replication-overview"
ORP_REST = "https://learn.microsoft.com/rest/api/storagerp/object-replication-policies"
XTENANT_DOCS = "https://learn.microsoft.com/azure/storage/blobs/object-replication-prevent-cross-tenant-policies"
INVENTORY_DOCS = "https://learn.microsoft.com/azure/storage/blobs/blob-inventory"
INVENTORY_REST = "https://learn.microsoft.com/rest/api/storagerp/blob-inventory-policies"
BACKUP_DOCS = "https://learn.microsoft.com/azure/backup/blob-backup-overview"
BACKUP_REST = "https://learn.microsoft.com/rest/api/dataprotection/backup-instances"
COPY_SCOPE_DOCS = "https://learn.microsoft.com/azure/storage/common/security-restrict-copy-operations"
SHARE_DOCS = "https://learn.microsoft.com/azure/data-share/overview"
SHARE_REST = "https://learn.microsoft.com/rest/api/datashare/data-sets"


def _unresolved(silo: Silo) -> Finding:
    return Unknown("", f"{silo.name}: its storage account could not be resolved, so what copies its data is "
                   "unknown.", silo=silo.name, subject=f"{silo.name}|unresolved",
                   evidence=[note(m) for m in silo.missing] or [note("no storage account resolved")])


def _not_read(d: Deployment, silo: Silo, rtype: str, what: str, *, anywhere: bool = False) -> Finding | None:
    """Unknown when ``rtype`` could not be read for the silo's account (anywhere, with ``anywhere``: a backup
    vault in any scope may protect it), or is not in the input at all."""
    assert silo.storage is not None
    scope = None if anywhere else silo.storage.id
    cov = d.inventory.coverage(rtype, scope)
    if cov == "unreadable":
        u = d.inventory.unreadable_for(rtype, scope)[0]
        return Unknown(silo.storage.id, f"{silo.name}: {what} of {silo.storage.name} could not be read "
                       f"({u.status or 'error'}: {u.message}).", silo=silo.name,
                       evidence=[note(f"{u.resource_type} at {u.scope}: {u.message}")])
    if cov == "absent":
        return Unknown(silo.storage.id, f"{silo.name}: the input holds no {what} ({rtype}), so whether "
                       f"{silo.storage.name}'s data is copied elsewhere is unknown.", silo=silo.name,
                       evidence=[note(f"{rtype} was neither collected nor given")])
    return None


@rule(
    id="FL-DM-001",
    title="No object replication copies silo data to another account",
    area="data-movement",
    severity="high",
    blocks=("production",),
    rationale="Object replication copies every block blob written to the source containers into a destination "
    "account, asynchronously and with no data-plane role: whoever can read the destination reads the silo's "
    "data. The policy sits on both accounts (same policy id) and names sourceAccount and destinationAccount "
    "(account names, or full resource ids when allowCrossTenantReplication is false). A policy read from any "
    "account in the input that names a silo account as source and another account as destination fails: "
    "another silo's, the orchestrator's or the workspace's storage, an account outside the FL deployment, or "
    "one not in the input at all. allowCrossTenantReplication false keeps the destination in the same Entra "
    "tenant; it does not stop the copy. Replication into the silo copies nothing out. Policies that were not "
    "read are unknown.",
    remediation=Remediation(
        cli="az storage account or-policy list --account-name <silo-storage> --resource-group <rg>\n"
        "az storage account or-policy delete --account-name <silo-storage> --resource-group <rg> "
        "--policy-id <policy-id>",
        bicep="// declare no Microsoft.Storage/storageAccounts/objectReplicationPolicies under silo accounts,\n"
        "// and keep allowCrossTenantReplication: false on them",
        text="Delete the replication policy on both accounts, and delete the replicated copies in the destination.",
    ),
    references=(ORP_DOCS, ORP_REST, XTENANT_DOCS),
)
def no_object_replication_out(d: Deployment) -> Iterable[Finding]:
    for silo in d.silos:
        if silo.storage is None:
            yield _unresolved(silo)
            continue
        st = silo.storage
        paths = paths_of(d, silo=silo.name, kinds=("copy",), rule_id=RULE_REPLICATION)
        for p in paths:
            f = Fail(st.id, f"{silo.name}: object replication copies {st.name}'s blobs to {p.outsider_name} "
                     f"({p.relation}).", silo=silo.name, evidence=[p.evidence(), *kind_notes(["copy"])],
                     subject=p.outsider_id)
            if p.relation == "other-silo":
                f.severity = "critical"
            yield f
        if paths:
            continue
        missing = _not_read(d, silo, ORP, "object replication policies")
        if missing is not None:
            yield missing
            continue
        n = sum(1 for _ in d.inventory.of_type(ORP))
        yield Pass(st.id, f"{silo.name}: no object replication policy copies {st.name}'s data to another account.",
                   silo=silo.name, evidence=[note(f"{n} object replication policy(ies) in the input evaluated")])


@rule(
    id="FL-DM-002",
    title="Blob inventory reports of silo storage are readable only by the silo",
    area="data-movement",
    severity="high",
    blocks=("production",),
    rationale="A blob inventory rule writes, daily or weekly, a CSV or Parquet report listing the account's "
    "blobs (names, and the schema fields chosen: metadata, tags, sizes, versions) into a destination "
    "container. The REST API's destination is a container name, so the report always lands in the same "
    "account: the inventory copies nothing out by itself, but the report becomes readable to every principal "
    "with a data role on that container, at the container or above it. Such a principal outside the silo "
    "reads the silo's file names and metadata even with no access to the data containers. Enabled "
    "(missing enabled counts as on) rules of enabled policies are checked; inventory policies that were not "
    "read are unknown.",
    remediation=Remediation(
        cli="az storage account blob-inventory-policy show --account-name <silo-storage> --resource-group <rg>\n"
        "az role assignment delete --ids <assignment-id>",
        bicep="// keep inventory destination containers free of role assignments for principals outside the silo",
        text="Remove the outsider's role on the inventory destination container (or above it), or delete the "
        "inventory rule.",
    ),
    references=(INVENTORY_DOCS, INVENTORY_REST),
)
def inventory_reports_private(d: Deployment) -> Iterable[Finding]:
    for silo in d.silos:
        if silo.storage is None:
            yield _unresolved(silo)
            continue
        st = silo.storage
        paths = paths_of(d, silo=silo.name, kinds=("copy",), rule_id=RULE_INVENTORY)
        for p in paths:
            if p.relation == "administrator":  # a declared administrator's path is shown, never blocking
                yield Pass(st.id, f"{silo.name}: declared administrator {p.outsider_name} can read the blob "
                           f"inventory report of {st.name} (administrative access).", silo=silo.name,
                           evidence=[p.evidence()], subject=p.outsider_id)
                continue
            cond = " (conditional: every grant carries an ABAC condition; production treats it as access)" \
                if p.conditional else ""
            yield Fail(st.id, f"{silo.name}: {p.outsider_name} ({p.relation}) can read the blob inventory report "
                       f"that lists {st.name}'s blobs{cond}.", silo=silo.name,
                       evidence=[p.evidence(), *kind_notes(["copy"])], subject=p.outsider_id)
        if any(p.relation != "administrator" for p in paths):
            continue
        missing = _not_read(d, silo, INVENTORY_POLICY, "blob inventory policies")
        if missing is not None:
            yield missing
            continue
        rules = inventory_rules(d, silo)
        if rules:
            problem = d.rbac.coverage_problem(st.id)
            if problem:
                yield Unknown(st.id, f"{silo.name}: cannot tell who reads {st.name}'s inventory reports: {problem}.",
                              silo=silo.name, evidence=[note(problem)])
                continue
            yield Pass(st.id, f"{silo.name}: {st.name}'s inventory reports ({', '.join(sorted({r.container for r in rules}))}) "
                       "stay readable only by the silo.", silo=silo.name,
                       evidence=[prop(r.policy["id"], f"properties.policy.rules[{r.name}].destination", r.container)
                                 for r in rules])
        else:
            yield Pass(st.id, f"{silo.name}: {st.name} has no enabled blob inventory rule.", silo=silo.name)


@rule(
    id="FL-DM-003",
    title="No vaulted backup copies silo data into a backup vault",
    area="data-movement",
    severity="high",
    blocks=("production",),
    rationale="Azure Backup for blobs has two tiers. Vaulted backup (a backup policy rule with a VaultStore data "
    "store) copies the blobs into the Backup vault, where Backup Contributors, Backup Operators and the vault's "
    "own administrators can restore them to another storage account: a copy outside the silo that the silo's "
    "role assignments do not govern. Operational backup (OperationalStore only) keeps the data in the source "
    "account (versioning, soft delete, point-in-time restore) and restores into it, so it is no copy. Every "
    "Microsoft.DataProtection/backupVaults/backupInstances whose data source is a silo account is read; a "
    "backup instance whose policy is not in the input is unknown (it may be vaulted). The identity the vault "
    "reads with and its roles on the account are in the evidence. A vault outside the collected scope still "
    "needs a role on the account (Storage Account Backup Contributor), which the role-based rules report.",
    remediation=Remediation(
        cli="az dataprotection backup-instance list --resource-group <rg> --vault-name <vault>\n"
        "az dataprotection backup-instance delete --name <instance> --resource-group <rg> --vault-name <vault>",
        bicep="// protect silo accounts with operational backup only (policy data store OperationalStore),\n"
        "// or keep vaulted backups in a vault the silo's data owner alone administers",
        text="Use operational backup for silo accounts, or stop the vaulted backup and delete its recovery points.",
    ),
    references=(BACKUP_DOCS, BACKUP_REST),
)
def no_vaulted_backup(d: Deployment) -> Iterable[Finding]:
    for silo in d.silos:
        if silo.storage is None:
            yield _unresolved(silo)
            continue
        st = silo.storage
        found = backups(d, silo)
        paths = {p.hops[0].ref.lower(): p for p in paths_of(d, silo=silo.name, kinds=("copy",), rule_id=RULE_BACKUP)}
        for b in found:
            ev = [prop(b.instance["id"], "properties.dataSourceInfo.resourceID",
                       get_path(b.instance, "properties.dataSourceInfo.resourceID"))]
            if b.policy is not None:
                ev.append(prop(b.policy["id"], "properties.policyRules[*].dataStoreType", list(b.stores)))
            name = b.instance.get("name") or name_of(b.instance["id"])
            p = paths.get(b.instance["id"].lower())
            if p is not None:
                ev = [p.evidence(), *ev, *kind_notes(["copy"])]
            if b.policy is None:
                yield Unknown(b.instance["id"], f"{silo.name}: backup instance {name} in vault {name_of(b.vault_id)} "
                              f"protects {st.name}, but its policy is not in the input: it may copy the data into "
                              "the vault.", silo=silo.name, evidence=ev, subject=b.vault_id)
            elif b.vaulted:
                yield Fail(b.instance["id"], f"{silo.name}: vaulted backup {name} copies {st.name}'s data into "
                           f"vault {name_of(b.vault_id)} ({', '.join(b.stores)}).", silo=silo.name, evidence=ev,
                           subject=b.vault_id)
            else:
                yield Pass(b.instance["id"], f"{silo.name}: backup instance {name} is operational only: the data "
                           f"stays in {st.name}.", silo=silo.name, evidence=ev, subject=b.vault_id)
        if found:
            continue
        vaults = d.inventory.coverage(BACKUP_VAULT)
        if vaults == "collected" and not d.inventory.of_type(BACKUP_VAULT):
            yield Pass(st.id, f"{silo.name}: no backup vault in the collected scope protects {st.name}.",
                       silo=silo.name)
            continue
        missing = _not_read(d, silo, BACKUP_INSTANCE, "backup instances", anywhere=True)
        if missing is not None:
            yield missing
            continue
        yield Pass(st.id, f"{silo.name}: no backup instance protects {st.name}.", silo=silo.name,
                   evidence=[note(f"{len(d.inventory.of_type(BACKUP_INSTANCE))} backup instance(s) in the input "
                                  "evaluated")])


@rule(
    id="FL-DM-004",
    title="Silo storage restricts the source of copy operations (allowedCopyScope)",
    area="data-movement",
    severity="low",
    blocks=(),
    rationale="allowedCopyScope (portal: Permitted scope for copy operations) is enforced by the DESTINATION "
    "account of a Copy Blob / Copy Blob From URL request: AAD admits sources in the same Entra tenant only, "
    "PrivateLink only sources with a private link to the same virtual network; missing means any account. On "
    "a silo account it therefore limits what can be copied INTO the silo (poisoned or foreign data), not what "
    "leaves it: copies out are limited by the destination's own setting, by allowCrossTenantReplication for "
    "object replication, and by the silo's network rules and roles. Reported as hardening; it blocks no "
    "profile.",
    remediation=Remediation(
        cli="az storage account update --name <silo-storage> --resource-group <rg> --allowed-copy-scope PrivateLink",
        bicep="resource siloStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  ...\n"
        "  properties: { allowedCopyScope: 'PrivateLink' }\n}",
        text="Set allowedCopyScope to PrivateLink (or AAD) on every silo account.",
    ),
    references=(COPY_SCOPE_DOCS,),
)
def copy_scope_restricted(d: Deployment) -> Iterable[Finding]:
    for silo in d.silos:
        if silo.storage is None:
            yield _unresolved(silo)
            continue
        st = silo.storage
        value = st.prop("properties.allowedCopyScope")
        ev = [prop(st.id, "properties.allowedCopyScope", value, default_assumed=value is None,
                   default_note="missing means copies from any account are accepted" if value is None else None),
              note("allowedCopyScope limits the sources of copies into this account, not copies out of it")]
        if str(value).lower() in ("privatelink", "aad"):
            yield Pass(st.id, f"{silo.name}: {st.name} accepts copies only from {value} sources.", silo=silo.name,
                       evidence=ev)
        elif value is None:
            yield Fail(st.id, f"{silo.name}: {st.name} accepts Copy Blob requests from any account "
                       "(allowedCopyScope not set).", silo=silo.name, evidence=ev)
        else:
            yield Unknown(st.id, f"{silo.name}: {st.name}'s allowedCopyScope {value!r} is not a value flaudit "
                          "knows.", silo=silo.name, evidence=ev)


@rule(
    id="FL-DM-005",
    title="No Azure Data Share shares silo data",
    area="data-movement",
    severity="high",
    blocks=("production",),
    rationale="An Azure Data Share data set (Microsoft.DataShare/accounts/shares/dataSets of kind Blob, BlobFolder, "
    "Container or AdlsGen2File/Folder/FileSystem) names a storage account by storageAccountName, subscriptionId "
    "and resourceGroup; the share then sends snapshots of that data to every consumer who accepts one of its "
    "invitations, in any Entra tenant. A data set on a silo account is a copy of the silo's data outside the "
    "FL deployment. With Data Share accounts in the input, data sets that were not read are unknown; with "
    "Data Share accounts collected and none present, there is no share.",
    remediation=Remediation(
        cli="az datashare dataset list --account-name <account> --share-name <share> --resource-group <rg>\n"
        "az datashare dataset delete --account-name <account> --share-name <share> --name <dataset> "
        "--resource-group <rg>",
        bicep="// declare no Microsoft.DataShare/accounts/shares/dataSets on silo storage accounts",
        text="Delete the data set (and revoke the share subscriptions that received snapshots).",
    ),
    references=(SHARE_DOCS, SHARE_REST),
)
def no_data_share(d: Deployment) -> Iterable[Finding]:
    for silo in d.silos:
        if silo.storage is None:
            yield _unresolved(silo)
            continue
        st = silo.storage
        paths = paths_of(d, silo=silo.name, kinds=("copy",), rule_id=RULE_SHARE)
        for p in paths:
            yield Fail(p.hops[0].ref, f"{silo.name}: Data Share {p.outsider_name} shares {st.name}'s data with "
                       "consumers outside the deployment.", silo=silo.name,
                       evidence=[p.evidence(), *kind_notes(["copy"])], subject=p.outsider_id)
        if paths:
            continue
        accounts = d.inventory.coverage(SHARE_ACCOUNT)
        if accounts == "collected" and not d.inventory.of_type(SHARE_ACCOUNT):
            yield Pass(st.id, f"{silo.name}: no Data Share account in the collected scope.", silo=silo.name)
            continue
        missing = _not_read(d, silo, DATASET, "Data Share data sets", anywhere=True)
        if missing is not None:
            yield missing
            continue
        yield Pass(st.id, f"{silo.name}: no Data Share data set reads {st.name}.", silo=silo.name)
