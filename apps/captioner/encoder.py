"""The image encoder: InceptionV3 as it is, or trained here first on the captions (word presence).

With `--inception-weights imagenet` (or a weights file) InceptionV3 is used as it is. With `none` (what these
machines have: ImageNet weights cannot be downloaded here), InceptionV3 is first trained on the caption data
itself, to predict which of the most frequent content words occur in an image's captions (one sigmoid per
word). It learns "dog", "snow", "water", "red" from the pictures. The trained weights go to
<output-dir>/encoder/<recipe key>/, the key naming everything that shapes them (input size, words, epochs,
precision, learning rate, seed, data): a run reuses an encoder only when it would have trained the same one
(an encoder from a `--quick` smoke run is never picked up).

    encoder, identity = resolve_encoder(config, splits)   # trains first when --inception-weights none

The identity names the weights (and input size): cache.py keys every image's cached features by it.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import pathlib

import keras
import numpy as np
import tensorflow as tf

from apps.captioner.data import image_dataset
from shared.modeling.optimizer import cosine_schedule, make_optimizer
from shared.modeling.precision import dtype_policy
from shared.modeling.text import standardize_text
from shared.modeling.vision import build_encoder
from shared.runtime import distribute
from shared.runtime.time_budget import TimeBudget
from shared.runtime.training import fit

# Words that say nothing about what is in a picture: not worth an output of the encoder's training task.
STOPWORDS = set("a an the of in on at to and is are with its his her their two three one some while "
                "for from into by up down as it this that there near next other another , . ! ? ; :".split())


def content_words(captions: list[list[str]], count: int) -> list[str]:
    """The `count` most frequent non-stopwords in the (standardized) training captions."""
    flat = [caption for image in captions for caption in image]
    counts = collections.Counter(
        word.decode() for row in tf.strings.split(standardize_text(tf.constant(flat))).to_list() for word in row)
    return [word for word, _ in counts.most_common() if word not in STOPWORDS][:count]


def word_presence(captions: list[list[str]], words: list[str]) -> np.ndarray:
    """[images, len(words)]: 1 where the word occurs in any of the image's captions."""
    index = {word: i for i, word in enumerate(words)}
    labels = np.zeros((len(captions), len(words)), np.float32)
    for row, image_captions in enumerate(captions):
        tokens = standardize_text(tf.constant(image_captions)).numpy()
        for word in b" ".join(tokens).decode().split():
            if word in index:
                labels[row, index[word]] = 1.0
    return labels


def encoder_recipe(config, splits) -> dict:
    """Everything that decides what `train_encoder` learns: equal recipes, interchangeable encoders."""
    images = "".join(i for name in ("train", "validation") for i in splits[name].image_ids)
    return {"image_size": config.image_size, "encoder_words": config.encoder_words,
            "encoder_epochs": config.encoder_epochs, "encoder_minutes": config.encoder_minutes,
            "encoder_batch_size": config.encoder_batch_size, "encoder_precision": config.encoder_precision,
            "encoder_learning_rate": config.encoder_learning_rate, "clipnorm": config.clipnorm,
            "encoder_crop": config.encoder_crop, "encoder_schedule": config.encoder_schedule,
            "seed": config.seed, "replicas": distribute.replicas(),
            "images": hashlib.sha1(images.encode()).hexdigest()[:12]}


def encoder_folder(config, splits) -> pathlib.Path:
    """<run dir>/encoder/<key of the recipe>: where `train_encoder` writes and `resolve_encoder` looks."""
    recipe = json.dumps(encoder_recipe(config, splits), sort_keys=True)
    return config.run_dir / "encoder" / hashlib.sha1(recipe.encode()).hexdigest()[:10]


