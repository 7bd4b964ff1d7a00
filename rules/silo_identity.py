"""Silo identity: each silo's compute runs as an identity of its own that reaches its own data and nothing else.

Every access question here is answered by the one evaluator (``d.rbac``, flaudit/rbac.py) and the shared
classification helpers in flaudit/access.py; this module only decides what each answer means for a silo.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from flaudit.access import (
    any_coverage_problem,
    cached_principal_names,
    chain_evidence,
    deduplicated,
    deny_notes,
    managing_tenant,
    shared_keys_allowed,
    split_inert,
    storage_reach,
)
from flaudit.arm import get_path, is_within, norm
from flaudit.conditions import parse, syntax_error
from flaudit.confinement import WitnessIndex, reached, witnesses_of
from flaudit.engine import Remediation, rule
from flaudit.findings import Fail, Finding, Pass, Unknown, note, prop
from flaudit.identities import auxiliary_identities
from flaudit.model import Deployment, Identity, Silo, StorageAccount
from flaudit.paths import kind_notes
from flaudit.rbac import READ_DATA_ACTIONS, WRITE_DATA_ACTIONS, Access

BOTH = ("prototype", "production")
FL_PERMS_BICEP = ("https://github.com/Azure-Samples/azure-ml-federated-learning/blob/main/mlops/bicep/modules/"
                  "permissions/msi_storage_rw.bicep")
AML_IDENTITY_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication"
RBAC_DOCS = "https://learn.microsoft.com/azure/role-based-access-control/overview"
BLOB_RBAC_DOCS = "https://learn.microsoft.com/azure/storage/blobs/authorize-access-azure-active-directory"
SHARED_KEY_DOCS = "https://learn.microsoft.com/azure/storage/common/shared-key-authorization-prevent"
ABAC_DOCS = "https://learn.microsoft.com/azure/storage/blobs/storage-auth-abac-examples"
UAI_DOCS = "https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/overview"
#: Kinds that reach another silo's data (role-admin has its own rule, FL-ID-007).
CROSS_KINDS = ("data", "keys", "delegation", "mgmt-write", "copy", "unknown")


class _Principal(NamedTuple):
    """A principal that acts for a silo: a compute identity, or an Entra group the FL config assigns to it (a
    tuple: one per silo principal, read by every identity rule)."""

    id: str  # normalised principal id
    name: str
    anchor: str  # resource id findings about this principal hang on
    kind: str  # user-assigned | system-assigned | group
    key: str  # norm(id): how storage_reach and the RBAC index name it (worked out once, not per rule)


def _data_identities(d: Deployment, silo: Silo) -> list[Identity]:
    """The identities the silo reads its data as: user-assigned ones (system-assigned only when it has none),
    without auxiliary identities (attached to silo computes, reaching no silo or orchestrator storage: an
    AcrPull-only identity) unless those are all it has."""
    idents = silo.user_assigned or silo.identities
    aux = auxiliary_identities(d)
    return [i for i in idents if norm(i.id) not in aux] or idents


def _silo_facts(d: Deployment, silo: Silo) -> tuple[Silo, tuple[_Principal, ...], tuple[Identity, ...]]:
    """(silo, its principals: its data identities (:func:`_data_identities`) and its groups, its identities without
    a principal id), worked out once per silo: every identity rule asks for both. The principals depend on the
    deployment's auxiliary identities and principal names, each computed once per deployment too."""
    cache = d.__dict__.setdefault("_rules_principals", {})
    hit = cache.get(id(silo))
    if hit is None or hit[0] is not silo:  # the silo is kept beside its principals, so its id is not reused
        hit = cache[id(silo)] = (silo, tuple(_silo_principals(d, silo)), tuple(_missing_principals(silo)))
    return hit


def _silo_principals(d: Deployment, silo: Silo) -> list[_Principal]:
    idents = _data_identities(d, silo)
    out = [_Principal(pid, i.name, i.id, i.kind, norm(pid)) for i in idents if i.principal_id
           for pid in (norm(i.principal_id),)]
    names = cached_principal_names(d)
    out += [_Principal(g, names.get(g, f"group {g}"), g, "group", norm(g)) for g in silo.groups]
    return out


def _missing_principals(silo: Silo) -> list[Identity]:
    return [i for i in (silo.user_assigned or silo.identities) if not i.principal_id]


def _unresolved(silo: Silo, what: str) -> Finding:
    anchor = silo.datastore.id if silo.datastore else (silo.computes[0].id if silo.computes else "")
    return Unknown(anchor, f"{silo.name}: {what}, so its identity's access cannot be checked.", silo=silo.name,
                   evidence=[note(m) for m in silo.missing] or [note(what)], subject=f"{silo.name}|unresolved")


def _no_principal(d: Deployment, silo: Silo) -> Finding | None:
    """An Unknown when the silo's identities lack principal ids (role assignments name principal ids)."""
    missing = _silo_facts(d, silo)[2]
    return _missing_principal_finding(silo, missing) if missing else None


def _missing_principal_finding(silo: Silo, missing: tuple[Identity, ...]) -> Finding:
    return Unknown(missing[0].id, f"{silo.name}: the principal id of {', '.join(i.name for i in missing)} is not "
                   "in the input (neither the compute's identity block nor the identity resource), so its role "
                   "assignments cannot be matched.", silo=silo.name, subject=f"{silo.name}|principal",
                   evidence=[note(f"identity {i.id} has no principalId in the inventory") for i in missing])


def each_silo_principal(d: Deployment, check: Callable[[Silo, _Principal], Iterable[Finding]]) -> Iterator[Finding]:
    """``check(silo, principal)`` for every principal acting for every silo whose compute was resolved.

    Fails closed before that: a silo without a resolved compute is unknown (there is no identity to ask
    about), and identities without a principal id are reported unknown (role assignments name principal ids)
    while the silo's other principals are still checked.
    """
    for silo in d.silos:
        if not silo.computes:
            yield _unresolved(silo, "no compute was resolved for this silo")
            continue
        _, principals, missing = _silo_facts(d, silo)
        if missing:
            yield _missing_principal_finding(silo, missing)
        for p in principals:
            yield from check(silo, p)


def _foreign_owner(d: Deployment, silo: Silo, st: StorageAccount) -> Silo | None:
    """The other silo whose storage ``st`` is (None for the silo's own account or a non-silo account)."""
    other = d.silo_by_storage.get(norm(st.id))
    if other is None or other is silo or (silo.storage is not None and norm(silo.storage.id) == norm(st.id)):
        return None
    return other


