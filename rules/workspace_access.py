"""Workspace access: nothing outside a silo (workspace, orchestrator, other silos, unlisted principals) reaches
its storage, by role, by storage firewall resource-instance rule, or by a credential stored in a datastore or a
workspace connection (connections are resolved by flaudit/movement.py, which also makes them ``credential`` paths).

Who holds which access comes from the one evaluator (flaudit/rbac.py) through flaudit/access.py, which also
decides how each principal relates to the silo.
"""

from __future__ import annotations

from collections.abc import Iterable

from flaudit.access import (
    Principal,
    chain_evidence,
    deduplicated,
    deny_notes,
    inert_notes,
    silo_storage_access,
    split_inert,
)
from flaudit.arm import get_path, norm
from flaudit.engine import Remediation, rule
from flaudit.findings import Fail, Finding, Pass, Unknown, note, prop
from flaudit.model import Deployment, Silo
from flaudit.movement import (
    CONNECTION,
    CONNECTION_IDENTITY_ONLY,
    CONNECTION_STORED,
    RULE_CONNECTION,
    silo_connections,
    unresolved_connections,
)
from flaudit.paths import kind_notes
from flaudit.rbac import Access
from flaudit.reach import paths_of

DATASTORE = "microsoft.machinelearningservices/workspaces/datastores"
AML_PROVIDER = "/providers/microsoft.machinelearningservices/"
#: Datastore credential types that store a secret in the workspace (everything but identity-based ``None``).
STORED_SECRETS = {"accountkey", "sas", "serviceprincipal", "certificate", "kerberoskeytab", "kerberospassword"}
RBAC_DOCS = "https://learn.microsoft.com/azure/role-based-access-control/overview"
GROUP_DOCS = "https://learn.microsoft.com/azure/role-based-access-control/role-assignments-list-portal"
ABAC_DOCS = "https://learn.microsoft.com/azure/role-based-access-control/conditions-overview"
FIREWALL_DOCS = "https://learn.microsoft.com/azure/storage/common/storage-network-security"
DATASTORE_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-datastore"
AML_IDENTITY_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication"
SHARED_KEY_DOCS = "https://learn.microsoft.com/azure/storage/common/shared-key-authorization-prevent"
LIGHTHOUSE_ROLES_DOCS = "https://learn.microsoft.com/azure/lighthouse/concepts/tenants-users-roles"

_RELATION_TEXT = {
    "workspace": "the workspace's identity",
    "orchestrator": "the orchestrator compute's identity",
    "other-silo": "another silo's identity",
    "unlisted": "a principal not named in the FL config",
    "administrator": "a declared administrator",
    "external": "a principal of another tenant",
}


def _who(who: Principal, acc: Access) -> str:
    label = who.name or who.id
    if who.relation == "other-silo":
        return f"{who.silo}'s identity {label}"
    if acc.principal_type.lower() == "group":
        return f"group {label} (not named as this silo's in the FL config)"
    if who.relation == "unlisted":
        return f"{_RELATION_TEXT['unlisted']}, {acc.principal_type} {label},"
    if who.relation == "external" and acc.grants and acc.grants[0].assignment.delegation is not None:
        dl = acc.grants[0].assignment.delegation
        return f"{label}, a principal of managing tenant {dl.tenant_label} through Azure Lighthouse,"
    return f"{_RELATION_TEXT.get(who.relation, who.relation)} {label}"


def _eligible(grants: list) -> list[str]:
    """``["eligible"]`` when some grant comes from a PIM-eligible assignment (for the kind notes)."""
    return ["eligible"] if any(g.eligible for g in grants) else []


def _pim(grants: list) -> str:
    if grants and all(g.eligible for g in grants):
        return " (PIM-eligible: the principal can activate it at any time)"
    return " (partly PIM-eligible)" if any(g.eligible for g in grants) else ""


def _unresolved(silo: Silo) -> Finding:
    anchor = silo.datastore.id if silo.datastore else ""
    return Unknown(anchor, f"{silo.name}: its storage account could not be resolved, so who can reach it is "
                   "unknown.", silo=silo.name, evidence=[note(m) for m in silo.missing] or
                   [note("no storage account resolved for this silo")], subject=f"{silo.name}|unresolved")



