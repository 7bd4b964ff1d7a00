"""Data movement already configured: every resource that copies a silo's data, or lists it, somewhere else, and
every stored credential that reads it without the silo's identity.

Role checks ask who *could* read the data; this module asks where the data, or a copy of it, is already
*sent*. It understands:

* **Object replication** (``Microsoft.Storage/storageAccounts/objectReplicationPolicies``): Azure copies block
  blobs asynchronously from a source account to a destination account. The same policy (same policy id) sits
  on both accounts and names ``sourceAccount`` and ``destinationAccount`` (account names, or full resource ids
  when ``allowCrossTenantReplication`` is false). A policy that names a silo account as its source and any
  other account as destination is a path, whichever account the policy was read from: the destination-side
  copy alone is enough to know a replication is (being) set up. A policy into the silo (the silo is the
  destination) moves no silo data out and is not a path.
* **Blob inventory** (``.../inventoryPolicies``): a rule writes a CSV/Parquet report listing the blobs (names
  and the schema fields chosen: metadata, tags, sizes...) into a *container of the same account* (the API's
  ``destination`` is a container name, nothing else). The report never leaves the account, so the inventory
  is a path only to whoever can read that destination container beyond the silo: an outsider holding a data
  role at or above the account, or on that container.
* **Azure Backup** (``Microsoft.DataProtection/backupVaults/backupInstances``): a backup instance whose data
  source is a silo account. *Vaulted* backup (a policy rule with a ``VaultStore`` data store) copies the blobs
  into the vault, from where Backup Contributors can restore them to another account; *operational* backup
  (``OperationalStore`` only) keeps the data in the source account (versioning, soft delete, point-in-time
  restore) and restores only into it, so it copies nothing out. A policy flaudit cannot read counts as vaulted
  (fail closed). The identity the vault reads with (its system-assigned identity, or the instance's
  ``identityDetails.userAssignedIdentityArmUrl``) and its roles on the account are part of the chain.
* **Azure Data Share** (``Microsoft.DataShare/accounts/shares/dataSets``): a data set naming a silo account
  (``storageAccountName`` with its ``subscriptionId`` and ``resourceGroup``) makes the share send snapshots of it
  to every consumer who accepts an invitation, in any tenant: a copy to someone outside the deployment.
* **Workspace connections** (``Microsoft.MachineLearningServices/workspaces/connections``): a connection to a
  silo account whose ``authType`` stores a secret (account key, SAS, service principal, ...) or names a
  managed identity lets anyone who can use the workspace read the silo's data, like a datastore with
  credentials (FL-WS-003). Connections are read with their list GET only: never ``listsecrets``.

Point-in-time restore, versioning, soft delete and change feed keep data inside the account and restore only
into it: they are not copies to an outsider (docs/threat-model.md).

Producers: :func:`copy_paths` (kinds ``copy`` and ``credential``) is registered in :data:`flaudit.reach.PRODUCERS`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from flaudit import memo
from flaudit.arm import get_path, name_of, norm
from flaudit.paths import Hop, Path

if TYPE_CHECKING:  # pragma: no cover
    from flaudit.model import Deployment, Silo

STORAGE = "microsoft.storage/storageaccounts"
ORP = "microsoft.storage/storageaccounts/objectreplicationpolicies"
INVENTORY_POLICY = "microsoft.storage/storageaccounts/inventorypolicies"
BACKUP_VAULT = "microsoft.dataprotection/backupvaults"
BACKUP_INSTANCE = "microsoft.dataprotection/backupvaults/backupinstances"
BACKUP_POLICY = "microsoft.dataprotection/backupvaults/backuppolicies"
CONNECTION = "microsoft.machinelearningservices/workspaces/connections"
SHARE_ACCOUNT = "microsoft.datashare/accounts"
SHARE = "microsoft.datashare/accounts/shares"
DATASET = "microsoft.datashare/accounts/shares/datasets"
UAI = "microsoft.managedidentity/userassignedidentities"

#: Every type this module reads (added to flaudit.inventory.KNOWN_TYPES).
TYPES = (ORP, INVENTORY_POLICY, BACKUP_VAULT, BACKUP_INSTANCE, BACKUP_POLICY, CONNECTION, SHARE_ACCOUNT, SHARE,
         DATASET)

#: Connection authTypes (ConnectionAuthType, Azure ML 2025-06-01) that keep a secret in the workspace, or name
#: a managed identity every user of the connection acts as. ``AAD`` (the caller's own Entra identity) and
#: ``None`` store nothing.
CONNECTION_STORED = {"accountkey", "sas", "serviceprincipal", "usernamepassword", "accesskey", "apikey",
                     "customkeys", "pat", "oauth2", "managedidentity"}
CONNECTION_IDENTITY_ONLY = {"aad", "none"}
_STORAGE_SERVICES = {"blob", "dfs", "file", "queue", "table", "web"}
_DNS_ZONE = re.compile(r"z\d{1,2}")

RULE_REPLICATION = "FL-DM-001"
RULE_INVENTORY = "FL-DM-002"
RULE_BACKUP = "FL-DM-003"
RULE_SHARE = "FL-DM-005"
RULE_CONNECTION = "FL-WS-005"


# -- where a storage account sits relative to a silo -----------------------------------------------------
@dataclass(frozen=True)
class Place:
    """A storage account named by a policy, resolved against the deployment."""

    id: str  # resource id when known, else the name as given
    name: str
    relation: str  # own-silo | other-silo | orchestrator | workspace | unlisted | external
    owner: str | None = None  # the silo it belongs to, for own-silo / other-silo


def _symbolic_id(value: str) -> str | None:
    """The resource id inside a template value known only after deployment (``[symbolic:<id>:<path>]``)."""
    if value.startswith("[symbolic:"):
        inner = value[len("[symbolic:"):]
        i = inner.find(":")
        return inner[:i] if i > 0 else None
    return None


@memo.whole("_movement_accounts")
def _accounts(d: Deployment) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(id -> account, lower name -> account) for every storage account in the input (computed once)."""
    by_id: dict[str, dict[str, Any]] = {}
    by_name: dict[str, dict[str, Any]] = {}
    for res in d.inventory.of_type(STORAGE):
        by_id[norm(res["id"])] = res
        by_name.setdefault(str(res.get("name") or name_of(res["id"])).lower(), res)
    return by_id, by_name


