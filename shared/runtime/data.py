"""Finding a dataset: `--data-dir`, then the download cache, then a download; else a clear error.

Home of: where a dataset comes from (`resolve_data_dir`) and the checks of what was read (`check_counts`,
`require_keys`, `DataCorruptError`).

Every app's loader calls `resolve_data_dir` with the files it needs and a download function. Users with
internet get the real download; offline machines point `--data-dir` at a local copy, or use `--sample`.
"""

from __future__ import annotations

import gzip
import json
import os
import pathlib
import typing


class DataNotFoundError(FileNotFoundError):
    """The real dataset is neither where `--data-dir` points, nor cached, nor downloadable."""


class DataCorruptError(ValueError):
    """A data file exists but cannot be read (truncated archive, bad JSON, wrong format)."""


def cache_root() -> pathlib.Path:
    """Where downloads are kept: Keras' own cache ($KERAS_HOME or ~/.keras), under datasets/."""
    return pathlib.Path(os.environ.get("KERAS_HOME", pathlib.Path.home() / ".keras")) / "datasets"


def _first_match(directory: pathlib.Path, candidates: typing.Sequence[str]) -> pathlib.Path | None:
    for name in candidates:
        if (directory / name).exists():
            return directory
    return None


def resolve_data_dir(app: str, data_dir: str | os.PathLike | None, candidates: typing.Sequence[str],
                     download: typing.Callable[[pathlib.Path], None] | None = None) -> pathlib.Path:
    """The folder holding one of `candidates` (relative paths), found in this order.

    1. `data_dir`, when given: it must exist and hold a candidate, or this raises at once.
    2. The cache folder `cache_root()/app`, filled by an earlier download.
    3. `download(cache folder)`, when given; any failure (no network, say) becomes the error below.

    Raises:
        DataNotFoundError: naming what was looked for, `--data-dir` and `--sample`.
    """
    wanted = " or ".join(candidates)
    way_out = ("Pass --data-dir DIR pointing at a local copy of the real data, "
               "or --sample to use the small offline dataset the project generates itself.")
    if data_dir is not None:
        directory = pathlib.Path(data_dir).expanduser()
        if not directory.is_dir():
            raise DataNotFoundError(f"--data-dir {directory} does not exist or is not a folder. {way_out}")
        found = _first_match(directory, candidates)
        if found is None:
            raise DataNotFoundError(
                f"--data-dir {directory} holds none of the expected files ({wanted}). {way_out}")
        return found
    cached = cache_root() / app
    found = _first_match(cached, candidates) if cached.is_dir() else None
    if found is not None:
        return found
    problem = "no download is available for it"
    if download is not None:
        try:
            cached.mkdir(parents=True, exist_ok=True)
            download(cached)
            found = _first_match(cached, candidates)
            if found is not None:
                return found
            problem = f"the download finished but produced none of {wanted}"
        except Exception as error:  # network errors come in many types; each means "not here"
            problem = f"the download failed ({type(error).__name__}: {error})"
    raise DataNotFoundError(
        f"The {app} dataset ({wanted}) was not found in {cached} and {problem}. {way_out}")


def read_jsonl_gz(path: str | os.PathLike) -> list[dict]:
    """Every record of a gzip-compressed JSON-lines file; a damaged file raises DataCorruptError."""
    path = pathlib.Path(path)
    records = []
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    records.append(json.loads(line))
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise DataCorruptError(f"{path} is not a readable gzip file of UTF-8 text ({error}); "
                               f"re-download it or pass --sample.") from error
    except json.JSONDecodeError as error:
        raise DataCorruptError(f"{path} line {number} is not valid JSON ({error.msg}).") from error
    return records


def require_keys(records: typing.Iterable[dict], keys: typing.Sequence[str], source: str) -> None:
    """Raise DataCorruptError if any record lacks one of `keys`."""
    for index, record in enumerate(records):
        missing = [key for key in keys if key not in record]
        if missing:
            raise DataCorruptError(f"{source}: record {index} lacks {missing}; expected keys {list(keys)}.")


# `--partial-data`, the flag of the apps whose real dataset has a known size (IMDb, spa-eng, Flickr8k).
PARTIAL_DATA_HELP = ("Train on a copy of the real dataset whose counts differ from the full one (a subset of "
                     "your own, another release); without it such a copy is refused as incomplete.")


def check_counts(source: str | os.PathLike, found: dict[str, int], expected: dict[str, int], dataset: str,
                 partial: bool) -> None:
    """Refuse a copy of a known dataset whose counts are not the full dataset's, unless `partial`.

    A real dataset's size is known, so a short file means an interrupted download or copy, which would
    otherwise train silently on part of the data. `found` and `expected` map what is counted ("test
    reviews") to counts. Raises DataCorruptError (a ValueError) naming the file and both counts.
    """
    if partial or found == expected:
        return
    listing = lambda counts: " + ".join(f"{counts.get(what, 0):,} {what}" for what in expected)  # noqa: E731
    gaps = [f"{expected[what] - found.get(what, 0):,} {what} missing" if found.get(what, 0) < expected[what]
            else f"{found[what] - expected[what]:,} {what} more than expected"
            for what in expected if found.get(what, 0) != expected[what]]
    looks = ("looks incomplete (an interrupted download or copy?): download it again"
             if any(found.get(what, 0) < count for what, count in expected.items())
             else "is not the release this app knows: use the standard one")
    raise DataCorruptError(
        f"{source} holds {listing(found)}, but the full {dataset} has {listing(expected)} ({'; '.join(gaps)}). "
        f"The copy {looks}, or pass --partial-data to train on it as it is.")
