"""Look inside the trained model: which hidden units track quotes, line length or bracket depth?

Usage:
    python apps/char_lm/interpret.py --run-dir runs/char_lm                  # validation text of the run
    python apps/char_lm/interpret.py --run-dir runs/char_lm --text-file some.py --units 12 301
    python apps/char_lm/interpret.py --run-dir ... --chars 20000 --png cells_shakespeare.png
        # the README's picture (on the tinyshakespeare run), which the README keeps in apps/char_lm/images/

Why this file is part of the app (and not of benchmarks/): it is a tool for the user of a trained model,
like predict.py. It takes any run folder and any text, measures nothing about speed or quality, and
draws the README's "interpretable cells" picture (apps/char_lm/images/cells_shakespeare.png); the
lessons' table of concepts points to it as the home of interpretable cells.

For a text, it records every hidden unit's activation after each character (the `h` output of one
recurrent layer), correlates each unit with simple features of the text, and draws the best units:
    inside_quotes     1 between an opening and a closing quote (" ' “ ”; an ' after a letter is an
                      apostrophe), else 0
    position_in_line  characters since the last newline (line length so far)
    bracket_depth     how many ( [ { are open
    colon_line        1 on a line that ends with ":" (a speaker's name in a play, a block header in code)
    position_in_word  letters and digits since the word began (0 outside words)
Writes <out-dir>/units.json (top units per feature, with correlations), cells.html (every character
coloured by the unit's activation, one block per unit) and a PNG of the same, as in Karpathy's
"Visualizing and Understanding Recurrent Networks" (2015).
"""

from __future__ import annotations

import argparse
import html
import json
import pathlib

import keras
import numpy as np

from apps.char_lm import data
from apps.char_lm.model import load_trained, recurrent_layers

QUOTES = {'"': '"', "'": "'", "“": "”"}
OPEN, CLOSE = "([{", ")]}"


def text_features(text: str) -> dict[str, np.ndarray]:
    """Per-character features of `text` (each an array of len(text)), measured after the character."""
    inside, position, depth = np.zeros(len(text)), np.zeros(len(text)), np.zeros(len(text))
    quote, column, level = None, 0, 0
    for i, char in enumerate(text):
        apostrophe = char == "'" and i > 0 and text[i - 1].isalpha()  # don't, o'er: not a quote
        if quote is None and char in QUOTES and not apostrophe:
            quote = QUOTES[char]
        elif quote is not None and char == quote:
            quote = None
        column = 0 if char == "\n" else column + 1
        level = level + (char in OPEN) - (char in CLOSE)
        level = max(level, 0)
        inside[i], position[i], depth[i] = quote is not None, column, level
    # Per line: does it end with a colon (a speaker's name in a play, a block header in Python)?
    colon_line, start = np.zeros(len(text)), 0
    for line in text.splitlines(keepends=True):
        colon_line[start:start + len(line)] = line.rstrip().endswith(":")
        start += len(line)
    in_word = np.zeros(len(text))
    for i, char in enumerate(text):
        in_word[i] = in_word[i - 1] + 1 if char.isalnum() and i > 0 else float(char.isalnum())
    return {"inside_quotes": inside, "position_in_line": position, "bracket_depth": depth,
            "colon_line": colon_line, "position_in_word": in_word}


def unit_activations(model: keras.Model, vocabulary: list[str], text: str, layer: int = -1) -> np.ndarray:
    """[len(text), units]: the chosen recurrent layer's output after each character, from a zero state."""
    rnn = recurrent_layers(model)[layer]
    probe = keras.Model(model.input, rnn.output)
    return probe(data.encode(text, vocabulary)[None]).numpy()[0]


def rank_units(activations: np.ndarray, features: dict[str, np.ndarray], top: int = 5) -> dict:
    """For each feature, the `top` units by |Pearson correlation| (constant features are skipped)."""
    centred = activations - activations.mean(axis=0)
    scale = np.sqrt((centred ** 2).sum(axis=0)) + 1e-9
    ranking = {}
    for name, values in features.items():
        v = values - values.mean()
        if not v.any():
            continue
        correlation = (centred * v[:, None]).sum(axis=0) / scale / np.sqrt((v ** 2).sum())
        best = np.argsort(-np.abs(correlation))[:top]
        ranking[name] = [{"unit": int(u), "correlation": float(correlation[u])} for u in best]
    return ranking


def _colour(value: float) -> str:
    """Activation in [-1, 1] -> a CSS colour: blue (negative), white, red (positive)."""
    value = float(np.clip(value, -1, 1))
    fade = int(255 * (1 - abs(value)))
    return f"rgb(255,{fade},{fade})" if value > 0 else f"rgb({fade},{fade},255)"


