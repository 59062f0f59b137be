import json

import keras
import numpy as np
import pytest

from shared.runtime.time_budget import TimeBudget


def _model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_a_spent_budget_stops_after_one_step_and_no_budget_runs_every_step():
    x, y = np.zeros((64, 2)), np.zeros((64, 1))
    spent = TimeBudget(minutes=0.0)
    _model().fit(x, y, batch_size=8, epochs=5, verbose=0, callbacks=[spent])
    assert spent.steps == 1
    unlimited = TimeBudget(minutes=None)
    _model().fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[unlimited])
    assert unlimited.steps == 16


def test_the_log_adds_up_the_time_of_every_process_of_a_run(tmp_path):
    log = tmp_path / "train_seconds.json"
    x, y = np.zeros((16, 2)), np.zeros((16, 1))
    first, second = TimeBudget(None, log), TimeBudget(None, log)  # two processes of one run (a resume)
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[first])
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[second])
    times = json.loads(log.read_text())
    assert len(times) == 2
    assert second.total_seconds() == pytest.approx(sum(times.values()))


def test_a_negative_budget_is_refused():
    with pytest.raises(ValueError, match="at least|>= 0"):
        TimeBudget(-1)
