"""Text corpora for the character model, the vocabulary, and the TBPTT batches.

Corpora (`--corpus`):
    tinyshakespeare     Karpathy's 1.1M-character Shakespeare (char-rnn): `--data-dir` holds input.txt
    mysterious_island   Jules Verne, Project Gutenberg #1268: `--data-dir` holds 1268-0.txt; the Gutenberg
                        header and licence are stripped (`strip_gutenberg`)
    --sample            the Python standard library's own source files, which every Python has: offline
Validation is the last `validation_fraction` (10%) of the text, never shuffled into training.

Truncated backpropagation through time (TBPTT): the text is cut into `batch_size` contiguous streams, one
per batch row. Batch k holds chunk k (`seq_length` characters) of every stream, so row r of batch k+1
continues row r of batch k; the model carries its recurrent state from one batch to the next, and
gradients stop at chunk borders:

    stream 0: [chunk 0][chunk 1][chunk 2] ...      batch 0 = chunk 0 of every stream
    stream 1: [chunk 0][chunk 1][chunk 2] ...      batch 1 = chunk 1 of every stream, and so on
"""

from __future__ import annotations

import pathlib
import sysconfig
import typing

import numpy as np
import tensorflow as tf

from shared.runtime.data import DataCorruptError, resolve_data_dir

CORPORA = {
    # name -> (file in --data-dir, download URL)
    "tinyshakespeare": ("input.txt",
                        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"),
    "mysterious_island": ("1268-0.txt", "https://www.gutenberg.org/cache/epub/1268/pg1268.txt"),
}
OOV = "[UNK]"  # id 0: characters the training text never showed (and invalid UTF-8)


def strip_gutenberg(text: str) -> str:
    """The book between Project Gutenberg's "*** START OF ..." and "*** END OF ..." lines."""
    start = text.find("*** START OF")
    end = text.find("*** END OF")
    if start < 0 or end < 0 or end < start:
        raise DataCorruptError("no '*** START OF' / '*** END OF' Project Gutenberg markers found; "
                               "is this a Gutenberg text file?")
    start = text.index("\n", start) + 1
    end = text.rfind("\n", 0, end)  # drop the (indented) marker line itself
    return text[start:end].strip("\n") + "\n"


def _download(name: str) -> typing.Callable[[pathlib.Path], None]:
    def download(cache: pathlib.Path) -> None:
        import keras  # only the download needs it

        filename, url = CORPORA[name]
        keras.utils.get_file(filename, url, cache_dir=str(cache), cache_subdir="")
    return download


def load_corpus(name: str, data_dir: str | None) -> str:
    """The full text of a real corpus from `data_dir`, the download cache or a download."""
    filename, _ = CORPORA[name]
    root = resolve_data_dir(f"char_lm/{name}", data_dir, [filename], download=_download(name))
    try:
        text = (root / filename).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataCorruptError(f"{root / filename} is not UTF-8 text ({error}).") from error
    text = text.replace("\r\n", "\n")
    if name == "mysterious_island":
        text = strip_gutenberg(text)
    if len(text) < 1000:
        raise DataCorruptError(f"{root / filename} holds only {len(text)} characters; expected a book.")
    return text


def load_sample(max_chars: int) -> str:
    """Offline corpus: the standard library's *.py files in name order, up to `max_chars` characters.

    Real text every Python installation has: indentation, quotes and brackets give the model structure to
    learn, and the interpretability view structure to find.
    """
    stdlib = pathlib.Path(sysconfig.get_paths()["stdlib"])
    parts, total = [], 0
    for path in sorted(stdlib.glob("*.py")):
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        parts.append(source)
        total += len(source)
        if total >= max_chars:
            break
    if not parts:
        raise DataCorruptError(f"no readable *.py files in {stdlib}; use a real corpus with --data-dir.")
    return "".join(parts)[:max_chars]


def load_text(config) -> str:
    """The text a run learns: the sample or the `--corpus`, cut to `--max-chars` when given."""
    text = load_sample(config.sample_chars) if config.sample else load_corpus(config.corpus, config.data_dir)
    return text[:config.max_chars] if config.max_chars else text


def split_text(text: str, validation_fraction: float) -> tuple[str, str]:
    """(train, validation): validation is the last `validation_fraction` of the text."""
    cut = int(len(text) * (1 - validation_fraction))
    return text[:cut], text[cut:]


def build_vocabulary(text: str) -> list[str]:
    """The sorted distinct characters of `text` (the OOV entry is added by the lookup, as id 0)."""
    return sorted(set(text))


def encode(text: str, vocabulary: typing.Sequence[str]) -> np.ndarray:
    """Character ids (int32): vocabulary[i] -> i + 1, anything else -> 0 (OOV)."""
    index = {char: i + 1 for i, char in enumerate(vocabulary)}
    return np.fromiter((index.get(char, 0) for char in text), dtype=np.int32, count=len(text))


def tbptt_batches(ids: np.ndarray, batch_size: int, seq_length: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets), each [steps, batch_size, seq_length]; targets are inputs shifted by one.

    Stream r is ids[r * L : (r + 1) * L + 1] with L = steps * seq_length; batch k, row r is chunk k of
    stream r. The tail that does not fill a whole chunk in every stream is dropped.
    """
    steps = (len(ids) - 1) // (batch_size * seq_length)
    if steps < 1:
        raise ValueError(f"{len(ids)} characters cannot fill one batch of {batch_size} streams x "
                         f"{seq_length} characters; use a smaller --batch-size or --seq-length.")
    length = steps * seq_length
    streams = np.stack([ids[r * length: r * length + length + 1] for r in range(batch_size)])
    def chunks(a):  # [batch, steps * seq] -> [steps, batch, seq]
        return a.reshape(batch_size, steps, seq_length).transpose(1, 0, 2)
    return chunks(streams[:, :-1]), chunks(streams[:, 1:])


def make_dataset(ids: np.ndarray, batch_size: int, seq_length: int) -> tf.data.Dataset:
    """The TBPTT batches in order (never shuffled: the order is what carries the state)."""
    inputs, targets = tbptt_batches(ids, batch_size, seq_length)
    return tf.data.Dataset.from_tensor_slices((inputs, targets)).prefetch(tf.data.AUTOTUNE)
