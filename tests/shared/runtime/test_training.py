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
