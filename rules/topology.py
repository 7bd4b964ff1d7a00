"""Topology: the audit can only vouch for silos it can see, each with its own compute and storage."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from flaudit.rules._shared import members

from flaudit.arm import norm
from flaudit.engine import Remediation, rule
from flaudit.findings import Fail, Finding, Pass, Unknown, note, prop
from flaudit.model import Deployment
from flaudit.unmodelled import unmodelled_children

FL_DOCS = "https://github.com/Azure-Samples/azure-ml-federated-learning/blob/main/docs/concepts/plan-your-fl-project.md"
AML_DATASTORE_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-datastore"


@rule(
    id="FL-TOP-001",
    title="At least one silo is found",
    area="topology",
    severity="critical",
    blocks=("prototype", "production"),
    rationale="An audit that finds no silo has checked nothing: passing it would certify an empty deployment. "
    "Silos come from the FL config (federated_learning.silos) or, without one, from compute and datastore "
    "names and 'silo' tags.",
    remediation=Remediation(
        cli="flaudit scan --input snapshot.json --config config.yaml",
        bicep="// name silo computes and datastores as the FL sample does (silo0-01, datastore_silo0),\n"
        "// or tag them: tags: { silo: 'silo0' }",
        text="Pass the FL config that the training pipelines use, or make sure the input covers the silos' "
        "resource groups.",
    ),
    references=(FL_DOCS,),
)
def silos_found(d: Deployment) -> Iterable[Finding]:
    scope = d.workspace.id if d.workspace else ""
    if not d.silos:
        how = "the FL config lists no silos" if d.config else "no compute or datastore looks like a silo"
        yield Fail(scope, f"No silo found: {how}.", evidence=[note(p) for p in d.problems])
        return
    yield Pass(scope, f"{len(d.silos)} silo(s) found ({d.source} topology): {', '.join(s.name for s in d.silos)}.",
               evidence=[note(p) for p in d.problems])


@rule(
    id="FL-TOP-002",
    title="Every resource the FL config names exists in the inventory",
    area="topology",
    severity="high",
    blocks=("prototype", "production"),
    rationale="A compute, datastore or storage account the pipelines use but the audit could not see may be "
    "configured in any way; its silo cannot be called isolated.",
    remediation=Remediation(
        cli="az ml compute show --name <compute> --workspace-name <ws> --resource-group <rg>\n"
        "az ml datastore show --name <datastore> --workspace-name <ws> --resource-group <rg>",
        bicep="// the FL config's names must match the deployed resources' names",
        text="Fix the name in config.yaml, or widen the collection scope so the resource is read.",
    ),
    references=(FL_DOCS,),
)
def config_names_resolve(d: Deployment) -> Iterable[Finding]:
    for m, silo in members(d):
        anchor = (m.computes[0].id if m.computes else "") or (d.workspace.id if d.workspace else "")
        if m.missing:
            yield Fail(anchor, f"{m.name}: " + "; ".join(m.missing) + ".", silo=silo,
                       evidence=[note(x) for x in m.missing], subject=m.name)
        elif m.computes or m.datastore:
            yield Pass(anchor, f"{m.name}: every named compute, datastore and storage account was found.",
                       silo=silo, subject=m.name)
    if d.config and d.config.workspace_name and d.workspace is None:
        yield Fail("", f"Workspace {d.config.workspace_name!r} named in the FL config is not in the inventory.",
                   evidence=[note(p) for p in d.problems], subject="workspace")


@rule(
    id="FL-TOP-003",
    title="Each silo has its own storage account",
    area="topology",
    severity="critical",
    blocks=("prototype", "production"),
    rationale="Silo isolation is enforced per storage account. If two silos, or a silo and the orchestrator, "
    "keep data in one account, any identity allowed into one can reach the other's data.",
    remediation=Remediation(
        cli="az storage account create --name <silo-storage> --resource-group <rg> --allow-shared-key-access false",
        bicep="resource siloStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = [for silo in silos: {\n"
        "  name: 'st${silo.name}${uniqueString(resourceGroup().id)}'\n  ...\n}]",
        text="Give every silo a storage account of its own and point its datastore at it.",
    ),
    references=(FL_DOCS,),
)
def storage_per_silo(d: Deployment) -> Iterable[Finding]:
    users: dict[str, list[str]] = defaultdict(list)
    for s in d.silos:
        if s.storage:
            users[norm(s.storage.id)].append(s.name)
    orch = norm(d.orchestrator.storage.id) if d.orchestrator.storage else None
    for s in d.silos:
        if s.storage is None:
            yield Unknown(s.datastore.id if s.datastore else "", f"{s.name}: its storage account could not be "
                          "resolved from the datastore, so its isolation cannot be checked.", silo=s.name,
                          evidence=[note(x) for x in s.missing])
            continue
        sid = norm(s.storage.id)
        others = [n for n in users[sid] if n != s.name]
        evidence = [prop(s.datastore.id, "properties.accountName", s.datastore.account_name)] if s.datastore else []
        if others or sid == orch:
            shared = others + (["the orchestrator"] if sid == orch else [])
            yield Fail(s.storage.id, f"{s.name}: storage account {s.storage.name} is shared with "
                       f"{', '.join(shared)}.", silo=s.name, evidence=evidence)
        else:
            yield Pass(s.storage.id, f"{s.name}: storage account {s.storage.name} serves this silo only.",
                       silo=s.name, evidence=evidence)


@rule(
    id="FL-TOP-004",
    title="Each silo has its own compute",
    area="topology",
    severity="critical",
    blocks=("prototype", "production"),
    rationale="A compute shared between silos, or with the orchestrator, runs with one identity and one network "
    "position for both, so code from one silo's job can reach the other's data.",
    remediation=Remediation(
        cli="az ml compute create --name <silo>-01 --type AmlCompute --identity-type UserAssigned "
        "--user-assigned-identities <silo-identity-id> --workspace-name <ws> --resource-group <rg>",
        bicep="resource siloCompute 'Microsoft.MachineLearningServices/workspaces/computes@2024-10-01' = "
        "[for silo in silos: {\n  name: '${workspace.name}/${silo.name}-01'\n  ...\n}]",
        text="Create one compute per silo (and one for the orchestrator) and list each only under its silo.",
    ),
    references=(FL_DOCS,),
)
def compute_per_silo(d: Deployment) -> Iterable[Finding]:
    users: dict[str, list[str]] = defaultdict(list)
    for m in [*d.silos, d.orchestrator]:
        for c in m.computes:
            users[norm(c.id)].append(m.name)
    for s in d.silos:
        if not s.computes:
            yield Unknown(s.datastore.id if s.datastore else "", f"{s.name}: no compute resolved for this silo.",
                          silo=s.name, evidence=[note(x) for x in s.missing])
            continue
        for c in s.computes:
            others = [n for n in users[norm(c.id)] if n != s.name]
            if others:
                yield Fail(c.id, f"{s.name}: compute {c.name} is also used by {', '.join(others)}.", silo=s.name)
            else:
                yield Pass(c.id, f"{s.name}: compute {c.name} serves this silo only.", silo=s.name)


@rule(
    id="FL-TOP-005",
    title="The FL topology comes from the FL config",
    area="topology",
    severity="medium",
    blocks=("production",),
    rationale="Without the FL config, flaudit infers silos from names and tags. That is enough for a first look, "
    "but a production sign-off must check the silo boundaries the training pipelines actually use.",
    remediation=Remediation(
        cli="flaudit scan --input snapshot.json --config config.yaml --profile production",
        bicep="// not applicable: pass the pipelines' config.yaml to flaudit",
        text="Pass --config with the config.yaml the FL pipelines are submitted with.",
    ),
    references=(FL_DOCS,),
)
def topology_from_config(d: Deployment) -> Iterable[Finding]:
    scope = d.workspace.id if d.workspace else ""
    if d.source == "config":
        yield Pass(scope, f"Topology read from the FL config {d.config.path if d.config else ''}.".strip())
    else:
        yield Unknown(scope, "Topology was inferred from resource names and tags; silo boundaries are not "
                      "confirmed by an FL config.", evidence=[note(p) for p in d.problems])


@rule(
    id="FL-TOP-006",
    title="Everything needed for the audit was read and understood",
    area="topology",
    severity="high",
    blocks=("prototype", "production"),
    rationale="Reads that failed (403, 404, throttling) and template constructs flaudit could not evaluate hide "
    "configuration the rules need. They make the verdict unknown rather than letting missing data pass. Child "
    "resources of a silo's or the orchestrator's storage account, identity or compute, or of the workspace, whose type "
    "flaudit does not model are listed by name (result input.unmodelled); a type not on flaudit's documented "
    "list of inert ones (flaudit/unmodelled.py: service settings, lifecycle, locks, Azure ML asset records...) "
    "may copy data or grant access (local users, federated credentials, diagnostic settings, endpoints, event "
    "subscriptions...) and makes production unknown until it is modelled.",
    remediation=Remediation(
        cli="az role assignment create --assignee <auditor> --role Reader --scope /subscriptions/<sub>",
        bicep="// grant the auditing principal Reader on the FL subscription or resource groups",
        text="Give the auditing identity Reader on every scope in play (it includes Microsoft.Authorization/*/read), "
        "or simplify the template construct reported.",
    ),
    references=("https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/general#reader",),
)
def inputs_complete(d: Deployment) -> Iterable[Finding]:
    inv = d.inventory
    for u in inv.unreadable:
        status = f"HTTP {u.status}" if u.status else "error"
        yield Unknown(u.scope, f"Could not read {u.resource_type} at {u.scope or 'the scope'} ({status}: {u.message}).",
                      evidence=[{"kind": "note", "text": f"{u.resource_type}: {u.message}"}],
                      subject=f"unreadable|{u.resource_type}")
    for i, item in enumerate(inv.unsupported):
        yield Unknown(item.get("resource_id") or "", f"Template construct not evaluated: {item.get('message')}",
                      evidence=[note(str(item.get("message")))], subject=f"unsupported|{i}|{item.get('message')}")
    unmodelled = unmodelled_children(d)
    for u in unmodelled:
        if not u.data_bearing:
            continue
        owner, _, what = u.parent_kind.partition("-")
        where = f"{u.silo}'s {what}" if u.silo else f"the orchestrator's {what}" if owner == "orchestrator" \
            else "the workspace"
        f = Unknown(u.parent_id, f"{where} {u.parent_id.rsplit('/', 1)[-1]} has {len(u.ids)} {u.resource_type} "
                    f"resource(s) flaudit does not model: {u.reason}.", silo=u.silo,
                    evidence=[note(f"{u.resource_type}: {u.reason}"), *(note(i) for i in u.ids[:10])],
                    subject=f"unmodelled|{u.resource_type}")
        f.blocks = ("production",)
        yield f
    if not inv.unreadable and not inv.unsupported and not any(u.data_bearing for u in unmodelled):
        inert = [note(f"not modelled, inert: {u.resource_type} under {u.parent_id} ({u.reason})") for u in unmodelled]
        yield Pass("", f"All {len(inv.resources)} resources in the input were read and evaluated"
                   + (f"; {len(inert)} unmodelled child type(s) are inert." if inert else "."), evidence=inert)
