"""`--distribute none|mirrored|multi-worker`: TensorFlow's own distribution strategies, for every train.py.

Home of: the `--distribute` strategies, worker roles from TF_CONFIG and where a non-chief worker writes.

    python apps/imdb_sentiment/train.py --distribute mirrored        # every GPU of this host, one replica each
    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}' \\
        python apps/imdb_sentiment/train.py --distribute multi-worker  # run once per host, index 0, 1, ...

How the pieces fit (the apps only call `scope()` and `global_batch_size()`; the rest happens in
`shared.runtime.config.parse_config`, `shared.runtime.run.start_run`, `shared.runtime.training.fit` and `shared.runtime.run.finish_run`):

- `start_run` creates the strategy first, before any other TensorFlow work: MultiWorkerMirroredStrategy
  must configure collective ops at program start. `none` is TensorFlow's default strategy (one device).
- Each app builds and compiles its model `with distribute.scope():`. Keras 3 remembers the strategy a model
  was built under and runs `fit`, `evaluate` and `predict` through it: each replica steps its slice of
  every batch, gradients are summed across replicas, and the loss is divided by the replica count.
- `--batch-size` is per replica; datasets are batched by `global_batch_size(config)` = batch size x
  replicas, which the strategy splits again. More replicas: the same per-device work, fewer steps per epoch.
- Auto-sharding: in-memory datasets shard by DATA (every worker runs the same seeded pipeline and keeps its
  own slice of each global batch; `shard_in_memory`, applied by `fit`). Sharded TFRecords shard by FILE
  (each worker reads only its own files; see apps/captioner/cache.py).
- Only the chief (task "chief", or worker 0 when the cluster has no chief) writes the run folder and the
  export. `for_this_worker` points every other worker's `--output-dir` and `--export-dir` at a scratch
  folder `<run dir>/.worker-<index>/`: it still checkpoints and exports (saving may need every worker to
  take part), and `finish_run` removes the folder after a clean finish. Its `backup/` survives a crash, so
  a restarted worker resumes with `--resume` like the chief.
- Fault tolerance: when one worker dies the others fail at their next collective. Restart every worker
  with the same command plus `--resume`: each restores weights, optimizer and epoch from its own backup
  (`keras.callbacks.BackupAndRestore`, written after every epoch) and training goes on from the last
  finished epoch. See tests/shared/runtime/test_distribute.py, which does exactly that.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import shutil
import typing

import tensorflow as tf

if typing.TYPE_CHECKING:
    from shared.runtime.config import TrainConfig

STRATEGIES = ("none", "mirrored", "multi-worker")

# One strategy per process: MultiWorkerMirroredStrategy cannot be created twice, and a run that trains
# twice in one process (a test, captioner's encoder then decoder) must reuse the one it has.
_strategies: dict[str, tf.distribute.Strategy] = {}
_active: tf.distribute.Strategy | None = None


class WorkerRole(typing.NamedTuple):
    task_type: str      # "chief" or "worker" ("none" without TF_CONFIG)
    index: int
    is_chief: bool      # writes the run folder and the export
    workers: int        # processes in the cluster (chief included)


def read_tf_config(environ: typing.Mapping[str, str] | None = None) -> dict | None:
    """The parsed `TF_CONFIG` environment variable, checked for what multi-worker training needs."""
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        tf_config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}): {text[:200]!r}") from None
    cluster, task = tf_config.get("cluster"), tf_config.get("task")
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ValueError('TF_CONFIG needs "cluster" (e.g. {"worker": ["host1:port", "host2:port"]}) and '
                         f'"task" (e.g. {{"type": "worker", "index": 0}}); got {text[:200]!r}')
    task_type, index = task.get("type"), task.get("index", 0)
    if task_type not in cluster or not 0 <= int(index) < len(cluster[task_type]):
        raise ValueError(f"TF_CONFIG's task {task} is not in its cluster {cluster}.")
    return tf_config


def worker_role(environ: typing.Mapping[str, str] | None = None) -> WorkerRole:
    """Who this process is in the TF_CONFIG cluster; a lone chief without TF_CONFIG."""
    tf_config = read_tf_config(environ)
    if tf_config is None:
        return WorkerRole("none", 0, True, 1)
    cluster, task = tf_config["cluster"], tf_config["task"]
    task_type, index = task["type"], int(task.get("index", 0))
    # TensorFlow's rule: the chief task if the cluster names one, else worker 0.
    is_chief = task_type == "chief" or (task_type == "worker" and index == 0 and "chief" not in cluster)
    workers = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    return WorkerRole(task_type, index, is_chief, workers)


def scratch_dir(run_dir: str | os.PathLike, role: WorkerRole) -> pathlib.Path:
    """A non-chief worker's own folder inside the run folder (removed after a clean finish)."""
    return pathlib.Path(run_dir) / f".{role.task_type}-{role.index}"


def _require_tf_config() -> None:
    if read_tf_config() is None:
        raise ValueError("--distribute multi-worker needs the TF_CONFIG environment variable, e.g. "
                         'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                         '"task": {"type": "worker", "index": 0}}\' (one index per process).')


def for_this_worker(config: TrainConfig) -> TrainConfig:
    """`config` as this process must use it: non-chief workers write to their scratch folder only."""
    if config.distribute != "multi-worker":
        return config
    _require_tf_config()
    role = worker_role()
    if role.is_chief:
        return config
    scratch = scratch_dir(config.run_dir, role)
    # The bare-TF check proves the export; the chief's export is the one that is kept and checked.
    return dataclasses.replace(config, output_dir=str(scratch), export_dir=str(scratch / "export"),
                               check_export=False)


