"""keras-hub's layer contract for every layer and metric of shared/modeling (and a home line per module).

Each one takes **kwargs (name, dtype, ...), is registered serializable, round-trips through get_config,
and its docstring has Args, a Masking statement and an Example that runs as written.
"""

import doctest
import importlib
import pathlib

import keras
import pytest

from shared.modeling.embeddings import TokenBigrams, TokenEmbedding
from shared.modeling.masking import MaskedGlobalPooling, MaskedSparseCategoricalAccuracy

LAYERS = [(TokenEmbedding, {"vocab_size": 10, "dim": 4}), (MaskedGlobalPooling, {"mode": "mean"}),
          (TokenBigrams, {"vocab_size": 10, "max_bigrams": 4, "vocabulary": [23, 34]})]
SHARED = pathlib.Path(__file__).resolve().parents[3] / "shared"


@pytest.mark.parametrize("cls, arguments", LAYERS, ids=lambda value: getattr(value, "__name__", ""))
def test_layers_take_kwargs_and_round_trip_their_config(cls, arguments):
    layer = cls(**arguments, name="named", dtype="float32")
    assert layer.name == "named"
    assert keras.saving.get_registered_object(keras.saving.get_registered_name(cls)) is cls
    assert keras.saving.get_registered_name(cls).startswith("shared>")
    rebuilt = cls.from_config(layer.get_config())
    assert rebuilt.get_config() == layer.get_config()


def test_the_masked_metric_round_trips_its_config():
    metric = MaskedSparseCategoricalAccuracy(pad_id=3, name="acc")
    assert keras.saving.get_registered_object(keras.saving.get_registered_name(type(metric))) is type(metric)
    assert MaskedSparseCategoricalAccuracy.from_config(metric.get_config()).pad_id == 3


@pytest.mark.parametrize("cls", [TokenEmbedding, TokenBigrams, MaskedGlobalPooling, MaskedSparseCategoricalAccuracy],
                         ids=lambda cls: cls.__name__)
def test_docstrings_state_args_masking_and_a_runnable_example(cls):
    doc = cls.__doc__
    assert "Args:" in doc and "Example:" in doc
    if issubclass(cls, keras.layers.Layer):
        assert "Masking:" in doc
    examples = doctest.DocTestParser().get_examples(doc)
    assert examples, f"{cls.__name__}'s Example has no >>> lines"
    namespace = {"keras": keras, cls.__name__: cls}
    for example in examples:  # every line runs as written (the comments say what it shows)
        exec(compile(example.source, f"{cls.__name__} docstring", "single"), namespace)


def test_every_shared_module_names_what_it_is_the_home_of():
    missing = []
    for path in sorted(SHARED.glob("*/*.py")):
        if path.name == "__init__.py":
            continue
        module = importlib.import_module(".".join(path.relative_to(SHARED.parent).with_suffix("").parts))
        if "Home of:" not in (module.__doc__ or ""):
            missing.append(str(path.relative_to(SHARED.parent)))
    assert not missing, f"modules whose docstring has no 'Home of:' line: {missing}"

