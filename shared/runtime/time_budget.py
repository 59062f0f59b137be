"""A training time budget: stop `fit` before a wall-clock limit, and keep the run's time across resumes.

Home of: wall-clock training budgets that hold across resumes (`TimeBudget`).

The benchmarks promise "trained in at most N minutes on 2 CPU cores"; this callback is how a run keeps that
promise without guessing a number of epochs. Used by the char LM, the translator and the captioner's encoder.
"""

from __future__ import annotations

import json
import pathlib
import time
import uuid

import keras

from shared.runtime import distribute


class TimeBudget(keras.callbacks.Callback):
    """Stops training when the next step would overrun the budget, keeping time for validation.

    Checked after every batch: if the time spent plus the last validation's duration (x1.2) reaches the
    budget, `model.stop_training` is set, so the epoch ends, validation runs once more and the best
    checkpoint is kept. The budget applies to each process (a resumed run gets `minutes` afresh: pass what
    is left). Under `--distribute multi-worker` the workers vote after every step (`distribute.any_worker`)
    and all stop at the same step as soon as one of them is out of time; one worker stopping alone would
    leave the others waiting at the next gradient all-reduce. Every worker must then get a budget (the
    same command does that), since only workers with one take part in the vote.

    With a `log_path`, each process also records its wall time there ({process id: seconds}, updated every
    epoch) so that `total_seconds()` is the training time of the whole run, resumes included.

    Args:
        minutes: the budget in minutes, or None for no limit (the callback then only counts steps).
        log_path: optional JSON file for the time of every process of this run.

    Example:
        >>> import numpy as np, keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> budget = TimeBudget(minutes=0.0)  # no time at all: stops after the first step
        >>> _ = model.fit(np.zeros((64, 2)), np.zeros((64, 1)), batch_size=8, epochs=5, verbose=0,
        ...               callbacks=[budget])
        >>> budget.steps
        1
    """

    def __init__(self, minutes: float | None, log_path: str | pathlib.Path | None = None):
        super().__init__()
        if minutes is not None and minutes < 0:
            raise ValueError(f"A time budget must be >= 0 minutes (or None for none), got {minutes}.")
        self.budget = None if minutes is None else 60 * minutes
        self.validation_seconds = 0.0
        self.steps = 0  # training steps this process ran (for throughput figures)
        self.log_path = None if log_path is None else pathlib.Path(log_path)
        self.key = uuid.uuid4().hex[:12]
        self.started = time.perf_counter()

    def record(self, seconds: float) -> None:
        if self.log_path is None:
            return
        times = json.loads(self.log_path.read_text()) if self.log_path.exists() else {}
        times[self.key] = seconds
        self.log_path.write_text(json.dumps(times, indent=1) + "\n")

    def total_seconds(self) -> float:
        """Training seconds of every process of this run (this one only without a log_path)."""
        if self.log_path is None or not self.log_path.exists():
            return time.perf_counter() - self.started
        return sum(json.loads(self.log_path.read_text()).values())

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.record(time.perf_counter() - self.started)

    def on_test_begin(self, logs=None):
        self.test_started = time.perf_counter()

    def on_test_end(self, logs=None):
        self.validation_seconds = time.perf_counter() - self.test_started

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.budget is not None:
            spent = time.perf_counter() - self.started
            if distribute.any_worker(spent + self.validation_seconds * 1.2 >= self.budget):
                self.model.stop_training = True