def _lookup(d: Deployment, ref: Any) -> tuple[dict[str, Any] | None, str | None, str]:
    """(the account ``ref`` names when it is in the input, the id ``ref`` spells if any, ``ref`` stripped).

    ``ref`` is a name, a resource id or a template symbol; an id of an account that is not found by id is
    looked up by its name, which is globally unique."""
    if not isinstance(ref, str) or not ref.strip():
        return None, None, ""
    text = ref.strip()
    by_id, by_name = _accounts(d)
    rid = _symbolic_id(text) or (text if text.startswith("/") else None)
    res = by_id.get(norm(rid)) if rid else by_name.get(text.lower())
    if res is None and rid and "/storageaccounts/" in norm(rid):
        res = by_name.get(name_of(rid).lower())
    return res, rid, text


def _account_id(d: Deployment, ref: Any) -> str | None:
    """The lower-cased id of the account ``ref`` names when it is in the input, else None."""
    res, _, _ = _lookup(d, ref)
    return norm(res["id"]) if res is not None else None


def resolve_account(d: Deployment, ref: Any, silo: Silo) -> Place | None:
    """Where the account ``ref`` (a name, a resource id or a template symbol) sits relative to ``silo``.

    None when ``ref`` is empty. An account that is not in the input is ``external``: nothing says who owns it.
    """
    res, rid, text = _lookup(d, ref)
    if not text:
        return None
    if res is None:
        return Place(rid or text, name_of(rid) if rid else text, "external")
    aid, name = norm(res["id"]), str(res.get("name") or name_of(res["id"]))
    owner = d.silo_by_storage.get(aid)
    if owner is not None:
        return Place(res["id"], name, "own-silo" if owner.name == silo.name else "other-silo", owner.name)
    if d.orchestrator.storage is not None and norm(d.orchestrator.storage.id) == aid:
        return Place(res["id"], name, "orchestrator")
    ws_storage = d.workspace.prop("properties.storageAccount") if d.workspace else None
    if isinstance(ws_storage, str) and norm(ws_storage) == aid:
        return Place(res["id"], name, "workspace")
    return Place(res["id"], name, "unlisted")