def _silo_storages(d: Deployment) -> list[tuple[Silo, StorageAccount, str]]:
    """Every silo with a storage account, with the account's normalised id, in silo order (once per deployment:
    FL-ID-004 asks for the others of each silo)."""
    cached = d.__dict__.get("_rules_silo_storages")
    if cached is None:
        cached = d.__dict__["_rules_silo_storages"] = [(s, s.storage, norm(s.storage.id)) for s in d.silos
                                                       if s.storage]
    return cached


def _other_silo_storages(d: Deployment, silo: Silo, limit: int | None = None) -> list[tuple[Silo, StorageAccount]]:
    """Other silos and their storage (accounts shared with this silo excluded); the first ``limit`` only."""
    own = norm(silo.storage.id) if silo.storage else None
    out = []
    for s, st, key in _silo_storages(d):
        if s is not silo and key != own:
            out.append((s, st))
            if limit is not None and len(out) >= limit:
                break
    return out


def _count_other_silo_storages(d: Deployment, silo: Silo) -> int:
    """How many other silos' storage accounts there are (by lookup, for per-silo messages)."""
    own = norm(silo.storage.id) if silo.storage else None
    total = len(d.silo_by_storage)
    return total - (1 if own in d.silo_by_storage else 0)


# ---------------------------------------------------------------------------------------------------------

@rule(
    id="FL-ID-001",
    title="Each silo compute runs as a user-assigned managed identity",
    area="silo-identity",
    severity="high",
    blocks=BOTH,
    rationale="Silo data access is granted to the identity the compute runs as. A user-assigned identity is "
    "created for the silo, survives compute re-creation and can be granted exactly the silo's storage. A compute "
    "with no identity cannot use identity-based datastores; a system-assigned-only compute ties the grants to one "
    "compute's lifetime and is easy to miss when the compute is replaced. A missing 'identity' block means the "
    "compute has no managed identity (Azure default).",
    remediation=Remediation(
        cli="az identity create --name uai-<silo> --resource-group <rg>\n"
        "az ml compute create --name <silo>-01 --type AmlCompute --identity-type UserAssigned "
        "--user-assigned-identities <uai-resource-id> --workspace-name <ws> --resource-group <rg>",
        bicep="resource siloCompute 'Microsoft.MachineLearningServices/workspaces/computes@2024-10-01' = {\n"
        "  name: '${workspace.name}/${siloName}-01'\n  location: location\n"
        "  identity: {\n    type: 'UserAssigned'\n    userAssignedIdentities: { '${siloIdentity.id}': {} }\n  }\n"
        "  properties: { computeType: 'AmlCompute', properties: { vmSize: 'STANDARD_DS3_V2' } }\n}",
        text="Create one user-assigned identity per silo and attach it to that silo's computes only.",
    ),
    references=(AML_IDENTITY_DOCS, UAI_DOCS),
)
@deduplicated
def compute_has_user_assigned_identity(d: Deployment) -> Iterable[Finding]:
    for silo in d.silos:
        if not silo.computes:
            yield _unresolved(silo, "no compute was resolved for this silo")
            continue
        for c in silo.computes:
            itype = get_path(c.raw, "identity.type")
            ev = [prop(c.id, "identity.type", itype, default_assumed=itype is None,
                       default_note="missing means no managed identity (Azure default)" if itype is None else None)]
            if c.user_assigned:
                ev.append(prop(c.id, "identity.userAssignedIdentities", [i.id for i in c.user_assigned]))
                yield Pass(c.id, f"{silo.name}: compute {c.name} runs as user-assigned identity "
                           f"{', '.join(i.name for i in c.user_assigned)}.", silo=silo.name, evidence=ev)
            elif c.identities:
                yield Fail(c.id, f"{silo.name}: compute {c.name} has only a system-assigned identity; give it a "
                           "user-assigned identity of the silo's own.", silo=silo.name, evidence=ev)
            else:
                yield Fail(c.id, f"{silo.name}: compute {c.name} has no managed identity.", silo=silo.name,
                           evidence=ev)


@rule(
    id="FL-ID-002",
    title="A silo's identity is not shared with another silo or the orchestrator",
    area="silo-identity",
    severity="critical",
    blocks=BOTH,
    rationale="Whatever one silo's identity may read, every compute running as it may read. An identity shared by "
    "two silos (or by a silo and the orchestrator or the workspace) makes their data one trust domain: code "
    "running in either silo reaches both silos' storage. An identity that reaches no silo's or orchestrator's "
    "storage account at all (an AcrPull-only identity attached to every compute, say) carries no silo data: "
    "sharing it passes, with the evidence that it reaches none (unknown role assignments make nothing auxiliary).",
    remediation=Remediation(
        cli="az identity create --name uai-<silo> --resource-group <rg>\n"
        "az ml compute update --name <silo>-01 --identity-type UserAssigned "
        "--user-assigned-identities <new-uai-id> --workspace-name <ws> --resource-group <rg>",
        bicep="resource siloIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = "
        "[for silo in silos: {\n  name: 'uai-${silo.name}'\n  location: location\n}]",
        text="Create a separate user-assigned identity per silo, move each silo's role assignments to it, and "
        "detach the shared identity.",
    ),
    references=(AML_IDENTITY_DOCS, UAI_DOCS),
)
@deduplicated
def identity_not_shared(d: Deployment) -> Iterable[Finding]:
    owners: dict[str, list[str]] = defaultdict(list)
    for s in d.silos:
        for i in s.identities:
            for key in {norm(i.id), norm(i.principal_id)} - {""}:
                if s.name not in owners[key]:
                    owners[key].append(s.name)
    non_silo: dict[str, str] = {}
    for i in d.orchestrator.identities:
        for key in {norm(i.id), norm(i.principal_id)} - {""}:
            non_silo[key] = "the orchestrator"
    for i in (d.workspace.identities if d.workspace else []):
        for key in {norm(i.id), norm(i.principal_id)} - {""}:
            non_silo.setdefault(key, "the workspace")
    aux = auxiliary_identities(d)
    for silo in d.silos:
        if not silo.computes:
            yield _unresolved(silo, "no compute was resolved for this silo")
            continue
        if not silo.identities:
            yield Fail(silo.computes[0].id, f"{silo.name}: its computes run as no managed identity (see FL-ID-001).",
                       silo=silo.name, subject=silo.name)
            continue
        for i in silo.identities:
            iid = norm(i.id)
            keys = {iid, norm(i.principal_id)} - {""}
            sharers = sorted({o for k in keys for o in owners.get(k, []) if o != silo.name})
            sharers += sorted({non_silo[k] for k in keys if k in non_silo})
            users = [c.id for c in d.computes_by_identity.get(iid, [])]
            ev = [prop(c, "identity.userAssignedIdentities" if i.kind == "user-assigned" else "identity.principalId",
                       i.id if i.kind == "user-assigned" else i.principal_id) for c in users]
            ev.append(note(f"{i.name}: principal id {i.principal_id}"))
            if sharers and iid in aux:
                yield Pass(i.id, f"{silo.name}: identity {i.name} is also used by {', '.join(sharers)}, but it "
                           "reaches no silo's or orchestrator's storage, so it is not a shared silo identity.",
                           silo=silo.name, evidence=ev + [note(aux[iid])], subject=silo.name)
            elif sharers:
                yield Fail(i.id, f"{silo.name}: identity {i.name} is also used by {', '.join(sharers)}.",
                           silo=silo.name, evidence=ev, subject=silo.name)
            else:
                yield Pass(i.id, f"{silo.name}: identity {i.name} is used by this silo only.", silo=silo.name,
                           evidence=ev, subject=silo.name)


