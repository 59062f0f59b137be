import keras
import numpy as np
import pytest
import tensorflow as tf

from shared.modeling.optimizer import make_optimizer
from shared.runtime.config import TrainConfig
from shared.runtime.training import fit
from shared.runtime.run import read_history, start_run


def _data(x, y):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def _model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=make_optimizer(0.01), loss="mse")
    return model


def test_fit_records_history_and_checkpoints(tmp_path):
    config = TrainConfig(epochs=2, output_dir=str(tmp_path / "run"))
    start_run(config)
    x, y = np.ones((16, 2), np.float32), np.ones((16, 1), np.float32)
    result = fit(_model(), _data(x, y), _data(x, y), config)
    assert [int(row["epoch"]) for row in result.history] == [0, 1] and result.epochs_this_run == 2
    assert (tmp_path / "run" / "checkpoints" / "best.weights.h5").exists()
    assert read_history(tmp_path / "run") == result.history


def test_nan_loss_stops_training_with_a_clear_error(tmp_path):
    config = TrainConfig(epochs=3, output_dir=str(tmp_path / "run"))
    start_run(config)
    x = np.ones((16, 2), np.float32)
    x[3] = np.nan
    with pytest.raises(FloatingPointError, match="NaN at step 1 of epoch 1"):
        fit(_model(), _data(x, np.ones((16, 1), np.float32)), None, config)


@pytest.mark.parametrize("ema_momentum", [0.0, 0.9])
def test_epoch_metrics_reach_the_logs_and_choose_the_best_checkpoint(tmp_path, ema_momentum):
    """A figure computed outside Keras is logged every epoch, and the kept weights are its best epoch's.

    With a weight average (EMA) the figure is computed on the average, which is what the checkpoints save.
    """
    config = TrainConfig(epochs=3, output_dir=str(tmp_path / "run"))
    start_run(config)
    x, y = np.ones((16, 2), np.float32), np.ones((16, 1), np.float32)
    model, weights_seen = _model(), []
    model.compile(optimizer=make_optimizer(0.01, ema_momentum=ema_momentum), loss="mse")
    scores = iter([0.2, 0.9, 0.5])  # epoch 2 is best, although the loss keeps falling after it

    def score():
        weights_seen.append(model.get_weights()[0].copy())
        return next(scores)

    result = fit(model, _data(x, y), _data(x, y), config, monitor="val_score", mode="max",
                 epoch_metrics={"val_score": score})
    assert [row["val_score"] for row in result.history] == pytest.approx([0.2, 0.9, 0.5])
    assert result.history[2]["val_loss"] < result.history[1]["val_loss"]
    np.testing.assert_allclose(model.get_weights()[0], weights_seen[1])  # fit loaded epoch 2's weights


def _two_heads():
    inputs = keras.Input((2,))
    model = keras.Model(inputs, {"a": keras.layers.Dense(1, name="a")(inputs),
                                 "b": keras.layers.Dense(1, name="b")(inputs)})
    model.compile(optimizer=make_optimizer(0.05), loss={"a": "mse", "b": "mse"})
    return model


def test_parts_keep_the_weights_of_their_own_best_epochs(tmp_path):
    """Two heads that peak at different epochs each end with their best epoch's weights (IMDb's read-outs)."""
    config = TrainConfig(epochs=3, output_dir=str(tmp_path / "run"))
    start_run(config)
    x, y = np.ones((16, 2), np.float32), np.full((16, 1), 3.0, np.float32)
    model, seen = _two_heads(), []
    scores = {"val_a_score": iter([0.3, 0.9, 0.5]), "val_b_score": iter([0.1, 0.2, 0.8]),
              "val_score": iter([0.5, 0.4, 0.3])}

    def score(name):
        if name == "val_score":  # computed first: remember the weights every score is computed on
            seen.append({head: model.get_layer(head).get_weights()[0].copy() for head in "ab"})
        return next(scores[name])

    result = fit(model, _data(x, {"a": y, "b": y}), _data(x, {"a": y, "b": y}), config, monitor="val_score",
                 mode="max", epoch_metrics={name: (lambda name=name: score(name)) for name in scores},
                 parts={"val_a_score": [model.get_layer("a")], "val_b_score": [model.get_layer("b")]})
    assert len(result.history) == 3
    assert not np.allclose(seen[1]["a"], seen[2]["a"])  # the weights moved: which epoch is kept matters
    np.testing.assert_allclose(model.get_layer("a").get_weights()[0], seen[1]["a"])  # a's best: epoch 2
    np.testing.assert_allclose(model.get_layer("b").get_weights()[0], seen[2]["b"])  # b's best: epoch 3
    assert (tmp_path / "run" / "checkpoints" / "best-val_a_score.weights.h5").exists()


def test_parts_that_share_a_variable_are_refused(tmp_path):
    config = TrainConfig(epochs=1, output_dir=str(tmp_path / "run"))
    start_run(config)
    model = _two_heads()
    x = np.ones((16, 2), np.float32)
    with pytest.raises(ValueError, match="share the variable"):
        fit(model, _data(x, {"a": x[:, :1], "b": x[:, :1]}), None, config,
            parts={"val_a_loss": [model.get_layer("a")], "val_b_loss": [model.get_layer("a")]})
