"""The Azure ML backend: the federated pipeline in the FL sample's literal shape, built with ``azure-ai-ml``.

First, once per silo, a pre-processing step on that silo's compute validates its raw data and writes the
processed copy and the silo's private state (DP accountant history, secure-aggregation private key) to the
silo's own datastore; with secure aggregation it also publishes the silo's X25519 public key to the
orchestrator datastore (the key exchange). Then, per round, one training step per silo, pinned to that silo's
compute and reading only that silo's datastore (plus the other silos' public keys), writes its model update to
the orchestrator datastore and its private state back to its own; then one aggregation step on the orchestrator
compute reads those updates (and no silo datastore) and writes the global model that the next round's silo
steps start from. Unlike the sample, updates are safetensors (or masked fixed-point vectors under secure
aggregation) and FedAvg weights by sample count (equal weights with DP on: a row count is computed from private
data). A silo's ``instance_type`` (Kubernetes computes) becomes its steps' ``resources``.

:func:`plan` is the pipeline as plain data (what ``--dry-run`` prints and what the tests check against the
topology); :func:`build_pipeline` turns it into an ``azure.ai.ml`` ``PipelineJob``. The attestation rides
along as job tags and inside the steps' code snapshot; silo steps refuse to read data
unless the file hashes to the digest they were built with. ``azure-ai-ml`` is imported only here
(``pip install flaudit[azureml]``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flaudit.errors import InputError
from flaudit.train.params import TrainParams

DEFAULT_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
CONDA = {
    "name": "flaudit-train",
    "channels": ["conda-forge"],
    "dependencies": [
        "python=3.11", "pip",
        {"pip": ["--extra-index-url https://download.pytorch.org/whl/cpu", "torch==2.13.0",
                 "safetensors>=0.4", "numpy>=1.26", "opacus>=1.5", "pyyaml>=6", "cryptography>=42",
                 "mlflow-skinny>=2.9", "azureml-mlflow>=1.55"]},
    ],
}
#: The modules a pipeline step runs: the trainer only, none of the audit.
CODE_FILES = ["__init__.py", "errors.py", "train/__init__.py", "train/data.py", "train/models.py",
              "train/params.py", "train/training.py", "train/dp.py", "train/fedavg.py", "train/silo_worker.py",
              "train/secagg.py"]
_DATASTORE_URI = re.compile(r"^azureml://datastores/([^/]+)/paths/(.+)$", re.IGNORECASE)


@dataclass
class StepPlan:
    """One pipeline step as data: where it runs and which storage it reads and writes."""

    name: str
    kind: str  # silo-preprocessing | silo-training | aggregation
    round: int
    compute: str
    silo: str | None
    inputs: dict[str, str] = field(default_factory=dict)   # input name -> datastore URI or step output ref
    outputs: dict[str, str] = field(default_factory=dict)  # output name -> datastore URI
    #: The Kubernetes compute's instance type (the FL sample's ``instance_type`` for AKS silos); None elsewhere.
    instance_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "round": self.round, "compute": self.compute,
                "silo": self.silo, "inputs": self.inputs, "outputs": self.outputs,
                "instance_type": self.instance_type}


def datastore_of(uri: str) -> str | None:
    m = _DATASTORE_URI.match(uri)
    return m.group(1) if m else None


def silo_data_uri(value: Any, silo: dict[str, Any], key: str) -> tuple[str, str, str]:
    """(uri, type, mode) of a silo's data, on that silo's datastore; anything unprovable is refused."""
    from flaudit.train.data import data_path

    where = f"silo {silo['name']}: {key}"
    path = data_path(value, where)
    kind = value.get("type", "uri_file") if isinstance(value, dict) else "uri_file"
    mode = value.get("mode", "download") if isinstance(value, dict) else "download"
    ds = silo.get("datastore")
    if not ds:
        raise InputError(f"silo {silo['name']}: no datastore in the FL config (the azureml backend reads each "
                         "silo's data through its own datastore)")
    if "://" not in path and not path.startswith("azureml:"):
        return f"azureml://datastores/{ds}/paths/{path.lstrip('/')}", kind, mode
    found = datastore_of(path)
    if found is None:
        raise InputError(f"{where}: {path!r} does not name a datastore; use azureml://datastores/{ds}/paths/... "
                         "so flaudit can prove the step reads only this silo's storage")
    if found.lower() != ds.lower():
        raise InputError(f"{where}: {path!r} is on datastore {found!r}, not the silo's own {ds!r}")
    return path, kind, mode


def _computes(entry: dict[str, Any], where: str) -> str:
    c = entry.get("computes", entry.get("compute"))
    if isinstance(c, list):
        c = c[0] if c else None
    if not isinstance(c, str) or not c:
        raise InputError(f"FL config: {where} has no compute")
    return c


def _instance_type(entry: dict[str, Any], where: str) -> str | None:
    """``instance_type`` of a silo or orchestrator entry: the Kubernetes compute's instance type to run on."""
    value = entry.get("instance_type")
    if value is None or (isinstance(value, str) and value.strip()):
        return value.strip() if isinstance(value, str) else None
    raise InputError(f"FL config: {where}.instance_type must be a non-empty string")