@rule(
    id="FL-WS-001",
    title="Only the silo's own identities can reach its storage",
    area="workspace-access",
    severity="high",
    blocks=("production",),
    rationale="In an eyes-off FL deployment the workspace, the orchestrator and the other silos must not be able "
    "to read a silo's data. Any role assignment, at the account, one of its containers, or inherited from a "
    "resource group, subscription, management group or the root, or an Azure Lighthouse authorization in effect at "
    "the subscription or resource group (a managing tenant's principal, in no role assignment list; DataActions "
    "are not usable through Lighthouse, control-plane actions such as listKeys are), that gives the workspace's "
    "identities, the orchestrator compute's identity, another silo's identity or a principal the FL config does "
    "not name data, "
    "key/SAS (while allowSharedKeyAccess is not false; missing means true), user-delegation, role-admin or "
    "storage-account write rights is a path to the data. Deny assignments are honoured, with their "
    "excludePrincipals. ABAC-conditional assignments are reported as conditional access and still fail. Entra "
    "groups cannot be expanded without Microsoft Graph, so a group is possible access (fail closed) unless the FL "
    "config names it as the silo's (federated_learning.silos[].groups). An unreadable role definition is unknown. "
    "A principal the FL config declares under federated_learning.administrators (and that is none of the FL "
    "members' identities) is reported as administrative access: a passing finding with its path, never blocking.",
    remediation=Remediation(
        cli="az role assignment list --scope <silo-storage-id> --include-inherited -o table\n"
        "az role assignment delete --ids <assignment-id>",
        bicep="// grant roles on silo storage only to the silo's own identity:\n"
        "resource siloData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {\n  scope: siloStorage\n"
        "  properties: { principalId: siloIdentity.properties.principalId, principalType: 'ServicePrincipal', "
        "roleDefinitionId: blobDataContributor }\n}",
        text="Delete each assignment in the evidence (or move a wide one, e.g. Contributor on the resource group, "
        "down to the resources that need it); for an Azure Lighthouse authorization, remove the registration "
        "assignment or narrow the offer. If a group legitimately belongs to the silo, list its object id under "
        "the silo's 'groups' in the FL config.",
    ),
    references=(RBAC_DOCS, ABAC_DOCS, GROUP_DOCS, LIGHTHOUSE_ROLES_DOCS),
)
@deduplicated
def only_own_principals(d: Deployment) -> Iterable[Finding]:
    for silo in d.silos:
        if silo.storage is None:
            yield _unresolved(silo)
            continue
        st = silo.storage
        outsiders = admins = 0
        for who, acc in silo_storage_access(d, silo):
            if who.relation == "own-silo":
                continue
            live, _inert = split_inert(acc, st.raw)
            if not live:
                continue  # inert key grants only: FL-WS-004
            kinds = sorted({g.kind for g in live})
            ev = chain_evidence(live, who.name) + deny_notes(acc) + kind_notes(kinds + _eligible(live))
            label = _who(who, acc)
            if who.relation == "administrator":
                admins += 1
                yield Pass(st.id, f"{silo.name}: declared administrator {who.name or who.id} "
                           f"({who.administrator_reason(d)}) "
                           f"has {', '.join(kinds)} access to {st.name}: administrative access, shown, not "
                           "blocking.", silo=silo.name, subject=who.id,
                           evidence=[note(f"federated_learning.administrators names {who.id}: "
                                          f"{who.administrator_reason(d)}"), *ev, *kind_notes(["administrative"])])
                continue
            outsiders += 1
            if kinds == ["unknown"]:
                yield Unknown(st.id, f"{silo.name}: {label} holds a role flaudit cannot read on {st.name}; it may "
                              "grant access.", silo=silo.name, evidence=ev, subject=who.id)
                continue
            kinds = [k for k in kinds if k != "unknown"]
            known = [g for g in live if g.kind != "unknown"]
            cond = (" (conditional access: every granting assignment carries an ABAC condition; production treats "
                    "it as access)") if all(g.conditional for g in known) else ""
            cond += _pim(known)
            if acc.principal_type.lower() == "group":
                msg = (f"{silo.name}: {label} has {', '.join(kinds)} access to {st.name}{cond}; its members cannot "
                       "be expanded without Microsoft Graph, so this is possible access by anyone in it.")
            else:
                msg = f"{silo.name}: {label} has {', '.join(kinds)} access to {st.name}{cond}."
            f = Fail(st.id, msg, silo=silo.name, evidence=ev, subject=who.id)
            if who.relation == "other-silo":
                f.severity = "critical"
            yield f
        if outsiders:
            continue
        problem = d.rbac.coverage_problem(st.id)
        if problem:
            yield Unknown(st.id, f"{silo.name}: cannot tell who can reach {st.name}: {problem}.", silo=silo.name,
                          evidence=[note(problem)])
        else:
            extra = f" and {admins} declared administrator(s)" if admins else ""
            yield Pass(st.id, f"{silo.name}: only the silo's own identities{extra} hold access to {st.name}.",
                       silo=silo.name, evidence=[note(f"{d.rbac.assignment_count} role assignment(s) and "
                                                      f"{len(d.rbac.denies)} deny assignment(s) evaluated")])