@rule(
    id="FL-ID-003",
    title="Silo identities have the data access training needs",
    area="silo-identity",
    severity="high",
    blocks=BOTH,
    rationale="With identity-based datastores (the FL sample's), the silo compute reads its training data as its "
    "identity and writes its model update to the orchestrator's storage. Without a data role on its own storage "
    "(or with one removed by a deny assignment) or without write access to the orchestrator's storage the training "
    "job fails. Key-only grants do not count: the sample disables shared-key access.",
    remediation=Remediation(
        cli="az role assignment create --assignee-object-id <silo-principal-id> --assignee-principal-type "
        "ServicePrincipal --role 'Storage Blob Data Contributor' --scope <silo-storage-id>",
        bicep="resource siloData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {\n"
        "  scope: siloStorage\n  name: guid(siloStorage.id, siloIdentity.id, blobDataContributor)\n"
        "  properties: {\n    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', "
        "'ba92f5b4-2d11-453d-a403-e96b0029c9fe')\n    principalId: siloIdentity.properties.principalId\n"
        "    principalType: 'ServicePrincipal'\n  }\n}",
        text="Grant each silo identity Storage Blob Data Contributor (or Reader for read-only data) on its own "
        "storage, and write access on its own path of the orchestrator's storage (see FL-ID-008).",
    ),
    references=(BLOB_RBAC_DOCS, AML_IDENTITY_DOCS, FL_PERMS_BICEP),
)
@deduplicated
def silo_has_own_data_access(d: Deployment) -> Iterable[Finding]:
    for silo in d.silos:
        if not silo.computes:
            yield _unresolved(silo, "no compute was resolved for this silo")
            continue
        if silo.storage is None:
            yield _unresolved(silo, "its storage account could not be resolved")
            continue
        idents = silo.user_assigned or silo.identities
        if not idents:
            yield Fail(silo.storage.id, f"{silo.name}: its computes run as no managed identity, so nothing can read "
                       f"{silo.storage.name} for training.", silo=silo.name, subject=f"{silo.name}|none")
            continue
        if (missing := _no_principal(d, silo)) is not None:
            yield missing
        orch = d.orchestrator.storage
        for p in (x for x in _silo_facts(d, silo)[1] if x.kind != "group"):
            yield _needs(d, silo, p, silo.storage, "read its training data", write=False)
            if orch is None:
                yield Unknown("", f"{silo.name}: the orchestrator's storage account could not be resolved, so "
                              f"whether {p.name} can write its model updates is unknown.", silo=silo.name,
                              subject=f"{p.id}|orchestrator",
                              evidence=[note(m) for m in d.orchestrator.missing] or
                              [note("the FL config names no orchestrator datastore")])
            else:
                yield _needs(d, silo, p, orch, "write its model updates", write=True)


def _needs(d: Deployment, silo: Silo, p: _Principal, st: StorageAccount, purpose: str, *, write: bool) -> Finding:
    acc = d.rbac.shared_access(p.id, st.id)
    # training runs as the identity's *active* assignments: a PIM-eligible one must be activated first
    data = [g for g in acc.grants if g.kind == "data" and not g.assignment.eligible]
    needed = WRITE_DATA_ACTIONS if write else READ_DATA_ACTIONS
    ok = [g for g in data if g.action in needed]
    subject = f"{p.id}|{'write' if write else 'read'}"
    ev = chain_evidence(ok or data, p.name) + deny_notes(acc)
    if ok:
        cond = " (conditionally: the assignment carries an ABAC condition)" if all(g.conditional for g in ok) else ""
        return Pass(st.id, f"{silo.name}: {p.name} can {purpose} in {st.name}{cond}.", silo=silo.name,
                    evidence=ev, subject=subject)
    problem = d.rbac.coverage_problem(st.id)
    if problem:
        return Unknown(st.id, f"{silo.name}: cannot tell whether {p.name} can {purpose} in {st.name}: {problem}.",
                       silo=silo.name, evidence=ev + [note(problem)], subject=subject)
    groups = [g for g in silo.groups if d.rbac.shared_access(g, st.id).has("data")]
    if groups:
        return Unknown(st.id, f"{silo.name}: {p.name} has no data role on {st.name} itself; the silo's group(s) "
                       f"{', '.join(groups)} do, but group membership cannot be read without Microsoft Graph.",
                       silo=silo.name, evidence=ev, subject=subject)
    why = "its data grants are removed by a deny assignment" if acc.denied else "no data role reaches it"
    return Fail(st.id, f"{silo.name}: {p.name} cannot {purpose} in {st.name} ({why}); training will fail.",
                silo=silo.name, evidence=ev or [note(f"no role assignment grants {p.name} a "
                                                     f"{'write' if write else 'read'} data action on {st.name}")],
                subject=subject)


