"""Storage hardening: the account-level settings that decide how silo data can be reached at all.

Network paths and role assignments say *who* can reach a silo's storage; these settings say *how*: over
plaintext or old TLS, anonymously, with an account key that bypasses Entra ID and RBAC, or by replicating
objects into another tenant. Each rule reads one property of every silo storage account and of the
orchestrator's account (which holds every silo's model updates).

Missing properties are read with the default Azure applies when the property is absent, and the finding
says so (``default_assumed``). Where Azure's default changed over time and an absent value can still mean
the weaker setting on older accounts, the rule fails closed: absence is not proof of the safe value. The
defaults are listed in docs/azure-defaults.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from flaudit.rules._shared import Verdict, members

from flaudit.arm import get_path, norm
from flaudit.engine import Remediation, rule
from flaudit.findings import Finding, Unknown, note, prop
from flaudit.model import Deployment, Member, StorageAccount

REST_DOCS = "https://learn.microsoft.com/rest/api/storagerp/storage-accounts/get-properties"
TLS_DOCS = "https://learn.microsoft.com/azure/storage/common/transport-layer-security-configure-minimum-version"
HTTPS_DOCS = "https://learn.microsoft.com/azure/storage/common/storage-require-secure-transfer"
ANON_DOCS = "https://learn.microsoft.com/azure/storage/blobs/anonymous-read-access-prevent"
SHARED_KEY_DOCS = "https://learn.microsoft.com/azure/storage/common/shared-key-authorization-prevent"
XTENANT_DOCS = "https://learn.microsoft.com/azure/storage/blobs/object-replication-prevent-cross-tenant-policies"
INFRA_DOCS = "https://learn.microsoft.com/azure/storage/common/infrastructure-encryption-enable"
CMK_DOCS = "https://learn.microsoft.com/azure/storage/common/customer-managed-keys-overview"

#: Known values of ``minimumTlsVersion``, oldest first.
TLS_ORDER = ("TLS1_0", "TLS1_1", "TLS1_2", "TLS1_3")


def _unresolved(m: Member, silo: str | None) -> Finding:
    """The member's storage account is not known: nothing about it can be vouched for."""
    anchor = m.datastore.id if m.datastore else (m.computes[0].id if m.computes else "")
    why = "; ".join(m.missing) if m.missing else "no datastore names a storage account for it"
    return Unknown(anchor, f"{m.name}: storage account could not be resolved ({why}), so its settings "
                   "cannot be checked.", silo=silo, subject=f"{m.name}|storage",
                   evidence=[note(x) for x in m.missing] or [note(why)])


def each_account(d: Deployment, judge: Callable[[StorageAccount], Verdict]) -> Iterator[Finding]:
    """Apply ``judge`` to every silo account and the orchestrator's, once per account.

    An account shared by two members (a topology failure reported by FL-TOP-003) is judged once, under the
    first member that uses it, so finding ids stay unique.
    """
    for state, m, silo, who in _accounts_to_judge(d):
        if state == "unresolved":
            yield _unresolved(m, silo)
        elif state == "no-properties":
            # No defaults are assumed for an account whose export carries no properties at all.
            yield Unknown(m.storage.id, f"{who}: {m.storage.name}: the input holds no properties for this account "
                          "(a truncated export?), so its settings cannot be checked.", silo=silo,
                          evidence=[prop(m.storage.id, "properties", m.storage.raw.get("properties"))])
        else:
            v = judge(m.storage)
            yield v.finding(m.storage.id, f"{who}: {m.storage.name}: {v.message}", silo=silo)


