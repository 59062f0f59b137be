"""An export must serve on a CPU-only TF Serving host, whatever device traced it.

This machine has no GPU, so the GPU's effect on tracing is reproduced the way Keras decides it: Keras asks
`keras.src.backend.tensorflow.rnn._is_gpu_available()` while tracing an LSTM or GRU, and picks cuDNN when it
says yes. Patching that answer to yes traces exactly the graph a GPU process would (`CudnnRNNV3`), which
the checker must refuse and `shared/runtime/export.py` must never write.
"""

import importlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from shared.runtime.bare_tf import cpu_unservable_ops
from shared.runtime.config import TrainConfig
from shared.runtime.export import export_saved_model, portable_recurrent_layers
from shared.runtime.serving import BARE_TF_SCRIPT, check_saved_model

SPEC = [tf.TensorSpec([None, 5, 3], tf.float32, name="x")]


@pytest.fixture
def gpu_visible_to_keras(monkeypatch):
    """Keras' trace-time question "is a GPU here?" answered yes, as in a process on a GPU machine."""
    keras_tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")  # the module, not its rnn()
    monkeypatch.setattr(keras_tf_rnn, "_is_gpu_available", lambda: True)


def _recurrent_model():
    inputs = keras.Input((5, 3))
    hidden = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))(inputs)
    outputs = keras.layers.GRU(2)(hidden)
    return keras.Model(inputs, outputs)


def _bare_tf(model_dir):
    return subprocess.run([sys.executable, "-I", str(BARE_TF_SCRIPT), str(model_dir)],
                          capture_output=True, text=True, timeout=300)


def _save_traced(model, path):
    """tf.saved_model.save of the model's call traced as it stands: the graph an unguarded export writes."""
    module = tf.Module()
    module.model = model
    module.serve = tf.function(lambda x: {"y": model(x)}, input_signature=SPEC)
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def test_the_checker_refuses_a_graph_traced_for_cudnn_and_names_the_op(tmp_path, gpu_visible_to_keras):
    model = _recurrent_model()
    path = _save_traced(model, tmp_path / "cudnn")
    assert "CudnnRNNV3" in cpu_unservable_ops(path)  # the test's premise: this really is the GPU graph
    completed = _bare_tf(path)
    assert completed.returncode == 1
    assert "CudnnRNNV3" in completed.stderr and "CPU" in completed.stderr
    with pytest.raises(RuntimeError, match="CudnnRNNV3"):
        check_saved_model(path, [])


def test_the_checker_refuses_xla_only_ops(tmp_path):
    from tensorflow.compiler.tf2xla.python import xla  # what keras-hub's samplers trace

    module = tf.Module()
    module.serve = tf.function(lambda x: {"y": xla.dynamic_update_slice(x, x[:1], [0])},
                               input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    tf.saved_model.save(module, str(tmp_path / "xla"), signatures={"serving_default": module.serve})
    completed = _bare_tf(tmp_path / "xla")
    assert completed.returncode == 1 and "XlaDynamicUpdateSlice" in completed.stderr


def test_an_export_traced_beside_a_gpu_serves_on_cpu(tmp_path, gpu_visible_to_keras):
    model = _recurrent_model()
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    # Evaluated before the patch could matter: eager calls on CPU take the generic path either way.
    expected = model(x).numpy()
    earlier = tf.function(lambda x: {"y": model(x)}, input_signature=SPEC)
    earlier.get_concrete_function()  # traced for cuDNN before the export: the export must not reuse it
    path = export_saved_model(TrainConfig(export_dir=str(tmp_path)), {"serving_default": (earlier, SPEC)},
                              track=[model])
    assert cpu_unservable_ops(path) == []
    report = check_saved_model(path, [{"inputs": {"x": x.tolist()}}])
    np.testing.assert_allclose(report["results"][0]["response"]["outputs"], expected, rtol=1e-5, atol=1e-6)
    assert _bare_tf(path).returncode == 0
    # Training goes on with cuDNN where it is available: the layers are given back their setting.
    assert {layer.use_cudnn for layer in model._flatten_layers() if hasattr(layer, "use_cudnn")} == {"auto"}


def test_portable_recurrent_layers_reaches_wrapped_layers():
    model = _recurrent_model()
    with portable_recurrent_layers([model]):
        settings = [layer.use_cudnn for layer in model._flatten_layers() if hasattr(layer, "use_cudnn")]
    assert len(settings) == 3 and set(settings) == {False}  # forward and backward LSTM, and the GRU
