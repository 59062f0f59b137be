"""Progress for long work that would otherwise be silent: feature extraction, decoding loops, baselines.

Home of: the progress bar of every long loop outside `fit` (`progress`).

A thin wrapper over Keras' own `keras.utils.Progbar` (the bar `model.fit` prints), so every long loop of
the suite reports the same way:

    for batch in progress(batches, total=len(batches), label="features"):
        ...

Prints nothing when `total` is small (a quick run's few steps) or when `verbose=0`.
"""

from __future__ import annotations

import typing

import keras

# Loops this short finish before a bar would help; tests and --quick runs stay quiet.
QUIET_BELOW = 8


def progress(items: typing.Iterable, total: int | None, label: str, verbose: int = 1) -> typing.Iterator:
    """Yield `items`, advancing a Keras progress bar named `label` by one per item (`total` of them)."""
    if not verbose or (total is not None and total < QUIET_BELOW):
        yield from items
        return
    print(label, flush=True)
    bar = keras.utils.Progbar(total, unit_name="step")
    for count, item in enumerate(items, start=1):
        yield item
        bar.update(count)