def _accounts_to_judge(d: Deployment) -> list[tuple[str, Member, str | None, str]]:
    """(state, member, silo name, who) per member in :func:`members` order, the members sharing an account
    already listed left out: which accounts each rule judges, worked out once per deployment for the eight rules
    here. ``state``: ``unresolved`` (no account), ``no-properties`` (nothing to judge) or ``judge``."""
    cached = d.__dict__.get("_storage_hardening_accounts")
    if cached is not None:
        return cached
    out: list[tuple[str, Member, str | None, str]] = []
    seen: set[str] = set()
    for m, silo in members(d):
        who = m.name if silo else "orchestrator"
        if m.storage is None:
            out.append(("unresolved", m, silo, who))
            continue
        key = norm(m.storage.id)
        if key in seen:
            continue
        seen.add(key)
        props = m.storage.raw.get("properties")
        out.append(("no-properties" if not isinstance(props, dict) or not props else "judge", m, silo, who))
    d.__dict__["_storage_hardening_accounts"] = out
    return out


def _api_version(st: StorageAccount) -> str | None:
    """The ``apiVersion`` a template declared for the account, when the input kept it."""
    v = st.raw.get("apiVersion")
    return v if isinstance(v, str) and v else None


def _explicitly_false(st: StorageAccount, name: str, *, unset: str, unset_note: str, off: str, on: str) -> Verdict:
    """A permission that must be stated false, whose Azure default changed in 2023.

    Newer accounts default to false, older ones left the property unset and allowed it. The account's age is
    not in its properties, so absence is not proof of false: it fails closed (evidence records true,
    ``unset_note`` saying why). ``off``/``on`` are the messages for an explicit false/true.
    """
    path = f"properties.{name}"
    value = st.prop(path)
    if value is None:
        return Verdict("fail", unset, [prop(st.id, path, True, default_assumed=True, default_note=unset_note)])
    if value is False:
        return Verdict("pass", off, [prop(st.id, path, value)])
    if value is True:
        return Verdict("fail", on, [prop(st.id, path, value)])
    return Verdict("unknown", f"{name} has the unexpected value {value!r}.", [prop(st.id, path, value)])


# ---------------------------------------------------------------------------------------------------------
@rule(
    id="FL-STG-001",
    title="Storage accounts require TLS 1.2 or later",
    area="storage-hardening",
    severity="medium",
    blocks=("production",),
    rationale="Silo data and model updates travel to and from these accounts. TLS 1.0 and 1.1 have known "
    "weaknesses and fail current compliance baselines. Azure default assumed for a missing "
    "minimumTlsVersion: TLS1_0 (the REST API's documented default interpretation; accounts created by CLI, "
    "PowerShell or templates without the property never had it set). Microsoft announced that Azure Storage "
    "endpoints stop accepting TLS 1.0/1.1 from February 2026 whatever the property says; flaudit still "
    "requires the account to state TLS1_2 or later, as Azure Policy does, so the guarantee is visible in "
    "the configuration and cannot be lowered.",
    remediation=Remediation(
        cli="az storage account update --name <account> --resource-group <rg> --min-tls-version TLS1_2",
        bicep="resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  ...\n  properties: {\n"
        "    minimumTlsVersion: 'TLS1_2'\n  }\n}",
        text="Set the minimum TLS version to TLS1_2 on every silo account and the orchestrator's account.",
    ),
    references=(TLS_DOCS, REST_DOCS),
    policy=("fe83a0eb-a853-422d-aac2-1bffd182c5d0",),
)
def minimum_tls(d: Deployment) -> Iterable[Finding]:
    def judge(st: StorageAccount) -> Verdict:
        path = "properties.minimumTlsVersion"
        value = st.prop(path)
        if value is None:
            return Verdict("fail", "minimumTlsVersion is not set, which Azure interprets as TLS1_0.",
                           [prop(st.id, path, "TLS1_0", default_assumed=True,
                                 default_note="missing means TLS1_0 (Azure's documented default interpretation)")])
        canon = str(value).strip().upper()
        if canon not in TLS_ORDER:
            return Verdict("unknown", f"minimumTlsVersion {value!r} is not a value flaudit knows.",
                           [prop(st.id, path, value)])
        if TLS_ORDER.index(canon) >= TLS_ORDER.index("TLS1_2"):
            return Verdict("pass", f"requires {canon} or later.", [prop(st.id, path, value)])
        return Verdict("fail", f"accepts {canon}, older than TLS1_2.", [prop(st.id, path, value)])

    yield from each_account(d, judge)