@rule(
    id="FL-WS-002",
    title="Silo storage firewall admits no Azure ML resource instance",
    area="workspace-access",
    severity="high",
    blocks=("production",),
    rationale="A networkAcls.resourceAccessRules entry lets the named resource instance (here the workspace or any "
    "Microsoft.MachineLearningServices resource, wildcards included) through the storage firewall from Azure's "
    "backbone, with its managed identity's roles. It is a network path from the workspace into silo data that "
    "no private endpoint or VNet rule shows. A missing resourceAccessRules list means none (Azure default).",
    remediation=Remediation(
        cli="az storage account network-rule remove --account-name <silo-storage> --resource-group <rg> "
        "--resource-id <workspace-id> --tenant-id <tenant-id>",
        bicep="resource siloStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  ...\n"
        "  properties: { networkAcls: { defaultAction: 'Deny', bypass: 'None', resourceAccessRules: [] } }\n}",
        text="Remove the resource-instance rule; the silo's compute reaches its storage through the silo's "
        "private endpoint.",
    ),
    references=(FIREWALL_DOCS,),
)
@deduplicated
def no_aml_resource_instance_rule(d: Deployment) -> Iterable[Finding]:
    ws_id = norm(d.workspace.id) if d.workspace else None
    for silo in d.silos:
        if silo.storage is None:
            yield _unresolved(silo)
            continue
        st = silo.storage
        rules = get_path(st.raw, "properties.networkAcls.resourceAccessRules")
        if rules is None:
            yield Pass(st.id, f"{silo.name}: {st.name} has no resource-instance rules.", silo=silo.name,
                       evidence=[prop(st.id, "properties.networkAcls.resourceAccessRules", None,
                                      default_assumed=True, default_note="missing means no rules (Azure default)")])
            continue
        if not isinstance(rules, list):
            yield Unknown(st.id, f"{silo.name}: {st.name}'s resourceAccessRules is not a list.", silo=silo.name,
                          evidence=[prop(st.id, "properties.networkAcls.resourceAccessRules", rules)])
            continue
        bad = []
        for i, r in enumerate(rules):
            rid = norm(r.get("resourceId") if isinstance(r, dict) else None)
            if rid and (rid == ws_id or AML_PROVIDER in rid + "/"):
                bad.append((i, r))
        if bad:
            pna = get_path(st.raw, "properties.publicNetworkAccess")
            ev = [prop(st.id, f"properties.networkAcls.resourceAccessRules[{i}]", r) for i, r in bad]
            ev.append(prop(st.id, "properties.publicNetworkAccess", pna, default_assumed=pna is None,
                           default_note="missing means Enabled (Azure default)" if pna is None else None))
            extra = (" (inactive while publicNetworkAccess is Disabled, but re-enabling public access opens it)"
                     if str(pna).lower() == "disabled" else "")
            yield Fail(st.id, f"{silo.name}: {st.name}'s firewall admits Azure ML resource instance(s) "
                       f"{', '.join(str(r.get('resourceId')) for _, r in bad)}{extra}.", silo=silo.name, evidence=ev)
        else:
            yield Pass(st.id, f"{silo.name}: none of {st.name}'s {len(rules)} resource-instance rule(s) names an "
                       "Azure ML resource.", silo=silo.name,
                       evidence=[prop(st.id, "properties.networkAcls.resourceAccessRules", rules)])


