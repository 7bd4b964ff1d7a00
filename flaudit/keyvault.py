"""Which silos can use the secrets and keys of a key vault: one secret every silo can read is one credential shared
across silo boundaries.

A vault authorises its data plane in one of two ways (``properties.enableRbacAuthorization``; missing means false
at the api-versions flaudit reads, so access policies apply):

* Azure RBAC: data actions ``Microsoft.KeyVault/vaults/secrets/getSecret/action`` (read a secret's value) and
  ``Microsoft.KeyVault/vaults/keys/{decrypt,unwrap,sign}/action`` (use a key) from role assignments at the vault, a
  single secret or key below it (``.../vaults/<v>/secrets/<name>``), or any scope above it; the right to assign
  roles there (``Microsoft.Authorization/roleAssignments/write``) is the same access in waiting. Role definitions
  are evaluated by :class:`flaudit.rbac.RoleDef` (the one reader of actions/notActions); a role flaudit cannot read
  is unknown. Deny assignments are not applied here (a vault grant is reported even if a deny might remove it:
  fail closed).
* Access policies (``properties.accessPolicies[]``): an entry whose ``objectId`` is the principal with secret
  permission ``get`` or ``all``, or key permission ``decrypt``, ``unwrapKey``, ``sign`` or ``all``; and whoever may
  write access policies (``Microsoft.KeyVault/vaults/accessPolicies/write`` or ``vaults/write``, e.g. Contributor)
  can grant itself one.

References: https://learn.microsoft.com/azure/key-vault/general/rbac-guide,
https://learn.microsoft.com/azure/key-vault/general/assign-access-policy,
https://learn.microsoft.com/azure/key-vault/general/security-features; REST shape: azure-rest-api-specs
specification/keyvault/resource-manager/Microsoft.KeyVault/stable/2023-07-01/examples/getVault.json.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flaudit import memo
from flaudit.arm import get_path, is_within, norm

if TYPE_CHECKING:  # pragma: no cover
    from flaudit.model import Deployment
    from flaudit.rbac import Assignment

VAULT = "microsoft.keyvault/vaults"
DATA_USE = ("Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/keys/decrypt/action",
            "Microsoft.KeyVault/vaults/keys/unwrap/action", "Microsoft.KeyVault/vaults/keys/sign/action")
ROLE_ADMIN = "Microsoft.Authorization/roleAssignments/write"
POLICY_WRITE = ("Microsoft.KeyVault/vaults/accessPolicies/write", "Microsoft.KeyVault/vaults/write")
SECRET_USE = {"get", "all"}
KEY_USE = {"decrypt", "unwrapkey", "sign", "all"}


@dataclass(frozen=True)
class VaultUse:
    """One way a principal can use a vault's secrets or keys."""

    principal_id: str
    how: str  # rbac | access-policy | role-admin | policy-write | unknown
    region: str  # the vault id (whole vault) or a secret/key id below it
    detail: str  # a sentence naming the assignment or access policy
    ref: str  # the assignment id or the vault id


def rbac_mode(vault: dict[str, Any]) -> bool:
    return get_path(vault, "properties.enableRbacAuthorization") is True


@memo.whole("_vault_assignments")
def _vault_assignments(d: Deployment) -> dict[str, list[Assignment]]:
    """Principal id -> assignments at or below some vault (the RBAC index keeps only scopes that reach storage)."""
    from flaudit.rbac import Assignment

    out: dict[str, list[Assignment]] = defaultdict(list)
    # An assignment's id is <scope>/providers/Microsoft.Authorization/roleAssignments/<name>, and the
    # inventory is keyed by lower-cased id: one substring test per resource.
    for rid, res in d.inventory.resources.items():
        if "/providers/microsoft.keyvault/vaults/" in rid \
                and "/providers/microsoft.authorization/roleassignments/" in rid:
            a = Assignment.from_arm(res)
            out[a.principal_id].append(a)
    return out


def uses(d: Deployment, vault: dict[str, Any], principal_id: str) -> list[VaultUse]:
    """Every way ``principal_id`` can use ``vault``'s secrets or keys (or grant itself that)."""
    pid = norm(principal_id)
    vid = norm(vault.get("id"))
    out: list[VaultUse] = []
    above = set(d.rbac.scopes_above(vid))
    candidates = [a for a in d.rbac.by_principal.get(pid, ()) if a.scope in above]
    candidates += [a for a in _vault_assignments(d).get(pid, ()) if a.scope == vid or is_within(a.scope, vid)]
    rbac = rbac_mode(vault)
    for a in candidates:
        role = d.rbac.role(a.role_guid)
        region = a.scope if is_within(a.scope, vid) else vid
        if role is None:
            out.append(VaultUse(pid, "unknown", region, f"role {a.role_guid} at {a.scope} is not in the input nor "
                                "bundled with flaudit: it may grant secret access", a.id))
            continue
        if rbac:
            hits = [x for x in DATA_USE if role.allows(x, data=True)]
            if hits:
                out.append(VaultUse(pid, "rbac", region, f"{role.name} at {a.scope} allows "
                                    + ", ".join(h.rsplit("/", 2)[-2] + "/" + h.rsplit("/", 1)[-1] for h in hits),
                                    a.id))
            elif role.allows(ROLE_ADMIN, data=False):
                out.append(VaultUse(pid, "role-admin", region, f"{role.name} at {a.scope} can assign itself a "
                                    "Key Vault data role", a.id))
        elif any(role.allows(x, data=False) for x in POLICY_WRITE):
            out.append(VaultUse(pid, "policy-write", vid, f"{role.name} at {a.scope} can write the vault's access "
                                "policies and grant itself secret access", a.id))
    if not rbac:
        for i, pol in enumerate(get_path(vault, "properties.accessPolicies") or []):
            if not isinstance(pol, dict) or norm(pol.get("objectId")) != pid:
                continue
            secrets = {str(x).lower() for x in get_path(pol, "permissions.secrets") or []}
            keys = {str(x).lower() for x in get_path(pol, "permissions.keys") or []}
            if secrets & SECRET_USE or keys & KEY_USE:
                perms = sorted(secrets & SECRET_USE) + sorted(keys & KEY_USE)
                out.append(VaultUse(pid, "access-policy", vid, f"access policy [{i}] grants {', '.join(perms)}",
                                    vid))
    return out