# ---------------------------------------------------------------------------------------------------------
@rule(
    id="FL-STG-002",
    title="Storage accounts accept HTTPS only (secure transfer required)",
    area="storage-hardening",
    severity="high",
    blocks=("production",),
    rationale="With secure transfer off, the blob endpoint answers plain HTTP: data, bearer tokens and SAS "
    "signatures cross the network unencrypted. Azure default assumed for a missing "
    "supportsHttpsTrafficOnly: true, as documented for API version 2019-04-01 and later (every current "
    "collector and template uses such a version); when the input states an older apiVersion for the account, "
    "missing means false.",
    remediation=Remediation(
        cli="az storage account update --name <account> --resource-group <rg> --https-only true",
        bicep="resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  ...\n  properties: {\n"
        "    supportsHttpsTrafficOnly: true\n  }\n}",
        text="Require secure transfer on every silo account and the orchestrator's account.",
    ),
    references=(HTTPS_DOCS, REST_DOCS),
    policy=("404c3081-a854-4457-ae30-26a93ef643f9",),
)
def https_only(d: Deployment) -> Iterable[Finding]:
    def judge(st: StorageAccount) -> Verdict:
        path = "properties.supportsHttpsTrafficOnly"
        value = st.prop(path)
        if value is None:
            api = _api_version(st)
            if api is not None and api < "2019-04-01":
                return Verdict("fail", f"supportsHttpsTrafficOnly is not set and the account's API version "
                               f"{api} defaults it to false: plain HTTP is accepted.",
                               [prop(st.id, path, False, default_assumed=True,
                                     default_note=f"missing means false before API 2019-04-01 (apiVersion {api})")])
            return Verdict("pass", "supportsHttpsTrafficOnly is not set; Azure's default since API 2019-04-01 "
                           "is true (HTTPS only).",
                           [prop(st.id, path, True, default_assumed=True,
                                 default_note="missing means true (Azure default since API 2019-04-01)")])
        if value is True:
            return Verdict("pass", "accepts HTTPS only.", [prop(st.id, path, value)])
        if value is False:
            return Verdict("fail", "accepts plain HTTP (secure transfer is off).", [prop(st.id, path, value)])
        return Verdict("unknown", f"supportsHttpsTrafficOnly has the unexpected value {value!r}.",
                       [prop(st.id, path, value)])

    yield from each_account(d, judge)


# ---------------------------------------------------------------------------------------------------------
@rule(
    id="FL-STG-003",
    title="Storage accounts disallow anonymous blob access",
    area="storage-hardening",
    severity="high",
    blocks=("production",),
    rationale="While allowBlobPublicAccess is not false, anyone with a container's write access (or a "
    "mistaken deployment) can make a container anonymously readable, exposing a silo's data without any "
    "identity. Azure default for a missing allowBlobPublicAccess: it changed. Accounts created since the "
    "late-2023 rollout (and API 2023-01-01 and later) default to false, but on older accounts the property "
    "is null and Azure permits anonymous access. flaudit cannot tell an account's age from its properties, "
    "so a missing value is not proof of false: it fails closed and is reported as allowing anonymous access, "
    "as Azure Policy does.",
    remediation=Remediation(
        cli="az storage account update --name <account> --resource-group <rg> --allow-blob-public-access false",
        bicep="resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  ...\n  properties: {\n"
        "    allowBlobPublicAccess: false\n  }\n}",
        text="Set allowBlobPublicAccess to false explicitly on every silo account and the orchestrator's account.",
    ),
    references=(ANON_DOCS, REST_DOCS),
    policy=("4fa4b6c0-31ca-4c0d-b10d-24b96f62a751",),
)
def no_anonymous_blob_access(d: Deployment) -> Iterable[Finding]:
    def judge(st: StorageAccount) -> Verdict:
        return _explicitly_false(
            st, "allowBlobPublicAccess",
            unset="allowBlobPublicAccess is not set; on accounts older than the 2023 default change that permits "
            "anonymous access, so it is not proven disabled.",
            unset_note="missing is treated as true: false is the default only for accounts created since late 2023 "
            "(API 2023-01-01+); older accounts allow anonymous access while the property is null (fail closed)",
            off="anonymous blob access is disallowed.",
            on="anonymous blob access is allowed: any container can be made public.")

    yield from each_account(d, judge)


