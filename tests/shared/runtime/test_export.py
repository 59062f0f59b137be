import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from shared.runtime.config import TrainConfig
from shared.runtime.export import export_saved_model, next_version
from shared.runtime.serving import LocalModel, check_saved_model


def _tiny(config):
    """A float model with a typed signature: x [batch, 2] -> y [batch]."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])

    def serve(x):
        return {"y": tf.reshape(model(x), [-1])}

    return model, {"serving_default": (serve, [tf.TensorSpec([None, 2], tf.float32, name="x")])}


def test_versions_count_up_and_never_overwrite(tmp_path):
    config = TrainConfig(export_dir=str(tmp_path))
    model, endpoints = _tiny(config)
    first = export_saved_model(config, endpoints, [model], metrics={"accuracy": 0.5})
    second = export_saved_model(config, endpoints, [model])
    assert (first.name, second.name) == ("1", "2")
    assert json.loads((first / "assets.extra" / "metrics.json").read_text()) == {"accuracy": 0.5}
    assert json.loads((first / "assets.extra" / "config.json").read_text())["app"] == "app"
    assert next_version(tmp_path / "app") == 3
    # Only numbered versions are left: no temporary folder survives.
    assert sorted(os.listdir(tmp_path / "app")) == ["1", "2"]


def test_failed_export_leaves_no_version(tmp_path):
    config = TrainConfig(export_dir=str(tmp_path))
    model, _ = _tiny(config)

    def broken(x):
        raise RuntimeError("boom while tracing")

    with pytest.raises(RuntimeError, match="boom"):
        export_saved_model(config, {"serving_default": (broken, [tf.TensorSpec([None, 2], tf.float32)])},
                           [model])
    assert os.listdir(tmp_path / "app") == []


def test_serving_default_is_required(tmp_path):
    config = TrainConfig(export_dir=str(tmp_path))
    model, endpoints = _tiny(config)
    with pytest.raises(ValueError, match="serving_default"):
        export_saved_model(config, {"other": endpoints["serving_default"]}, [model])


def test_round_trip_matches_keras_and_passes_bare_tf(tmp_path):
    config = TrainConfig(export_dir=str(tmp_path))
    model, endpoints = _tiny(config)
    path = export_saved_model(config, endpoints, [model])
    x = np.array([[1.0, 2.0], [-3.0, 0.5]], np.float32)
    expected = model.predict(x, verbose=0).reshape(-1)
    local = LocalModel(path).predict(instances=x.tolist())
    np.testing.assert_allclose(local["predictions"], expected, rtol=1e-5)
    report = check_saved_model(path, [{"inputs": {"x": x.tolist()}}])
    np.testing.assert_allclose(report["results"][0]["response"]["outputs"], expected, rtol=1e-5)
    assert report["signatures"]["serving_default"]["inputs"] == {"x": ["float32", [None, 2]]}
