"""English-Spanish sentence pairs: load the real corpus (or the offline sample), split, encode, batch.

Real data: the Anki/Tatoeba pairs (manythings.org/anki, CC-BY 2.0), 118,964 lines `English<TAB>Spanish`,
the `spa-eng.zip` the TensorFlow NMT tutorial and keras.io use. `--data-dir` may hold `spa.txt.gz` (as in
../shared/data/spa_eng) or the extracted `spa.txt` / `spa-eng/spa.txt`; the download fetches the zip.

The split is fixed by the seed and made by *English sentence*: the 102,904 distinct English sentences
(some have several Spanish translations) are shuffled and cut, and every pair goes where its English
sentence went. No test sentence is therefore seen in training with a different translation, in either
direction, and both directions share one split. By default it is also strict (apps/translator/split.py):
no validation or test sentence is a near duplicate of a training one; `--split random` is the old cut.

Offline sample (`--sample`): `sample_pairs` writes sentences from a tiny bilingual grammar (pronouns,
verbs conjugated per person, negation, numbers, nouns with gender, colours that agree and follow the
noun in Spanish), so the model must learn reordering and agreement, not a word-for-word lookup.

Encoding: `make_vectorizers` adapts one word vocabulary per language on the training sentences (the
source one travels inside the export); `encode_pairs` turns sentences into source ids and framed targets,
and `make_dataset` batches them with the teacher-forcing shift.
"""

from __future__ import annotations

import gzip
import pathlib
import random
import typing
import zipfile

import numpy as np
import tensorflow as tf

from apps.translator.split import assign
from shared.modeling.teacher_forcing import shift_for_teacher_forcing
from shared.modeling.text import frame_targets, make_target_vectorizer, make_word_vectorizer, truncate_ids
from shared.runtime.data import DataCorruptError, check_counts, resolve_data_dir

URL = "http://download.tensorflow.org/data/spa-eng.zip"
FILES = ("spa.txt.gz", "spa.txt", "spa-eng/spa.txt")
DIRECTIONS = ("en-es", "es-en")
FULL_COUNTS = {"sentence pairs": 118964}  # the lines of spa-eng.zip's spa.txt (checked on load)


class Pairs(typing.NamedTuple):
    english: list[str]
    spanish: list[str]

    def oriented(self, direction: str) -> tuple[list[str], list[str]]:
        """(sources, targets) for `direction` ("en-es" or "es-en")."""
        return (self.english, self.spanish) if direction == "en-es" else (self.spanish, self.english)

    def take(self, count: int | None) -> "Pairs":
        """The first `count` pairs (all when None); used by --quick and --max-examples."""
        return self if count is None else Pairs(self.english[:count], self.spanish[:count])


def _download(cache: pathlib.Path) -> None:
    import keras  # only the download needs it

    archive = keras.utils.get_file("spa-eng.zip", URL, cache_dir=str(cache), cache_subdir="")
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(cache)


def parse_lines(lines: typing.Iterable[str], source: str) -> Pairs:
    """Tab-separated lines -> Pairs; the first two columns are English and Spanish."""
    english, spanish = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        columns = line.rstrip("\n").split("\t")
        if len(columns) < 2 or not columns[0].strip() or not columns[1].strip():
            raise DataCorruptError(f"{source} line {number} is not 'English<TAB>Spanish': {line[:80]!r}")
        english.append(columns[0].strip())
        spanish.append(columns[1].strip())
    if not english:
        raise DataCorruptError(f"{source} holds no sentence pairs.")
    return Pairs(english, spanish)


def load_real(data_dir: str | None, partial: bool = False) -> Pairs:
    """Every pair of the corpus, in file order, from `data_dir`, the cache or a download.

    Unless `partial` (--partial-data: a subset of your own), a file without all 118,964 pairs raises
    DataCorruptError naming it and the counts.
    """
    root = resolve_data_dir("translator", data_dir, FILES, download=_download)
    path = next(root / name for name in FILES if (root / name).exists())
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            pairs = parse_lines(handle, str(path))
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise DataCorruptError(f"{path} is not readable UTF-8 text ({error}); re-download it "
                               f"or pass --sample.") from error
    check_counts(path, {"sentence pairs": len(pairs.english)}, FULL_COUNTS, "spa-eng corpus", partial)
    return pairs