def plan(doc: dict[str, Any], params: TrainParams, run_id: str) -> list[StepPlan]:
    """Every step of the pipeline in order: per-silo pre-processing, then rounds x (silo steps, aggregation)."""
    fl = doc["federated_learning"]
    orch = fl.get("orchestrator") or {}
    orch_compute = _computes(orch, "federated_learning.orchestrator")
    orch_ds = orch.get("datastore")
    if not orch_ds:
        raise InputError("FL config: federated_learning.orchestrator has no datastore (silo updates go there)")
    silos = fl["silos"]
    if not silos:
        raise InputError("FL config: federated_learning.silos is empty (nothing to train)")
    for s in silos:
        if (s.get("datastore") or "").lower() == orch_ds.lower():
            raise InputError(f"silo {s['name']}: shares datastore {orch_ds!r} with the orchestrator")
        it = s.get("instance_type")
        if it is not None and (not isinstance(it, str) or not it):
            raise InputError(f"silo {s['name']}: instance_type must be a name")
    secagg = bool(params.secure_aggregation)
    base = f"azureml://datastores/{orch_ds}/paths/flaudit/{run_id}"
    steps: list[StepPlan] = []
    for i, s in enumerate(silos):
        train, _, _ = silo_data_uri(s.get("training_data"), s, "training_data")
        test, _, _ = silo_data_uri(s.get("testing_data"), s, "testing_data")
        own = f"azureml://datastores/{s['datastore']}/paths/flaudit/{run_id}/silo_{i}"
        outputs = {"train_data": f"{own}/preprocessed/train/", "test_data": f"{own}/preprocessed/test/",
                   "silo_state": f"{own}/state_0/"}
        if secagg:
            outputs["public_key"] = f"{base}/secagg/silo_{i}/"
        steps.append(StepPlan(f"silo_{i}_preprocessing", "silo-preprocessing", 0, _computes(s, f"silo {s['name']}"),
                              s["name"], {"raw_train_data": train, "raw_test_data": test}, outputs,
                              s.get("instance_type")))
    previous: str | None = None
    for r in range(1, params.num_of_iterations + 1):
        updates: dict[str, str] = {}
        for i, s in enumerate(silos):
            name = f"round_{r}_silo_{i}_training"
            own = f"azureml://datastores/{s['datastore']}/paths/flaudit/{run_id}/silo_{i}"
            inputs = {"train_data": f"silo_{i}_preprocessing.outputs.train_data",
                      "test_data": f"silo_{i}_preprocessing.outputs.test_data",
                      "silo_state": (f"silo_{i}_preprocessing.outputs.silo_state" if r == 1 else
                                     f"round_{r - 1}_silo_{i}_training.outputs.silo_state")}
            if previous:
                inputs["checkpoint"] = previous
            if secagg:
                for j in range(len(silos)):
                    inputs[f"peer_key_{j}"] = f"silo_{j}_preprocessing.outputs.public_key"
            steps.append(StepPlan(name, "silo-training", r, _computes(s, f"silo {s['name']}"), s["name"], inputs,
                                  {"silo_update": f"{base}/round_{r}/silo_{i}/", "silo_state": f"{own}/state_{r}/"},
                                  _instance_type(s, f"silo {s['name']}")))
            updates[f"update_{i}"] = f"{name}.outputs.silo_update"
        agg = f"round_{r}_aggregation"
        steps.append(StepPlan(agg, "aggregation", r, orch_compute, None,
                              updates,
                              {"model": f"{base}/round_{r}/aggregate/"},
                              _instance_type(orch, "federated_learning.orchestrator")))
        previous = f"{agg}.outputs.model"
    return steps