@rule(
    id="FL-ID-004",
    title="Silo identities have no access to other silos' storage",
    area="silo-identity",
    severity="critical",
    blocks=BOTH,
    rationale="The point of a silo is that its data is reachable only from its own compute. A silo identity "
    "holding data, key/SAS, user-delegation or management-write (Contributor-like: it can re-enable shared keys "
    "or public access) rights on another silo's account, directly or inherited from a resource group, "
    "subscription or management group, lets code in one silo read another's data; so do copy rights "
    "(object replication, blob inventory, point-in-time restore, data sharing: kind copy) and PIM-eligible "
    "assignments of any of these (kind eligible: the principal can activate them at any time). Role-admin rights are "
    "reported by FL-ID-007; key grants on accounts with allowSharedKeyAccess false by FL-ID-006 (missing means "
    "true, Azure's default). A role definition flaudit cannot read is unknown, not a pass.",
    remediation=Remediation(
        cli="az role assignment list --assignee <silo-principal-id> --all --include-inherited -o table\n"
        "az role assignment delete --ids <assignment-id>",
        bicep="// assign silo roles at the silo's own storage account scope only:\n"
        "resource siloData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {\n  scope: siloStorage  "
        "// never resourceGroup() or subscription()\n  ...\n}",
        text="Delete the assignment shown in the evidence (or move it down to the silo's own storage account).",
    ),
    references=(RBAC_DOCS, "https://learn.microsoft.com/azure/role-based-access-control/scope-overview"),
)
@deduplicated
def no_cross_silo_access(d: Deployment) -> Iterable[Finding]:
    # Who reaches each silo's storage is computed once per account (the evaluator indexes assignments by
    # scope), then read per principal: no silo x silo x assignment scan.
    reach = storage_reach(d)
    problems_by_silo = {o.name: problem for o in d.silos
                        if o.storage is not None and (problem := d.rbac.coverage_problem(o.storage.id))}
    # A silo whose storage could not be resolved cannot be shown to be out of reach (fail closed).
    problems_by_silo.update({o.name: "its storage account could not be resolved (" + "; ".join(o.missing) + ")"
                             for o in d.silos if o.storage is None})

    def check(silo: Silo, p: _Principal) -> Iterator[Finding]:
        failed = unknown = False
        reached = set()
        for st, acc in reach.get(p.key, ()):
            if (other := _foreign_owner(d, silo, st)) is None:
                continue
            live, _inert = split_inert(acc, st.raw)
            live = [g for g in live if g.kind in CROSS_KINDS]
            kinds = sorted({g.kind for g in live})
            if not kinds:
                continue
            reached.add(other.name)
            eligible = ["eligible"] if any(g.eligible for g in live) else []
            ev = chain_evidence(live, p.name) + deny_notes(acc) + kind_notes(kinds + eligible)
            if any(k != "unknown" for k in kinds):
                failed = True
                cond = " (conditional: every granting assignment carries an ABAC condition)" \
                    if all(g.conditional for g in live if g.kind != "unknown") else ""
                if eligible:
                    cond += " (PIM-eligible)" if all(g.eligible for g in live) else " (partly PIM-eligible)"
                yield Fail(st.id, f"{silo.name}: {p.name} has {', '.join(k for k in kinds if k != 'unknown')} "
                           f"access to {other.name}'s storage {st.name}{cond}.", silo=silo.name, evidence=ev,
                           subject=p.id)
            else:
                unknown = True
                yield Unknown(st.id, f"{silo.name}: {p.name} holds a role flaudit cannot read on {other.name}'s "
                              f"storage {st.name}; it may grant access.", silo=silo.name, evidence=ev,
                              subject=p.id)
        if failed or unknown:
            return
        problems = [f"{name}: {problem}" for name, problem in problems_by_silo.items()
                    if name != silo.name and name not in reached]
        if problems:
            yield Unknown(p.anchor, f"{silo.name}: cannot tell whether {p.name} reaches other silos' storage: "
                          + "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5
                                                       else "") + ".",
                          silo=silo.name, evidence=[note(x) for x in problems[:20]], subject=p.id)
        else:
            others = _other_silo_storages(d, silo, limit=11)
            count = _count_other_silo_storages(d, silo)
            names = ", ".join(st.name for _, st in others[:10]) + (f" and {count - 10} more"
                                                                   if count > 10 else "")
            yield Pass(p.anchor, f"{silo.name}: {p.name} has no access to the storage of the "
                       f"{count} other silo(s).", silo=silo.name, subject=p.id,
                       evidence=[note(f"checked {names}: no data, key, delegation or management-write "
                                      "grant")] if others else [])

    yield from each_silo_principal(d, check)


@rule(
    id="FL-ID-005",
    title="Silo identities hold no working storage-key or SAS rights",
    area="silo-identity",
    severity="high",
    blocks=("production",),
    rationale="A storage account key is full, unaudited access to the whole account, usable from anywhere the "
    "network allows, and outlives the compute that fetched it. Key-bearing roles (listKeys, regenerateKey, "
    "ListAccountSas, listServiceSas: Storage Account Key Operator Service Role, Reader and Data Access, "
    "Contributor) work while the account's allowSharedKeyAccess is not false; missing means true (Azure "
    "default). Grants on other silos' accounts are reported by FL-ID-004.",
    remediation=Remediation(
        cli="az storage account update --name <account> --resource-group <rg> --allow-shared-key-access false\n"
        "az role assignment delete --assignee <silo-principal-id> --role 'Storage Account Key Operator Service Role' "
        "--scope <storage-id>\n"
        "az role assignment delete --assignee <silo-principal-id> --role 'Reader and Data Access' --scope <storage-id>",
        bicep="resource siloStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  ...\n"
        "  properties: { allowSharedKeyAccess: false }\n}",
        text="Disable shared-key access on the account and remove the key-bearing roles; identity-based "
        "datastores need only a blob data role.",
    ),
    references=(SHARED_KEY_DOCS, FL_PERMS_BICEP),
    policy=("8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54",),  # Storage accounts should prevent shared key access
)
@deduplicated
def no_live_key_access(d: Deployment) -> Iterable[Finding]:
    yield from _key_findings(d, live=True)


@rule(
    id="FL-ID-006",
    title="Key-bearing roles on accounts with shared keys disabled (excessive but inert)",
    area="silo-identity",
    severity="low",
    blocks=(),
    rationale="With allowSharedKeyAccess false, listKeys still returns keys but the account rejects them, so a "
    "key-bearing role is inert. It is still excess privilege: re-enabling shared keys (anyone with "
    "Microsoft.Storage/storageAccounts/write) turns it live. The Azure ML FL sample grants Storage Account Key "
    "Operator Service Role and Reader and Data Access to every silo identity by default "
    "(mlops/bicep/modules/permissions/msi_storage_rw.bicep).",
    remediation=Remediation(
        cli="az role assignment delete --assignee <silo-principal-id> --role 'Storage Account Key Operator Service Role' "
        "--scope <storage-id>\n"
        "az role assignment delete --assignee <silo-principal-id> --role 'Reader and Data Access' --scope <storage-id>",
        bicep="// FL sample: mlops/bicep/modules/permissions/msi_storage_rw.bicep\n"
        "module siloPermissions './modules/permissions/msi_storage_rw.bicep' = {\n  name: 'silo-msi-storage'\n"
        "  params: {\n    storageAccountServiceId: siloStorage.id\n"
        "    identityPrincipalId: siloIdentity.properties.principalId\n"
        "    // keep only Storage Blob Data Contributor; drop Key Operator (81a9662b-...) and Reader and Data "
        "Access (c12c1c16-...)\n"
        "    computeToStorageRoles: [\n      '/subscriptions/${subscription().subscriptionId}/providers/"
        "Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe'\n    ]\n  }\n}",
        text="The Azure ML FL sample grants Storage Account Key Operator Service Role and Reader and Data Access by "
        "default (mlops/bicep/modules/permissions/msi_storage_rw.bicep, parameter computeToStorageRoles). Pass "
        "computeToStorageRoles with only Storage Blob Data Contributor when deploying, and delete the existing "
        "key-bearing assignments with the az commands above.",
    ),
    references=(SHARED_KEY_DOCS, FL_PERMS_BICEP),
)
@deduplicated
def inert_key_roles(d: Deployment) -> Iterable[Finding]:
    yield from _key_findings(d, live=False)


