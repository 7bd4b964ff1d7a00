"""Who can act as a silo's user-assigned identity, and so reach everything it reaches: identity-takeover paths.

Whoever can get a token for the silo's identity is as good as the silo's compute. Through Azure RBAC that is
anyone holding, at the identity or at any scope containing it (root, management group, subscription, resource
group; deny assignments applied):

- ``Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write``: add a federated
  credential trusting an identity provider it controls, then exchange that provider's tokens for the
  identity's (learn.microsoft.com/entra/workload-id/workload-identity-federation-create-trust-user-assigned-
  managed-identity);
- ``.../userAssignedIdentities/assign/action``: attach the identity to a VM, app or compute it controls, which
  then gets the identity's tokens (learn.microsoft.com/entra/identity/managed-identities-azure-resources/
  how-manage-user-assigned-managed-identities, "Managed Identity Operator");
- ``.../userAssignedIdentities/write`` (Owner/Contributor-like rights on the identity; counted fail closed);
- ``Microsoft.Authorization/roleAssignments/write`` over the identity: grant itself any of the above (unless a
  delegation condition confines it to roles that carry none of them).

PIM-eligible assignments count the same and are reported as kind ``eligible``. A federated identity credential
that already exists on the silo identity is a takeover path too: the external issuer and subject it names can
get the identity's tokens today. Which operations count comes from the operation catalogue
(flaudit/data/operations.json, class ``identity-takeover``), so custom roles and wildcards are judged the same
way. Resources that already run as the identity are the sinks evaluator's business (FL-ID-010).

Producer registered in flaudit/reach.py; judged by FL-ID-009 (rules/silo_identity.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flaudit import memo
from flaudit.access import classify
from flaudit.arm import get_path, norm
from flaudit.paths import Hop, Path

if TYPE_CHECKING:  # pragma: no cover
    from flaudit.model import Deployment, Identity, Silo
    from flaudit.rbac import Access

RULE = "FL-ID-009"
FIC = "microsoft.managedidentity/userassignedidentities/federatedidentitycredentials"


def silo_identities(silo: Silo) -> list[Identity]:
    """The silo's user-assigned identities (the ones an outsider could take over)."""
    return [i for i in silo.user_assigned if i.id and "#" not in i.id]


@memo.whole("_federated_credentials")
def federated_credentials(d: Deployment) -> dict[str, list[dict]]:
    """Identity id (lower case) -> its federated identity credentials in the inventory (computed once)."""
    out: dict[str, list[dict]] = {}
    for r in d.inventory.of_type(FIC):
        rid = norm(r.get("id"))
        i = rid.find("/federatedidentitycredentials/")
        if i > 0:
            out.setdefault(rid[:i], []).append(r)
    return out


def identity_takeover_paths(d: Deployment) -> Iterator[Path]:
    """Every path by which someone other than the silo can act as one of its user-assigned identities."""
    fics = federated_credentials(d)
    for silo in d.silos:
        own: set[str] | None = None  # the silo's own principals, gathered when some principal can act as it
        for ident in silo_identities(silo):
            for pid, acc in sorted(d.rbac.principals_with_identity_access(ident.id).items()):
                if own is None:
                    own = set(silo.principal_ids) | {norm(g) for g in silo.groups}
                if pid in own:
                    continue
                who = classify(d, pid, silo)
                if who.relation == "own-silo":
                    continue
                yield _rbac_path(silo, ident, who.id, who.name, who.relation, acc)
            for fic in fics.get(norm(ident.id), []):
                yield _fic_path(silo, ident, fic)


def _rbac_path(silo: Silo, ident: Identity, pid: str, name: str | None, relation: str, acc: Access) -> Path:
    grants = acc.grants
    known = [g for g in grants if g.kind != "unknown"]
    if not known:
        kind = "unknown"
    elif all(g.eligible for g in known):
        kind = "eligible"
    else:
        kind = "identity-takeover"
    hops = []
    seen: set[tuple[str, str]] = set()
    for g in grants:
        if (g.assignment.id, g.kind) in seen:
            continue
        seen.add((g.assignment.id, g.kind))
        role = g.role.name if g.role else f"unknown role {g.assignment.role_guid}"
        pim = "PIM-eligible " if g.eligible else ""
        cond = f" (condition: {g.assignment.condition})" if g.assignment.condition else ""
        dl = g.assignment.delegation
        via = (f" through Azure Lighthouse: {dl.property} of registration definition {dl.definition_id}, put into "
               f"effect by registration assignment {dl.assignment_id}, held in managing tenant {dl.tenant_label}"
               if dl is not None else "")
        hops.append(Hop(f"{pim}{role} at {g.assignment.scope} grants {g.action} ({g.kind}){cond}{via}",
                        dl.assignment_id if dl is not None else g.assignment.id))
    hops.append(Hop(f"which lets it act as {ident.name}, the identity {silo.name}'s compute runs as", ident.id))
    return Path(kind=kind, silo=silo.name, source_id=ident.id, outsider_id=pid, outsider_name=name or pid,
                relation=relation, hops=tuple(hops), rule_id=RULE,
                conditional=bool(known) and all(g.conditional for g in known))


def _fic_path(silo: Silo, ident: Identity, fic: dict) -> Path:
    issuer = str(get_path(fic, "properties.issuer") or "")
    subject = str(get_path(fic, "properties.subject") or "")
    audiences = get_path(fic, "properties.audiences") or []
    hops = (Hop(f"federated identity credential {fic.get('name')} on {ident.name} trusts tokens issued by "
                f"{issuer or '(no issuer in the input)'} for subject {subject or '(no subject in the input)'} "
                f"(audiences {', '.join(map(str, audiences)) or 'none listed'})", fic.get("id", "")),
            Hop(f"so that issuer's tokens are exchanged for {ident.name}'s, the identity {silo.name}'s compute "
                "runs as", ident.id))
    return Path(kind="identity-takeover", silo=silo.name, source_id=ident.id,
                outsider_id=f"{issuer}#{subject}" if issuer or subject else fic.get("id", ""),
                outsider_name=subject or issuer or str(fic.get("name") or ""), relation="external", hops=hops,
                rule_id=RULE)
