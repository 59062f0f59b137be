"""Hypothesis strategies for what clients may send a served model, and a runner for one property.

    check_property(budget, check, reviews=text_batches, columnar=st.booleans())

runs `check(reviews=..., columnar=...)` on `budget` = (max_examples, derandomize) drawn examples (see
conftest.BUDGETS). The strategies cover what TF Serving's REST API lets through: any Unicode text, bytes
that are not UTF-8 ({"b64": ...}), empty and huge strings, numbers and nulls where strings belong, and any
JSON at all as a request.
"""

from __future__ import annotations

import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serving.rest import Served


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode("ascii")}


def check_property(budget, check, **strategies) -> None:
    """Run `check(**drawn)` on hypothesis examples drawn from `strategies`; the first failure raises."""
    examples, derandomize = budget

    @settings(max_examples=examples, derandomize=derandomize, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(**strategies)
    def run(**drawn):
        check(**drawn)

    run()


# ------------------------------------------------------------------------------------------ text
# One string input as clients send it. Long runs of a short piece make huge strings cheaply.
huge_texts = st.builds(lambda piece, times: piece * times, st.text(min_size=1, max_size=8),
                       st.integers(1000, 30000))
text_items = st.one_of(
    st.text(max_size=120),                                    # any Unicode (no lone surrogates)
    st.text(alphabet=st.characters(codec="ascii"), max_size=120),
    st.binary(max_size=120).map(b64),                         # bytes, mostly not UTF-8
    st.sampled_from(["", " ", "\n\t\r", "<br /><br />", "\x00", "\ufeff", "[start] [end]"]),
    huge_texts,
)
text_batches = st.lists(text_items, min_size=1, max_size=6)

# JSON values that are not strings, where a string belongs.
not_strings = st.one_of(st.integers(), st.floats(), st.booleans(), st.none(),
                        st.lists(st.integers(), min_size=1, max_size=3),
                        st.dictionaries(st.text(max_size=5), st.integers(), min_size=1, max_size=2))


@st.composite
def batches_with_a_non_string(draw):
    """A batch of strings with at least one non-string item at a random place."""
    batch = draw(st.lists(text_items, max_size=4))
    batch.insert(draw(st.integers(0, len(batch))), draw(not_strings))
    return batch


# ------------------------------------------------------------------------------------------ any JSON
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=16)


def junk_requests(signatures: list[str], input_names: list[str]):
    """Any JSON (or non-JSON bytes) as a request, leaning towards the shapes a real request has."""
    values = st.one_of(json_values, text_batches, st.dictionaries(st.sampled_from(input_names), json_values))
    return st.one_of(
        json_values,
        st.binary(max_size=64),
        st.fixed_dictionaries({}, optional={
            "instances": values, "inputs": values,
            "signature_name": st.one_of(st.sampled_from(signatures), json_values)}),
    )


def check_any_request(served: Served, budget, signatures: list[str], input_names: list[str]) -> None:
    """Whatever arrives, the server answers 200 or a 400 with a message and keeps serving.

    A 200 to a row-form request has one prediction per instance.
    """
    def check(request):
        result = served.answer(request)
        if result is not None and isinstance(request, dict) and "instances" in request:
            assert isinstance(result, list) and len(result) == len(request["instances"]), (request, result)

    check_property(budget, check, request=junk_requests(signatures, input_names))


def as_rows(outputs: dict) -> list[dict]:
    """Columnar outputs {"name": [batch values]} -> one dict per example, like the row form's."""
    names = list(outputs)
    assert len({len(outputs[name]) for name in names}) == 1, f"outputs of different lengths: {outputs}"
    return [{name: outputs[name][i] for name in names} for i in range(len(outputs[names[0]]))]