def _key_findings(d: Deployment, *, live: bool) -> Iterable[Finding]:
    """Key grants of each silo principal on every storage account (live or inert ones, per ``live``)."""
    reach = storage_reach(d)

    def check(silo: Silo, p: _Principal) -> Iterator[Finding]:
        found = False
        for st, acc in reach.get(p.key, ()):
            owner_silo = _foreign_owner(d, silo, st)
            if live and owner_silo is not None:
                continue  # FL-ID-004
            keys = acc.of("keys")
            if not keys or shared_keys_allowed(st.raw) != live:
                continue
            found = True
            value = get_path(st.raw, "properties.allowSharedKeyAccess")
            ev = [prop(st.id, "properties.allowSharedKeyAccess", value, default_assumed=value is None,
                       default_note="missing means true (Azure default)" if value is None else None)]
            ev += chain_evidence(keys, p.name)
            roles = sorted({g.role.name if g.role else g.assignment.role_guid for g in keys})
            owner = owner_silo.name if owner_silo is not None else None
            where = f"{owner}'s storage {st.name}" if owner else st.name
            if live:
                yield Fail(st.id, f"{silo.name}: {p.name} can list or regenerate the keys of {where} "
                           f"({', '.join(roles)}) and shared-key access is allowed.", silo=silo.name,
                           evidence=ev, subject=p.id)
            else:
                f = Fail(st.id, f"{silo.name}: {p.name} holds key-bearing role(s) {', '.join(roles)} on {where}; "
                         "inert while allowSharedKeyAccess is false, but excess privilege.", silo=silo.name,
                         evidence=ev, subject=p.id)
                if owner:
                    f.severity = "medium"  # a latent path across the silo boundary
                yield f
        if not found:
            problem = any_coverage_problem(d)
            if problem:
                yield Unknown(p.anchor, f"{silo.name}: cannot tell which key rights {p.name} holds: {problem}.",
                              silo=silo.name, evidence=[note(problem)], subject=p.id)
            else:
                if live:  # keys on other silos' storage are FL-ID-004's (critical) finding, not this one's
                    msg = "holds no working key or SAS rights on its own silo's storage or any non-silo account"
                else:
                    msg = "holds no key-bearing roles on any storage account in the input"
                yield Pass(p.anchor, f"{silo.name}: {p.name} {msg}.", silo=silo.name, subject=p.id)

    yield from each_silo_principal(d, check)


@rule(
    id="FL-ID-007",
    title="Silo identities cannot assign roles over other silos' storage",
    area="silo-identity",
    severity="critical",
    blocks=BOTH,
    rationale="Microsoft.Authorization/roleAssignments/write (Owner, User Access Administrator, Role Based "
    "Access Control Administrator, or '*' in a custom role) at a scope covering another silo's storage account "
    "lets the identity grant itself any access there: it is access in waiting, whatever its data roles say. "
    "A delegation condition on the assignment (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
    "ForAnyOfAnyValues:GuidEquals {...}) is evaluated: an admin that can only assign roles granting nothing on "
    "storage is not a path; one allowing a role flaudit cannot read is. roleDefinitions/write is never limited by "
    "such a condition.",
    remediation=Remediation(
        cli="az role assignment list --assignee <silo-principal-id> --all --include-inherited -o table\n"
        "az role assignment delete --ids <assignment-id>",
        bicep="// never assign Owner / User Access Administrator / RBAC Administrator to a silo identity",
        text="Remove the role-admin assignment shown in the evidence; silo identities need only data roles on "
        "their own storage.",
    ),
    references=("https://learn.microsoft.com/azure/role-based-access-control/role-assignments-steps", RBAC_DOCS),
)
@deduplicated
def no_role_admin_over_silos(d: Deployment) -> Iterable[Finding]:
    def check(silo: Silo, p: _Principal) -> Iterator[Finding]:
        reach = storage_reach(d)  # built once per deployment
        by_assignment: dict[str, list] = defaultdict(list)
        covered: dict[str, list[str]] = defaultdict(list)
        for st, acc in reach.get(p.key, ()):
            if (other := _foreign_owner(d, silo, st)) is None:
                continue
            for g in acc.of("role-admin"):
                by_assignment[g.assignment.id].append(g)
                if other.name not in covered[g.assignment.id]:
                    covered[g.assignment.id].append(other.name)
        for aid, grants in by_assignment.items():
            a = grants[0].assignment
            role = grants[0].role.name if grants[0].role else a.role_guid
            yield Fail(a.scope, f"{silo.name}: {p.name} holds {role} at {a.scope}, which covers the storage of "
                       f"{', '.join(covered[aid])}: it can grant itself access there.", silo=silo.name,
                       evidence=chain_evidence(grants, p.name), subject=f"{p.id}|{aid}")
        if by_assignment:
            return
        problem = any_coverage_problem(d) if len(d.silos) > 1 else None
        if problem:
            yield Unknown(p.anchor, f"{silo.name}: cannot tell whether {p.name} can assign roles over other "
                          f"silos' storage: {problem}.", silo=silo.name, evidence=[note(problem)], subject=p.id)
        else:
            yield Pass(p.anchor, f"{silo.name}: {p.name} cannot assign roles at any scope covering another "
                       "silo's storage.", silo=silo.name, subject=p.id)

    yield from each_silo_principal(d, check)


