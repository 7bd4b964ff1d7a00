"""The path model: every way a silo's data, a copy of it, or an identity that reads it can reach an outsider.

A property check asks "is this setting right"; a reviewer asks "can anyone outside the silo get the data". This
module is the vocabulary for the second question. A :class:`Path` is one chain of steps (:class:`Hop`) that
leads from something of a silo (its storage account, its identity, its compute's subnet) to an *outsider*:
anything that is not the silo's own compute identity (the workspace's identities, the orchestrator, other
silos, principals the FL config does not name, and places outside the deployment such as another storage
account, a backup vault, another network or an external identity provider).

Evaluators produce paths (the RBAC evaluator for role-based kinds, the data-movement, credential and network
evaluators for theirs); rules decide what each path means for readiness and cite it with
:meth:`Path.evidence`; the result's ``access[]`` lists every path as an edge (:meth:`Path.edge`), so the
reports and the diagram show the same paths the verdict rests on. docs/threat-model.md lists every kind with
the rule that covers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Every path kind, with why it leads to the data. One mapping, read by evidence notes, the result contract
#: (docs/result-contract.md), the README, docs/threat-model.md and the diagram legend.
PATH_KINDS: dict[str, str] = {
    "data": "blob/file/queue/table data actions: reads or writes the data directly",
    "keys": "listKeys/regenerateKey/ListAccountSas/listServiceSas: account keys or SAS, full data access while "
            "allowSharedKeyAccess is not false",
    "delegation": "generateUserDelegationKey: can mint user-delegation SAS tokens",
    "role-admin": "Microsoft.Authorization/roleAssignments/write: can grant itself any role on the account",
    "mgmt-write": "Microsoft.Storage/storageAccounts/write: can re-enable shared keys or public access, then read",
    "copy": "management-plane data movement: object replication, blob inventory, backup or restore can put the "
            "data, or a copy of it, somewhere outside the silo",
    "identity-takeover": "can act as the silo's identity: a federated identity credential, the right to attach "
                         "the identity to its own compute, Owner-like rights on it, or a resource that already "
                         "runs as it",
    "eligible": "a PIM-eligible role assignment: the principal can activate it at any time",
    "credential": "a stored secret (a datastore or workspace connection with an account key, SAS or service "
                  "principal) that reads the data without the silo's identity",
    "network": "a network an outsider controls can reach the data, or the silo's compute can send it out",
    "administrative": "a path held by a principal the FL config declares as a trusted administrator: shown, "
                      "not blocking",
    "unknown": "the role definition is not in the input nor bundled with flaudit: it may grant anything",
}

#: How the far end of a path relates to the silo. ``own-silo`` paths are the silo's own compute identity;
#: every other relation is an outsider.
RELATIONS: tuple[str, ...] = ("own-silo", "other-silo", "orchestrator", "workspace", "unlisted", "administrator",
                              "external")


@dataclass(frozen=True, slots=True)
class Hop:
    """One link of a chain: a sentence a reviewer can check, and the resource or assignment that makes it."""

    text: str
    ref: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"text": self.text, "ref": self.ref}


@dataclass(frozen=True, slots=True)
class Path:
    """One way silo data, a copy of it, or an identity that reads it, reaches an outsider."""

    kind: str  # a key of PATH_KINDS
    silo: str
    source_id: str  # the silo resource the path leaves from: storage account, identity, subnet, compute
    outsider_id: str  # principal object id, resource id, or a place ("Internet", a service tag)
    outsider_name: str
    relation: str  # one of RELATIONS
    hops: tuple[Hop, ...]
    rule_id: str  # the rule that judges this path
    conditional: bool = False  # every grant on the path carries a condition flaudit could not decide
    inert: bool = False  # the path exists on paper but Azure does not honour it (e.g. keys while shared keys off)

    def __post_init__(self) -> None:
        if self.kind not in PATH_KINDS:
            raise ValueError(f"unknown path kind {self.kind!r}")
        if self.relation not in RELATIONS:
            raise ValueError(f"unknown relation {self.relation!r}")

    @property
    def crosses_boundary(self) -> bool:
        return self.relation != "own-silo"

    @property
    def meaning(self) -> str:
        return PATH_KINDS[self.kind]

    def evidence(self) -> dict[str, Any]:
        """The evidence item a finding carries for this path (``kind: path``)."""
        return {"kind": "path", "path_kind": self.kind, "silo": self.silo, "source_id": self.source_id,
                "outsider_id": self.outsider_id, "outsider_name": self.outsider_name, "relation": self.relation,
                "conditional": self.conditional, "inert": self.inert, "meaning": self.meaning,
                "chain": [h.to_dict() for h in self.hops]}

    def edge(self) -> dict[str, Any]:
        """The result's ``access[]`` entry for this path (docs/result-contract.md). A declared administrator's
        path is ``administrative`` access (shown, never blocking) and keeps its own kind in ``kinds``."""
        admin = self.relation == "administrator"
        return {"silo": self.silo, "path_kind": "administrative" if admin else self.kind, "target_id": self.source_id,
                "principal_id": self.outsider_id, "principal_name": self.outsider_name,
                "relation": self.relation, "kinds": ["administrative", self.kind] if admin else [self.kind],
                "inert_kinds": [self.kind] if self.inert else [],
                "conditional": self.conditional, "crosses_boundary": self.crosses_boundary,
                "rule_id": self.rule_id, "chain": [h.to_dict() for h in self.hops]}


def kind_notes(kinds: Any) -> list[dict[str, Any]]:
    """One evidence note per path kind saying why it leads to the data (for reviewers reading evidence)."""
    return [{"kind": "note", "text": f"{k}: {PATH_KINDS[k]}"} for k in dict.fromkeys(kinds) if k in PATH_KINDS]
