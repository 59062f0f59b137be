"""Draw where the decoder looked: the attention map of one translated sentence, from the SavedModel.

Usage:
    python apps/translator/attention_map.py "I can't find my keys." --out attention.png
    python apps/translator/attention_map.py "..." --model-dir saved_models/translator/3

It calls the export's `attention` signature (greedy decoding that also returns, for every output word,
its softmax weights over the source words) and draws them as a grid: one row per output word, one
column per source word, darker = more attention. Only the exported graph is used, as a client would.

Why a file of its own: it is a user-facing command (README "The effect of attention") and a client of the
export like predict.py, not part of training; benchmarks/translator.py calls it to draw the README's
picture, apps/translator/images/attention_translator.png.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np


def attention_of(model_dir: str, sentence: str) -> tuple[list[str], list[str], np.ndarray, str]:
    """(source words, output words, weights [out, in], translation) for one sentence."""
    from shared.runtime.serving import LocalModel

    model = LocalModel(model_dir)
    answer = model.predict(instances=[sentence], signature_name="attention")["predictions"][0]
    source = [w for w in answer["source_tokens"] if w]
    target = [w for w in answer["target_tokens"] if w] + ["[end]"]
    weights = np.asarray(answer["attention"], dtype=np.float32)
    target = target[:len(weights)]  # no [end] row when the output stopped at the length bound
    weights = weights[:len(target), :len(source)]
    return source, target, weights, answer["translation"]


def draw(source: list[str], target: list[str], weights: np.ndarray, path: str | pathlib.Path,
         title: str = "") -> pathlib.Path:
    """Save the attention grid as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = (max(4.0, 1.0 + 0.45 * len(source)), max(2.5, 1.0 + 0.4 * len(target)))
    figure, axes = plt.subplots(figsize=size)
    axes.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0)
    axes.set_xticks(range(len(source)), source, rotation=60, ha="right")
    axes.set_yticks(range(len(target)), target)
    axes.set_xlabel("source")
    axes.set_ylabel("output")
    if title:
        axes.set_title(title, fontsize=9)
    figure.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sentence", help="one source sentence")
    parser.add_argument("--model-dir", default="saved_models/translator",
                        help="a SavedModel version folder, or the model folder (newest version is used)")
    parser.add_argument("--out", default="attention.png", help="where to write the PNG")
    args = parser.parse_args(argv)
    source, target, weights, translation = attention_of(args.model_dir, args.sentence)
    path = draw(source, target, weights, args.out, title=f"{args.sentence} -> {translation}")
    print(f"{args.sentence} -> {translation}\nattention map: {path}")
    return path


if __name__ == "__main__":
    main()