def split(pairs: Pairs, seed: int, validation: float = 0.05, test: float = 0.05,
          strict: bool = True) -> dict[str, Pairs]:
    """{"train", "validation", "test", "test_random"}: a seeded cut of the distinct English sentences.

    `strict` (the default): no validation or test pair is a near duplicate of a training pair
    (apps/translator/split.py); "test_random" is the random split's test set (strict test pairs and the
    near duplicates, none trained on). Not strict: the random cut, and "test_random" is "test".
    """
    parts = assign(pairs.english, pairs.spanish, seed, validation, test, strict)
    out = {name: Pairs([], []) for name in ("train", "validation", "test", "test_random")}
    for english, spanish, part in zip(pairs.english, pairs.spanish, parts):
        for name in {"test": ("test", "test_random"), "test_near": ("test_random",)}.get(part, (part,)):
            if name in out:  # "dropped": a validation candidate too close to training
                out[name].english.append(english)
                out[name].spanish.append(spanish)
    # Shuffle within each split (the file is sorted by length): --max-examples then takes a fair slice.
    rng = np.random.default_rng(seed + 1)
    for name, part in out.items():
        perm = rng.permutation(len(part.english))
        out[name] = Pairs([part.english[i] for i in perm], [part.spanish[i] for i in perm])
    return out


# The sample grammar: subject pronoun, verb (conjugated per person in both languages), optional negation,
# then a noun phrase: determiner or number, noun with gender, optional adjective that agrees in Spanish.
_SUBJECTS = [("I", "yo", 0), ("you", "tú", 1), ("he", "él", 2), ("she", "ella", 2), ("we", "nosotros", 3),
             ("they", "ellos", 4)]
# English (base, third person), Spanish forms for yo, tú, él/ella, nosotros, ellos.
_VERBS = [(("see", "sees"), ("veo", "ves", "ve", "vemos", "ven")),
          (("have", "has"), ("tengo", "tienes", "tiene", "tenemos", "tienen")),
          (("want", "wants"), ("quiero", "quieres", "quiere", "queremos", "quieren")),
          (("buy", "buys"), ("compro", "compras", "compra", "compramos", "compran"))]
# English singular, plural; Spanish singular, plural, gender.
_NOUNS = [("cat", "cats", "gato", "gatos", "m"), ("dog", "dogs", "perro", "perros", "m"),
          ("house", "houses", "casa", "casas", "f"), ("car", "cars", "coche", "coches", "m"),
          ("apple", "apples", "manzana", "manzanas", "f"), ("book", "books", "libro", "libros", "m"),
          ("table", "tables", "mesa", "mesas", "f"), ("bird", "birds", "pájaro", "pájaros", "m"),
          ("flower", "flowers", "flor", "flores", "f"), ("horse", "horses", "caballo", "caballos", "m")]
# English; Spanish masculine singular, feminine singular, masculine plural, feminine plural.
_ADJECTIVES = [("red", ("rojo", "roja", "rojos", "rojas")), ("black", ("negro", "negra", "negros", "negras")),
               ("white", ("blanco", "blanca", "blancos", "blancas")),
               ("small", ("pequeño", "pequeña", "pequeños", "pequeñas")),
               ("big", ("grande", "grande", "grandes", "grandes")),
               ("green", ("verde", "verde", "verdes", "verdes")), ("blue", ("azul", "azul", "azules", "azules"))]
# English; Spanish m sg, f sg, m pl, f pl (None: that number does not exist), plural?
_DETERMINERS = [("the", ("el", "la", "los", "las"), None), ("a", ("un", "una", None, None), False),
                ("my", ("mi", "mi", "mis", "mis"), None), ("two", (None, None, "dos", "dos"), True),
                ("three", (None, None, "tres", "tres"), True), ("four", (None, None, "cuatro", "cuatro"), True)]


def _pair(rng: random.Random) -> tuple[str, str]:
    english_subject, spanish_subject, person = rng.choice(_SUBJECTS)
    (base, third), forms = rng.choice(_VERBS)
    negate = rng.random() < 0.3
    det_en, det_es, plural = rng.choice(_DETERMINERS)
    plural = rng.random() < 0.5 if plural is None else plural
    noun_en_sg, noun_en_pl, noun_es_sg, noun_es_pl, gender = rng.choice(_NOUNS)
    slot = (gender == "f") + 2 * plural
    adjective = rng.choice(_ADJECTIVES) if rng.random() < 0.7 else None
    if person == 2:
        verb_en = f"does not {base}" if negate else third
    else:
        verb_en = f"do not {base}" if negate else base
    noun_phrase_en = " ".join(w for w in (det_en, adjective and adjective[0],
                                          noun_en_pl if plural else noun_en_sg) if w)
    noun_phrase_es = " ".join(w for w in (det_es[slot], noun_es_pl if plural else noun_es_sg,
                                          adjective and adjective[1][slot]) if w)
    verb_es = ("no " if negate else "") + forms[person]
    english = f"{english_subject} {verb_en} {noun_phrase_en}."
    spanish = f"{spanish_subject} {verb_es} {noun_phrase_es}."
    return english[0].upper() + english[1:], spanish[0].upper() + spanish[1:]