def output_uri(steps: list[StepPlan], ref: str) -> str:
    """The datastore URI behind ``<step>.outputs.<name>``, or the ref itself for pipeline inputs."""
    if ".outputs." not in ref:
        return ref
    step, _, out = ref.partition(".outputs.")
    return next(s.outputs[out] for s in steps if s.name == step)


def stage_code(dest: Path) -> Path:
    """Copy the trainer modules (not the audit) into ``dest/flaudit`` for upload as the steps' code.

    The attestation and the step spec are written beside them by :func:`build_pipeline`, so they travel in
    the job's code snapshot: an artifact of every step, uploaded with the code and nothing else.
    """
    import flaudit

    src = Path(flaudit.__file__).parent
    for rel in CODE_FILES:
        target = dest / "flaudit" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, target)
    return dest


def _environment(doc: dict[str, Any]):
    from azure.ai.ml.entities import Environment

    custom = (doc.get("training_parameters") or {}).get("aml_environment")
    if custom is not None:
        if not isinstance(custom, str) or not custom:
            raise InputError("training_parameters.aml_environment must be an environment name such as "
                             "azureml:my-env:1")
        return custom
    return Environment(image=DEFAULT_IMAGE, conda_file=CONDA)


def components(doc: dict[str, Any], code: Path, n_silos: int, secagg: bool = False):
    """The command components: silo pre-processing, a silo training round, a FedAvg aggregation of ``n_silos``."""
    from azure.ai.ml import Input, Output
    from azure.ai.ml.entities import CommandComponent

    env = _environment(doc)
    check = "--attestation attestation.json --attestation-sha256 ${{inputs.attestation_sha256}} --spec-file spec.json"
    pre_outputs = {"train_data": Output(type="uri_folder"), "test_data": Output(type="uri_folder"),
                   "silo_state": Output(type="uri_folder")}
    if secagg:
        pre_outputs["public_key"] = Output(type="uri_folder")
    pre = CommandComponent(
        name="flaudit_silo_preprocessing", display_name="flaudit silo pre-processing",
        inputs={"raw_train_data": Input(type="uri_file"), "raw_test_data": Input(type="uri_file"),
                "attestation_sha256": Input(type="string"), "silo": Input(type="string")},
        outputs=pre_outputs,
        command=("python -m flaudit.train.silo_worker preprocess --silo ${{inputs.silo}} "
                 "--raw-train ${{inputs.raw_train_data}} --raw-test ${{inputs.raw_test_data}} "
                 "--train-out ${{outputs.train_data}} --test-out ${{outputs.test_data}} "
                 "--state-out ${{outputs.silo_state}} " + ("--public-key-out ${{outputs.public_key}} " if secagg
                                                           else "") + check),
        code=str(code), environment=env,
    )
    peer_inputs = {f"peer_key_{j}": Input(type="uri_folder") for j in range(n_silos)} if secagg else {}
    peers = " ".join(f"--peer-key ${{{{inputs.peer_key_{j}}}}}" for j in range(n_silos)) if secagg else ""
    silo = CommandComponent(
        name="flaudit_silo_training", display_name="flaudit silo training round",
        inputs={"train_data": Input(type="uri_folder"), "test_data": Input(type="uri_folder"),
                "checkpoint": Input(type="uri_folder", optional=True), "silo_state": Input(type="uri_folder"),
                "attestation_sha256": Input(type="string"), "silo": Input(type="string"),
                "round": Input(type="integer"), **peer_inputs},
        outputs={"silo_update": Output(type="uri_folder"), "silo_state": Output(type="uri_folder")},
        command=("python -m flaudit.train.silo_worker step --silo ${{inputs.silo}} --round ${{inputs.round}} "
                 "--train-data ${{inputs.train_data}} --test-data ${{inputs.test_data}} "
                 "$[[--checkpoint ${{inputs.checkpoint}}]] --state-in ${{inputs.silo_state}} "
                 f"--state-out ${{{{outputs.silo_state}}}} {peers} " + check +
                 " --output ${{outputs.silo_update}}"),
        code=str(code), environment=env,
    )
    updates = " ".join(f"--update ${{{{inputs.update_{i}}}}}" for i in range(n_silos))
    agg = CommandComponent(
        name="flaudit_fedavg", display_name="flaudit FedAvg aggregation",
        inputs={f"update_{i}": Input(type="uri_folder") for i in range(n_silos)},
        outputs={"model": Output(type="uri_folder")},
        command=f"python -m flaudit.train.fedavg {updates} --attestation attestation.json "
                "--output ${{outputs.model}}",
        code=str(code), environment=env,
    )
    return pre, silo, agg


