"""How good and how fast the translations are: corpus BLEU of what the export serves, per decoder.

BLEU is sacreBLEU's corpus BLEU (default 13a tokenizer, one reference per pair) over the test pairs.
Hypotheses are exactly what the serving functions return (lower case, punctuation attached); references
are the test targets put through the same standardization and punctuation re-attachment
(`shared.modeling.text.normalize_reference`), so the score is case-insensitive BLEU on lightly normalized
text, not comparable with cased, detokenized WMT scores (README "How BLEU is measured").
"""

from __future__ import annotations

import time

import sacrebleu
import tensorflow as tf

from apps.translator.serve import MAX_TEXTS
from shared.modeling.text import normalize_reference
from shared.runtime.progress import progress


def translate_all(function, texts: list[str], batch_size: int = MAX_TEXTS) -> tuple[list[str], float]:
    """Run a serving function over `texts` in batches (at most the signature's limit): (translations, seconds)."""
    started, out = time.perf_counter(), []
    starts = range(0, len(texts), batch_size)
    for begin in progress(starts, total=len(starts), label=f"translating {len(texts)} sentences"):
        result = function(tf.constant(texts[begin:begin + batch_size]))["translation"]
        out += [t.decode("utf-8") for t in result.numpy()]
    return out, time.perf_counter() - started


def score_decoders(functions: dict, sources: list[str], targets: list[str], shown: int = 8) -> dict:
    """{"bleu", "speed", "examples"}, each {decoder name: ...}, for serving functions {name: function}.

    speed is translations per second of the in-process functions; examples are the first `shown`
    (source, reference, translation) triples.
    """
    references = [r.decode("utf-8") for r in normalize_reference(tf.constant(targets)).numpy()]
    bleu, speed, examples = {}, {}, {}
    for name, function in functions.items():
        hypotheses, seconds = translate_all(function, sources)
        bleu[name] = sacrebleu.corpus_bleu(hypotheses, [references]).score
        speed[name] = len(sources) / seconds
        examples[name] = [{"source": s, "reference": r, "translation": h}
                          for s, r, h in list(zip(sources, references, hypotheses))[:shown]]
    return {"bleu": bleu, "speed": speed, "examples": examples}
