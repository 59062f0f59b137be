"""Pictures for the READMEs: training curves from a run's history.

Home of: the README training-curve pictures (`plot_history`).
"""

from __future__ import annotations

import pathlib
import typing


def plot_history(history: typing.Sequence[dict], metrics: typing.Sequence[str], path: str | pathlib.Path,
                 title: str = "") -> pathlib.Path:
    """One panel per metric: its training and validation value per epoch (from `read_history`).

    Args:
        history: one dict per epoch with "epoch", "<metric>" and "val_<metric>" keys.
        metrics: the metric names to draw, e.g. ["loss", "accuracy"].
        path: the PNG to write (folders are created).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
    epochs = [int(row["epoch"]) + 1 for row in history]
    for axis, metric in zip(axes[0], metrics):
        for prefix, style in (("", "o-"), ("val_", "s--")):
            values = [row.get(prefix + metric) for row in history]
            if any(value is not None for value in values):
                axis.plot(epochs, values, style, label=("validation " if prefix else "training ") + metric)
        axis.set_xlabel("epoch")
        axis.set_xticks(epochs)
        axis.set_title(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
