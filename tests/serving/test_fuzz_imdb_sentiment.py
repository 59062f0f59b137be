"""Property tests of the imdb_sentiment export over REST: any text in, one verdict per review out."""

from hypothesis import strategies as st

from tests.serving.strategies import (
    as_rows,
    batches_with_a_non_string,
    check_any_request,
    check_property,
    text_batches,
)

APP = "imdb_sentiment"


def _check_verdicts(rows, count):
    assert len(rows) == count, f"{count} reviews, {len(rows)} answers"
    for row in rows:
        assert 0.0 <= row["probability"] <= 1.0, row
        assert row["label"] == ("positive" if row["probability"] >= 0.5 else "negative"), row


def test_any_text_gets_one_verdict_per_review(served, budget):
    def check(reviews, columnar):
        request = {"inputs": {"text": reviews}} if columnar else {"instances": reviews}
        result = served.answer(request)
        assert result is not None, f"a batch of strings was refused: {reviews!r}"[:300]
        _check_verdicts(as_rows(result) if columnar else result, len(reviews))

    check_property(budget, check, reviews=text_batches, columnar=st.booleans())


def test_non_strings_are_refused_with_a_message(served, budget):
    check_property(budget, lambda reviews: served.error({"instances": reviews}), reviews=batches_with_a_non_string())


def test_any_request_is_answered_or_refused(served, budget):
    check_any_request(served, budget, ["serving_default"], ["text"])


def test_an_empty_batch_gets_an_empty_answer_or_an_error(served):
    result = served.answer({"instances": []})
    assert result is None or result == []
