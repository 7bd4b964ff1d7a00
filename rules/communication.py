"""Communication between FL parties as the FL config declares it (vertical FL: host <-> silos)."""

from __future__ import annotations

from collections.abc import Iterable

from flaudit.engine import Remediation, rule
from flaudit.findings import Fail, Finding, NotApplicable, Pass, Unknown, prop
from flaudit.model import Deployment

VERTICAL_DOCS = ("https://github.com/Azure-Samples/azure-ml-federated-learning/blob/main/docs/concepts/"
                 "vertical-fl.md#communication-encryption")


@rule(
    id="FL-TOP-007",
    title="Traffic between the FL host and the silos is encrypted",
    area="topology",
    severity="high",
    blocks=("production",),
    rationale="In vertical FL the host and the silos exchange intermediate outputs and gradients directly "
    "(federated_learning.communication: socket or Redis). They are computed from each party's private data; "
    "the FL sample encrypts them (hybrid RSA + symmetric encryption, keys generated per node) only when "
    "communication.encrypted is true. Sent in the clear they can be read by anyone on the path, or by the "
    "Redis service in between. flaudit audits what the FL config declares: a communication section without "
    "'encrypted' is unknown, because the pipeline code reads that field and no default is stated.",
    remediation=Remediation(
        cli="# config.yaml\nfederated_learning:\n  communication:\n    backend: socket\n    encrypted: true",
        bicep="// not an infrastructure setting: set federated_learning.communication.encrypted: true in the FL "
        "config the pipelines submit",
        text="Set federated_learning.communication.encrypted to true in the FL config the pipelines use.",
    ),
    references=(VERTICAL_DOCS,),
)
def communication_encrypted(d: Deployment) -> Iterable[Finding]:
    cfg = d.config
    comm = getattr(cfg, "communication", None) if cfg is not None else None
    where = d.workspace.id if d.workspace else ""
    if comm is None:
        yield NotApplicable(where, "The FL config declares no host-silo communication (federated_learning."
                            "communication); nothing is exchanged outside the pipeline's datastores.")
        return
    path = f"{cfg.path}: federated_learning.communication.encrypted"
    value = comm.get("encrypted")
    evidence = [prop(where, path, value)]
    backend = comm.get("backend") or "unstated"
    if value is True:
        yield Pass(where, f"Host-silo communication ({backend}) is encrypted.", evidence=evidence)
    elif value is False:
        yield Fail(where, f"Host-silo communication ({backend}) is not encrypted (communication.encrypted: false): "
                   "intermediate outputs and gradients travel in the clear.", evidence=evidence)
    else:
        yield Unknown(where, f"Host-silo communication ({backend}) is declared without 'encrypted': whether "
                      "it is encrypted is not stated.", evidence=evidence)