# ---------------------------------------------------------------------------------------------------------
@rule(
    id="FL-STG-004",
    title="Storage accounts disallow shared key (account key and SAS) authorization",
    area="storage-hardening",
    severity="high",
    blocks=("production",),
    rationale="Account keys and the SAS tokens signed with them bypass Entra ID, RBAC and ABAC conditions: "
    "whoever holds one reads every silo blob in the account, and keys do not expire. With shared key access "
    "disabled, key-bearing roles (such as the Storage Account Key Operator Service Role the FL sample "
    "grants) become inert. Azure default assumed for a missing allowSharedKeyAccess: null, which Azure "
    "treats as true (shared key allowed).",
    remediation=Remediation(
        cli="az storage account update --name <account> --resource-group <rg> --allow-shared-key-access false",
        bicep="resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  ...\n  properties: {\n"
        "    allowSharedKeyAccess: false\n  }\n}",
        text="Disable shared key access; use identity-based datastores (credentialsType None) and user "
        "delegation SAS where a SAS is unavoidable.",
    ),
    references=(SHARED_KEY_DOCS, REST_DOCS),
    policy=("8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54",),
)
def no_shared_key(d: Deployment) -> Iterable[Finding]:
    def judge(st: StorageAccount) -> Verdict:
        path = "properties.allowSharedKeyAccess"
        value = st.prop(path)
        if value is None:
            return Verdict("fail", "allowSharedKeyAccess is not set, which Azure treats as true: account keys "
                           "and SAS tokens work.",
                           [prop(st.id, path, True, default_assumed=True,
                                 default_note="missing (null) means true (Azure default)")])
        if value is True:
            return Verdict("fail", "shared key authorization is allowed: account keys and SAS tokens work.",
                           [prop(st.id, path, value)])
        if value is not False:
            return Verdict("unknown", f"allowSharedKeyAccess has the unexpected value {value!r}.",
                           [prop(st.id, path, value)])
        per_service = st.prop("properties.allowSharedKeyAccessForServices")
        enabled = sorted(svc for svc, cfg in (per_service or {}).items()
                         if isinstance(cfg, dict) and get_path(cfg, "enabled") is True) \
            if isinstance(per_service, dict) else []
        if enabled:
            return Verdict("unknown", "allowSharedKeyAccess is false but allowSharedKeyAccessForServices enables "
                           f"shared key for {', '.join(enabled)}; flaudit cannot tell which setting wins.",
                           [prop(st.id, path, value),
                            prop(st.id, "properties.allowSharedKeyAccessForServices", per_service)])
        return Verdict("pass", "shared key authorization is disabled.", [prop(st.id, path, value)])

    yield from each_account(d, judge)


# ---------------------------------------------------------------------------------------------------------
@rule(
    id="FL-STG-005",
    title="Storage accounts disallow cross-tenant object replication",
    area="storage-hardening",
    severity="medium",
    blocks=("production",),
    rationale="Object replication to an account in another Entra tenant copies silo data out of the "
    "organisation's control by a management-plane change, with no data-plane role involved. Azure default "
    "for a missing allowCrossTenantReplication: false only for accounts created after 15 December 2023; on "
    "older accounts the property was left unset and cross-tenant replication is permitted. flaudit cannot "
    "tell an account's age, so a missing value fails closed.",
    remediation=Remediation(
        cli="az storage account update --name <account> --resource-group <rg> "
        "--allow-cross-tenant-replication false",
        bicep="resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  ...\n  properties: {\n"
        "    allowCrossTenantReplication: false\n  }\n}",
        text="Set allowCrossTenantReplication to false explicitly on every silo account and the orchestrator's "
        "account.",
    ),
    references=(XTENANT_DOCS, REST_DOCS),
    policy=("92a89a79-6c52-4a7e-a03f-61306fc49312",),
)
def no_cross_tenant_replication(d: Deployment) -> Iterable[Finding]:
    def judge(st: StorageAccount) -> Verdict:
        return _explicitly_false(
            st, "allowCrossTenantReplication",
            unset="allowCrossTenantReplication is not set; on accounts older than the 2023 default change that "
            "permits replication to other tenants, so it is not proven disabled.",
            unset_note="missing is treated as true: false is the default only for accounts created after 15 December "
            "2023; older accounts permit cross-tenant replication while the property is unset (fail closed)",
            off="cross-tenant object replication is disallowed.",
            on="object replication to accounts in other tenants is allowed.")

    yield from each_account(d, judge)