def sample_pairs(count: int, seed: int) -> Pairs:
    """`count` generated pairs, deterministic for a seed (repeats are possible, as in the real corpus)."""
    rng = random.Random(seed)
    english, spanish = zip(*(_pair(rng) for _ in range(count)))
    return Pairs(list(english), list(spanish))


def load_sample(seed: int, count: int = 6000) -> Pairs:
    """The offline corpus, split by `split` like the real one."""
    return sample_pairs(count, seed)


def load(config) -> Pairs:
    """The pairs `config` asks for: the sample grammar (--sample) or the real corpus (--data-dir, ...)."""
    return load_sample(config.seed) if config.sample else load_real(config.data_dir, config.partial_data)


def oriented_splits(config) -> dict[str, tuple[list[str], list[str]]]:
    """{"train", "validation", "test", "test_random"}: (sources, targets) in `config.direction`.

    Also "test_random" (see `split`). --max-examples cuts training (and validation to an eighth of it, at
    least 16 pairs, so a quick run also validates quickly); --eval-examples cuts the test pairs BLEU is
    scored on.
    """
    splits = split(load(config), config.seed, strict=config.split == "strict")
    train, validation = splits["train"].take(config.max_examples), splits["validation"]
    if config.max_examples is not None:
        validation = validation.take(max(config.max_examples // 8, 16))
    test, test_random = (splits[name].take(config.eval_examples) for name in ("test", "test_random"))
    return {name: part.oriented(config.direction) for name, part in (
        ("train", train), ("validation", validation), ("test", test), ("test_random", test_random))}


def make_vectorizers(sources, targets, source_vocab_size: int, target_vocab_size: int):
    """(source vectorizer, target vectorizer), adapted on the training sentences only.

    Target ids: 0 = padding, 1 = [UNK], 2 = [start], 3 = [end], then words by frequency. "[start]" and
    "[end]" can never come out of standardization (it removes brackets), so they cannot collide with a word.
    """
    return (make_word_vectorizer(source_vocab_size, sources),
            make_target_vectorizer(target_vocab_size, targets))


def encode_pairs(sources: list[str], targets: list[str], source_vectorizer, target_vectorizer, config,
                 drop_long: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
    """(source ids [n, S], framed target ids [n, T]) for `make_dataset`.

    Sources are cut to --max-source-tokens words (as the export cuts them); targets are framed as
    `[start] w1 ... wn [end]`. With `drop_long` (training) a pair whose target is longer than
    --max-target-tokens is dropped: a cut target would teach the decoder to stop mid-sentence.
    """
    target_ids = target_vectorizer(tf.constant(targets))
    keep = target_ids.row_lengths() <= config.max_target_tokens if drop_long else None
    source_ids = truncate_ids(source_vectorizer(tf.constant(sources)), config.max_source_tokens, "head")
    framed = frame_targets(target_ids, config.max_target_tokens)
    if keep is not None:
        source_ids, framed = tf.boolean_mask(source_ids, keep), tf.boolean_mask(framed, keep)
    return source_ids, framed


def make_dataset(source_ids: tf.Tensor, target_ids: tf.Tensor, batch_size: int, *, training: bool,
                 seed: int = 0) -> tf.data.Dataset:
    """Batches of ((source, decoder_input), label), padded only to the batch's longest sentence.

    `target_ids` are [batch, time] rows already framed as `[start] w1 ... wn [end]` (0-padded): teacher
    forcing feeds the decoder the true previous token, so its input is the row without its last token
    and its label the row without its first (`shift_for_teacher_forcing`).

    Training batches come from length-sorted windows of 32 batches, then shuffled (little padding), and
    the training stream repeats (the caller sets steps_per_epoch).
    """
    source_lengths = tf.reduce_sum(tf.cast(source_ids != 0, tf.int32), axis=1)
    target_lengths = tf.reduce_sum(tf.cast(target_ids != 0, tf.int32), axis=1)
    dataset = tf.data.Dataset.from_tensor_slices((source_ids, target_ids, source_lengths, target_lengths))
    if training:
        dataset = dataset.shuffle(len(source_ids), seed=seed, reshuffle_each_iteration=True).repeat()
        dataset = dataset.batch(32 * batch_size).map(
            lambda s, t, ns, nt: tuple(tf.gather(x, tf.argsort(nt)) for x in (s, t, ns, nt))).unbatch()

    def trim(source, target, source_lengths, target_lengths):
        source = source[:, :tf.maximum(tf.reduce_max(source_lengths), 1)]
        target = target[:, :tf.maximum(tf.reduce_max(target_lengths), 2)]
        decoder_input, label = shift_for_teacher_forcing(target)
        return (source, decoder_input), label

    dataset = dataset.batch(batch_size).map(trim)
    if training:
        dataset = dataset.shuffle(64, seed=seed)
    return dataset.prefetch(tf.data.AUTOTUNE)
