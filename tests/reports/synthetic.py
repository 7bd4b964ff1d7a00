"""Result dicts that follow docs/result-contract.md exactly, for renderer tests and benchmarks/bench_reports.py.

``make_result(n)`` builds an FL deployment of ``n`` silos where silo 0 is clean, silo 1's storage is readable by
silo 2's identity (a boundary crossing), silo 2 has an unknown check (403 on its NSG), silo 3 has a waived
failure, and every silo has network paths; deployment-wide findings carry ``silo: null``.
"""

from __future__ import annotations

import hashlib
from typing import Any

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000"
XSS_SCRIPT = "<script>document.title='pwned'</script>"
XSS_IMG = "\"><img src=x onerror=\"document.title='pwned'\">"


def rid(rg: str, provider: str, name: str) -> str:
    return f"{SUB}/resourceGroups/{rg}/providers/{provider}/{name}"


def finding_id(rule_id: str, resource_id: str, subject: str | None) -> str:
    key = f"{resource_id.lower()}|{(subject or '').lower()}"
    return f"{rule_id}:{hashlib.sha256(key.encode()).hexdigest()[:12]}"


RULES: list[dict[str, Any]] = [
    {"id": "FL-NET-001", "title": "Silo computes run in a virtual network", "area": "network-isolation",
     "severity": "high", "blocks": ["production"],
     "rationale": "A compute outside a VNet reaches storage over the public internet.",
     "remediation": {"cli": "az ml compute create --name c --type AmlCompute --vnet-name v --subnet s",
                     "bicep": "resource c 'Microsoft.MachineLearningServices/workspaces/computes@2024-04-01' = {\n"
                              "  properties: { properties: { subnet: { id: subnetId } } }\n}",
                     "text": "Attach the compute to the silo's subnet."},
     "references": ["https://learn.microsoft.com/azure/machine-learning/how-to-secure-training-vnet"],
     "policy": ["7804b5c7-01dc-4723-969b-ae300cc07ff1"]},
    {"id": "FL-PE-001", "title": "Silo storage reachable only through a private endpoint", "area": "private-endpoints",
     "severity": "high", "blocks": ["production"],
     "rationale": "Public network access lets anyone with a credential reach the silo's data.",
     "remediation": {"cli": "az storage account update -n acct --public-network-access Disabled",
                     "bicep": "properties: { publicNetworkAccess: 'Disabled' }", "text": ""},
     "references": ["https://learn.microsoft.com/azure/storage/common/storage-private-endpoints"],
     "policy": ["6edd7eda-6dd8-40f7-810d-67160c639cd9"]},
    {"id": "FL-ID-001", "title": "Only the silo's own identity can read its data", "area": "silo-identity",
     "severity": "critical", "blocks": ["prototype", "production"],
     "rationale": "Another silo's identity with data access breaks the FL privacy boundary.",
     "remediation": {"cli": "az role assignment delete --ids <assignment-id>",
                     "bicep": "// remove the roleAssignments resource granting the other silo's identity",
                     "text": ""},
     "references": ["https://learn.microsoft.com/azure/role-based-access-control/best-practices"],
     "policy": []},
    {"id": "FL-WS-001", "title": "Workspace public network access disabled", "area": "workspace-access",
     "severity": "medium", "blocks": ["production"],
     "rationale": "A public workspace endpoint widens who can submit jobs.",
     "remediation": {"cli": "az ml workspace update -n ws --public-network-access Disabled",
                     "bicep": "properties: { publicNetworkAccess: 'Disabled' }", "text": ""},
     "references": [], "policy": []},
    {"id": "FL-ST-001", "title": "Shared key access disabled on silo storage", "area": "storage-hardening",
     "severity": "medium", "blocks": ["production"],
     "rationale": "Account keys bypass Entra ID and RBAC.",
     "remediation": {"cli": "az storage account update -n acct --allow-shared-key-access false",
                     "bicep": "properties: { allowSharedKeyAccess: false }", "text": ""},
     "references": ["https://learn.microsoft.com/azure/storage/common/shared-key-authorization-prevent"],
     "policy": ["8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54"]},
    {"id": "FL-WH-001", "title": "Workspace uses managed network isolation", "area": "workspace-hardening",
     "severity": "low", "blocks": [],
     "rationale": "Managed network isolation controls outbound traffic of managed computes.",
     "remediation": {"cli": "az ml workspace update -n ws --managed-network allow_only_approved_outbound",
                     "bicep": "properties: { managedNetwork: { isolationMode: 'AllowOnlyApprovedOutbound' } }",
                     "text": ""},
     "references": [], "policy": []},
    {"id": "FL-TOP-001", "title": "At least one silo found", "area": "topology", "severity": "info",
     "blocks": ["prototype", "production"], "rationale": "Without silos there is nothing to federate.",
     "remediation": {"cli": "", "bicep": "", "text": "Give --config or tag silo resources."},
     "references": [], "policy": []},
]
RULE = {r["id"]: r for r in RULES}


