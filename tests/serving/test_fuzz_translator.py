"""Property tests of the translator export over REST: any sentence in, one translation per sentence out."""

from hypothesis import strategies as st

from tests.serving.strategies import (
    as_rows,
    batches_with_a_non_string,
    check_any_request,
    check_property,
    text_batches,
)

APP = "translator"
SIGNATURES = ["serving_default", "greedy", "attention"]


def test_any_text_gets_one_translation_per_sentence(served, budget):
    def check(sentences, signature, columnar):
        request = {"signature_name": signature}
        request.update({"inputs": {"text": sentences}} if columnar else {"instances": sentences})
        result = served.answer(request)
        assert result is not None, f"a batch of strings was refused: {sentences!r}"[:300]
        if signature != "attention":
            assert len(result) == len(sentences) and all(isinstance(text, str) for text in result), result
            return
        rows = as_rows(result) if columnar else result
        assert len(rows) == len(sentences)
        for row in rows:  # attention [output tokens, source tokens], one row per target token
            assert isinstance(row["translation"], str)
            assert len(row["attention"]) == len(row["target_tokens"]), row
            assert all(len(weights) == len(row["source_tokens"]) for weights in row["attention"]), row

    check_property(budget, check, sentences=text_batches, signature=st.sampled_from(SIGNATURES),
                   columnar=st.booleans())


def test_non_strings_are_refused_with_a_message(served, budget):
    check_property(budget, lambda sentences, signature: served.error(
        {"signature_name": signature, "instances": sentences}),
        sentences=batches_with_a_non_string(), signature=st.sampled_from(SIGNATURES))


def test_any_request_is_answered_or_refused(served, budget):
    check_any_request(served, budget, SIGNATURES, ["text"])


def test_an_empty_batch_gets_an_empty_answer_or_an_error(served):
    for signature in SIGNATURES:
        result = served.answer({"signature_name": signature, "instances": []})
        assert result is None or result == []