@rule(
    id="FL-ID-008",
    title="Silos cannot read or overwrite each other's model updates",
    area="silo-identity",
    severity="high",
    blocks=("production",),
    rationale="Silo identities write their model updates to the orchestrator's storage. Data access to the whole "
    "account, or to a container every silo shares, with no ABAC condition confining each silo to its own path, "
    "lets a silo read the others' updates (and invert them towards their training data) or overwrite them "
    "(poisoning the aggregate). Key (while shared keys are allowed), management-write and role-admin rights on "
    "that account reach every path, and so do copy rights (object replication, inventory, restore). A "
    "user-delegation key alone grants nothing beyond the holder's data roles. flaudit parses each condition with "
    "Azure's condition grammar and evaluates it against every other silo's place (the paths and containers the "
    "other silos' own conditions name, and '<silo>/x'): a condition confines a silo only if it allows none of "
    "its data actions there (StringStartsWith 'silo1' reaches 'silo10/...', StringLike '*' reaches everything, an "
    "action the condition does not name is allowed). A condition flaudit cannot parse or decide confines nothing.",
    remediation=Remediation(
        cli="az role assignment create --assignee-object-id <silo-principal-id> --assignee-principal-type "
        "ServicePrincipal --role 'Storage Blob Data Contributor' --scope <orchestrator-storage-id> "
        "--condition-version 2.0 --condition \"((!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/"
        "containers/blobs/read'}) AND !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/"
        "blobs/write'}) AND !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/"
        "action'}) AND !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'})) "
        "OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith "
        "'<silo>/'))\"",
        bicep="resource siloUpdates 'Microsoft.Authorization/roleAssignments@2022-04-01' = {\n"
        "  scope: orchestratorStorage\n  name: guid(orchestratorStorage.id, siloIdentity.id, 'updates')\n"
        "  properties: {\n    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', "
        "'ba92f5b4-2d11-453d-a403-e96b0029c9fe')\n    principalId: siloIdentity.properties.principalId\n"
        "    principalType: 'ServicePrincipal'\n    conditionVersion: '2.0'\n"
        "    condition: '((!(ActionMatches{\\'.../blobs/read\\'}) AND !(ActionMatches{\\'.../blobs/write\\'}) AND "
        "!(ActionMatches{\\'.../blobs/add/action\\'}) AND !(ActionMatches{\\'.../blobs/delete\\'})) OR "
        "(@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith "
        "\\'${siloName}/\\'))'\n  }\n}",
        text="Give each silo a container (assignment scoped to it) or a path (ABAC condition on blobs:path) of its "
        "own in the orchestrator's storage, remove account-wide data and key roles, or use secure aggregation so "
        "individual updates are never readable.",
    ),
    references=(ABAC_DOCS, "https://learn.microsoft.com/azure/role-based-access-control/conditions-overview"),
)
@deduplicated
def updates_separated(d: Deployment) -> Iterable[Finding]:
    orch = d.orchestrator.storage
    # Which silos hold data grants on each container of the orchestrator's storage, and under which ABAC
    # condition: indexed once, so each silo is compared with the others by lookup, not by a scan.
    holders = _UpdateHolders()
    if orch is not None:
        for s in d.silos:
            for p in _silo_facts(d, s)[1]:
                holders.access[p.id] = acc = d.rbac.shared_access(p.id, orch.id)  # read, never modified
                added: set[int] = set()
                for g in acc.of("data"):
                    if id(g.assignment) not in added:  # holders note what a grant's assignment says
                        added.add(id(g.assignment))
                        holders.add(s.name, g)
    for silo in d.silos:
        if not silo.computes:
            yield _unresolved(silo, "no compute was resolved for this silo")
            continue
        if orch is None:
            yield Unknown("", f"{silo.name}: the orchestrator's storage account could not be resolved, so whether "
                          "silos can read each other's model updates is unknown.", silo=silo.name,
                          subject=f"{silo.name}|orchestrator",
                          evidence=[note(m) for m in d.orchestrator.missing] or
                          [note("the FL config names no orchestrator datastore")])
            continue
        if (missing := _no_principal(d, silo)) is not None:
            yield missing
        for p in _silo_facts(d, silo)[1]:
            yield _updates_finding(d, silo, p, orch, holders)


class _UpdateHolders:
    """Which silos hold data grants on the orchestrator's storage: by exact scope (container-scoped grants) and
    by place (the witnesses flaudit/confinement.py evaluates every silo's condition against)."""

    def __init__(self) -> None:
        self.by_scope: dict[str, set[str]] = defaultdict(set)
        self._conditions: dict[str, list[str | None]] = defaultdict(list)
        self._containers: dict[str, list[str]] = defaultdict(list)
        self._index: WitnessIndex | None = None
        #: Each silo principal's access to the orchestrator's storage, read once for the index and the verdicts.
        self.access: dict[str, Access] = {}

    def add(self, silo: str, grant: Any) -> None:
        a = grant.assignment
        self.by_scope[a.scope].add(silo)
        if a.condition and a.condition not in self._conditions[silo]:
            self._conditions[silo].append(a.condition)
        if "/containers/" in a.scope:
            self._containers[silo].append(a.scope.rsplit("/", 1)[-1])
        self._index = None

    def index(self, silos: list[Silo]) -> WitnessIndex:
        if self._index is None:
            self._index = WitnessIndex([w for s in silos for w in witnesses_of(
                s.name, self._conditions.get(s.name, []), self._containers.get(s.name, []))])
        return self._index

    def sharing_scope(self, scope: str, silo: str) -> list[str]:
        """Other silos granted into ``scope`` (a container) or below it."""
        names = set()
        for sc, silos in self.by_scope.items():
            if sc == scope or sc.startswith(scope + "/"):
                names |= silos
        return sorted(names - {silo})