def build_pipeline(doc: dict[str, Any], params: TrainParams, run_dir: Path, att: dict[str, Any], run_id: str):
    """The ``PipelineJob`` for :func:`plan`, with the attestation as tags and in the code snapshot."""
    from azure.ai.ml import Input, Output
    from azure.ai.ml.dsl import pipeline

    from flaudit.train.attestation import ATTESTATION, sha256_file, tags

    steps = plan(doc, params, run_id)
    secagg = bool(params.secure_aggregation)
    aml_dir = run_dir / "azureml"
    aml_dir.mkdir(parents=True, exist_ok=True)
    code = stage_code(aml_dir / "code")
    (code / "spec.json").write_text(json.dumps({"params": params.to_dict(), "n_classes": params.n_classes,
                                                "rounds": params.num_of_iterations, "session": run_id,
                                                "silos": [s["name"] for s in doc["federated_learning"]["silos"]]},
                                               indent=2), encoding="utf-8")
    shutil.copyfile(run_dir / ATTESTATION, code / ATTESTATION)
    att_sha = sha256_file(code / ATTESTATION)
    silos = doc["federated_learning"]["silos"]
    pre_component, silo_component, agg_component = components(doc, code, len(silos), secagg)
    by_silo = {s["name"]: s for s in silos}

    def ref(nodes: dict[str, Any], value: str):
        step, _, out = value.partition(".outputs.")
        return getattr(nodes[step].outputs, out)

    @pipeline(name=f"flaudit_fl_{run_id}", description="flaudit gated federated training (FedAvg); "
              f"attestation {att['attestation_sha256'][:12]}", default_compute=None)
    def fl_pipeline():
        nodes: dict[str, Any] = {}
        for st in steps:
            if st.kind == "silo-preprocessing":
                s = by_silo[st.silo]
                _, ttype, tmode = silo_data_uri(s.get("training_data"), s, "training_data")
                _, vtype, vmode = silo_data_uri(s.get("testing_data"), s, "testing_data")
                node = pre_component(
                    raw_train_data=Input(type=ttype, mode=tmode, path=st.inputs["raw_train_data"]),
                    raw_test_data=Input(type=vtype, mode=vmode, path=st.inputs["raw_test_data"]),
                    attestation_sha256=att_sha, silo=st.silo)
            elif st.kind == "silo-training":
                ckpt = st.inputs.get("checkpoint")
                peers = {k: ref(nodes, v) for k, v in st.inputs.items() if k.startswith("peer_key_")}
                node = silo_component(
                    train_data=ref(nodes, st.inputs["train_data"]), test_data=ref(nodes, st.inputs["test_data"]),
                    silo_state=ref(nodes, st.inputs["silo_state"]),
                    checkpoint=ref(nodes, ckpt) if ckpt else None,
                    attestation_sha256=att_sha, silo=st.silo, round=st.round, **peers)
            else:
                ups = {k: ref(nodes, v) for k, v in st.inputs.items() if k.startswith("update_")}
                node = agg_component(**ups)
            for out, uri in st.outputs.items():
                setattr(node.outputs, out, Output(type="uri_folder", mode="upload", path=uri))
            node.name = st.name
            node.display_name = (st.name if st.silo is None else
                                 f"{st.silo} pre-processing" if st.kind == "silo-preprocessing" else
                                 f"round {st.round}: {st.silo} training")
            node.compute = st.compute
            if st.instance_type:  # a Kubernetes compute runs the step on this instance type (as the FL sample)
                node.resources = {"instance_type": st.instance_type}
            nodes[st.name] = node
        return {"final_model": nodes[steps[-1].name].outputs.model}

    job = fl_pipeline()
    job.tags = {**tags(att), "flaudit.run_id": run_id,
                "flaudit.secure_aggregation": "on" if secagg else "off"}
    job.settings.force_rerun = True  # a cached step would skip the in-step attestation check
    return job, steps


