"""The char_lm benchmark's Python-loop baseline runs the export's own model: at temperature 0 it writes the same."""

import tensorflow as tf

from apps.char_lm.model import load_trained
from apps.char_lm.serve import CharStepper
from benchmarks.char_lm import python_loop_generate


def test_python_loop_baseline_is_the_same_generator_as_the_export(quick_runs):
    tmp_path, metrics = quick_runs("char_lm")
    _, vocabulary, model = load_trained(tmp_path / "run")
    stepper = CharStepper(model, vocabulary)
    generate = tf.saved_model.load(metrics["export_path"]).signatures["generate"]
    for prompt in ("def ", ""):
        served = generate(prompt=tf.constant([prompt] * 2), num_chars=tf.constant(30), temperature=tf.constant(0.0),
                          top_k=tf.constant(0), seed=tf.constant(0, tf.int64))["text"].numpy()
        # Greedy: both take the argmax (the loop never draws OOV, id 0: it samples from ids 1..V-1 only).
        assert python_loop_generate(stepper, prompt, 30, 0.0, batch=2) == [t.decode("utf-8") for t in served]
    sampled = python_loop_generate(stepper, "def ", 30, 1.0, seed=3, batch=3)
    assert sampled == python_loop_generate(stepper, "def ", 30, 1.0, seed=3, batch=3)  # seeded: reproducible
    assert all(len(text) == 30 for text in sampled)
