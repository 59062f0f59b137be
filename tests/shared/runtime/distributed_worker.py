"""One worker process of tests/shared/runtime/test_distribute.py: an app's train.py with two test hooks.

    python -m tests.shared.runtime.distributed_worker imdb_sentiment --weights-out W.npz [--pause-at-epoch N
        --pause-marker FILE] -- <train.py flags>

`--weights-out` saves the model's weights when `fit` ends (before the best checkpoint is loaded), so the
test can compare what each worker trained. `--pause-at-epoch` writes `--pause-marker` when that epoch
begins and then sleeps, so the test can kill the process mid-run at a known point (after the previous
epoch's backup). TF_CONFIG comes from the environment, as on a real cluster.
"""

import argparse
import importlib
import pathlib
import sys
import time

import keras
import numpy as np


class _SaveWeights(keras.callbacks.Callback):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_train_end(self, logs=None):
        weights = self.model.get_weights()
        np.savez(self.path, *weights)


class _PauseAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch, marker):
        super().__init__()
        self.epoch, self.marker = epoch, pathlib.Path(marker)

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.marker.write_text(str(epoch))
            time.sleep(600)  # the test kills this process long before


def main():
    keras.config.disable_traceback_filtering()  # a failing worker's log shows where in Keras it failed
    own, train_argv = (sys.argv[1:sys.argv.index("--")], sys.argv[sys.argv.index("--") + 1:]
                       ) if "--" in sys.argv else (sys.argv[1:], [])
    parser = argparse.ArgumentParser()
    parser.add_argument("app")
    parser.add_argument("--weights-out", required=True)
    parser.add_argument("--pause-at-epoch", type=int)
    parser.add_argument("--pause-marker")
    args = parser.parse_args(own)
    callbacks = [_SaveWeights(args.weights_out)]
    if args.pause_at_epoch is not None:
        callbacks.append(_PauseAtEpoch(args.pause_at_epoch, args.pause_marker))
    train = importlib.import_module(f"apps.{args.app}.train")
    train.main(train_argv, extra_callbacks=callbacks)


if __name__ == "__main__":
    main()