def print_plan(steps: list[StepPlan], console) -> None:
    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    say(f"plan: Azure ML pipeline, {len(steps)} steps")
    for st in steps:
        ins = ", ".join(f"{k}={output_uri(steps, v)}" for k, v in st.inputs.items())
        outs = ", ".join(f"{k}={v}" for k, v in st.outputs.items())
        say(f"  {st.name}  [{st.kind}] compute={st.compute}")
        say(f"    reads  {ins}")
        say(f"    writes {outs}")


def ml_client(doc: dict[str, Any], credential: Any):
    from azure.ai.ml import MLClient

    aml = doc.get("aml") or {}
    missing = [k for k in ("subscription_id", "resource_group_name", "workspace_name") if not aml.get(k)]
    if missing:
        raise InputError(f"FL config: aml.{missing[0]} is required to submit the pipeline")
    return MLClient(credential=credential, subscription_id=aml["subscription_id"],
                    resource_group_name=aml["resource_group_name"], workspace_name=aml["workspace_name"])


def submit(job, doc: dict[str, Any], credential: Any, experiment: str):
    """Submit with ``MLClient.jobs.create_or_update``; an Azure error becomes one line (exit 3)."""
    from azure.ai.ml.exceptions import MlException
    from azure.core.exceptions import AzureError

    from flaudit.errors import CollectionError

    client = ml_client(doc, credential)
    try:
        return client.jobs.create_or_update(job, experiment_name=experiment)
    except (AzureError, MlException) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CollectionError(f"Azure ML rejected the pipeline: {first[:300]}") from None


def run(run_dir: Path, doc: dict[str, Any], params: TrainParams, args: argparse.Namespace, *, console,
        credential: Any = None) -> int:
    """Build the pipeline, print the plan, and submit it unless ``--dry-run``."""
    from flaudit.output import write_text_atomic
    from flaudit.train.attestation import load

    att = load(run_dir)
    run_id = att["attestation_sha256"][:12]
    job, steps = build_pipeline(doc, params, run_dir, att, run_id)
    write_text_atomic(run_dir / "azureml" / "plan.json", json.dumps([s.to_dict() for s in steps], indent=2) + "\n")
    print_plan(steps, console)
    if args.dry_run:
        console.print("dry run: the pipeline was not submitted")
        return 0
    if credential is None:
        from flaudit.sources.live.credential import make_credential

        credential = make_credential(getattr(args, "tenant", None), getattr(args, "cloud", None))
    created = submit(job, doc, credential, args.experiment)
    record = {"name": getattr(created, "name", None), "status": getattr(created, "status", None),
              "studio_url": getattr(created, "studio_url", None), "experiment": args.experiment,
              "tags": dict(getattr(created, "tags", None) or job.tags)}
    write_text_atomic(run_dir / "azureml" / "submitted.json", json.dumps(record, indent=2) + "\n")
    console.print(f"submitted pipeline job {record['name']} ({record['status']}): {record['studio_url']}")
    return 0