def train_encoder(config, splits) -> pathlib.Path:
    """Train InceptionV3 (random start) on word presence; returns its float32 weights file.

    With `--encoder-precision mixed_bfloat16` it computes in bfloat16 (CPUs with AMX or AVX512-BF16 run
    convolutions several times faster); the weights are then copied into a float32 encoder, which is what
    features and exports use everywhere.
    """
    folder = encoder_folder(config, splits)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recipe.json").write_text(json.dumps(encoder_recipe(config, splits), indent=2, sort_keys=True) + "\n")
    words = content_words(splits["train"].captions, config.encoder_words)
    labels = {name: word_presence(split.captions, words) for name, split in splits.items()}
    batch = config.encoder_batch_size * distribute.replicas()  # per replica x replicas
    steps = max(1, len(splits["train"].images) // batch)  # per epoch
    with distribute.scope():  # variables mirrored on every replica under --distribute
        with dtype_policy(config.encoder_precision):  # float32 weights; bfloat16 compute when mixed
            encoder = build_encoder(None, config.image_size)
            # Keras' InceptionV3 averages batch statistics with momentum 0.99: after a few hundred steps from
            # random weights the averages still describe the first batches, and inference (validation, the
            # feature cache, serving) sees wrong statistics. 0.9 lets them follow the weights within a short run.
            for layer in encoder.layers:
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.momentum = 0.9
            pixels = keras.Input((config.image_size, config.image_size, 3))
            hidden = keras.layers.Dropout(0.3)(encoder(pixels))
            head = keras.layers.Dense(len(words), activation="sigmoid", dtype="float32", name="words")
            model = keras.Model(pixels, head(hidden), name="encoder_pretraining")
            # Start from each word's base rate (bias = its log-odds), not 0.5: then the first gradients need not
            # teach the head that most words are rare, and do not shake the random convolutions doing so. (A
            # Flickr8k run from 0.5, with random crops and no warm-up, stayed at the base-rate loss for 12 epochs.)
            rate = labels["train"].mean(axis=0).clip(1e-4, 1 - 1e-4)
            head.bias.assign(np.log(rate / (1 - rate)).astype(np.float32))
        learning_rate = config.encoder_learning_rate
        if config.encoder_schedule == "cosine":  # decays to zero at the last of --encoder-epochs
            # One epoch of warm-up from zero first: random BatchNorm statistics make the first steps erratic.
            learning_rate = cosine_schedule(learning_rate, steps, max(2, config.encoder_epochs), warmup_epochs=1)
        model.compile(optimizer=make_optimizer(learning_rate, config.clipnorm),
                      loss="binary_crossentropy", metrics=[keras.metrics.AUC(multi_label=True, name="auc")])
    stage = dataclasses.replace(config, epochs=config.encoder_epochs, output_dir=str(folder))
    train = splits["train"]
    budget = TimeBudget(config.encoder_minutes, folder / "train_seconds.json")
    fit(model, image_dataset(train.images, config.image_size, batch, labels["train"], True, config.seed,
                             config.encoder_crop),
        image_dataset(splits["validation"].images, config.image_size, batch, labels["validation"]),
        stage, monitor="val_auc", mode="max", steps_per_epoch=steps,
        extra_callbacks=[budget])
    float32_encoder = build_encoder(None, config.image_size)
    float32_encoder.set_weights(encoder.get_weights())
    path = folder / "encoder.weights.h5"
    float32_encoder.save_weights(str(path))
    (folder / "words.txt").write_text("\n".join(words) + "\n")
    return path


def encoder_train_seconds(config, splits) -> float | None:
    """Seconds spent training this run's encoder (every process, resumes included); None if it trained none."""
    if config.inception_weights != "none":
        return None
    log = encoder_folder(config, splits) / "train_seconds.json"
    return sum(json.loads(log.read_text()).values()) if log.exists() else None


def resolve_encoder(config, splits) -> tuple[keras.Model, str]:
    """(float32 encoder, identity) for the configured weights, training one first when asked to."""
    weights = config.inception_weights
    if weights == "none":
        trained = encoder_folder(config, splits) / "encoder.weights.h5"  # only one trained the same way
        if not trained.exists():
            if config.encoder_epochs > 0:
                trained = train_encoder(config, splits)
            else:  # random features: a baseline, and the quickest smoke test
                keras.utils.set_random_seed(config.seed)
                return build_encoder(None, config.image_size), f"random-seed{config.seed}-{config.image_size}"
        encoder = build_encoder(None, config.image_size)
        encoder.load_weights(str(trained))
        return encoder, "trained-" + _file_digest(trained) + f"-{config.image_size}"
    encoder = build_encoder(weights, config.image_size)
    return encoder, ("imagenet" if weights == "imagenet" else _file_digest(weights)) + f"-{config.image_size}"


def _file_digest(path) -> str:
    return hashlib.sha1(pathlib.Path(path).read_bytes()).hexdigest()[:12]