def _updates_finding(d: Deployment, silo: Silo, p: _Principal, orch: StorageAccount,
                     holders: _UpdateHolders) -> Finding:
    acc = holders.access.get(p.id) or d.rbac.shared_access(p.id, orch.id)
    live, _inert = split_inert(acc, orch.raw)
    wide = [g for g in live if g.kind in ("keys", "mgmt-write", "role-admin", "copy")]
    if wide:
        kinds = sorted({g.kind for g in wide})
        return Fail(orch.id, f"{silo.name}: {p.name} has {', '.join(kinds)} rights on the orchestrator's storage "
                    f"{orch.name}, which reach every silo's model updates.", silo=silo.name,
                    evidence=chain_evidence(wide, p.name), subject=p.id)
    bad: list = []
    reasons: list[str] = []
    by_assignment: dict[str, list] = defaultdict(list)
    for g in live:
        if g.kind == "data":
            by_assignment[g.assignment.id].append(g)
    for grants in by_assignment.values():
        a = grants[0].assignment
        if a.scope != norm(orch.id) and is_within(a.scope, orch.id):
            # A container-scoped grant separates silos unless another silo is granted into that container too.
            sharers = holders.sharing_scope(a.scope, silo.name)
            if sharers:
                bad += grants
                reasons.append(f"container {a.scope.rsplit('/', 1)[-1]} is shared with {', '.join(sharers)}")
            continue
        if not a.condition:
            bad += grants
            reasons.append(f"{grants[0].role.name if grants[0].role else a.role_guid} {_where(a.scope, orch.id)}: "
                           "no ABAC condition")
            continue
        index = holders.index(d.silos)
        leaks: list[str] = []
        for g in grants:
            hits = reached(a.condition, g.action, index, silo.name)
            if hits:
                bad.append(g)
                w, v = hits[0]
                how = "cannot be decided for" if v is None else "reaches"
                more = f" and {len({h.silo for h, _ in hits}) - 1} more silo(s)" if len({h.silo for h, _ in hits}) > 1 else ""
                leaks.append(f"{g.action.rsplit('/', 2)[-2]}/{g.action.rsplit('/', 1)[-1]} {how} {w.silo}'s "
                             f"{w.describe()}{more}")
        if leaks:
            error = syntax_error(a.condition) if parse(a.condition) is None else None
            reasons.append(f"{grants[0].role.name if grants[0].role else a.role_guid} {_where(a.scope, orch.id)}: "
                           + (f"its ABAC condition is not understood ({error}), so it confines nothing"
                              if error else "its ABAC condition does not confine it: " + "; ".join(leaks)))
    if bad:
        return Fail(orch.id, f"{silo.name}: {p.name} can read or overwrite other silos' model updates in "
                    f"{orch.name}: " + "; ".join(reasons) + ".", silo=silo.name,
                    evidence=chain_evidence(bad, p.name) + deny_notes(acc), subject=p.id)
    if any(g.kind == "unknown" for g in live):
        return Unknown(orch.id, f"{silo.name}: {p.name} holds a role flaudit cannot read on {orch.name}.",
                       silo=silo.name, evidence=chain_evidence(acc.of("unknown"), p.name), subject=p.id)
    if not by_assignment and (problem := d.rbac.coverage_problem(orch.id)):
        return Unknown(orch.id, f"{silo.name}: cannot tell what {p.name} can do in {orch.name}: {problem}.",
                       silo=silo.name, evidence=[note(problem)], subject=p.id)
    grants = [g for gs in by_assignment.values() for g in gs]
    msg = (f"{silo.name}: {p.name}'s access to {orch.name} is confined to its own container or path."
           if grants else f"{silo.name}: {p.name} has no data access to {orch.name} (nothing to separate; "
           "FL-ID-003 checks it can write).")
    return Pass(orch.id, msg, silo=silo.name, evidence=chain_evidence(grants, p.name), subject=p.id)


def _where(scope: str, account_id: str) -> str:
    """A short phrase for an assignment scope relative to the account (the evidence carries the full id)."""
    if scope == norm(account_id):
        return "on the whole account"
    if is_within(scope, account_id):
        return f"on container {scope.rsplit('/', 1)[-1]}"
    if scope == "/":
        return "inherited from the root scope"
    kind = {"resourcegroups": "resource group", "subscriptions": "subscription",
            "managementgroups": "management group"}.get(scope.rsplit("/", 2)[-2], "scope")
    return f"inherited from {kind} {scope.rsplit('/', 1)[-1]}"





