"""serving/: models.config and the batching file parse as TF Serving's own protos and match the apps."""

import importlib
import re
import pathlib

import pytest
import yaml
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format, wrappers_pb2
from tensorflow_serving.config import model_server_config_pb2

from shared.runtime.config import TrainConfig
from shared.runtime.serving_assets import SERVING_BATCHING_PARAMETERS

REPO = pathlib.Path(__file__).resolve().parents[2]
SERVING = REPO / "serving"
APPS = sorted(path.parent.name for path in (REPO / "apps").glob("*/train.py"))


def _app_config(app: str) -> TrainConfig:
    return importlib.import_module(f"apps.{app}.train").Config()


def _batching_parameters_class():
    """tensorflow.serving.BatchingParameters, fields 1-7 of session_bundle_config.proto.

    tensorflow-serving-api does not ship session_bundle_config_pb2, so the message is declared here with
    the upstream field names, numbers and types (wrappers for the scalars, as TF Serving has them); every
    field serving/batching_parameters.txt uses is among them, and text_format refuses any other name.
    """
    int64, string = ".google.protobuf.Int64Value", ".google.protobuf.StringValue"
    fields = [("max_batch_size", 1, int64), ("batch_timeout_micros", 2, int64),
              ("max_enqueued_batches", 3, int64), ("num_batch_threads", 4, int64),
              ("thread_pool_name", 5, string), ("allowed_batch_sizes", 6, "repeated int64"),
              ("pad_variable_length_inputs", 7, "bool")]
    file = descriptor_pb2.FileDescriptorProto(name="batching_parameters_test.proto", package="tensorflow.serving",
                                              syntax="proto3", dependency=["google/protobuf/wrappers.proto"])
    message = file.message_type.add(name="BatchingParameters")
    for name, number, kind in fields:
        field = message.field.add(name=name, number=number, label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
        if kind == "repeated int64":
            field.label, field.type = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED, field.TYPE_INT64
        elif kind == "bool":
            field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BOOL
        else:
            field.type, field.type_name = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE, kind
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.AddSerializedFile(file.SerializeToString())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


def test_models_config_serves_every_app_from_its_export_folder():
    config = text_format.Parse((SERVING / "models.config").read_text(), model_server_config_pb2.ModelServerConfig())
    models = {model.name: model for model in config.model_config_list.config}
    assert sorted(models) == APPS == ["captioner", "char_lm", "imdb_sentiment", "translator", "video_tagger"]
    for app, model in models.items():
        app_config = _app_config(app)
        assert app_config.app == app  # the model name is the name warm-up records and clients use
        # An app exports to <export_dir>/<app>/<N>; the compose file mounts <export_dir> at /models.
        assert app_config.export_dir == "saved_models"
        assert model.base_path == f"/models/{app}"
        assert model.model_platform == "tensorflow"


def test_compose_mounts_the_config_the_exports_and_enables_per_model_batching():
    service = yaml.safe_load((SERVING / "docker-compose.yml").read_text())["services"]["tf-serving"]
    mounts = {}
    for volume in service["volumes"]:
        host, container = volume.split(":")[:2]
        mounts[container] = (SERVING / host).resolve()
    assert mounts["/models"] == REPO / "saved_models"
    flags = dict(flag.lstrip("-").split("=", 1) for flag in service["command"])
    for flag in ("model_config_file", "batching_parameters_file"):
        container_path = pathlib.PurePosixPath(flags[flag])
        assert (mounts[str(container_path.parent)] / container_path.name).is_file(), flag
    assert flags["model_config_file"].endswith("/models.config")
    assert flags["batching_parameters_file"].endswith("/batching_parameters.txt")
    assert flags["enable_batching"] == flags["enable_per_model_batching_parameters"] == "true"
    assert sorted(service["ports"]) == ["8500:8500", "8501:8501"]


def test_batching_parameters_parse_and_satisfy_tf_servings_rules():
    batching_parameters = _batching_parameters_class()
    parameters = text_format.Parse(SERVING_BATCHING_PARAMETERS.read_text(), batching_parameters())
    assert SERVING_BATCHING_PARAMETERS == SERVING / "batching_parameters.txt"
    assert parameters.max_batch_size.value == 32
    assert 0 < parameters.batch_timeout_micros.value <= 10_000  # a lone request waits at most 10 ms
    assert parameters.num_batch_threads.value >= 1  # TF Serving refuses 0
    assert parameters.max_enqueued_batches.value >= 1
    if parameters.allowed_batch_sizes:  # TF Serving's rule: increasing, the last one max_batch_size
        assert list(parameters.allowed_batch_sizes) == sorted(parameters.allowed_batch_sizes)
        assert parameters.allowed_batch_sizes[-1] == parameters.max_batch_size.value
    # The declared message is strict: a misspelt field is refused, as TF Serving refuses it.
    with pytest.raises(text_format.ParseError):
        text_format.Parse("max_batch_sise { value: 4 }", batching_parameters())


def test_every_tf_serving_image_is_pinned_to_the_tensorflow_of_requirements():
    """TF Serving must know every op the exports use: the same release as the TensorFlow that writes them."""
    pins = dict(line.split("==") for line in (REPO / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert pins["tensorflow"] == pins["tensorflow-serving-api"]
    wanted = f"tensorflow/serving:{pins['tensorflow']}"
    compose = yaml.safe_load((SERVING / "docker-compose.yml").read_text())
    deployment = yaml.safe_load((SERVING / "k8s" / "deployment.yaml").read_text())
    images = [service["image"] for service in compose["services"].values()]
    images += [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert images and set(images) == {wanted}
    documented = set(re.findall(r"tensorflow/serving:[\w.${}:-]+", (SERVING / "README.md").read_text()))
    assert documented == {wanted}
