"""The suite's shared package: embeddings, masking, clipping, config/CLI, training, export, serving.

Modules are imported where used (`from shared.masking import MaskedGlobalPooling`), so importing one
does not pull in TensorFlow for another: `shared/bare_tf.py` in particular stands alone.
"""