@rule(
    id="FL-WS-003",
    title="No workspace datastore holds a credential to silo storage",
    area="workspace-access",
    severity="high",
    blocks=("prototype", "production"),
    rationale="A datastore with credentialsType AccountKey, Sas, ServicePrincipal or Certificate keeps a secret to "
    "the account in the workspace's key vault: anyone who can use the workspace (any job, the orchestrator, "
    "workspace contributors) reads the silo's data with it, whatever the role assignments say. Only identity-based "
    "datastores (credentialsType None) let the silo's own compute identity be the sole key. Every datastore of "
    "every workspace in the input is checked, not only the silo's configured one.",
    remediation=Remediation(
        cli="az ml datastore delete --name <datastore> --workspace-name <ws> --resource-group <rg>\n"
        "az ml datastore create --file datastore.yml --workspace-name <ws> --resource-group <rg>  "
        "# type: azure_blob, account_name, container_name, no credentials block",
        bicep="resource siloDatastore 'Microsoft.MachineLearningServices/workspaces/datastores@2024-10-01' = {\n"
        "  name: '${workspace.name}/datastore_${siloName}'\n  properties: {\n    datastoreType: 'AzureBlob'\n"
        "    accountName: siloStorage.name\n    containerName: 'data'\n"
        "    credentials: { credentialsType: 'None' }\n  }\n}",
        text="Recreate the datastore without credentials (identity-based access) and rotate the account keys or "
        "revoke the SAS / service principal secret that was stored.",
    ),
    references=(DATASTORE_DOCS, AML_IDENTITY_DOCS),
)
@deduplicated
def datastores_without_credentials(d: Deployment) -> Iterable[Finding]:
    by_account: dict[str, list[Silo]] = {}
    for s in d.silos:
        if s.storage is not None:
            by_account.setdefault(s.storage.name.lower(), []).append(s)
    seen: set[str] = set()
    for ds in d.inventory.of_type(DATASTORE):
        account = str(get_path(ds, "properties.accountName") or "").lower()
        silos = list(by_account.get(account, []))
        silos += [s for s in d.silos_by_datastore.get(norm(ds["id"]), []) if s not in silos]
        if not silos:
            continue
        seen.add(norm(ds["id"]))
        ctype = get_path(ds, "properties.credentials.credentialsType")
        name = str(ds.get("name") or ds["id"].rsplit("/", 1)[-1])
        ev = [prop(ds["id"], "properties.accountName", get_path(ds, "properties.accountName")),
              prop(ds["id"], "properties.credentials.credentialsType", ctype)]
        for s in silos:
            sub = s.name
            if ctype is None:
                yield Unknown(ds["id"], f"{s.name}: datastore {name} points at the silo's storage but its "
                              "credentials type is not in the input.", silo=s.name, evidence=ev, subject=sub)
            elif str(ctype).lower() == "none":
                yield Pass(ds["id"], f"{s.name}: datastore {name} reaches the silo's storage by identity only "
                           "(credentialsType None).", silo=s.name, evidence=ev, subject=sub)
            elif str(ctype).lower() in STORED_SECRETS:
                yield Fail(ds["id"], f"{s.name}: datastore {name} stores a {ctype} credential to the silo's "
                           "storage: the workspace holds a secret to silo data.", silo=s.name, evidence=ev, subject=sub)
            else:
                yield Unknown(ds["id"], f"{s.name}: datastore {name} points at the silo's storage with credentials "
                              f"type {ctype!r}, which flaudit does not know.", silo=s.name, evidence=ev, subject=sub)
    cov = d.inventory.coverage(DATASTORE)
    for s in d.silos:
        if s.datastore is not None and norm(s.datastore.id) in seen:
            continue
        if s.datastore is None and s.storage is None:
            yield _unresolved(s)
        elif cov == "unreadable":
            u = d.inventory.unreadable_for(DATASTORE)[0]
            yield Unknown(s.storage.id if s.storage else "", f"{s.name}: workspace datastores could not be read "
                          f"(HTTP {u.status}: {u.message}).", silo=s.name, evidence=[note(u.message)],
                          subject=s.name)