def _finding(rule_id: str, status: str, resource_id: str, silo: str | None, message: str,
             evidence: list[dict[str, Any]] | None = None, subject: str | None = None,
             waiver: dict[str, Any] | None = None, location: dict[str, Any] | None = None,
             severity: str | None = None) -> dict[str, Any]:
    r = RULE[rule_id]
    return {"id": finding_id(rule_id, resource_id, subject), "rule_id": rule_id, "title": r["title"],
            "area": r["area"], "severity": severity or r["severity"], "status": status, "blocks": list(r["blocks"]),
            "resource_id": resource_id, "silo": silo, "subject": subject, "message": message,
            "evidence": evidence or [], "waiver": waiver, "location": location}


def make_result(n_silos: int = 4, *, hostile_names: bool = False, profile: str = "production") -> dict[str, Any]:
    """A contract-exact result for ``n_silos`` silos (see the module docstring for what each silo shows)."""
    def silo_name(i: int) -> str:
        if hostile_names and i == 1:
            return f"silo-1{XSS_SCRIPT}"
        return f"silo-{i}"

    ws_id = rid("rg-orch", "Microsoft.MachineLearningServices/workspaces", "ws-fl")
    orch_storage = rid("rg-orch", "Microsoft.Storage/storageAccounts", "storchfl")
    orch_uami = rid("rg-orch", "Microsoft.ManagedIdentity/userAssignedIdentities", "uai-orch")
    topology: dict[str, Any] = {
        "source": "config", "config": "config.yaml",
        "workspace": {"id": ws_id, "name": "ws-fl", "public_network_access": "Enabled",
                      "managed_network_isolation": "Disabled"},
        "orchestrator": {
            "computes": [{"id": f"{ws_id}/computes/orch-cpu", "name": "orch-cpu", "compute_type": "AmlCompute",
                          "subnet_id": None, "vnet_id": None,
                          "identities": [{"id": orch_uami, "name": "uai-orch", "principal_id": "p-orch",
                                          "client_id": "c-orch", "kind": "user-assigned"}]}],
            "datastore": {"id": f"{ws_id}/datastores/orch_ds", "name": "orch_ds", "account_name": "storchfl",
                          "credentials_type": "None"},
            "storage": {"id": orch_storage, "name": "storchfl"}},
        "silos": [], "problems": []}
    findings: list[dict[str, Any]] = []
    access: list[dict[str, Any]] = []
    paths: list[dict[str, Any]] = []
    for i in range(n_silos):
        name = silo_name(i)
        rg = f"rg-silo-{i}"
        st_name = f"stsilo{i}" if not (hostile_names and i == 1) else f"stsilo1{XSS_IMG}"
        st = rid(rg, "Microsoft.Storage/storageAccounts", st_name)
        comp = f"{ws_id}/computes/silo-{i}-cpu"
        uami = rid(rg, "Microsoft.ManagedIdentity/userAssignedIdentities", f"uai-silo-{i}")
        vnet = rid(rg, "Microsoft.Network/virtualNetworks", f"vnet-silo-{i}")
        topology["silos"].append({
            "name": name,
            "computes": [{"id": comp, "name": f"silo-{i}-cpu", "compute_type": "AmlCompute",
                          "subnet_id": f"{vnet}/subnets/training", "vnet_id": vnet,
                          "identities": [{"id": uami, "name": f"uai-silo-{i}", "principal_id": f"p-silo-{i}",
                                          "client_id": f"c-silo-{i}", "kind": "user-assigned"}]}],
            "datastore": {"id": f"{ws_id}/datastores/silo_{i}_ds", "name": f"silo_{i}_ds", "account_name": st_name,
                          "credentials_type": "None"},
            "storage": {"id": st, "name": st_name}, "vnets": [vnet], "missing": []})
        own_chain = [{"assignment_id": f"{st}/providers/Microsoft.Authorization/roleAssignments/a-own-{i}",
                      "role_definition_id": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
                      "role_name": "Storage Blob Data Contributor", "scope": st,
                      "matched_actions": ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
                      "condition": None}]
        access.append({"silo": name, "storage_id": st, "storage_name": st_name, "principal_id": f"p-silo-{i}",
                       "principal_name": f"uai-silo-{i}", "principal_type": "ServicePrincipal",
                       "relation": "own-silo", "principal_silo": name, "kinds": ["data"], "inert_kinds": [],
                       "conditional": False, "crosses_boundary": False, "chain": own_chain})
        paths.append({"silo": name, "storage_id": st, "path_kind": "private-endpoint",
                      "source": f"{vnet}/subnets/pe", "detail": f"pe-silo-{i} (Approved)", "status": "open"})
        findings.append(_finding("FL-NET-001", "pass", comp, name, "The compute runs in the silo's VNet.",
                                 [{"kind": "property", "resource_id": comp, "path": "properties.properties.subnet.id",
                                   "value": f"{vnet}/subnets/training"}]))
        findings.append(_finding("FL-ST-001", "pass", st, name, "Shared key access is disabled.",
                                 [{"kind": "property", "resource_id": st, "path": "properties.allowSharedKeyAccess",
                                   "value": False}]))
        if i == 1:
            other = silo_name(2) if n_silos > 2 else "silo-2"
            chain = [{"assignment_id": f"{st}/providers/Microsoft.Authorization/roleAssignments/a-x-2",
                      "role_definition_id": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
                      "role_name": "Storage Blob Data Reader", "scope": f"{SUB}/resourceGroups/{rg}",
                      "matched_actions": ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
                      "condition": None}]
            access.append({"silo": name, "storage_id": st, "storage_name": st_name, "principal_id": "p-silo-2",
                           "principal_name": "uai-silo-2" + (XSS_IMG if hostile_names else ""),
                           "principal_type": "ServicePrincipal", "relation": "other-silo",
                           "principal_silo": other, "kinds": ["data"], "inert_kinds": [], "conditional": False,
                           "crosses_boundary": True, "chain": chain})
            access.append({"silo": name, "storage_id": st, "storage_name": st_name, "principal_id": "p-orch",
                           "principal_name": "uai-orch", "principal_type": "ServicePrincipal",
                           "relation": "orchestrator", "principal_silo": None, "kinds": ["keys", "mgmt-write"],
                           "inert_kinds": ["keys"], "conditional": False, "crosses_boundary": True,
                           "chain": [{**chain[0], "role_name": "Contributor", "scope": f"{SUB}/resourceGroups/{rg}",
                                      "matched_actions": ["Microsoft.Storage/storageAccounts/listKeys/action"]}]})
            findings.append(_finding(
                "FL-ID-001", "fail", st, name, f"uai-silo-2 from {other} can read {st_name}.",
                [{"kind": "access", "principal_id": "p-silo-2", "principal_name": "uai-silo-2", **chain[0]}],
                subject="p-silo-2", location={"file": "infra/silo-1.bicep", "line": 42,
                                              "json_path": "resources[3]"}))
            paths.append({"silo": name, "storage_id": st, "path_kind": "public", "source": "0.0.0.0/0",
                          "detail": "publicNetworkAccess Enabled, defaultAction Allow", "status": "open"})
            paths.append({"silo": name, "storage_id": st, "path_kind": "ip-rule", "source": "203.0.113.0/24",
                          "detail": "ipRules[0]", "status": "open"})
            findings.append(_finding(
                "FL-PE-001", "fail", st, name, f"{st_name} accepts traffic from the public internet.",
                [{"kind": "property", "resource_id": st, "path": "properties.publicNetworkAccess",
                  "value": "Enabled"},
                 {"kind": "network-path", "path_kind": "public", "source": "0.0.0.0/0",
                  "detail": "defaultAction Allow"}]))
        elif i == 2:
            findings.append(_finding(
                "FL-NET-001", "unknown", f"{vnet}/subnets/training", name,
                "The NSG on the training subnet could not be read (403).",
                [{"kind": "note", "text": "Microsoft.Network/networkSecurityGroups: 403 AuthorizationFailed"}],
                subject="nsg"))
            findings.append(_finding("FL-PE-001", "pass", st, name, "Only the private endpoint is open."))
            paths.append({"silo": name, "storage_id": st, "path_kind": "trusted-services",
                          "source": "AzureServices", "detail": "bypass AzureServices", "status": "open"})
        elif i == 3:
            findings.append(_finding(
                "FL-PE-001", "fail", st, name, f"{st_name} has a VNet rule for the orchestrator subnet.",
                [{"kind": "nsg-rule", "nsg_id": rid(rg, "Microsoft.Network/networkSecurityGroups", "nsg-3"),
                  "rule": "AllowAll", "priority": 100, "direction": "Inbound", "access": "Allow",
                  "source": "*", "ports": "*"}],
                waiver={"rule": "FL-PE-001", "resource": None, "silo": name, "reason": "Migration until 2027-01",
                        "owner": "secops@example.com", "expires": "2027-01-31", "waiver": 0}))
            paths.append({"silo": name, "storage_id": st, "path_kind": "vnet-rule",
                          "source": f"{SUB}/resourceGroups/rg-orch/providers/Microsoft.Network/virtualNetworks/v/"
                                    "subnets/s", "detail": "virtualNetworkRules[0]", "status": "open"})
        else:
            findings.append(_finding("FL-PE-001", "pass", st, name, "Only the private endpoint is open."))
            findings.append(_finding("FL-ID-001", "pass", st, name, "Only the silo's own identity has data access.",
                                     subject=f"p-silo-{i}"))
    findings.append(_finding("FL-WS-001", "fail", ws_id, None, "The workspace accepts public traffic.",
                             [{"kind": "property", "resource_id": ws_id, "path": "properties.publicNetworkAccess",
                               "value": "Enabled"}]))
    findings.append(_finding("FL-WH-001", "fail", ws_id, None, "Managed network isolation is off.",
                             [{"kind": "property", "resource_id": ws_id,
                               "path": "properties.managedNetwork.isolationMode", "value": None,
                               "default_assumed": True, "default_note": "Disabled when absent"}]))
    findings.append(_finding("FL-TOP-001", "pass" if n_silos else "fail", "", None,
                             f"{n_silos} silos found."))
    findings.sort(key=lambda f: (f["area"], f["rule_id"], f["silo"] or "", f["resource_id"].lower(),
                                 f["subject"] or ""))
    return _assemble(findings, topology, access, paths, profile)


