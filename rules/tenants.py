"""Silos in other tenants: facts that only matter once a silo and the orchestrator sit in different Entra tenants.

An approved private endpoint from a network in another tenant reaches the silo's data from outside the silo
owner's tenant, and a role assignment to another tenant's principal is access the silo's tenant cannot govern
(it cannot disable, review or condition that principal). Tenants come from :mod:`flaudit.tenants`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from flaudit.access import chain_evidence
from flaudit.arm import name_of, subscription_of
from flaudit.engine import Remediation, rule
from flaudit.findings import Fail, Finding, NotApplicable, Pass, Unknown, note
from flaudit.model import Deployment
from flaudit.tenants import B2B_GUEST, principal_placement, tenant_of

if TYPE_CHECKING:  # pragma: no cover
    from flaudit.access import Principal

CROSS_TENANT_PE_DOCS = ("https://learn.microsoft.com/azure/private-link/how-to-approve-private-link-cross-subscription")
LIGHTHOUSE_DOCS = "https://learn.microsoft.com/azure/lighthouse/overview"
LIGHTHOUSE_ROLES_DOCS = "https://learn.microsoft.com/azure/lighthouse/concepts/tenants-users-roles"
LIGHTHOUSE_REMOVE_DOCS = "https://learn.microsoft.com/azure/lighthouse/how-to/remove-delegation"
FL_EXTERNAL_DOCS = ("https://github.com/Azure-Samples/azure-ml-federated-learning/blob/main/docs/provisioning/"
                    "external-silos.md")


@rule(
    id="FL-XT-001",
    title="Silo storage private endpoints are approved only from the silo's own tenant",
    area="private-endpoints",
    severity="high",
    blocks=("production",),
    rationale="A private endpoint may sit in any subscription of any tenant; once the storage owner approves it, "
    "that network reaches the account privately. An approved endpoint whose subscription is in another tenant "
    "than the silo's storage lets a network the silo owner does not govern reach the data. Tenants come from the "
    "subscriptions' tenantId (or the FL config's tenant_id); where either is not known the answer is unknown.",
    remediation=Remediation(
        cli="az storage account private-endpoint-connection reject --account-name <account> --name <connection>",
        bicep="// approve only private endpoints from subscriptions of the silo's own tenant",
        text="Reject private endpoint connections from other tenants' subscriptions on silo storage.",
    ),
    references=(CROSS_TENANT_PE_DOCS, FL_EXTERNAL_DOCS),
)
def private_endpoints_same_tenant(d: Deployment) -> Iterable[Finding]:
    for silo in d.silos:
        st = silo.storage
        if st is None:
            continue
        approved = [lk for lk in d.network.private_endpoints_for(st.id) if lk.approved]
        if not approved:
            yield NotApplicable(st.id, f"Silo {silo.name}: storage {st.name} has no approved private endpoint.",
                                silo=silo.name)
            continue
        home = tenant_of(d, st.id)
        own_sub = (subscription_of(st.id) or "").lower()
        foreign, unknown = [], []
        for lk in approved:
            if (subscription_of(lk.pe_id) or "").lower() == own_sub:
                continue  # same subscription, same tenant
            t = tenant_of(d, lk.pe_id)
            if home is None or t is None:
                unknown.append(lk)
            elif t != home:
                foreign.append((lk, t))
        ev = [lk.evidence() for lk in approved]
        if foreign:
            yield Fail(st.id, f"Silo {silo.name}: storage {st.name} (tenant {home}) has approved private endpoint(s) "
                       "from another tenant: " + ", ".join(f"{name_of(lk.pe_id)} (tenant {t})" for lk, t in foreign)
                       + ".", silo=silo.name, evidence=ev)
        elif unknown:
            yield Unknown(st.id, f"Silo {silo.name}: the tenant of " + ", ".join(name_of(lk.pe_id) for lk in unknown)
                          + f" or of storage {st.name} is not in the input, so whether they cross tenants is "
                          "unknown.", silo=silo.name, evidence=ev + [note("give the subscriptions (collected) or "
                                                                          "tenant_id in the FL config")])
        else:
            yield Pass(st.id, f"Silo {silo.name}: every approved private endpoint of {st.name} is in its own "
                       "tenant.", silo=silo.name, evidence=ev)


@rule(
    id="FL-XT-002",
    title="Access to silo storage granted to principals of another tenant is reported",
    area="workspace-access",
    severity="info",
    blocks=(),
    rationale="A role on silo storage held by a principal of another tenant (the orchestrator's managed identity "
    "across tenants, a multi-tenant application registered elsewhere, a B2B guest, or a principal of a tenant that "
    "manages the silo's subscription through Azure Lighthouse) is access the silo's tenant cannot disable, review or "
    "put conditions on. Whether that access is allowed at all is judged by FL-WS-* and FL-ID-*; this rule names the "
    "tenant boundary it crosses. A principal an Azure Lighthouse authorization names (registrationDefinitions "
    "authorizations[] or eligibleAuthorizations[], in effect through a registrationAssignments resource at the "
    "silo's subscription or resource group) is in the managing tenant (managedByTenantId), which Azure requires to "
    "differ from the delegated subscription's, and is listed even where Lighthouse leaves it no working grant (a "
    "data role: DataActions are not usable); authorizations over the account's scope that grant nothing on it "
    "(Reader) are named in the message. Groups assigned as ForeignGroup (another tenant's group) cross it; a "
    "managed identity is placed by the tenant the input states for it or its subscription, or, without one, by "
    "sitting in the storage account's subscription (a subscription has one tenant). Users and other service "
    "principals are placed by their Microsoft Graph directory object, which live collection reads: a guest "
    "(userType Guest, creationType Invitation, externalUserState, a federated identity) is another tenant's, an "
    "application's service principal belongs to its appOwnerOrganizationId. Where that object was not read "
    "(Directory read refused, not collected) or is a group (its members are not read), the answer is unknown; with "
    "no principal holding a role it passes.",
    remediation=Remediation(
        cli="az role assignment list --scope <silo storage id> --query \"[].{principal:principalId, role:roleDefinitionName}\"",
        bicep="// grant silo data roles only to the silo's own identities, in the silo's tenant",
        text="Review every cross-tenant role on silo storage with the silo owner; remove what the FL protocol does "
        "not need. For an Azure Lighthouse delegation, remove the registration assignment (az managedservices "
        "assignment delete) or narrow the offer's authorizations.",
    ),
    references=(LIGHTHOUSE_DOCS, LIGHTHOUSE_ROLES_DOCS, LIGHTHOUSE_REMOVE_DOCS, FL_EXTERNAL_DOCS),
)
def cross_tenant_principals(d: Deployment) -> Iterable[Finding]:
    from flaudit.access import silo_storage_access

    for silo in d.silos:
        st = silo.storage
        if st is None:
            continue
        home = tenant_of(d, st.id)
        crossing, unplaced, by_graph = [], [], []
        holders = silo_storage_access(d, silo)
        for p, acc in holders:
            if str(acc.principal_type).lower() == "foreigngroup":
                # a group of another tenant (B2B) is assigned with principalType ForeignGroup: its tenant is not named
                crossing.append((p, "another (ForeignGroup)", [], acc))
                continue
            placed = principal_placement(d, p.id, st.id)
            if placed.relation == "other":
                where_from = placed.tenant if placed.tenant == B2B_GUEST else f"tenant {placed.tenant}" + (
                    " (appOwnerOrganizationId)" if placed.kind == "servicePrincipal" else "")
                crossing.append((p, where_from, placed.evidence, acc))
            elif placed.relation == "unknown":
                unplaced.append((p, acc, placed))
            elif placed.evidence:
                by_graph.append((p, acc, placed))
        where = f"{st.name} (tenant {home})" if home else st.name
        also, also_ev = _delegations_granting_nothing(d, st.id, {p.id for p, _ in holders})
        if crossing:
            yield Fail(st.id, f"Silo {silo.name}: principals of another tenant hold roles on {where}: "
                       + ", ".join(f"{_name(d, p)} ({p.relation}, {t})" for p, t, _, _ in crossing)
                       + "." + also, silo=silo.name,
                       evidence=([e for _, _, ev, _ in crossing for e in ev]
                                 + [e for who, _, _, acc in crossing for e in _held(acc, who.name)])[:20] + also_ev)
        elif unplaced:
            yield Unknown(st.id, f"Silo {silo.name}: the tenant of " + ", ".join(
                f"{_name(d, p)} ({p.relation}, {acc.principal_type or 'principal'}: {pl.why})"
                for p, acc, pl in unplaced[:10])
                + (f" and {len(unplaced) - 10} more" if len(unplaced) > 10 else "")
                + f", holding roles on {where}, is not known, so whether they cross tenants is unknown." + also,
                silo=silo.name, evidence=_first_notes([e for _, _, pl in unplaced for e in pl.evidence])
                + [e for p, acc, _ in unplaced for e in chain_evidence(acc.grants, p.name)][:20] + also_ev)
        elif holders:
            yield Pass(st.id, f"Silo {silo.name}: no principal of another tenant holds a role on {where}: "
                       + (("the one holding one is a managed identity" if len(holders) == 1 else
                           f"the {len(holders)} holding one are managed identities")
                          + " of its tenant (in the same subscription, or in the tenant the input states)."
                          if not by_graph else
                          f"the {len(holders)} holding one are of its tenant (managed identities by ARM data; "
                          + ", ".join(f"{_name(d, p)} ({pl.kind})" for p, _, pl in by_graph[:10])
                          + " by their Microsoft Graph directory object).") + also, silo=silo.name,
                       evidence=([e for _, _, pl in by_graph for e in pl.evidence]
                                 + [e for p, acc in holders for e in chain_evidence(acc.grants, p.name)])[:20] + also_ev)
        else:
            yield Pass(st.id, f"Silo {silo.name}: no principal holds a role on {st.name}." + also, silo=silo.name,
                       evidence=also_ev)


def _name(d: Deployment, p: Principal) -> str:
    """The principal's name: an identity's, else its Microsoft Graph displayName with its object id, else the id."""
    if p.name:
        return p.name
    shown = (d.inventory.directory.get(p.id) or {}).get("displayName")
    return f"{shown} [{p.id}]" if shown else p.id


def _first_notes(evidence: list[dict]) -> list[dict]:
    """Evidence with each note once (many principals unread for one reason share one note)."""
    seen: set[str] = set()
    out = []
    for e in evidence:
        key = e.get("text") if e.get("kind") == "note" else None
        if key is not None and key in seen:
            continue
        if key is not None:
            seen.add(key)
        out.append(e)
    return out[:10]


def _role_name(d: Deployment, guid: str) -> str:
    role = d.rbac.role(guid)
    return f"{role.name} ({guid})" if role else guid


def _held(acc, name: str | None) -> list[dict]:
    """Access evidence of a holder: its working grants, else the grants that grant nothing here (a data role held
    through Azure Lighthouse, whose DataActions are not usable) so the evidence still names the assignment."""
    return chain_evidence(acc.grants, name) or [g.evidence(name) for g in acc.idle]


def _delegations_granting_nothing(d: Deployment, storage_id: str, holders: set[str]) -> tuple[str, list[dict]]:
    """Azure Lighthouse authorizations over the account's scope whose principals hold nothing on it (a Reader, say):
    not access to the data, but a managing tenant inside the silo's scope, said in the message and the evidence."""
    target = storage_id.lower()
    found = [dl for dl in d.rbac.delegations.items
             if (target == dl.scope or target.startswith(dl.scope + "/")) and dl.principal_id not in holders]
    if not found:
        return "", []
    tenants = sorted({dl.tenant_label for dl in found})
    text = (f" Azure Lighthouse also delegates this scope to managing tenant(s) {', '.join(tenants)} with "
            f"authorizations that grant nothing on the account ({len(found)}).")
    return text, [note(f"Azure Lighthouse: {dl.property} of {dl.definition_id} (registration assignment "
                       f"{dl.assignment_id}, managing tenant {dl.tenant_label}) gives "
                       f"{dl.principal_name or dl.principal_id} role {_role_name(d, dl.role_guid)} at {dl.scope}"
                       + (" (eligible)" if dl.eligible else "") + ": nothing on this account") for dl in found[:10]]