def write_html(path: pathlib.Path, text: str, activations: np.ndarray, units: list[tuple[str, int]]) -> None:
    blocks = []
    for title, unit in units:
        spans = "".join(
            f'<span style="background:{_colour(activations[i, unit])}">'
            f'{"↵<br>" if c == chr(10) else html.escape(c).replace(" ", "&nbsp;")}</span>'
            for i, c in enumerate(text))
        blocks.append(f"<h3>unit {unit}: {html.escape(title)}</h3><div class=t>{spans}</div>")
    path.write_text("<html><meta charset=utf-8><style>.t{font-family:monospace;line-height:1.4}</style>"
                    "<body>" + "\n".join(blocks) + "</body></html>\n", encoding="utf-8")


def write_png(path: pathlib.Path, text: str, activations: np.ndarray, units: list[tuple[str, int]],
              width: int = 80, max_lines: int = 14) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LinearSegmentedColormap

    cmap = LinearSegmentedColormap.from_list("bwr_soft", ["#3b6fd8", "white", "#d8413b"])
    # Lay the text out in lines (newlines and wrapping), remembering each character's index.
    lines, line = [], []
    for i, c in enumerate(text):
        line.append(i)
        if c == "\n" or len(line) == width:
            lines.append(line)
            line = []
    lines = (lines + [line])[:max_lines]
    fig, axes = plt.subplots(len(units), 1, figsize=(width * 0.11, len(units) * (max_lines * 0.2 + 0.5)))
    for ax, (title, unit) in zip(np.atleast_1d(axes), units):
        grid = np.full((len(lines), width), np.nan)
        for row, indices in enumerate(lines):
            grid[row, :len(indices)] = activations[indices, unit]
        ax.imshow(grid, cmap=cmap, vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
        for row, indices in enumerate(lines):
            for col, i in enumerate(indices):
                ax.text(col, row, "↵" if text[i] == "\n" else text[i], ha="center", va="center",
                        fontsize=7, family="monospace")
        ax.set_title(f"unit {unit}: {title}", fontsize=9, loc="left")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", default="runs/char_lm", help="a training run folder (train.py's output)")
    parser.add_argument("--text-file", help="text to analyse (default: the run's validation text)")
    parser.add_argument("--chars", type=int, default=3000, help="analyse this many characters")
    parser.add_argument("--layer", type=int, default=-1, help="which recurrent layer (-1: the top one)")
    parser.add_argument("--units", type=int, nargs="*", help="draw these units (default: the best per feature)")
    parser.add_argument("--out-dir", help="where units.json, cells.html and the PNG go (default: run dir)")
    parser.add_argument("--png", default="cells.png", help="PNG file name")
    parser.add_argument("--draw-chars", type=int, default=600, help="characters shown per unit in the pictures")
    args = parser.parse_args(argv)

    config, vocabulary, model = load_trained(args.run_dir)
    if args.text_file:
        text = pathlib.Path(args.text_file).read_text(encoding="utf-8")
    else:
        text = data.split_text(data.load_text(config), config.validation_fraction)[1]
    text = text[:args.chars]
    activations = unit_activations(model, vocabulary, text, args.layer)
    ranking = rank_units(activations, text_features(text))
    if args.units:
        chosen = [("chosen", unit) for unit in args.units]
    else:
        chosen = []  # the best unit per feature the model clearly tracks (|r| >= 0.2), each unit once
        for name, best in ranking.items():
            if abs(best[0]["correlation"]) < 0.2:
                continue
            pick = next((b for b in best if b["unit"] not in {u for _, u in chosen}), best[0])
            chosen.append((f"{name} (r = {pick['correlation']:+.2f})", pick["unit"]))
        if not chosen:  # nothing tracked clearly: show the strongest unit anyway
            name, best = max(ranking.items(), key=lambda item: abs(item[1][0]["correlation"]))
            chosen = [(f"{name} (r = {best[0]['correlation']:+.2f})", best[0]["unit"])]
    out = pathlib.Path(args.out_dir or args.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "units.json").write_text(json.dumps(ranking, indent=2) + "\n")
    shown = text[:args.draw_chars]
    write_html(out / "cells.html", shown, activations, chosen)
    write_png(out / args.png, shown, activations, chosen)
    for name, best in ranking.items():
        print(f"{name:>17}: " + ", ".join(f"unit {b['unit']} (r={b['correlation']:+.2f})" for b in best))
    print(f"wrote {out / 'units.json'}, {out / 'cells.html'}, {out / args.png}")
    return ranking


if __name__ == "__main__":
    main()
