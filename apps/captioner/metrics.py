"""Caption quality: corpus BLEU-1..4 against all references, and the constant-caption baseline.

BLEU (Papineni et al., 2002) counts how many of a caption's n-grams appear in any of the image's reference
captions, for n = 1..4, with a penalty for captions shorter than the references. Computed by sacrebleu at
corpus level, on references passed through `shared.modeling.text.normalize_reference` (lower case, punctuation as
the model writes it), reported on a 0-1 scale as in the captioning literature (Show, Attend and Tell
reports BLEU-4 0.195-0.213 on Flickr8k with ImageNet features).

The baseline answers every image with one fixed caption: the training caption that scores best against
the training images' references. A model must beat it to show that it looks at the picture.

The captions scored are written by the export's own decoding functions (`caption_all` over cached features,
`serve.CaptionWriter`), so the figures are what the served model writes.
"""

from __future__ import annotations

import numpy as np
import sacrebleu
import tensorflow as tf

from shared.modeling.text import normalize_reference
from shared.runtime.progress import progress


def normalize(captions: list[str]) -> list[str]:
    return [text.decode("utf-8") for text in normalize_reference(tf.constant(captions)).numpy()]


def bleu_scores(hypotheses: list[str], references: list[list[str]]) -> dict[str, float]:
    """{"bleu1": ..., "bleu4": ...} on a 0-1 scale; `references` holds each image's captions."""
    count = min(len(refs) for refs in references)
    streams = [normalize([refs[j] for refs in references]) for j in range(count)]
    return {f"bleu{n}": sacrebleu.metrics.BLEU(max_ngram_order=n).corpus_score(hypotheses, streams).score / 100
            for n in range(1, 5)}


def constant_baseline(train_captions: list[list[str]], candidates: int = 300, images: int = 1000,
                      seed: int = 0) -> str:
    """The training caption with the best BLEU-4 against the training references, if said for every image.

    Searches `candidates` captions drawn at random against `images` training images (an exhaustive search
    over all 30,000 captions would take hours and move the figure little). The references are tokenized
    and counted once (sacrebleu caches references given to `BLEU(references=...)`), then each candidate is
    scored against them: the same BLEU-4 as `bleu_scores`, without re-reading 5,000 references per candidate.
    """
    rng = np.random.default_rng(seed)
    picked = rng.permutation(len(train_captions))[:images]
    references = [train_captions[i] for i in picked]
    pool = normalize([caption for i in rng.permutation(len(train_captions))[:candidates]
                      for caption in train_captions[i][:1]])
    count = min(len(refs) for refs in references)
    bleu4 = sacrebleu.metrics.BLEU(max_ngram_order=4, references=[
        normalize([refs[j] for refs in references]) for j in range(count)])
    scores = [bleu4.corpus_score([candidate] * len(references), None).score
              for candidate in progress(pool, total=len(pool), label="constant-caption baseline")]
    return pool[int(np.argmax(scores))]


def caption_all(function, features, batch_size=64):
    """Run an in-graph captioning function over features in batches -> list of str."""
    traced = tf.function(function)
    starts = range(0, len(features), batch_size)
    out = [traced(tf.constant(features[i:i + batch_size], tf.float32)).numpy()
           for i in progress(starts, total=len(starts), label=f"captioning {len(features)} images")]
    return [text.decode("utf-8") for part in out for text in part]