@rule(
    id="FL-WS-004",
    title="Rights outside the silo that the storage account's settings make inert (keys, public access, ACLs)",
    area="workspace-access",
    severity="low",
    blocks=(),
    rationale="Some operations do nothing while an account setting forbids them: a key-bearing role (listKeys, "
    "ListAccountSas, ...) while allowSharedKeyAccess is false, a container publicAccess write (containers/write) "
    "while allowBlobPublicAccess is false, rename and ACL data actions on an account without a hierarchical "
    "namespace. Held by a principal outside the silo, each turns into access to the silo's data as soon as the "
    "setting changes (anyone with storageAccounts/write can change it). Reported so it can be removed before that "
    "happens; the evidence says which setting keeps each grant inert.",
    remediation=Remediation(
        cli="az role assignment delete --ids <assignment-id>",
        bicep="// remove key-bearing role assignments on silo storage for principals outside the silo",
        text="Delete the key-bearing assignment shown in the evidence; keep allowSharedKeyAccess false.",
    ),
    references=(SHARED_KEY_DOCS,),
)
@deduplicated
def inert_outsider_keys(d: Deployment) -> Iterable[Finding]:
    for silo in d.silos:
        if silo.storage is None:
            yield _unresolved(silo)
            continue
        st = silo.storage
        found = False
        for who, acc in silo_storage_access(d, silo):
            if who.relation == "own-silo":
                continue
            _live, inert = split_inert(acc, st.raw)
            if not inert:
                continue
            found = True
            kinds = sorted({g.kind for g in inert})
            ev = chain_evidence(inert, who.name) + inert_notes(inert, st.raw)
            if "keys" in kinds:
                ev.insert(0, prop(st.id, "properties.allowSharedKeyAccess", False))
                what = "key-bearing role(s)" if kinds == ["keys"] else f"{', '.join(kinds)} rights (keys included)"
            else:
                what = f"{', '.join(kinds)} rights"
            yield Fail(st.id, f"{silo.name}: {_who(who, acc)} holds {what} on {st.name} that the account's "
                       "settings make inert (evidence says which); re-enabling the setting makes them live.",
                       silo=silo.name, evidence=ev, subject=who.id)
        if not found:
            problem = d.rbac.coverage_problem(st.id)
            if problem:
                yield Unknown(st.id, f"{silo.name}: cannot tell who holds key rights on {st.name}: {problem}.",
                              silo=silo.name, evidence=[note(problem)])
            else:
                yield Pass(st.id, f"{silo.name}: no principal outside the silo holds key-bearing roles on {st.name}.",
                           silo=silo.name)


