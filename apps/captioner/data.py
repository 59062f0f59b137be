"""Image-caption pairs: Flickr8k (real) or generated scenes of coloured shapes (offline sample).

Flickr8k (Hodosh et al., 2013): 8,091 photos with 5 captions each, and the standard 6,000 / 1,000 / 1,000
train / dev / test split. `--data-dir` holds `Flickr8k.token.txt`, the three `Flickr_8k.*Images.txt` split
lists and the images as either
    images_224_q75.tar          members images/<id>.jpg (the project's 224x224 copy, ../shared/data/flickr8k)
    Flicker8k_Dataset/<id>.jpg  the original archive's folder (what the download unpacks; sic "Flicker")
Without `--data-dir`, the original zips are downloaded into the Keras cache (internet needed).

The sample (`--sample`) draws one or two shapes (circle, square, triangle) in one of six colours on a plain
background, with exact captions such as "a red circle and a blue square". It needs nothing but NumPy.

`load_splits(config)` is the one way a run (train.py, cache.py, the benchmarks, the tests) gets its splits.
The tf.data pipelines are here too: `image_dataset` (image files -> pixels, for the encoder and the feature
cache) and `teacher_forcing_batches` (features and caption text -> decoder batches), which both the in-memory
validation pairs (`caption_pairs`) and the training stream from the TFRecord shards (cache.py) go through.
"""

from __future__ import annotations

import pathlib
import tarfile
import typing
import zipfile

import numpy as np
import tensorflow as tf

from shared.modeling.teacher_forcing import shift_for_teacher_forcing
from shared.modeling.text import frame_targets, make_target_vectorizer
from shared.modeling.vision import decode_and_preprocess, preprocess_pixels
from shared.runtime.data import DataCorruptError, check_counts, resolve_data_dir

URLS = ("https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/Flickr8k_Dataset.zip",
        "https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/Flickr8k_text.zip")
SPLIT_FILES = {"train": "Flickr_8k.trainImages.txt", "validation": "Flickr_8k.devImages.txt",
               "test": "Flickr_8k.testImages.txt"}
FULL_COUNTS = {"train": 6000, "validation": 1000, "test": 1000}  # images in each standard split list
SAMPLE_COUNTS = {"train": 1500, "validation": 200, "test": 200}  # generated scenes in each --sample split


class Split(typing.NamedTuple):
    image_ids: list[str]
    images: list[bytes]         # encoded image files (JPEG), exactly what a client would send
    captions: list[list[str]]   # the reference captions of each image (5 for Flickr8k)


def _download(cache: pathlib.Path) -> None:
    import keras  # only the download needs it

    for url in URLS:
        archive = keras.utils.get_file(url.rsplit("/", 1)[1], url, cache_dir=str(cache), cache_subdir="")
        with zipfile.ZipFile(archive) as members:
            members.extractall(cache)