def _assemble(findings: list[dict[str, Any]], topology: dict[str, Any], access: list[dict[str, Any]],
              paths: list[dict[str, Any]], profile: str) -> dict[str, Any]:
    statuses = ("pass", "fail", "unknown", "not_applicable")
    by_status = {s: 0 for s in statuses}
    by_area: dict[str, dict[str, int]] = {}
    failing: dict[str, int] = {}
    for f in findings:
        by_status[f["status"]] += 1
        by_area.setdefault(f["area"], {s: 0 for s in statuses})[f["status"]] += 1
        if f["status"] in ("fail", "unknown"):
            failing[f["severity"]] = failing.get(f["severity"], 0) + 1
    rank = {"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1}

    def verdict(p: str) -> dict[str, Any]:
        blocking = [f for f in findings if p in f["blocks"] and f["status"] in ("fail", "unknown")
                    and not f["waiver"]]
        status = "not_ready" if any(f["status"] == "fail" for f in blocking) else ("unknown" if blocking
                                                                                      else "ready")
        blocking.sort(key=lambda f: (-rank[f["severity"]], f["rule_id"], f["resource_id"]))
        return {"status": status, "blocking": [f["id"] for f in blocking]}

    waived = [f for f in findings if f["waiver"]]
    return {
        "schema_version": "1.0",
        "tool": {"name": "flaudit", "version": "0.1.0", "rule_pack_version": "2026.11.0"},
        "generated_at": "2026-11-30T06:00:00+00:00",
        "profile": profile,
        "input": {"sha256": "ab" * 32, "resources": 10 * len(topology["silos"]) + 5,
                  "sources": [{"kind": "file", "path": "inventory/fl-deployment.json", "resources": 40}],
                  "ignored_types": {"Microsoft.Web/sites": 2},
                  "unmodelled": [],
                  "unreadable": [{"scope": f"{SUB}/resourceGroups/rg-silo-2",
                                  "resource_type": "Microsoft.Network/networkSecurityGroups", "status": 403,
                                  "message": "AuthorizationFailed"}],
                  "unsupported": [],
                  "collection": {"tool": "flaudit 0.1.0", "collected_at": "2026-11-30T05:00:00+00:00",
                                 "scope": SUB}},
        "topology": topology,
        "rules": RULES,
        "findings": findings,
        "access": access,
        "network_paths": paths,
        "summary": {"total": len(findings), "by_status": by_status, "by_area": by_area,
                    "failing_by_severity": failing, "waived": len(waived)},
        "verdict": {"prototype": verdict("prototype"), "production": verdict("production")},
        "waivers": {"file": "waivers.yaml",
                    "applied": [{**f["waiver"], "findings": [f["id"]]} for f in waived],
                    "expired": [{"rule": "FL-ST-001", "resource": None, "silo": None, "reason": "old exception",
                                 "owner": "ops@example.com", "expires": "2026-01-01", "waiver": 1}],
                    "stale": []},
    }


def make_ready_result() -> dict[str, Any]:
    """Two clean silos and nothing failing: both profiles ready."""
    result = make_result(1)
    findings = [f for f in result["findings"] if f["status"] == "pass"]
    return _assemble(findings, result["topology"], [e for e in result["access"] if not e["crosses_boundary"]],
                     [p for p in result["network_paths"] if p["path_kind"] == "private-endpoint"], "production")
