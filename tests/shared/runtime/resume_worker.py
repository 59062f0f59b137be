"""One training process of tests/shared/runtime/test_resume.py, killed by the test while it runs.

    python -m tests.shared.runtime.resume_worker RUN_DIR EPOCHS [--resume]

Trains a tiny model with the suite's `fit` (start_run, callbacks, backup) and writes RUN_DIR/result.json
({"epochs_this_run", "history_epochs"}) when it finishes. Each epoch is short, so a kill lands anywhere:
inside a step, or while a checkpoint, the backup or history.csv is being written.
"""

import json
import pathlib
import sys

import numpy as np
import tensorflow as tf

from shared.modeling.optimizer import make_optimizer
from shared.runtime.config import TrainConfig
from shared.runtime.training import fit
from shared.runtime.run import start_run


def main():
    import keras

    run_dir, epochs, resume = pathlib.Path(sys.argv[1]), int(sys.argv[2]), "--resume" in sys.argv
    config = TrainConfig(epochs=epochs, output_dir=str(run_dir), resume=resume)
    start_run(config)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32), keras.layers.Dense(1)])
    model.compile(optimizer=make_optimizer(0.01), loss="mse")
    features = np.random.default_rng(0).normal(size=(256, 8)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((features, features[:, :1])).batch(32)
    result = fit(model, data, data, config)
    (run_dir / "result.json").write_text(json.dumps({
        "epochs_this_run": result.epochs_this_run,
        "history_epochs": [int(row["epoch"]) for row in result.history]}))


if __name__ == "__main__":
    main()
