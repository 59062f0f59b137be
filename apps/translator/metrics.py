"""How good and how fast the translations are: BLEU and chrF of what the export serves, per decoder.

Scored as the field scores: hypotheses are exactly what the serving functions return (cased, punctuation
attached), references are the test targets exactly as spa.txt writes them, one per pair, and the scores
are sacreBLEU's corpus defaults: BLEU (cased, 13a tokenizer, the figure WMT and OPUS-MT report), the
same lower-cased (`lowercase=True`), and chrF (character 6-grams, beta 2), which gives partial credit for
a word with the right stem and the wrong ending (README "How BLEU is measured").
"""

from __future__ import annotations

import time

import sacrebleu
import tensorflow as tf

from apps.translator.serve import MAX_TEXTS
from shared.runtime.progress import progress


def translate_all(function, texts: list[str], batch_size: int = MAX_TEXTS) -> tuple[list[str], float]:
    """Run a serving function over `texts` in batches (at most the signature's limit): (translations, seconds)."""
    started, out = time.perf_counter(), []
    starts = range(0, len(texts), batch_size)
    for begin in progress(starts, total=len(starts), label=f"translating {len(texts)} sentences"):
        result = function(tf.constant(texts[begin:begin + batch_size]))["translation"]
        out += [t.decode("utf-8") for t in result.numpy()]
    return out, time.perf_counter() - started


def score(hypotheses: list[str], references: list[str]) -> dict:
    """{"bleu": cased BLEU, "bleu_lowercase", "chrf"}: sacreBLEU corpus scores, one reference per sentence."""
    return {"bleu": sacrebleu.corpus_bleu(hypotheses, [references]).score,
            "bleu_lowercase": sacrebleu.corpus_bleu(hypotheses, [references], lowercase=True).score,
            "chrf": sacrebleu.corpus_chrf(hypotheses, [references]).score}


def score_decoders(functions: dict, sources: list[str], targets: list[str], shown: int = 8) -> dict:
    """{"bleu", "bleu_lowercase", "chrf", "speed", "examples"}, each {decoder name: ...}, for serving
    functions {name: function}.

    speed is translations per second of the in-process functions; examples are the first `shown`
    (source, reference, translation) triples.
    """
    out = {key: {} for key in ("bleu", "bleu_lowercase", "chrf", "speed", "examples")}
    for name, function in functions.items():
        hypotheses, seconds = translate_all(function, sources)
        for key, value in score(hypotheses, targets).items():
            out[key][name] = value
        out["speed"][name] = len(sources) / seconds
        out["examples"][name] = [{"source": s, "reference": r, "translation": h}
                                 for s, r, h in list(zip(sources, targets, hypotheses))[:shown]]
    return out