@rule(
    id="FL-WS-005",
    title="No workspace connection holds a credential to silo storage",
    area="workspace-access",
    severity="high",
    blocks=("prototype", "production"),
    rationale="A workspace connection (Microsoft.MachineLearningServices/workspaces/connections) to a storage "
    "account keeps its credential in the workspace: with authType AccountKey, SAS, ServicePrincipal, "
    "UsernamePassword, AccessKey, ApiKey, CustomKeys, PAT or OAuth2 a secret, with ManagedIdentity an identity "
    "every user of the connection acts as. Anyone who can use the workspace (any job, the orchestrator, "
    "workspace contributors) then reads the silo's data with it, whatever the role assignments say, as with a "
    "datastore holding credentials (FL-WS-003). Only AAD (the caller's own identity) and None store nothing. The "
    "account is read from the connection's target (a blob/dfs/file/queue/table URL or a resource id) or its "
    "metadata (AccountName, ResourceId). Connections are listed with their GET, never listsecrets; an authType "
    "flaudit does not know is unknown, connections that were not read are unknown.",
    remediation=Remediation(
        cli="az ml connection list --workspace-name <ws> --resource-group <rg>\n"
        "az ml connection delete --name <connection> --workspace-name <ws> --resource-group <rg>",
        bicep="resource conn 'Microsoft.MachineLearningServices/workspaces/connections@2025-06-01' = {\n"
        "  parent: workspace\n  name: 'silo0-blob'\n  properties: {\n    category: 'AzureBlob'\n"
        "    target: siloStorage.properties.primaryEndpoints.blob\n    authType: 'AAD'\n  }\n}",
        text="Delete the connection (or recreate it with authType AAD) and rotate the account key, SAS or service "
        "principal secret it stored.",
    ),
    references=("https://learn.microsoft.com/azure/machine-learning/how-to-connection",
                "https://learn.microsoft.com/rest/api/azureml/workspace-connections/list", AML_IDENTITY_DOCS),
)
@deduplicated
def connections_without_credentials(d: Deployment) -> Iterable[Finding]:
    cov = d.inventory.coverage(CONNECTION)
    unresolved = unresolved_connections(d)
    for silo in d.silos:
        if silo.storage is None:
            yield _unresolved(silo)
            continue
        st = silo.storage
        paths = {p.hops[0].ref.lower(): p for p in paths_of(d, silo=silo.name, kinds=("credential",),
                                                               rule_id=RULE_CONNECTION)}
        found = silo_connections(d, silo)
        for conn, auth in found:
            name = str(conn.get("name") or conn["id"].rsplit("/", 1)[-1])
            ev = [prop(conn["id"], "properties.target", get_path(conn, "properties.target")),
                  prop(conn["id"], "properties.authType", get_path(conn, "properties.authType"))]
            sub = f"{silo.name}|{conn['id']}"
            if auth in CONNECTION_STORED:
                p = paths.get(conn["id"].lower())
                how = (f"{get_path(conn, 'properties.authType')} auth" if auth != "sas" or
                       str(get_path(conn, "properties.authType") or "").lower() == "sas" else "a SAS in its target URL")
                yield Fail(conn["id"], f"{silo.name}: workspace connection {name} reaches {st.name} with {how}: "
                           "the workspace holds a way into silo data that does not need the silo's identity.",
                           silo=silo.name,
                           evidence=([p.evidence()] if p else []) + ev + kind_notes(["credential"]), subject=sub)
            elif auth in CONNECTION_IDENTITY_ONLY:
                yield Pass(conn["id"], f"{silo.name}: workspace connection {name} reaches {st.name} with the "
                           f"caller's own identity ({get_path(conn, 'properties.authType')}).", silo=silo.name,
                           evidence=ev, subject=sub)
            else:
                yield Unknown(conn["id"], f"{silo.name}: workspace connection {name} points at {st.name} with "
                              f"auth type {get_path(conn, 'properties.authType')!r}, which flaudit does not know.",
                              silo=silo.name, evidence=ev, subject=sub)
        for conn in unresolved:
            yield Unknown(conn["id"], f"{silo.name}: workspace connection {conn.get('name')} stores a "
                          f"{get_path(conn, 'properties.authType')} credential to a target given as a connection "
                          "string (redacted), so whether it reaches the silo's storage is unknown.", silo=silo.name,
                          evidence=[prop(conn["id"], "properties.target", get_path(conn, "properties.target"))],
                          subject=f"{silo.name}|{conn['id']}")
        if found or unresolved:
            continue
        if cov == "unreadable":
            u = d.inventory.unreadable_for(CONNECTION)[0]
            yield Unknown(st.id, f"{silo.name}: workspace connections could not be read ({u.status or 'error'}: "
                          f"{u.message}).", silo=silo.name, evidence=[note(u.message)], subject=silo.name)
        elif cov == "absent":
            yield Unknown(st.id, f"{silo.name}: the input holds no workspace connections ({CONNECTION}), so "
                          "whether one stores a credential to the silo's storage is unknown.", silo=silo.name,
                          evidence=[note(f"{CONNECTION} was neither collected nor given")], subject=silo.name)
        else:
            yield Pass(st.id, f"{silo.name}: no workspace connection points at {st.name}.", silo=silo.name,
                       evidence=[note(f"{len(d.inventory.of_type(CONNECTION))} connection(s) evaluated")],
                       subject=silo.name)