def _per_silo(d: Deployment, key: str, build: Any) -> dict[str, list[Any]]:
    """silo name -> items, built once per deployment by ``build(d)`` (a list of (silo name, item))."""
    return memo.once(d, key, lambda: memo.grouped(build(d)))


def account_of_child(child_id: str) -> str:
    """The storage account id a child resource (policy) lives under."""
    low = norm(child_id)
    marker = "/providers/microsoft.storage/storageaccounts/"
    i = low.find(marker)
    if i < 0:
        return ""
    rest = low[i + len(marker):].split("/")
    return low[: i + len(marker)] + rest[0]


# -- object replication ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Replication:
    """One object replication policy that copies a silo's blobs to another account."""

    silo: str
    policy: dict[str, Any]
    source_id: str  # the silo account
    destination: Place
    read_from: str  # the account the policy resource was read from (source or destination side)


def replications(d: Deployment, silo: Silo) -> list[Replication]:
    """Object replication policies (read from any account) whose source is ``silo``'s account and whose
    destination is not. A policy on the silo account whose sourceAccount is missing or names no account in the
    input counts as sourced there."""
    return _per_silo(d, "_movement_replications", _all_replications).get(silo.name, [])


def _all_replications(d: Deployment) -> Iterator[tuple[str, Replication]]:
    """One replication per (silo, destination): the source-side policy when both sides are in the input."""
    found: dict[tuple[str, str], Replication] = {}
    for pol in d.inventory.of_type(ORP):
        holder = account_of_child(pol["id"])
        src = get_path(pol, "properties.sourceAccount")
        # A policy on a silo account whose source is missing or names no account of the input: the silo is
        # the source unless it is the destination (fail closed).
        src_id = (_account_id(d, src) if src else None) or holder
        silo = d.silo_by_storage.get(src_id)
        if silo is None or silo.storage is None:
            continue
        dest = resolve_account(d, get_path(pol, "properties.destinationAccount"), silo)
        if dest is None:  # no destination named: fail closed to an account nobody can vouch for
            dest = Place("(destination not given)", "(destination not given)", "external")
        if dest.relation == "own-silo":
            continue
        key = (silo.name, norm(dest.id))
        kept = found.get(key)
        if kept is None or (kept.read_from != norm(silo.storage.id) and holder == norm(silo.storage.id)):
            found[key] = Replication(silo.name, pol, silo.storage.id, dest, holder)
    for (name, _), r in found.items():
        yield name, r


def _replication_path(d: Deployment, r: Replication) -> Path:
    pol = r.policy
    rules = get_path(pol, "properties.rules")
    pairs = [f"{get_path(x, 'sourceContainer')} -> {get_path(x, 'destinationContainer')}"
             for x in rules if isinstance(x, dict)] if isinstance(rules, list) else []
    side = "source" if r.read_from == norm(r.source_id) else "destination"
    hops = [Hop(f"object replication policy {pol.get('name') or name_of(pol['id'])} (read from the {side} "
                f"account) copies block blobs from {name_of(r.source_id)}", pol["id"]),
            Hop(f"to account {r.destination.name} ({_place_text(r.destination)})"
                + (f", containers {', '.join(pairs)}" if pairs else ""), r.destination.id)]
    st = d.silo_by_storage.get(norm(r.source_id))
    if st is not None and st.storage is not None:
        xt = st.storage.prop("properties.allowCrossTenantReplication")
        hops.append(Hop("the source account's allowCrossTenantReplication is "
                        + ("false: the destination must be in the same Entra tenant (it still receives the data)"
                           if xt is False else f"{xt!r}: the destination may be in any tenant"
                           if xt is not None else "not set (Azure's default depends on the account's creation "
                           "date): the destination may be in another tenant"), r.source_id))
    return Path("copy", r.silo, r.source_id, r.destination.id, r.destination.name, r.destination.relation,
                tuple(hops), RULE_REPLICATION)


