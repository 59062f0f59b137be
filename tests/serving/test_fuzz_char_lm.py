"""Property tests of the char_lm export over REST: any prompt and any numbers in, bounded text out.

The export's documented bounds (apps/char_lm/serve.py) are the properties: a continuation has exactly
clip(num_chars, 0, 2000) characters whatever the prompt and the temperature (NaN and infinity included),
and `score` counts min(characters, 20000) of each text.
"""

import math

from hypothesis import strategies as st

from tests.serving.strategies import as_rows, check_any_request, check_property, text_batches

APP = "char_lm"
MAX_NEW_CHARS, MAX_SCORE_CHARS, MAX_SCORED_CHARS = 2000, 20000, 40000
INT32 = (-2**31, 2**31 - 1)

# Mostly short continuations (each character is a step of the model), with the bounds sometimes.
num_chars = st.one_of(st.integers(-5, 40), st.sampled_from([0, MAX_NEW_CHARS, MAX_NEW_CHARS + 1, *INT32]))
temperatures = st.one_of(st.floats(width=32), st.floats(), st.integers(-10**6, 10**6))
# What the scalar inputs must not be: null or strings; for num_chars also booleans and numbers that are not
# int32 (tf.constant would wrap 2**32 + 5 to 5 without a word).
not_numbers = st.one_of(st.none(), st.text(max_size=5))
bad_num_chars = st.one_of(not_numbers, st.booleans(), st.integers(2**31, 2**70), st.integers(-2**70, -2**31 - 1),
                          st.floats().filter(lambda x: not x.is_integer()))


def _expected_length(count):
    return min(max(count, 0), MAX_NEW_CHARS)


def test_any_prompt_gets_exactly_num_chars_characters(served, budget):
    def check(prompts, count, temperature, generate, top_k, seed):
        inputs = {"prompt": prompts, "num_chars": count, "temperature": temperature}
        request = {"inputs": inputs}
        if generate:
            request = {"signature_name": "generate", "inputs": {**inputs, "top_k": top_k, "seed": seed}}
        texts = served.answer(request)
        assert texts is not None, f"refused: {request!r}"[:300]
        assert len(texts) == len(prompts)
        assert [len(text) for text in texts] == [_expected_length(count)] * len(prompts), texts

    check_property(budget, check, prompts=text_batches, count=num_chars, temperature=temperatures,
                   generate=st.booleans(), top_k=st.integers(*INT32), seed=st.integers(-2**63, 2**63 - 1))


def test_bad_scalars_are_refused_with_a_message(served, budget):
    def check(bad_input):
        name, value = bad_input
        served.error({"inputs": {"prompt": ["ROMEO:"], "num_chars": 5, "temperature": 1.0, name: value}})

    # Any number, however large, is a valid float32 temperature; num_chars must be an int32.
    check_property(budget, check, bad_input=st.one_of(st.tuples(st.just("num_chars"), bad_num_chars),
                                                      st.tuples(st.just("temperature"), not_numbers)))


def test_lists_where_scalars_belong_get_a_right_shaped_answer_or_an_error(served, budget):
    """The graph itself meets these (bare_tf.py feeds shapes as given, like TF Serving): never a crash."""
    def check(prompts, count, temperature):
        texts = served.answer({"inputs": {"prompt": prompts, "num_chars": count, "temperature": temperature}})
        if texts is not None:
            assert len(texts) == len(prompts), texts

    scalars_or_lists = lambda values: st.one_of(values, st.lists(values, max_size=3),  # noqa: E731
                                                st.lists(st.lists(values, max_size=2), max_size=2))
    check_property(budget, check, prompts=st.lists(st.text(max_size=5), min_size=1, max_size=3),
                   count=scalars_or_lists(st.integers(-3, 30)), temperature=scalars_or_lists(st.floats(0, 2)))


def test_any_text_is_scored_character_by_character(served, budget):
    def check(texts):
        request = {"signature_name": "score", "inputs": {"text": texts}}
        # b64 items are at most 120 bytes (so characters): only long Unicode strings reach the limit.
        longest = max(min(len(text) if isinstance(text, str) else 120, MAX_SCORE_CHARS) for text in texts)
        if len(texts) * longest > MAX_SCORED_CHARS:  # texts x the longest read text: refused, by name
            assert f"at most {MAX_SCORED_CHARS:,} scored characters" in served.error(request)
            return
        rows = as_rows(served.answer(request))
        assert len(rows) == len(texts)
        for text, row in zip(texts, rows):
            assert math.isfinite(row["bits_per_char"]) and row["bits_per_char"] >= 0, row
            if isinstance(text, str):  # b64 bytes: invalid UTF-8 is counted as replacement characters
                assert row["num_chars"] == min(len(text), MAX_SCORE_CHARS), (text[:50], row)
            assert (row["num_chars"] == 0) == (row["bits_per_char"] == 0), row

    check_property(budget, check, texts=text_batches)


def test_any_request_is_answered_or_refused(served, budget):
    check_any_request(served, budget, ["serving_default", "generate", "score"],
                      ["prompt", "num_chars", "temperature", "top_k", "seed", "text"])