def is_scratch(config: TrainConfig) -> bool:
    """Whether `config.run_dir` is a non-chief worker's scratch folder."""
    role = worker_role() if config.distribute == "multi-worker" else None
    return role is not None and not role.is_chief and config.run_dir.name == scratch_dir("", role).name


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy for `--distribute name`, created once per process."""
    if name not in STRATEGIES:
        raise ValueError(f"--distribute must be one of {list(STRATEGIES)}, got {name!r}.")
    if name == "none":
        return tf.distribute.get_strategy()  # TensorFlow's default: one device, no replicas
    if name not in _strategies:
        if name == "mirrored":
            created = tf.distribute.MirroredStrategy()  # every local GPU (the CPU when there is none)
        else:
            _require_tf_config()
            created = tf.distribute.MultiWorkerMirroredStrategy()
        _strategies[name] = created
    return _strategies[name]


def activate(name: str) -> tf.distribute.Strategy:
    """Make `--distribute name` the strategy `scope()` and `replicas()` use (`start_run` calls this)."""
    global _active
    _active = make_strategy(name)
    return _active


def strategy() -> tf.distribute.Strategy:
    """The active strategy (TensorFlow's default one before `activate`)."""
    return _active or tf.distribute.get_strategy()


def scope() -> contextlib.AbstractContextManager:
    """Build and compile models inside this: their variables are mirrored on every replica."""
    return strategy().scope()


def replicas() -> int:
    """Replicas that step in sync: 1, the local GPUs, or all of them across the workers."""
    return strategy().num_replicas_in_sync


def global_batch_size(config: TrainConfig) -> int:
    """The batch a dataset must yield: `--batch-size` per replica x replicas (the strategy splits it)."""
    return config.batch_size * replicas()


def in_cross_worker_mode() -> bool:
    """Whether the active strategy spans several worker processes (Keras' own test for that code path)."""
    active = strategy()
    return (isinstance(active, tf.distribute.MultiWorkerMirroredStrategy)
            and active.extended._in_multi_worker_mode())


def any_worker(flag: bool) -> bool:
    """True on every worker when `flag` is True on at least one of them (a collective: all must call it).

    A decision one process takes alone, such as stopping at a time budget, would leave the others waiting
    forever at the next gradient all-reduce; this makes it a decision of the whole cluster. Outside
    cross-worker mode it returns `flag` unchanged, at no cost.
    """
    if not in_cross_worker_mode():
        return flag
    active = strategy()
    votes = active.run(lambda: tf.constant(1.0 if flag else 0.0))
    return float(active.reduce(tf.distribute.ReduceOp.SUM, votes, axis=None)) > 0


def prepare_model(model) -> None:
    """Work around two Keras 3.15 failures of `fit`/`evaluate` under MultiWorkerMirroredStrategy.

    1. Before its first step, Keras' TensorFlow trainer reduces the first distributed batch, as one nested
       structure, across all replicas (`_maybe_symbolic_build`), only to learn its shapes and dtypes; under
       MultiWorkerMirroredStrategy that fails ("Attempt to convert a value (PerReplica...)"). `model` gets a
       build that reads the shapes from this worker's own slice of the batch, all the symbolic build needs.
    2. Each step's logs (scalar metric results) are then reduced across workers with MEAN over axis 0,
       which fails for scalars ("Invalid reduction dimension 0"), and the reduction cannot be chosen (the
       step passes "auto"). `model`'s train and test steps return each log with a leading axis of 1, so the
       mean over axis 0 across the workers is the scalar Keras expects.
    The step's computation is Keras' own, unchanged; under `none`, `mirrored` and a one-worker cluster
    nothing is patched.
    """
    if not in_cross_worker_mode():  # a one-worker cluster takes Keras' local path
        return
    for name in ("train_step", "test_step"):
        setattr(model, name, _with_leading_axis(getattr(model, name)))

    def symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(_local_part, next(batches))
                break
        with model.distribute_strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = symbolic_build


def _with_leading_axis(step):
    def step_with_leading_axis(data):
        return tf.nest.map_structure(lambda value: tf.expand_dims(value, 0), step(data))
    return step_with_leading_axis


def _local_part(value):
    if isinstance(value, tf.distribute.DistributedValues):
        return strategy().experimental_local_results(value)[0]
    return value


def shard_in_memory(dataset):
    """Shard a dataset built from in-memory arrays by DATA: each worker keeps its slice of every batch.

    (AUTO would try FILE first, find no files, warn and fall back to DATA.) Datasets that already chose a
    policy (sharded TFRecords choose FILE) and anything that is not a tf.data.Dataset pass unchanged.
    """
    if not isinstance(dataset, tf.data.Dataset):
        return dataset
    policy = tf.data.experimental.AutoShardPolicy
    if dataset.options().experimental_distribute.auto_shard_policy != policy.AUTO:
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy.DATA
    return dataset.with_options(options)


def shard_by_file(dataset):
    """Mark a dataset read from sharded files: each worker reads only its share of the files."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.FILE
    return dataset.with_options(options)


def remove_scratch(config: TrainConfig) -> None:
    """After a clean finish, a non-chief worker deletes everything it wrote (the chief keeps its run)."""
    if is_scratch(config):
        shutil.rmtree(config.run_dir, ignore_errors=True)