# ---------------------------------------------------------------------------------------------------------
@rule(
    id="FL-STG-006",
    title="Storage accounts use infrastructure encryption or customer-managed keys",
    area="storage-hardening",
    severity="info",
    blocks=(),
    rationale="All Azure Storage data is encrypted at rest with Microsoft-managed keys. Infrastructure "
    "(double) encryption adds a second layer, and customer-managed keys let the data owner revoke access "
    "cryptographically; either is often required for sensitive data. Informational: it blocks no profile. "
    "Azure defaults assumed: a missing encryption.requireInfrastructureEncryption means false (it can only "
    "be set when the account is created), a missing encryption.keySource means Microsoft.Storage "
    "(Microsoft-managed keys).",
    remediation=Remediation(
        cli="az storage account create --name <account> --resource-group <rg> --require-infrastructure-encryption\n"
        "# or: az storage account update --name <account> --resource-group <rg> --encryption-key-source "
        "Microsoft.Keyvault --encryption-key-vault <vault-uri> --encryption-key-name <key> "
        "--key-vault-user-identity-id <uai-id> --identity-type UserAssigned --user-identity-id <uai-id>",
        bicep="resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  ...\n  properties: {\n"
        "    encryption: {\n      requireInfrastructureEncryption: true\n      keySource: 'Microsoft.Storage'\n"
        "      services: { blob: { enabled: true, keyType: 'Account' } }\n    }\n  }\n}",
        text="Infrastructure encryption needs a new account (copy the data across); customer-managed keys can "
        "be switched on for an existing account.",
    ),
    references=(INFRA_DOCS, CMK_DOCS),
    policy=("4733ea7b-a883-42fe-8cac-97454c2a9e4a", "6fac406b-40ca-413b-bf8e-0bf964659c25"),
)
def encryption_at_rest(d: Deployment) -> Iterable[Finding]:
    def judge(st: StorageAccount) -> Verdict:
        infra_path, key_path = "properties.encryption.requireInfrastructureEncryption", "properties.encryption.keySource"
        infra, source = st.prop(infra_path), st.prop(key_path)
        evidence = [
            prop(st.id, infra_path, infra) if infra is not None else
            prop(st.id, infra_path, False, default_assumed=True, default_note="missing means false (Azure default)"),
            prop(st.id, key_path, source) if source is not None else
            prop(st.id, key_path, "Microsoft.Storage", default_assumed=True,
                 default_note="missing means Microsoft.Storage, Microsoft-managed keys (Azure default)"),
        ]
        cmk = isinstance(source, str) and source.lower() == "microsoft.keyvault"
        if infra is True and cmk:
            return Verdict("pass", "infrastructure encryption and customer-managed keys are on.", evidence)
        if infra is True:
            return Verdict("pass", "infrastructure (double) encryption is on.", evidence)
        if cmk:
            return Verdict("pass", "data is encrypted with customer-managed keys.", evidence)
        return Verdict("fail", "encrypted with Microsoft-managed keys only (no infrastructure encryption, no "
                       "customer-managed key).", evidence)

    yield from each_account(d, judge)


