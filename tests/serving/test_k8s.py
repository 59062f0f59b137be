"""serving/k8s: the manifests parse, fit together, and serve the same models as serving/models.config."""

import re

import yaml

from tests.conftest import REPO

K8S = REPO / "serving" / "k8s"


def _load(name):
    return yaml.safe_load((K8S / name).read_text())


def _model_names(config_text):
    return re.findall(r'name:\s*"([^"]+)"', config_text)


def test_kustomization_lists_every_manifest_and_each_parses():
    kustomization = _load("kustomization.yaml")
    assert sorted(kustomization["resources"]) == sorted(
        path.name for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")
    kinds = {_load(name)["kind"] for name in kustomization["resources"]}
    assert kinds == {"PersistentVolumeClaim", "ConfigMap", "Deployment", "Service"}


def test_replicas_read_one_tree_and_are_ready_only_when_a_model_answers():
    deployment = _load("deployment.yaml")
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0  # rollouts never lose capacity
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"].startswith("tensorflow/serving:")
    assert "--model_config_file=/config/models.config" in container["args"]
    probe = container["readinessProbe"]["httpGet"]
    models = _model_names(_load("models-configmap.yaml")["data"]["models.config"])
    assert re.fullmatch(r"/v1/models/([a-z_]+)", probe["path"]).group(1) in models
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert probe["port"] in ports and ports["http"] == 8501
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert volumes[mounts["/models"]]["persistentVolumeClaim"]["claimName"] == _load("saved-models-pvc.yaml")[
        "metadata"]["name"]
    assert volumes[mounts["/config"]]["configMap"]["name"] == _load("models-configmap.yaml")["metadata"]["name"]
    assert "ReadOnlyMany" in _load("saved-models-pvc.yaml")["spec"]["accessModes"]


def test_service_selects_the_replicas_and_exposes_rest_and_grpc():
    service, deployment = _load("service.yaml"), _load("deployment.yaml")
    assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]
    assert {port["port"] for port in service["spec"]["ports"]} == {8500, 8501}


def test_configmap_serves_the_same_models_as_the_docker_config():
    configmap = _model_names(_load("models-configmap.yaml")["data"]["models.config"])
    docker = _model_names((REPO / "serving" / "models.config").read_text())
    assert configmap == docker and len(configmap) == 5


def test_rollout_doc_labels_only_versions_it_loads():
    """Each config block in scale_out.md labels versions its policy loads (TF Serving refuses otherwise)."""
    doc = (REPO / "serving" / "scale_out.md").read_text()
    blocks = re.findall(r"```[ \t]*\n\s*(config \{.*?)```", doc, flags=re.S)
    assert blocks, "the rollout steps show their config"
    for block in blocks:
        loaded = {int(v) for v in re.findall(r"versions:\s*(\d+)", block)}
        labelled = {int(v) for v in re.findall(r'version_labels \{ key: "\w+" value: (\d+) \}', block)}
        assert labelled and labelled <= loaded, block