def _read_captions(path: pathlib.Path) -> dict[str, list[str]]:
    captions: dict[str, list[str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        key, _, caption = line.partition("\t")
        if not caption:
            raise DataCorruptError(f"{path} line {number}: expected '<image>.jpg#<n><TAB><caption>'.")
        captions.setdefault(key.split("#")[0], []).append(caption.strip())
    return captions


def _image_reader(root: pathlib.Path) -> typing.Callable[[list[str]], list[bytes]]:
    tar_path = root / "images_224_q75.tar"
    if tar_path.exists():
        def read(ids):
            with tarfile.open(tar_path) as tar:
                return [tar.extractfile(f"images/{image_id}").read() for image_id in ids]
        return read
    folder = root / "Flicker8k_Dataset"
    return lambda ids: [(folder / image_id).read_bytes() for image_id in ids]


def load_flickr8k(data_dir: str | None, splits: typing.Sequence[str] = ("train", "validation", "test"),
                  limit: int | None = None, partial: bool = False) -> dict[str, Split]:
    """The requested splits of Flickr8k (each cut to `limit` images when given).

    Unless `partial` (--partial-data: a subset of your own), a split list without the standard split's
    images (6,000 / 1,000 / 1,000) raises DataCorruptError naming it and the counts, `limit` or not.
    """
    root = resolve_data_dir("captioner", data_dir, ["Flickr8k.token.txt"], download=_download)
    captions = _read_captions(root / "Flickr8k.token.txt")
    read_images = _image_reader(root)
    result = {}
    for split in splits:
        list_path = root / SPLIT_FILES[split]
        if not list_path.exists():
            raise DataCorruptError(f"{list_path} is missing: the standard split lists come with Flickr8k_text.zip.")
        ids = [line.strip() for line in list_path.read_text().splitlines() if line.strip()]
        check_counts(list_path, {f"{split} images": len(ids)}, {f"{split} images": FULL_COUNTS[split]},
                     "Flickr8k split", partial)
        ids = ids[:limit]
        missing = [image_id for image_id in ids if image_id not in captions]
        if missing:
            raise DataCorruptError(f"{len(missing)} images of {list_path.name} have no captions, e.g. {missing[0]}.")
        try:
            images = read_images(ids)
        except (KeyError, FileNotFoundError, tarfile.TarError) as error:
            raise DataCorruptError(f"cannot read the images of {split} from {root}: {error}") from error
        result[split] = Split(ids, images, [captions[image_id] for image_id in ids])
    return result


# ------------------------------------------------------------------------------------ offline sample
COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (50, 80, 220), "yellow": (235, 210, 40),
           "purple": (140, 60, 180), "orange": (245, 140, 30)}
SHAPES = ("circle", "square", "triangle")


def _draw(canvas: np.ndarray, shape: str, colour, centre_x: int, centre_y: int, radius: int) -> None:
    ys, xs = np.mgrid[: canvas.shape[0], : canvas.shape[1]]
    if shape == "circle":
        inside = (xs - centre_x) ** 2 + (ys - centre_y) ** 2 <= radius ** 2
    elif shape == "square":
        inside = (abs(xs - centre_x) <= radius * 0.85) & (abs(ys - centre_y) <= radius * 0.85)
    else:  # triangle pointing up
        top = centre_y - radius
        inside = (ys >= top) & (ys <= centre_y + radius) & (abs(xs - centre_x) <= (ys - top) / 2)
    canvas[inside] = colour


def _with_article(noun_phrase: str) -> str:
    return ("an " if noun_phrase[0] in "aeiou" else "a ") + noun_phrase


def sample_scene(rng: np.random.Generator, size: int = 96) -> tuple[bytes, list[str]]:
    """One JPEG of one or two shapes (left and right halves) and five exact captions for it."""
    canvas = np.full((size, size, 3), rng.integers(200, 256), np.uint8)
    count = int(rng.integers(1, 3))
    parts = []
    for index in range(count):
        shape, colour = SHAPES[rng.integers(len(SHAPES))], list(COLOURS)[rng.integers(len(COLOURS))]
        half = size // count
        centre_x = half * index + half // 2 + int(rng.integers(-4, 5))
        centre_y = size // 2 + int(rng.integers(-size // 6, size // 6 + 1))
        _draw(canvas, shape, COLOURS[colour], centre_x, centre_y, int(rng.integers(size // 8, size // 5)))
        parts.append(f"{colour} {shape}")
    jpeg = tf.io.encode_jpeg(canvas, quality=90).numpy()
    first, second = [_with_article(part) for part in parts + parts[:1]][:2]  # second unused for one shape
    if count == 1:
        captions = [first, f"{first} on a plain background", f"one {parts[0]}", f"there is {first}",
                    f"a single {parts[0]}"]
    else:
        captions = [f"{first} and {second}", f"{first} next to {second}",
                    f"{first} on the left and {second} on the right", f"two shapes : {first} and {second}",
                    f"{second} to the right of {first}"]
    return jpeg, captions


def load_sample(seed: int, counts: dict[str, int] | None = None) -> dict[str, Split]:
    """Generated train / validation / test splits (different seeds, so no scene is shared)."""
    counts = counts or SAMPLE_COUNTS
    result = {}
    for offset, (split, count) in enumerate(counts.items()):
        rng = np.random.default_rng(seed * 10 + offset)
        scenes = [sample_scene(rng) for _ in range(count)]
        result[split] = Split([f"{split}_{i}.jpg" for i in range(count)], [s[0] for s in scenes],
                              [s[1] for s in scenes])
    return result


def load_splits(config, names: typing.Sequence[str] = tuple(SPLIT_FILES)) -> dict[str, Split]:
    """The run's splits: generated scenes (--sample) or Flickr8k, each cut to --max-images when it is set."""
    if config.sample:
        counts = {name: min(count, config.max_images or count) for name, count in SAMPLE_COUNTS.items()}
        scenes = load_sample(config.seed, counts)  # all three: each split's seed follows its position
        return {name: scenes[name] for name in names}
    return load_flickr8k(config.data_dir, names, limit=config.max_images, partial=config.partial_data)


def caption_vectorizer(config, train: Split):
    """The caption vocabulary (--vocab-size words, specials included), learned from the training captions."""
    return make_target_vectorizer(config.vocab_size, [caption for captions in train.captions for caption in captions])


# ------------------------------------------------------------------------------------ tf.data pipelines
def image_dataset(images: list[bytes], size: int, batch_size: int, labels=None, training=False, seed=0,
                  crop: float = 1.0):
    """Encoded image files -> batches of preprocessed pixels (and labels), decoded in parallel.

    Training batches are augmented: a random crop whose sides are `crop` of the picture's or more (1: the
    whole picture), resized to `size` by the serving graph's own `preprocess_pixels`, mirrored half the time.
    Every other batch is exactly what the exported graph computes (`decode_and_preprocess`).
    """
    data = tf.data.Dataset.from_tensor_slices(images if labels is None else (images, labels))
    if training:
        data = data.shuffle(len(images), seed=seed).repeat()

    def load(image, *label):
        if training and crop < 1.0:  # a dog in a corner of the picture is still a dog
            decoded = tf.io.decode_image(image, channels=3, expand_animations=False, dtype=tf.uint8)
            shape = tf.shape(decoded)
            fraction = tf.random.uniform([], crop, 1.0)
            sides = tf.cast(tf.cast(shape[:2], tf.float32) * fraction, tf.int32)
            pixels = preprocess_pixels(tf.image.random_crop(decoded, tf.concat([sides, [3]], 0)), size)
        else:
            pixels = decode_and_preprocess(image, size)
        if training:  # mirror images: a dog facing left is still a dog
            pixels = tf.image.random_flip_left_right(pixels, seed=seed)
        return (pixels, *label) if label else pixels

    return data.map(load, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def teacher_forcing_batches(pairs: tf.data.Dataset, vectorizer, max_tokens: int, batch_size: int) -> tf.data.Dataset:
    """(features, caption text) pairs -> batches of ((features, caption input), caption target).

    Each batch's captions become `[start] w1 .. wn [end]` rows (cut to `max_tokens` words, padded to the
    batch's longest), shifted by one for teacher forcing (`shared.modeling.teacher_forcing`): at every step
    the decoder reads the true previous word and must predict the next one.
    """
    def frame(features, captions):
        caption_input, caption_target = shift_for_teacher_forcing(frame_targets(vectorizer(captions), max_tokens))
        return (features, caption_input), caption_target

    return pairs.batch(batch_size).map(frame, num_parallel_calls=tf.data.AUTOTUNE)


def caption_pairs(split: Split, features: np.ndarray, vectorizer, max_tokens: int, batch_size: int):
    """A split whose features are in memory (validation) as decoder batches: one pair per reference caption."""
    image_index = np.repeat(np.arange(len(split.captions)), [len(c) for c in split.captions])
    flat = [caption for captions in split.captions for caption in captions]
    table = tf.constant(features, tf.float32)
    pairs = tf.data.Dataset.from_tensor_slices((image_index, flat)).map(
        lambda index, caption: (tf.gather(table, index), caption))
    return teacher_forcing_batches(pairs, vectorizer, max_tokens, batch_size).prefetch(tf.data.AUTOTUNE)