def _place_text(p: Place) -> str:
    return {"other-silo": f"silo {p.owner}'s storage", "orchestrator": "the orchestrator's storage",
            "workspace": "the workspace's default storage", "unlisted": "an account outside the FL deployment",
            "external": "an account not in the input, owner unknown"}.get(p.relation, p.relation)


# -- blob inventory --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InventoryRule:
    """One enabled blob inventory rule of a silo account and the container its report lands in."""

    silo: str
    policy: dict[str, Any]
    name: str
    container: str
    schema_fields: tuple[str, ...]


def _enabled(value: Any) -> bool:
    """``enabled`` is required by the API; anything but an explicit false counts as on (fail closed)."""
    return value is not False and str(value).lower() != "false"


def inventory_rules(d: Deployment, silo: Silo) -> list[InventoryRule]:
    """Enabled blob inventory rules of enabled policies on ``silo``'s account."""
    return _per_silo(d, "_movement_inventory", _all_inventory_rules).get(silo.name, [])


def _all_inventory_rules(d: Deployment) -> Iterator[tuple[str, InventoryRule]]:
    for pol in d.inventory.of_type(INVENTORY_POLICY):
        silo = d.silo_by_storage.get(account_of_child(pol["id"]))
        if silo is None or not _enabled(get_path(pol, "properties.policy.enabled")):
            continue
        rules = get_path(pol, "properties.policy.rules")
        # before api 2021-04-01 the destination sat on the policy; it is still what the rules write to
        legacy = get_path(pol, "properties.policy.destination")
        for r in rules if isinstance(rules, list) else []:
            if not isinstance(r, dict) or not _enabled(r.get("enabled")):
                continue
            fields = get_path(r, "definition.schemaFields")
            yield silo.name, InventoryRule(silo.name, pol, str(r.get("name") or ""),
                                           str(r.get("destination") or legacy or ""),
                                           tuple(str(f) for f in fields) if isinstance(fields, list) else ())


def readers_of_container(d: Deployment, silo: Silo, container: str) -> list[tuple[Any, list[Any]]]:
    """Principals outside the silo with a data grant that reaches ``container`` of the silo's account: granted
    at or above the account, or on that container (or below it). (Principal, grants) pairs."""
    from flaudit.access import classify

    assert silo.storage is not None
    acct = norm(silo.storage.id)
    cont = f"{acct}/blobservices/default/containers/{container.lower()}"
    out = []
    for pid, acc in d.rbac.principals_with_access(silo.storage.id).items():
        who = classify(d, pid, silo)
        if who.relation == "own-silo":
            continue
        grants = [g for g in acc.of("data") if _covers(g.assignment.scope, acct, cont)]
        if grants:
            out.append((who, grants))
    return out


def _covers(scope: str, acct: str, container: str) -> bool:
    """Whether a grant at ``scope`` (one the evaluator found on the account: above it, or inside it) reaches
    ``container``: anything above the account does; inside it, the blob service, the container or below it."""
    if not scope.startswith(acct + "/"):
        return True
    return container == scope or container.startswith(scope + "/") or scope.startswith(container + "/")


def _inventory_paths(d: Deployment, silo: Silo) -> Iterator[Path]:
    assert silo.storage is not None
    for ir in inventory_rules(d, silo):
        for who, grants in readers_of_container(d, silo, ir.container):
            hops = (Hop(f"blob inventory rule {ir.name} lists {silo.storage.name}'s blobs"
                        + (f" ({', '.join(ir.schema_fields)})" if ir.schema_fields else "")
                        + f" into container {ir.container} of the same account", ir.policy["id"]),
                    *(Hop(f"{who.name or who.id} reads it: {g.role.name if g.role else g.assignment.role_guid} at "
                          f"{g.assignment.scope}", g.assignment.id) for g in grants[:3]))
            yield Path("copy", silo.name, silo.storage.id, who.id, who.name or who.id, who.relation, hops,
                       RULE_INVENTORY, conditional=all(g.conditional for g in grants))


