"""The runtime side of the shared package: what runs a model, not what is inside one.

config          the frozen Config, its `option(default, why)` fields, the one CLI; save_config / load_config
run             the run folder: every file in it, from start_run to finish_run
training        fit: callbacks, best/last checkpoints, resume, history
resume          crash-safe files (atomic writes, double backups) that --resume restores
time_budget     stop fit before a wall-clock limit, across resumes
distribute      --distribute none|mirrored|multi-worker
data            finding a dataset: --data-dir, the download cache, a download
export          versioned, atomic SavedModel exports with explicit signatures
serving_assets  TF Serving warm-up records and batching parameters inside an export
bare_tf         the standalone checker and REST server that import only TensorFlow
serving         the REST client, the local stand-in and check_saved_model
clients         the --model-dir / --server flags of every predict.py and the client they choose
grpc_client     TF Serving's gRPC API with the same predict as the REST client
grpc_server     a loopback gRPC PredictionService for tests
progress        progress bars for long loops
plots           training curves for the READMEs
"""
