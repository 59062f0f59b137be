"""The suite's shared package, in two halves; every app under apps/ is built on it.

shared.modeling   what goes inside a model or an exported serving graph: embeddings, masking, the cell
                  table, teacher forcing, decoding, text and image input, per-request limits, the optimizer,
                  mixed precision. Keras layers and core-TensorFlow graph code; no flags, no run folder.
shared.runtime    what runs a model: the config and its command line, the run folder, training, resume,
                  distribution, data lookup, export, the serving assets, the bare-TF checker, the REST and
                  gRPC clients, progress bars and plots. Files, flags, processes; no layer is defined here.

The naming rule: a module is named after the one concept it is the home of (its docstring's "Home of:"
line says which names), so an app calls `shared.modeling.masking.lengths_to_mask` rather than keeping a copy;
the half tells whether it belongs in a graph (modeling) or around one (runtime). Modeling never imports
runtime. Each half's `__init__` lists its modules.

Modules are imported where used (`from shared.modeling.masking import MaskedGlobalPooling`), so importing one
does not pull in TensorFlow for another: `shared/runtime/bare_tf.py` in particular stands alone (it imports only
the standard library and TensorFlow, and runs as `python -I shared/runtime/bare_tf.py`).
"""