# -- backup ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Backup:
    """One backup instance protecting a silo account, with what its policy says and who reads for it."""

    silo: str
    instance: dict[str, Any]
    vault_id: str
    vault: dict[str, Any] | None
    policy: dict[str, Any] | None
    stores: tuple[str, ...]  # data store types the policy uses (empty when the policy is not in the input)
    identity_principal: str | None
    identity_ref: str  # what names the identity (vault system identity or the UAI id)

    @property
    def vaulted(self) -> bool:
        """Copies data out of the account: any store but OperationalStore, or a policy not in the input."""
        return not self.stores or any(s.lower() != "operationalstore" for s in self.stores)


def _stores(policy: dict[str, Any]) -> tuple[str, ...]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k.lower() == "datastoretype" and isinstance(v, str):
                    found.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(get_path(policy, "properties.policyRules"))
    return tuple(dict.fromkeys(found))


def vault_of(instance_id: str) -> str:
    low = norm(instance_id)
    i = low.find("/backupinstances/")
    return low[:i] if i > 0 else ""


def backups(d: Deployment, silo: Silo) -> list[Backup]:
    """Backup instances whose data source is ``silo``'s account (or a service under it)."""
    return _per_silo(d, "_movement_backups", _all_backups).get(silo.name, [])


def _all_backups(d: Deployment) -> Iterator[tuple[str, Backup]]:
    for bi in d.inventory.of_type(BACKUP_INSTANCE):
        sources = [get_path(bi, "properties.dataSourceInfo.resourceID"),
                   get_path(bi, "properties.dataSourceSetInfo.resourceID")]
        owners = {s.name: s for src in sources if isinstance(src, str)
                  if (s := d.silo_by_storage.get(account_of_child(src))) is not None}
        for silo in owners.values():
            vid = vault_of(bi["id"])
            vault = d.inventory.get(vid)
            pid_ref = get_path(bi, "properties.policyInfo.policyId")
            policy = d.inventory.get(pid_ref) if isinstance(pid_ref, str) else None
            uai = get_path(bi, "properties.identityDetails.userAssignedIdentityArmUrl")
            use_system = get_path(bi, "properties.identityDetails.useSystemAssignedIdentity")
            if isinstance(uai, str) and uai and use_system is not True:
                ident = d.inventory.get(uai)
                principal = get_path(ident, "properties.principalId") if ident else None
                ref = uai
            else:
                principal = get_path(vault, "identity.principalId") if vault else None
                ref = f"{vid}#system"
            yield silo.name, Backup(silo.name, bi, vid, vault, policy, _stores(policy) if policy else (),
                                    str(principal) if principal else None, ref)


def backup_identity_roles(d: Deployment, silo: Silo, b: Backup) -> list[str]:
    """Role names the identity the vault reads with holds on the silo account (after deny assignments)."""
    if not b.identity_principal or silo.storage is None:
        return []
    acc = d.rbac.access(b.identity_principal, silo.storage.id)
    return sorted({g.role.name if g.role else g.assignment.role_guid for g in acc.grants})


def _backup_path(d: Deployment, silo: Silo, b: Backup) -> Path:
    assert silo.storage is not None
    vname = name_of(b.vault_id)
    if b.policy is None:
        why = "its backup policy is not in the input, so it may keep recovery points in the vault"
    else:
        why = f"its policy {b.policy.get('name') or name_of(b.policy['id'])} uses {', '.join(b.stores)}"
    hops = [Hop(f"backup instance {b.instance.get('name') or name_of(b.instance['id'])} protects "
                f"{silo.storage.name}; {why}", b.instance["id"]),
            Hop(f"vaulted backup copies the blobs into vault {vname}, from where they can be restored to "
                "another storage account", b.vault_id)]
    own_ids = {norm(i.id) for i in silo.user_assigned}
    roles = backup_identity_roles(d, silo, b)
    who = "the silo's own identity" if norm(b.identity_ref) in own_ids else f"identity {b.identity_ref}"
    if b.identity_principal:
        hops.append(Hop(f"the vault reads as {who} (principal {b.identity_principal}), which holds "
                        + (", ".join(roles) if roles else "no role") + " on the account", b.identity_ref))
    else:
        hops.append(Hop(f"the vault reads as {who}; its principal is not in the input", b.identity_ref))
    relation = "unlisted" if b.vault is not None else "external"
    return Path("copy", silo.name, silo.storage.id, b.vault_id, vname, relation, tuple(hops), RULE_BACKUP)


