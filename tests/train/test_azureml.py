"""The Azure ML pipeline: 3 silos x 2 rounds checked step by step against the topology; submission mocked."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

pytest.importorskip("azure.ai.ml")
import responses  # noqa: E402

from flaudit.errors import InputError  # noqa: E402
from flaudit.train.azureml import build_pipeline, datastore_of, plan, submit  # noqa: E402
from flaudit.train.params import parse_params  # noqa: E402

from .conftest import FakeCredential, run_cli, write_config, write_silo_csvs  # noqa: E402

SUB = "6b6f2d51-8c3e-4f1a-9d7b-2f4e5a6c7d80"
WS = f"/subscriptions/{SUB}/resourceGroups/rg-fl/providers/Microsoft.MachineLearningServices/workspaces/aml-fl"
ARM = "https://management.azure.com"


@pytest.fixture
def doc(tmp_path):
    d = write_silo_csvs(tmp_path / "fl")
    d["training_parameters"].update(num_of_iterations=2, n_classes=3)
    return d


@pytest.fixture
def attested_run(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    att = {"kind": "flaudit.attestation", "attestation_sha256": "a" * 64, "audit_result": {"sha256": "b" * 64},
           "input": {"sha256": "c" * 64}, "rule_pack_version": "2026.11.0", "profile": "production",
           "verdict": "ready", "created_at": "2026-11-30T06:00:00+00:00", "config": {"sha256": "d" * 64},
           "training_config": {"sha256": "e" * 64}, "waivers": []}
    (run_dir / "attestation.json").write_text(json.dumps(att))
    return run_dir, att


def _topology(doc):
    fl = doc["federated_learning"]
    return ({s["name"]: (s["computes"][0], s["datastore"]) for s in fl["silos"]},
            fl["orchestrator"]["compute"], fl["orchestrator"]["datastore"])


def _resolve(steps, ref):
    from flaudit.train.azureml import output_uri

    return output_uri(steps, ref)


@pytest.mark.parametrize("secagg", [False, True])
def test_pipeline_for_3_silos_2_rounds_pins_every_step_to_its_topology(doc, attested_run, secagg):
    run_dir, att = attested_run
    doc["training_parameters"]["secure_aggregation"] = secagg
    doc["federated_learning"]["silos"][1]["instance_type"] = "gpu-small"
    job, steps = build_pipeline(doc, parse_params(doc["training_parameters"]), run_dir, att, "run1")
    silos, orch_compute, orch_ds = _topology(doc)
    silo_ds = {ds for _, ds in silos.values()}
    assert list(job.jobs) == [s.name for s in steps]
    assert len(steps) == 11  # 3 pre-processing steps + 2 rounds x (3 silo steps + 1 aggregation), as the FL sample
    rest = job._to_dict()["jobs"]
    for st in steps:
        node = rest[st.name]
        if st.kind == "silo-preprocessing":
            compute, ds = silos[st.silo]
            assert job.jobs[st.name].compute == compute and st.round == 0
            assert {datastore_of(node["inputs"][k]["path"]) for k in ("raw_train_data", "raw_test_data")} == {ds}
            for out in ("train_data", "test_data", "silo_state"):  # processed data and private state stay home
                assert datastore_of(node["outputs"][out]["path"]) == ds
            if secagg:  # only the public key goes to the orchestrator datastore
                assert datastore_of(node["outputs"]["public_key"]["path"]) == orch_ds
            else:
                assert "public_key" not in node["outputs"]
        elif st.kind == "silo-training":
            compute, ds = silos[st.silo]
            assert job.jobs[st.name].compute == compute
            read = {datastore_of(_resolve(steps, st.inputs[k])) for k in ("train_data", "test_data", "silo_state")}
            assert read == {ds}  # reads its own datastore and no other silo's
            peers = {k for k in st.inputs if k.startswith("peer_key_")}
            assert peers == ({"peer_key_0", "peer_key_1", "peer_key_2"} if secagg else set())
            assert {datastore_of(_resolve(steps, st.inputs[k])) for k in peers} <= {orch_ds}
            assert node["inputs"]["silo"] == st.silo
            assert datastore_of(node["outputs"]["silo_update"]["path"]) == orch_ds
            assert datastore_of(node["outputs"]["silo_state"]["path"]) == ds
            if st.round == 1:
                assert "checkpoint" not in node["inputs"]
            else:
                assert node["inputs"]["checkpoint"]["path"] == \
                    f"${{{{parent.jobs.round_{st.round - 1}_aggregation.outputs.model}}}}"
                i = st.name.split("_")[3]
                assert node["inputs"]["silo_state"]["path"] == \
                    f"${{{{parent.jobs.round_{st.round - 1}_silo_{i}_training.outputs.silo_state}}}}"
        else:
            assert job.jobs[st.name].compute == orch_compute
            ins = node["inputs"]
            assert sorted(ins) == ["update_0", "update_1", "update_2"]
            for i, ref in enumerate(ins.values()):
                assert ref["path"] == f"${{{{parent.jobs.round_{st.round}_silo_{i}_training.outputs.silo_update}}}}"
                assert not any(ds in json.dumps(ref) for ds in silo_ds)  # no silo datastore read
            assert datastore_of(st.outputs["model"]) == orch_ds
        if st.silo == "silo1":
            assert job.jobs[st.name].resources.instance_type == "gpu-small"
    assert job.outputs["final_model"].path.endswith("/round_2/aggregate/")
    assert job.tags["flaudit.secure_aggregation"] == ("on" if secagg else "off")


def test_attestation_travels_as_tags_and_in_the_code_snapshot(doc, attested_run):
    run_dir, att = attested_run
    job, _ = build_pipeline(doc, parse_params(doc["training_parameters"]), run_dir, att, "run1")
    assert job.tags["flaudit.attestation_sha256"] == "a" * 64
    assert job.tags["flaudit.audit_result_sha256"] == "b" * 64
    assert job.tags["flaudit.verdict"] == "ready" and job.tags["flaudit.profile"] == "production"
    code = run_dir / "azureml" / "code"
    assert (code / "attestation.json").read_bytes() == (run_dir / "attestation.json").read_bytes()
    assert (code / "flaudit/train/silo_worker.py").is_file()
    assert not (code / "flaudit/audit.py").exists()  # the steps carry the trainer, not the audit


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d["federated_learning"]["silos"][1]["training_data"].update(
        path="azureml://datastores/datastore_silo0/paths/x.csv"), "not the silo's own 'datastore_silo1'"),
    (lambda d: d["federated_learning"]["silos"][0]["testing_data"].update(
        path="https://acct.blob.core.windows.net/c/x.csv"), "does not name a datastore"),
    (lambda d: d["federated_learning"]["silos"][2].update(datastore="datastore_orchestrator"),
     "shares datastore"),
    (lambda d: d["federated_learning"]["orchestrator"].pop("datastore"), "orchestrator has no datastore"),
])
def test_plans_that_would_cross_a_silo_boundary_are_refused(doc, mutate, message):
    d = copy.deepcopy(doc)
    mutate(d)
    with pytest.raises(InputError, match=message):
        plan(d, parse_params(d["training_parameters"]), "r")


def _json(body, status=200):
    return (status, {"Content-Type": "application/json"}, json.dumps(body))


def _arm_callback(log):
    """Azure ML REST responses in the shapes of the azure-rest-api-specs examples (computes, workspace,
    code/environment/component versions, jobs)."""

    def cb(req):
        path = req.url.split("?")[0].replace(ARM, "")
        log.append((req.method, path, req.body))
        if req.method == "GET" and path == WS:
            return _json({"id": WS, "name": "aml-fl", "type": "Microsoft.MachineLearningServices/workspaces",
                          "location": "eastus", "properties": {
                              "discoveryUrl": "https://eastus.api.azureml.ms/discovery",
                              "mlFlowTrackingUri": f"azureml://eastus.api.azureml.ms/mlflow/v1.0{WS}",
                              "workspaceId": "00000000-1111-2222-3333-444444444444"}})
        m = re.fullmatch(re.escape(WS) + r"/computes/([^/]+)", path)
        if m and req.method == "GET":
            return _json({"id": path, "name": m.group(1), "type": "Microsoft.MachineLearningServices/workspaces/computes",
                          "location": "eastus", "properties": {
                              "computeType": "AmlCompute", "provisioningState": "Succeeded",
                              "properties": {"vmSize": "STANDARD_DS3_V2", "vmPriority": "Dedicated",
                                             "scaleSettings": {"maxNodeCount": 1, "minNodeCount": 0},
                                             "enableNodePublicIp": False}}})
        code_version = {"name": "1", "type": "Microsoft.MachineLearningServices/workspaces/codes/versions",
                        "properties": {"codeUri": "https://stws.blob.core.windows.net/azureml/LocalUpload/x/code",
                                       "isAnonymous": True}}
        m = re.fullmatch(re.escape(WS) + r"/codes/([^/]+)/versions", path)
        if m and req.method == "GET":  # the hash lookup finds the snapshot already uploaded
            return _json({"value": [{**code_version, "id": f"{path}/1"}]})
        m = re.fullmatch(re.escape(WS) + r"/codes/([^/]+)/versions/([^/]+)", path)
        if m and req.method == "GET":
            return _json({**code_version, "id": path})
        m = re.fullmatch(re.escape(WS) + r"/(environments|components)/([^/]+)/versions/([^/]+)", path)
        if m and req.method == "PUT":
            return _json({"id": path, "name": m.group(3), "properties": json.loads(req.body)["properties"],
                          "type": f"Microsoft.MachineLearningServices/workspaces/{m.group(1)}/versions"})
        m = re.fullmatch(re.escape(WS) + r"/jobs/([^/]+)", path)
        if m and req.method == "PUT":
            props = json.loads(req.body)["properties"]
            props.update(status="NotStarted", services={"Studio": {"endpoint": f"https://ml.azure.com/runs/{m.group(1)}"}})
            return _json({"id": path, "name": m.group(1), "type": "Microsoft.MachineLearningServices/workspaces/jobs",
                          "properties": props}, 201)
        return _json({"error": {"code": "NotFound", "message": f"unexpected {req.method} {path}"}}, 404)

    return cb


def _mocked(log):
    rs = responses.RequestsMock(assert_all_requests_are_fired=False)
    for method in (responses.GET, responses.PUT, responses.POST, responses.PATCH, responses.DELETE):
        rs.add_callback(method, re.compile(r"https://.*"), callback=_arm_callback(log))
    return rs


def test_submission_sends_the_pipeline_with_attestation_tags_and_nothing_secret(doc, attested_run):
    run_dir, att = attested_run
    job, _ = build_pipeline(doc, parse_params(doc["training_parameters"]), run_dir, att, "run1")
    log: list = []
    with _mocked(log):
        created = submit(job, doc, FakeCredential(), "flaudit-test")
    puts = [(p, json.loads(b)) for m, p, b in log if m == "PUT" and "/jobs/" in p]
    assert len(puts) == 1
    props = puts[0][1]["properties"]
    assert props["jobType"] == "Pipeline" and props["experimentName"] == "flaudit-test"
    assert props["tags"]["flaudit.attestation_sha256"] == "a" * 64
    computes = {j["computeId"].rsplit("/", 1)[-1] for j in props["jobs"].values()}
    assert computes == {"silo0-01", "silo1-01", "silo2-01", "orchestrator-01"}
    assert not any(m == "POST" for m, _, _ in log)  # no listSecrets / listKeys
    assert created.status in ("NotStarted", "JobStatus.NOT_STARTED") or str(created.status).endswith("NOT_STARTED")


def test_rejected_submission_is_a_one_line_error(doc, attested_run):
    from flaudit.errors import CollectionError

    run_dir, att = attested_run
    job, _ = build_pipeline(doc, parse_params(doc["training_parameters"]), run_dir, att, "run1")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rs:
        rs.add(responses.GET, re.compile(r"https://.*"), status=403, content_type="application/json",
               json={"error": {"code": "AuthorizationFailed", "message": "no access"}})
        with pytest.raises(CollectionError, match="Azure ML rejected the pipeline"):
            submit(job, doc, FakeCredential(), "x")


def test_dry_run_prints_the_plan_and_submits_nothing(tmp_path, capsys, fake_audit, monkeypatch, doc):
    cfg = write_config(tmp_path / "fl" / "config.yaml", doc)
    fake_audit("ready")
    monkeypatch.setattr("flaudit.train.azureml.submit", lambda *a, **k: pytest.fail("submitted"))
    run_dir = tmp_path / "run"
    code, out, _ = run_cli(["train", "--sample", "--config", str(cfg), "--backend", "azureml", "--dry-run",
                            "--output", str(run_dir)], capsys)
    assert code == 0
    assert "round_2_aggregation" in out and "compute=orchestrator-01" in out
    assert "azureml://datastores/datastore_silo1/paths/silo1/train.csv" in out
    assert "not submitted" in out
    saved = json.loads((run_dir / "azureml" / "plan.json").read_text())
    assert len(saved) == 11 and Path(run_dir / "attestation.json").is_file()


def test_bundled_sample_plans_for_azureml_without_extra_settings(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("flaudit.train.azureml.submit", lambda *a, **k: pytest.fail("submitted"))
    run_dir = tmp_path / "run"
    code, out, err = run_cli(["train", "--sample", "--backend", "azureml", "--dry-run", "--output", str(run_dir)],
                             capsys)
    assert code == 0, err
    saved = json.loads((run_dir / "azureml" / "plan.json").read_text())
    # the sample config's num_of_iterations (5) is honoured: 3 pre-processing + 5 x (3 + 1)
    assert len(saved) == 3 + 5 * 4 and saved[-1]["name"] == "round_5_aggregation"


def test_cli_submits_with_the_given_credential_and_records_the_job(tmp_path, capsys, fake_audit, monkeypatch, doc):
    cfg = write_config(tmp_path / "fl" / "config.yaml", doc)
    fake_audit("ready")
    monkeypatch.setattr("flaudit.sources.live.credential.make_credential", lambda *a, **k: FakeCredential())
    log: list = []
    run_dir = tmp_path / "run"
    with _mocked(log):
        code, out, _ = run_cli(["train", "--sample", "--config", str(cfg), "--backend", "azureml",
                                "--output", str(run_dir)], capsys)
    assert code == 0 and "submitted pipeline job" in out
    rec = json.loads((run_dir / "azureml" / "submitted.json").read_text())
    att = json.loads((run_dir / "attestation.json").read_text())
    assert rec["tags"]["flaudit.attestation_sha256"] == att["attestation_sha256"]


def test_azureml_backend_needs_n_classes_before_the_gate(tmp_path, capsys, fake_audit, doc):
    del doc["training_parameters"]["n_classes"]
    cfg = write_config(tmp_path / "fl" / "config.yaml", doc)
    calls = fake_audit("ready")
    code, _, err = run_cli(["train", "--sample", "--config", str(cfg), "--backend", "azureml", "--dry-run",
                            "--output", str(tmp_path / "run")], capsys)
    assert code == 2 and "n_classes" in err and calls == []


def test_kubernetes_silo_steps_carry_the_configs_instance_type(doc, attested_run):
    run_dir, att = attested_run
    doc = copy.deepcopy(doc)
    doc["federated_learning"]["silos"][1]["instance_type"] = "confcompinstance"
    job, steps = build_pipeline(doc, parse_params(doc["training_parameters"]), run_dir, att, "run1")
    silo1 = [st for st in steps if st.silo == doc["federated_learning"]["silos"][1]["name"]]
    assert silo1 and all(st.instance_type == "confcompinstance" for st in silo1)
    rest = job._to_dict()["jobs"]
    for st in steps:
        resources = rest[st.name].get("resources") or {}
        assert resources.get("instance_type") == st.instance_type, st.name


def test_blank_instance_type_is_an_input_error(doc):
    doc = copy.deepcopy(doc)
    doc["federated_learning"]["silos"][0]["instance_type"] = " "
    with pytest.raises(InputError, match="instance_type must be a non-empty string"):
        plan(doc, parse_params(doc["training_parameters"]), "run1")
