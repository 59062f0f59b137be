"""shared/runtime/run.py: the one owner of the run folder's layout, from start_run to finish_run."""

import json
import math

import keras
import numpy as np
import tensorflow as tf

from shared.modeling.optimizer import make_optimizer
from shared.runtime.config import TrainConfig, load_config
from shared.runtime.run import RunFolder, finish_run, read_history, start_run
from shared.runtime.training import fit


def test_every_file_of_a_run_lies_where_run_folder_names_it(tmp_path):
    config = TrainConfig(epochs=1, output_dir=str(tmp_path / "run"))
    folder = RunFolder.of(config)
    assert start_run(config) == folder.root == tmp_path / "run"
    assert load_config(folder.config, TrainConfig) == config
    assert read_history(folder.root) == []  # no epoch finished yet
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=make_optimizer(0.01), loss="mse")
    data = tf.data.Dataset.from_tensor_slices((np.ones((8, 2), np.float32), np.ones((8, 1), np.float32))).batch(4)
    fit(model, data, data, config)
    assert folder.best_checkpoint.exists() and folder.last_checkpoint.exists() and folder.history.exists()
    assert [path.parent for path in folder.logs.glob("*")] == [folder.logs]  # one TensorBoard run folder
    assert not folder.backup.exists()  # removed once the best checkpoint loaded
    assert finish_run(config, {"loss": math.nan, "epochs": 1}) == folder.metrics
    assert json.loads(folder.metrics.read_text()) == {"epochs": 1, "loss": None}
    # Nothing outside the layout: every entry of the folder is one RunFolder names.
    named = {folder.config, folder.metrics, folder.history, folder.checkpoints, folder.logs}
    assert set(folder.root.iterdir()) == named