# -- Azure Data Share ------------------------------------------------------------------------------------
def share_of(dataset_id: str) -> str:
    low = norm(dataset_id)
    i = low.find("/datasets/")
    return low[:i] if i > 0 else ""


def dataset_account(ds: dict[str, Any]) -> str | None:
    """The storage account a Data Share data set reads (storageAccountName with its subscriptionId and
    resourceGroup, as the Blob, BlobFolder, Container and AdlsGen2* kinds name it), as a lower-cased id when
    the parts are given, else the bare name."""
    name = get_path(ds, "properties.storageAccountName")
    if not isinstance(name, str) or not name:
        return None
    sub, rg = get_path(ds, "properties.subscriptionId"), get_path(ds, "properties.resourceGroup")
    if isinstance(sub, str) and sub and isinstance(rg, str) and rg:
        return norm(f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}")
    return name


def shared_datasets(d: Deployment, silo: Silo) -> list[dict[str, Any]]:
    """Data Share data sets that read ``silo``'s account."""
    return _per_silo(d, "_movement_datasets", _all_datasets).get(silo.name, [])


def _all_datasets(d: Deployment) -> Iterator[tuple[str, dict[str, Any]]]:
    for ds in d.inventory.of_type(DATASET):
        ref = dataset_account(ds)
        silo = d.silo_by_storage.get(_account_id(d, ref) or "") if ref else None
        if silo is not None:
            yield silo.name, ds


def _dataset_path(d: Deployment, silo: Silo, ds: dict[str, Any]) -> Path:
    assert silo.storage is not None
    sid = share_of(ds["id"])
    what = " / ".join(str(x) for x in (get_path(ds, "properties.containerName") or get_path(ds, "properties.fileSystem"),
                                       get_path(ds, "properties.folderPath") or get_path(ds, "properties.filePath"))
                      if x)
    hops = (Hop(f"Data Share data set {ds.get('name') or name_of(ds['id'])} ({ds.get('kind')}) reads "
                f"{silo.storage.name}" + (f" ({what})" if what else ""), ds["id"]),
            Hop(f"share {name_of(sid)} sends snapshots of it to every consumer who accepts an invitation, in any "
                "tenant", sid))
    return Path("copy", silo.name, silo.storage.id, sid, name_of(sid), "external", hops, RULE_SHARE)


# -- workspace connections -------------------------------------------------------------------------------
def connection_account(conn: dict[str, Any]) -> str | None:
    """The storage account a connection points at: from its target (a storage URL, an account resource id or
    a template symbol) or its metadata (AccountName / ResourceId). None when it is not a storage account."""
    target = get_path(conn, "properties.target")
    meta = get_path(conn, "properties.metadata")
    candidates: list[str] = []
    if isinstance(target, str):
        candidates.append(target.strip())
    if isinstance(meta, dict):
        for k, v in meta.items():
            if isinstance(v, str) and k.lower() in ("resourceid", "accountname", "account_name"):
                candidates.append(v.strip() if k.lower() == "resourceid" else f"name:{v.strip()}")
    for c in candidates:
        if c.startswith("name:"):
            return c[5:] or None
        sym = _symbolic_id(c)
        if sym and "/providers/microsoft.storage/storageaccounts/" in sym:
            return account_of_child(sym) or sym
        if c.startswith("/") and "/providers/microsoft.storage/storageaccounts/" in c.lower():
            return account_of_child(c)
        try:
            host = urlparse(c if "://" in c else f"https://{c}").hostname or ""
        except ValueError:  # not a URL at all
            continue
        labels = host.split(".")
        # <account>.<service>.<suffix>, the private link name <account>.privatelink.<service>.<suffix>, and the
        # DNS-zone endpoints <account>.z<NN>.<service>.storage.azure.net all name the account first
        rest = labels[1:]
        while rest and (rest[0] == "privatelink" or _DNS_ZONE.fullmatch(rest[0])):
            rest = rest[1:]
        if len(labels) > 3 and rest and rest[0] in _STORAGE_SERVICES:
            return labels[0]
    return None