@rule(
    id="FL-ID-009",
    title="Nobody outside the silo can act as the silo's identity",
    area="silo-identity",
    severity="critical",
    blocks=BOTH,
    rationale="Whoever can obtain a token for a silo's user-assigned identity reaches everything the silo's compute "
    "reaches. Through Azure RBAC that is anyone other than the silo holding, on the identity or at any scope "
    "containing it (root, management group, subscription, resource group; deny assignments applied), "
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write (trust an identity "
    "provider it controls), .../assign/action (attach the identity to its own VM, app or compute: Managed "
    "Identity Operator), .../write (Owner/Contributor-like rights; counted fail closed) or "
    "Microsoft.Authorization/roleAssignments/write (grant itself any of these, unless a delegation condition "
    "confines it to roles that carry none). PIM-eligible assignments count (kind eligible). A federated identity "
    "credential that exists on the identity is a takeover path by the external issuer and subject it names. Which "
    "operations count comes from flaudit's operation catalogue, so wildcards and custom roles are judged the same "
    "way. Principals the FL config declares as administrators are shown, not blocking. A role definition flaudit "
    "cannot read is unknown.",
    remediation=Remediation(
        cli="az role assignment list --scope <silo-identity-id> --include-inherited -o table\n"
        "az role assignment delete --ids <assignment-id>\n"
        "az identity federated-credential delete --identity-name <uai> --name <credential> --resource-group <rg>",
        bicep="// no Managed Identity Operator / Contributor / Owner on silo identities or their resource group;\n"
        "// no Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials on silo identities",
        text="Remove the assignments in the evidence (or move them below the identity's resource group so they no "
        "longer contain it), delete federated credentials on silo identities, and keep each silo's identity in a "
        "resource group only the deployment pipeline administers.",
    ),
    references=("https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/"
                "how-manage-user-assigned-managed-identities",
                "https://learn.microsoft.com/entra/workload-id/workload-identity-federation-create-trust-user-"
                "assigned-managed-identity",
                "https://learn.microsoft.com/azure/role-based-access-control/permissions/identity", RBAC_DOCS),
)
@deduplicated
def no_identity_takeover(d: Deployment) -> Iterable[Finding]:
    from flaudit.reach import paths_of
    from flaudit.takeover import FIC, silo_identities

    by_silo: dict[str, list] = defaultdict(list)
    for p in paths_of(d, rule_id="FL-ID-009"):
        by_silo[p.silo].append(p)
    fic_unreadable = d.inventory.unreadable_for(FIC)
    # Federated identity credentials neither collected nor given (a plain export, an older snapshot) are "not
    # read", not "none": an external identity provider's trust cannot be ruled out (fail closed). A collector
    # snapshot lists them; a template says which ones the identities it creates get.
    fic_not_collected = d.inventory.coverage(FIC) == "absent"
    for silo in d.silos:
        if not silo.computes:
            yield _unresolved(silo, "no compute was resolved for this silo")
            continue
        idents = silo_identities(silo)
        if not idents:
            yield Pass(silo.computes[0].id, f"{silo.name}: its computes run as no user-assigned identity, so there "
                       "is none to take over (FL-ID-001 reports the missing identity).", silo=silo.name,
                       subject=f"{silo.name}|none")
            continue
        blocking = False
        for p in by_silo.get(silo.name, []):
            ev = [p.evidence(), *kind_notes([p.kind])]
            label = f"{p.outsider_name} ({p.relation})"
            if p.relation == "external" and (tenant := managing_tenant(d, p.outsider_id)):
                label = f"{p.outsider_name} (a principal of managing tenant {tenant} through Azure Lighthouse)"
            if p.relation == "administrator":
                yield Pass(p.source_id, f"{silo.name}: declared administrator {label} can act as the silo's "
                           "identity (administrative access, shown not blocking).", silo=silo.name, evidence=ev,
                           subject=f"{p.source_id}|{p.outsider_id}")
                continue
            blocking = True
            if p.kind == "unknown":
                yield Unknown(p.source_id, f"{silo.name}: {label} holds a role flaudit cannot read over the silo's "
                              "identity; it may be able to act as it.", silo=silo.name, evidence=ev,
                              subject=f"{p.source_id}|{p.outsider_id}")
                continue
            how = {"eligible": "can activate a PIM-eligible role that lets it act as",
                   "identity-takeover": "can act as"}[p.kind]
            if p.relation == "external" and "/federatedidentitycredentials/" in p.hops[0].ref.lower():
                msg = (f"{silo.name}: a federated identity credential lets external subject {p.outsider_name} act "
                       f"as the silo's identity {p.source_id.rsplit('/', 1)[-1]}.")
            else:
                cond = " (conditional: every granting assignment carries an ABAC condition)" if p.conditional else ""
                msg = (f"{silo.name}: {label} {how} the silo's identity {p.source_id.rsplit('/', 1)[-1]}{cond}, "
                       "and so reach everything the silo's compute reaches.")
            yield Fail(p.source_id, msg, silo=silo.name, evidence=ev, subject=f"{p.source_id}|{p.outsider_id}")
        if blocking:
            continue
        problem = next((x for i in idents if (x := d.rbac.coverage_problem(i.id))), None)
        if problem is None and fic_unreadable:
            u = fic_unreadable[0]
            problem = (f"federated identity credentials at {u.scope or 'the scope'} could not be read "
                       f"(HTTP {u.status}: {u.message})")
        if problem is None and fic_not_collected:
            problem = ("the input does not list the identities' federated identity credentials (a plain export or a "
                       "snapshot of an older flaudit?), so credentials trusting an external identity provider "
                       "cannot be ruled out")
        names = ", ".join(i.name for i in idents)
        if problem:
            yield Unknown(idents[0].id, f"{silo.name}: cannot tell who can act as {names}: {problem}.",
                          silo=silo.name, evidence=[note(problem)], subject=f"{silo.name}|identity")
        else:
            yield Pass(idents[0].id, f"{silo.name}: nobody outside the silo can act as {names} (no federated "
                       "credential, assign, write or role-admin right over it).", silo=silo.name,
                       evidence=[note(f"{d.rbac.assignment_count} role assignment(s), {d.rbac.eligible_count} "
                                      "PIM-eligible assignment(s) and "
                                      f"{len(d.rbac.denies)} deny assignment(s) evaluated")],
                       subject=f"{silo.name}|identity")


@rule(
    id="FL-ID-010",
    title="No resource outside the FL config runs as a silo's identity",
    area="silo-identity",
    severity="critical",
    blocks=BOTH,
    rationale="A user-assigned identity can be attached to any number of resources, and code on each of them gets "
    "tokens as it from the platform's token endpoint. A VM, VM scale set, AKS cluster (kubelet identity), App "
    "Service or Functions app, Container App, container group, or an Azure ML compute instance or cluster that is "
    "not the silo's compute in the FL config but runs as the silo's identity reads the silo's data for whoever "
    "deploys code on it or logs in to it. flaudit reads the identity block (identity.userAssignedIdentities, "
    "AKS's properties.identityProfile, and any identity id named in the properties of such a resource, e.g. AKS "
    "add-on identities) of every resource in the input whatever its type. Another FL member's "
    "compute running as it is FL-ID-002's finding; an identity that reaches no silo data (auxiliary) is not "
    "checked. Only the collected input can be searched: a pass says no resource in it runs as the identity.",
    remediation=Remediation(
        cli="az vm identity remove --name <vm> --resource-group <rg> --identities <silo-uai-id>\n"
        "az ml compute update --name <compute> --identity-type SystemAssigned --workspace-name <ws> "
        "--resource-group <rg>",
        bicep="// attach each silo's identity to that silo's computes only:\n"
        "identity: {\n  type: 'UserAssigned'\n"
        "  userAssignedIdentities: { '${siloIdentity.id}': {} }  // silo compute only\n}",
        text="Detach the silo's identity from the resource named in the evidence (or delete the resource), and "
        "grant Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action (Managed Identity Operator, "
        "Contributor) on it to nobody but the silo's deployment pipeline.",
    ),
    references=(UAI_DOCS, "https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/"
                "how-manage-user-assigned-managed-identities",
                "https://learn.microsoft.com/azure/aks/use-managed-identity"),
)
@deduplicated
def identity_not_used_elsewhere(d: Deployment) -> Iterable[Finding]:
    from flaudit.identities import IDENTITY_BEARING_TYPES
    from flaudit.reach import paths_of

    by_identity: dict[tuple[str, str], list] = defaultdict(list)
    for path in paths_of(d, kinds=("identity-takeover",), rule_id="FL-ID-010"):
        by_identity[(path.silo, norm(path.source_id))].append(path)
    unreadable = [u for t in IDENTITY_BEARING_TYPES for u in d.inventory.unreadable_for(t)]
    aux = auxiliary_identities(d)
    for silo in d.silos:
        if not silo.computes:
            yield _unresolved(silo, "no compute was resolved for this silo")
            continue
        for i in silo.user_assigned:
            if norm(i.id) in aux:
                continue
            found = by_identity.get((silo.name, norm(i.id)), [])
            for path in found:
                yield Fail(path.outsider_id, f"{silo.name}: {path.hops[0].text}: whoever controls it can act as "
                           f"{i.name} and read {silo.name}'s data.", silo=silo.name,
                           evidence=[path.evidence(), *kind_notes([path.kind])],
                           subject=f"{i.id}|{silo.name}")
            if found:
                continue
            if unreadable:
                u = unreadable[0]
                yield Unknown(i.id, f"{silo.name}: {u.resource_type} could not be read at {u.scope or 'some scope'}, "
                              f"so resources running as {i.name} may be missing.", silo=silo.name,
                              subject=f"{i.id}|{silo.name}",
                              evidence=[note(f"{x.resource_type} at {x.scope}: HTTP {x.status} {x.message}")
                                        for x in unreadable[:10]])
            else:
                yield Pass(i.id, f"{silo.name}: no resource in the input other than {silo.name}'s computes runs as "
                           f"{i.name}.", silo=silo.name, subject=f"{i.id}|{silo.name}",
                           evidence=[note("every resource's identity block in the input was read (a user-assigned "
                                          "identity can also be attached in subscriptions not collected)")])
