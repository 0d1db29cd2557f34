"""Hugging Face ``datasets`` sources: a saved dataset directory, Parquet and Arrow files, hub ids.

Each row is a record like one JSON conversation (``text``, ``messages``, ShareGPT
``conversations`` or Alpaca ``instruction``/``output`` columns, plus optional ``id``,
``domain``, ``topic``), so the same checks and messages apply; rows are named
``file[row]`` (or ``dir:split[row]``). ``datasets`` is imported only when such a source is read.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Iterator

from therapeutic_moe.errors import DataError

HF_FILE_SUFFIXES = (".parquet", ".arrow")
# A saved ``Dataset`` holds state.json + dataset_info.json; a saved ``DatasetDict`` holds dataset_dict.json.
_SAVED_MARKERS = ("dataset_dict.json", "state.json")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
PREFERRED_SPLIT = "train"


def is_saved_dataset(path: Path) -> bool:
    """A directory written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``."""
    return path.is_dir() and any((path / marker).is_file() for marker in _SAVED_MARKERS)


def looks_like_hub_id(text: str) -> bool:
    """``owner/name`` without a data-file suffix: what a hub dataset id looks like."""
    return bool(_HUB_ID.match(text)) and not text.lower().endswith((".json", ".jsonl", *HF_FILE_SUFFIXES))


def _rows(dataset, source: str) -> Iterator[tuple[str, Any]]:
    if len(dataset) == 0:
        raise DataError(f"{source}: the dataset has no rows. Fix: point at a dataset with conversations")
    for index, row in enumerate(dataset):
        yield f"{source}[{index}]", row


def _one_split(splits: dict, source: str):
    """The split to train on: the only one, else 'train'; several without 'train' is an error."""
    if len(splits) == 1:
        (name, dataset), = splits.items()
        return name, dataset
    if PREFERRED_SPLIT in splits:
        return PREFERRED_SPLIT, splits[PREFERRED_SPLIT]
    raise DataError(f"{source}: holds the splits {sorted(splits)} and none is called '{PREFERRED_SPLIT}'. Fix: "
                    f"point at one split's directory (e.g. {source}/{sorted(splits)[0]}) or save one split alone")


def saved_dataset_records(path: Path) -> Iterator[tuple[str, Any]]:
    """Rows of a ``save_to_disk`` directory (memory-mapped, nothing copied)."""
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:  # a damaged directory raises many kinds; the message says which
        raise DataError(f"{path}: not a readable saved Hugging Face dataset ({type(exc).__name__}: "
                        f"{str(exc)[:200]}). Fix: save it again with dataset.save_to_disk(DIR)") from None
    if isinstance(loaded, datasets.DatasetDict):
        split, loaded = _one_split(dict(loaded), str(path))
        yield from _rows(loaded, f"{path}:{split}")
    else:
        yield from _rows(loaded, str(path))


def file_records(path: Path) -> Iterator[tuple[str, Any]]:
    """Rows of one ``.parquet`` or ``.arrow`` file."""
    import datasets

    try:
        if path.suffix.lower() == ".arrow":
            dataset = datasets.Dataset.from_file(str(path))  # memory-mapped Arrow, as save_to_disk writes it
        else:
            import pyarrow.parquet

            # Read directly rather than through from_parquet, which first copies the file into the cache.
            dataset = datasets.Dataset(pyarrow.parquet.read_table(str(path)))
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for a damaged file
        kind = "Arrow" if path.suffix.lower() == ".arrow" else "Parquet"
        raise DataError(f"{path}: not a readable {kind} file ({type(exc).__name__}: {str(exc)[:200]}). Fix: "
                        f"write it again (dataset.to_parquet(FILE), or save_to_disk(DIR) for Arrow)") from None
    yield from _rows(dataset, str(path))


def hub_records(dataset_id: str) -> Iterator[tuple[str, Any]]:
    """Rows of a hub dataset (its 'train' split, or its only split) where the hub can be reached."""
    import datasets

    # Said aloud: a mistyped relative path ("data/trian") also looks like an id.
    print(f"{dataset_id}: not a local path; loading it as a Hugging Face hub dataset", file=sys.stderr, flush=True)
    try:
        splits = datasets.load_dataset(dataset_id)
    except Exception as exc:  # offline, unknown id, gated repository, ...: all mean the same to the user
        raise DataError(
            f"{dataset_id}: no such file or directory, and loading it as a Hugging Face hub dataset failed "
            f"({type(exc).__name__}: {str(exc)[:200]}). Fix: check the path; for a hub dataset on a machine "
            f"that cannot reach the hub, load it elsewhere and save it with dataset.save_to_disk(DIR) or "
            f"dataset.to_parquet(FILE), then give that path") from None
    split, dataset = _one_split(dict(splits), dataset_id)
    yield from _rows(dataset, f"{dataset_id}:{split}")
