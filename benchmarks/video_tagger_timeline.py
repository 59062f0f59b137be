"""The README picture: frames of a real video with their true and served tags, and both along a timeline."""

from __future__ import annotations

import pathlib

import numpy as np

FIGURE = pathlib.Path(__file__).resolve().parents[1] / "apps" / "video_tagger" / "images" / "kth_timeline.png"


def draw_timeline(frames: np.ndarray, truth: list[str], served: list[str], tags_per_second: float,
                  thumbnails: int = 8, path: pathlib.Path = FIGURE) -> pathlib.Path:
    """Thumbnails at even times (true / served tag under each), then a true and a served tag bar in time."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    names = sorted(set(truth) | set(served))
    colors = {name: plt.cm.tab10(k % 10) for k, name in enumerate(names)}
    figure = plt.figure(figsize=(12, 4.4))
    picks = np.linspace(0, len(frames) - 1, thumbnails).round().astype(int)
    for k, t in enumerate(picks):
        axis = figure.add_axes([k / thumbnails + 0.005, 0.42, 1 / thumbnails - 0.01, 0.5])
        axis.imshow(frames[t])
        axis.set_xticks([])
        axis.set_yticks([])
        right = truth[t] == served[t]
        axis.set_title(f"{t / tags_per_second:.1f} s\ntrue {truth[t]}\nserved {served[t]}", fontsize=8,
                       color="black" if right else "red")
    bars = figure.add_axes([0.07, 0.08, 0.9, 0.2])
    seconds = np.arange(len(truth) + 1) / tags_per_second
    for row, labels in enumerate((served, truth)):
        for t, name in enumerate(labels):
            bars.fill_between(seconds[t:t + 2], row, row + 0.8, color=colors[name], linewidth=0)
    bars.set_yticks([0.4, 1.4])
    bars.set_yticklabels(["served", "true"])
    bars.set_xlim(0, seconds[-1])
    bars.set_xlabel("seconds")
    for t in picks:
        bars.axvline((t + 0.5) / tags_per_second, color="black", linewidth=0.6, linestyle=":")
    handles = [matplotlib.patches.Patch(color=colors[name], label=name) for name in names]
    bars.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.45), ncol=len(names), fontsize=8,
                frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(figure)
    return path
