"""Checkpoints of a training run: parameters, momentum, the run's configuration and the loop's
state in one .npz, written atomically and read back with every field checked (a checkpoint that
does not hold is refused by name, never half-loaded).

The model itself (configuration, parameters, the float64 reference step) is Phase 2's
(phase2_numpy.network and phase2_numpy.train); this file only stores and restores it.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import stat
import tokenize
import zipfile
import zlib
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from phase2_numpy.network import Params
from phase2_numpy.train import TrainConfig
from shared.files import atomic_write

__all__ = ["CHECKPOINT_SCHEMA", "load_checkpoint", "save_checkpoint"]


CHECKPOINT_SCHEMA = "nn-foundations/checkpoint/1"


def save_checkpoint(
    path: str | os.PathLike[str], params: Params, config: TrainConfig, state: dict
) -> Path:
    """Write parameters, momentum, the config and the loop state to one .npz, atomically."""
    arrays = {}
    for name, group in (("W", params.W), ("b", params.b), ("vW", params.vW), ("vb", params.vb)):
        arrays |= {f"{name}{i}": a for i, a in enumerate(group)}
    meta = {"schema": CHECKPOINT_SCHEMA, "config": asdict(config), "state": state}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)

    def write(f):
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        f.write(buffer.getvalue())

    return atomic_write(path, write)


#: the most a checkpoint's metadata may take (a real one: about 2 KB a hundred epochs)
MAX_META_BYTES = 1 << 20
#: np.savez stores arrays uncompressed; re-saved compressed, float weights shrink little. An entry
#: that would grow past this many times its size on disk (plus the .npy header) is refused
#: before it is read: a few kilobytes of zeros must not become gigabytes in memory.
MAX_EXPANSION = 16
_NPY_HEADER = 1 << 16


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[Params, TrainConfig, dict]:
    """Read a checkpoint written by save_checkpoint. Anything else raises ValueError naming the
    file and what is wrong: missing, not a regular file (a FIFO would block), not an .npz, cut
    short or corrupted, metadata of another layout, arrays of other names, dtype or shape than
    the configuration's, or weights that are not finite (NaN or infinite, as a diverged run
    leaves them). Names and sizes are checked before any array is read."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ValueError(f"{path}: not a regular file")
        with zipfile.ZipFile(path) as z:
            entries = {info.filename: info for info in z.infolist()}
            meta = _read_meta(z, entries.get("meta.npy"))
        config, state = _checked_meta(meta)
        _check_entries(entries, config.widths)
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files if name != "meta"}
        params = _checked_params(arrays, config.widths)
    except ValueError as e:  # on one line (NumPy's own messages may run to three)
        e = (str(e).splitlines() or [type(e).__name__])[0]
        raise ValueError(e if e.startswith(f"{path}: ") else f"{path}: {e}") from None
    except (OSError, EOFError, KeyError, TypeError, UnicodeDecodeError, zipfile.BadZipFile,
            zlib.error, SyntaxError, tokenize.TokenError, MemoryError, OverflowError) as e:  # fmt: skip
        # (NumPy parses an .npy header with Python's tokenizer: a damaged one raises its errors)
        e = (str(e).splitlines() or [type(e).__name__])[0]
        raise ValueError(f"{path}: not a readable checkpoint ({e})") from None
    return params, config, state


def _read_meta(z: zipfile.ZipFile, info: zipfile.ZipInfo | None):
    """The metadata's JSON, read only when small; nesting too deep for Python is refused."""
    if info is None:
        raise ValueError("no metadata (meta.npy)")
    if info.file_size > MAX_META_BYTES + _NPY_HEADER:
        raise ValueError(f"metadata of {info.file_size} bytes, more than {MAX_META_BYTES}")
    with z.open(info) as f:
        raw = np.lib.format.read_array(f, allow_pickle=False)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError(f"metadata is {raw.dtype} {raw.shape}, expected uint8 bytes")
    try:
        return json.loads(bytes(raw).decode())
    except RecursionError:
        raise ValueError("metadata nested too deeply to be a checkpoint's") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"metadata is not JSON ({e})") from None


