"""The suite's shared package: embeddings, masking, clipping, config/CLI, training, export, serving.

Modules are imported where used (`from shared.modeling.masking import MaskedGlobalPooling`), so importing one
does not pull in TensorFlow for another: `shared/runtime/bare_tf.py` in particular stands alone.
"""
