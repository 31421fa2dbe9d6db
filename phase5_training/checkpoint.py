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


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[Params, TrainConfig, dict]:
    """Read a checkpoint written by save_checkpoint. Anything else raises ValueError naming the
    file and what is wrong: missing, not an .npz, cut short or corrupted, metadata of another
    layout, arrays of the wrong dtype or shape for the configuration, or weights that are not
    finite (NaN or infinite, as a diverged run leaves them)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            arrays = {name: data[name] for name in data.files if name != "meta"}
    except (OSError, EOFError, KeyError, ValueError, TypeError, UnicodeDecodeError,
            zipfile.BadZipFile, zlib.error) as e:  # fmt: skip
        raise ValueError(f"{path}: not a readable checkpoint ({e or type(e).__name__})") from None
    try:
        config, state = _checked_meta(meta)
        params = _checked_params(arrays, config.widths)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return params, config, state


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
    widths = config.get("widths")
    if not isinstance(widths, list) or not all(type(n) is int for n in widths):
        raise ValueError(f"widths {widths!r} are not a list of whole numbers")
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
