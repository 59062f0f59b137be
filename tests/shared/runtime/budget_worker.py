"""One worker of the time-budget cluster test: a tiny model under MultiWorkerMirroredStrategy.

    TF_CONFIG=... python -m tests.shared.runtime.budget_worker MINUTES STEPS_OUT

Trains up to 3 epochs of 20 steps with `TimeBudget(MINUTES)` and writes the steps it ran to STEPS_OUT.
"""

import pathlib
import sys

import keras
import numpy as np

from shared.runtime import distribute
from shared.runtime.time_budget import TimeBudget


def main():
    minutes, steps_out = float(sys.argv[1]), pathlib.Path(sys.argv[2])
    distribute.activate("multi-worker")
    keras.utils.set_random_seed(0)
    with distribute.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
    distribute.prepare_model(model)
    budget = TimeBudget(minutes)
    features = np.random.default_rng(0).normal(size=(20 * 16, 4)).astype("float32")
    model.fit(features, features[:, :1], batch_size=16, epochs=3, verbose=2, callbacks=[budget])
    steps_out.write_text(str(budget.steps))


if __name__ == "__main__":
    main()