def workspace_of(child_id: str) -> str:
    low = norm(child_id)
    marker = "/providers/microsoft.machinelearningservices/workspaces/"
    i = low.find(marker)
    if i < 0:
        return ""
    return low[: i + len(marker)] + low[i + len(marker):].split("/")[0]


def silo_connections(d: Deployment, silo: Silo) -> list[tuple[dict[str, Any], str]]:
    """(connection, lower-cased authType) for every connection in the input that points at ``silo``'s account."""
    return _per_silo(d, "_movement_connections", _all_connections).get(silo.name, [])


def unresolved_connections(d: Deployment) -> list[dict[str, Any]]:
    """Connections storing a secret whose target was a whole secret (a connection string, redacted on load) and
    whose metadata names no account: they may reach any silo's storage."""
    from flaudit.redact import REDACTED

    return [c for c in d.inventory.of_type(CONNECTION)
            if get_path(c, "properties.target") == REDACTED and connection_account(c) is None
            and str(get_path(c, "properties.authType") or "").lower() not in CONNECTION_IDENTITY_ONLY]


def _all_connections(d: Deployment) -> Iterator[tuple[str, tuple[dict[str, Any], str]]]:
    for conn in d.inventory.of_type(CONNECTION):
        silo = d.silo_by_storage.get(_account_id(d, connection_account(conn)) or "")
        if silo is not None:
            yield silo.name, (conn, connection_auth(conn))


def connection_auth(conn: dict[str, Any]) -> str:
    """The connection's lower-cased authType, or ``sas`` when its target URL carried a SAS (``sig=``, redacted on
    load) whatever the authType says: the workspace then stores a secret all the same."""
    from flaudit.redact import REDACTED

    target = get_path(conn, "properties.target")
    if isinstance(target, str) and target.endswith(f"?{REDACTED}"):
        return "sas"
    return str(get_path(conn, "properties.authType") or "").lower()


def _connection_path(d: Deployment, silo: Silo, conn: dict[str, Any], auth: str) -> Path:
    assert silo.storage is not None
    wid = workspace_of(conn["id"])
    in_ws = d.workspace is not None and norm(d.workspace.id) == wid
    declared = str(get_path(conn, "properties.authType") or "")
    what = ("names a managed identity that every user of the connection acts as" if auth == "managedidentity"
            else "stores a SAS in its target URL" if auth == "sas" and declared.lower() != "sas"
            else f"stores a {declared} credential")
    hops = (Hop(f"workspace connection {conn.get('name') or name_of(conn['id'])} points at {silo.storage.name} "
                f"and {what}", conn["id"]),
            Hop(f"anyone who can use workspace {name_of(wid)} (jobs, the orchestrator, workspace contributors) "
                "reads the silo's data with it, whatever the role assignments say", wid))
    return Path("credential", silo.name, silo.storage.id, wid, name_of(wid), "workspace" if in_ws else "unlisted",
                hops, RULE_CONNECTION)


# -- the producer ----------------------------------------------------------------------------------------
def copy_paths(d: Deployment) -> Iterable[Path]:
    """Every configured copy (replication, inventory report readers, vaulted backup) and stored credential
    (workspace connection) that leads from a silo's data to an outsider."""
    for silo in d.silos:
        if silo.storage is None:
            continue
        for r in replications(d, silo):
            yield _replication_path(d, r)
        yield from _inventory_paths(d, silo)
        for b in backups(d, silo):
            if b.vaulted:
                yield _backup_path(d, silo, b)
        for ds in shared_datasets(d, silo):
            yield _dataset_path(d, silo, ds)
        for conn, auth in silo_connections(d, silo):
            if auth in CONNECTION_STORED:
                yield _connection_path(d, silo, conn, auth)