def _check_entries(entries: dict[str, zipfile.ZipInfo], widths: tuple[int, ...]) -> None:
    """The archive holds exactly the arrays `widths` need, none larger than they need (or than
    MAX_EXPANSION times its size on disk; 8 bytes a value, so that a float64 array is named by
    _checked_params): checked from the archive's directory, nothing read."""
    expected = {"meta.npy": MAX_META_BYTES}
    for l, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        expected |= {f"W{l}.npy": 8 * n_in * n_out, f"vW{l}.npy": 8 * n_in * n_out,
                     f"b{l}.npy": 8 * n_out, f"vb{l}.npy": 8 * n_out}  # fmt: skip
    names = "-".join(map(str, widths))
    if missing := sorted(n.removesuffix(".npy") for n in expected.keys() - entries.keys()):
        raise ValueError(f"no array {missing[0]} for widths {names}")
    if unexpected := sorted(entries.keys() - expected.keys()):
        raise ValueError(f"unexpected arrays {[n.removesuffix('.npy') for n in unexpected]} "
                         f"for widths {names}")  # fmt: skip
    for name, info in entries.items():
        limit = min(expected[name], MAX_EXPANSION * info.compress_size) + _NPY_HEADER
        if info.file_size > limit:
            raise ValueError(
                f"{name.removesuffix('.npy')} would take {info.file_size} bytes in memory, "
                f"more than its {expected[name]} bytes (or {MAX_EXPANSION} times its size on disk)"
            )


def _checked_meta(meta) -> tuple[TrainConfig, dict]:
    if not isinstance(meta, dict) or meta.get("schema") != CHECKPOINT_SCHEMA:
        schema = meta.get("schema") if isinstance(meta, dict) else None
        raise ValueError(f"checkpoint schema {schema!r}, expected {CHECKPOINT_SCHEMA!r}")
    config, state = meta.get("config"), meta.get("state")
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise ValueError("the metadata lacks its config or state")
    known = {f.name for f in fields(TrainConfig)}
    if config.get("extra") == {}:  # checkpoints of older versions carry an empty, unused `extra`
        config = {key: value for key, value in config.items() if key != "extra"}
    if unknown := sorted(set(config) - known):
        raise ValueError(f"unknown configuration keys {unknown}")
    for f in fields(TrainConfig):  # JSON has one kind of number: `"limit": true` or 2.5 is not one
        if f.name in config and f.name != "widths" and not _of_type(config[f.name], f.type):
            raise ValueError(f"{f.name} {config[f.name]!r} is not of type {f.type}")
    widths = config.get("widths")
    if not isinstance(widths, list) or len(widths) < 2 or not all(type(n) is int for n in widths):
        raise ValueError(f"widths {widths!r} are not a list of two or more whole numbers")
    try:
        parsed = TrainConfig(**(config | {"widths": tuple(widths)}))
        parsed.validate(widths[0], widths[-1])
    except (TypeError, ValueError) as e:
        raise ValueError(f"a configuration that does not hold: {e}") from None
    for key in ("epoch", "step"):
        if type(state.get(key)) is not int or state[key] < 0:
            raise ValueError(f"state {key} {state.get(key)!r} is not a whole number >= 0")
    if not isinstance(state.get("history"), list):
        raise ValueError("the state lacks its history")
    return parsed, state


def _of_type(value, annotation: str) -> bool:
    """Whether a JSON value is of TrainConfig's field type (written as a string, see
    `from __future__ import annotations`): bool is no int here, an int is a float."""
    kinds = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}
    allowed = [kinds[t.strip()] for t in annotation.split("|") if t.strip() != "None"]
    if value is None:
        return "None" in annotation
    return any(type(value) in kind for kind in allowed)


def _checked_params(arrays: dict[str, np.ndarray], widths: tuple[int, ...]) -> Params:
    groups = {"W": [], "b": [], "vW": [], "vb": []}
    for l, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        for name, shape in (("W", (n_in, n_out)), ("b", (n_out,)), ("vW", (n_in, n_out)), ("vb", (n_out,))):  # fmt: skip
            a = arrays.pop(f"{name}{l}", None)
            if a is None:
                raise ValueError(f"no array {name}{l} for widths {'-'.join(map(str, widths))}")
            if a.dtype.kind != "f" or a.dtype.itemsize != 4 or a.shape != shape:
                raise ValueError(f"{name}{l} is {a.dtype} {a.shape}, expected float32 {shape}")
            a = a.astype(np.float32, copy=False)  # float32 in the other byte order: this one's
            if not np.isfinite(a).all():
                raise ValueError(f"{name}{l} holds NaN or infinite values (a diverged run?)")
            groups[name].append(a)
    if arrays:
        raise ValueError(
            f"unexpected arrays {sorted(arrays)} for widths {'-'.join(map(str, widths))}"
        )
    return Params(**groups)