# ---------------------------------------------------------------------------------------------------------
@rule(
    id="FL-STG-007",
    title="Storage accounts have SFTP and local users disabled",
    area="storage-hardening",
    severity="high",
    blocks=("production",),
    rationale="SFTP and local users (isSftpEnabled, isLocalUserEnabled) authenticate with their own passwords or "
    "SSH keys, outside Entra ID and RBAC, so none of the role-assignment isolation flaudit checks applies to them: "
    "a local user with a home directory in a silo's container reads that silo's data. Azure defaults assumed for "
    "missing values: isSftpEnabled false and isLocalUserEnabled true (local users only work with SFTP on, so a "
    "missing isSftpEnabled closes the path).",
    remediation=Remediation(
        cli="az storage account update --name <account> --resource-group <rg> --enable-sftp false "
        "--enable-local-user false",
        bicep="resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  ...\n  properties: {\n"
        "    isSftpEnabled: false\n    isLocalUserEnabled: false\n  }\n}",
        text="Turn SFTP off on silo and orchestrator accounts; move data with identity-based access instead.",
    ),
    references=("https://learn.microsoft.com/azure/storage/blobs/secure-file-transfer-protocol-support",),
)
def no_sftp_local_users(d: Deployment) -> Iterable[Finding]:
    def judge(st: StorageAccount) -> Verdict:
        sftp, local = st.prop("properties.isSftpEnabled"), st.prop("properties.isLocalUserEnabled")
        ev = [prop(st.id, "properties.isSftpEnabled", sftp, default_assumed=sftp is None,
                   default_note="missing means false (Azure default)" if sftp is None else None),
              prop(st.id, "properties.isLocalUserEnabled", local, default_assumed=local is None,
                   default_note="missing means true (Azure default)" if local is None else None)]
        if sftp is None or sftp is False:
            return Verdict("pass", "SFTP is off, so local users cannot sign in.", ev)
        if sftp is True:
            if local is False:
                return Verdict("pass", "SFTP is on but local users are disabled (no SFTP sign-in is possible).", ev)
            return Verdict("fail", "SFTP is on with local users enabled: password or SSH-key access outside RBAC.",
                           ev)
        return Verdict("unknown", f"isSftpEnabled has the unexpected value {sftp!r}.", ev)

    yield from each_account(d, judge)


@rule(
    id="FL-STG-008",
    title="Storage accounts have NFS 3.0 disabled",
    area="storage-hardening",
    severity="high",
    blocks=("production",),
    rationale="NFS 3.0 on Blob storage (isNfsV3Enabled) authorizes by network location only: any client in an "
    "allowed virtual network mounts the containers with no identity and no RBAC check, so the silo-identity "
    "isolation flaudit verifies does not apply. Azure default assumed for a missing isNfsV3Enabled: false (it can "
    "only be set when the account is created).",
    remediation=Remediation(
        cli="az storage account create --name <new-account> --resource-group <rg> --enable-nfs-v3 false  "
        "# NFS 3.0 cannot be turned off on an existing account",
        bicep="resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  ...\n  properties: {\n"
        "    isNfsV3Enabled: false\n  }\n}",
        text="Keep silo data on accounts without NFS 3.0; migrate data off an NFS-enabled account.",
    ),
    references=("https://learn.microsoft.com/azure/storage/blobs/network-file-system-protocol-support",),
)
def no_nfs_v3(d: Deployment) -> Iterable[Finding]:
    def judge(st: StorageAccount) -> Verdict:
        value = st.prop("properties.isNfsV3Enabled")
        ev = [prop(st.id, "properties.isNfsV3Enabled", value, default_assumed=value is None,
                   default_note="missing means false (Azure default)" if value is None else None)]
        if value is None or value is False:
            return Verdict("pass", "NFS 3.0 is off.", ev)
        if value is True:
            return Verdict("fail", "NFS 3.0 is on: clients in an allowed network mount its data without identity.",
                           ev)
        return Verdict("unknown", f"isNfsV3Enabled has the unexpected value {value!r}.", ev)

    yield from each_account(d, judge)
