"""Find, verify and (when allowed) download MNIST and Fashion-MNIST.

Where a data set is looked for, in order:
  1. the folder given explicitly (`data_dir=`, the `--data-dir` options);
  2. the folder in the environment variable `NNF_DATA_DIR`;
  3. the user's cache folder, `$XDG_CACHE_HOME/nn-foundations` (default `~/.cache/nn-foundations`);
  4. for Fashion-MNIST, Debian's package `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist`).
Each folder F is tried as `F/<dataset>/` and then as `F/` itself, so both `NNF_DATA_DIR=data` and
`NNF_DATA_DIR=data/mnist` work. A file may be raw or gzipped. Every file is checked against the
SHA-256 of its *decompressed* content, so any mirror's gzip is accepted and a file of the wrong data
set (MNIST and Fashion-MNIST use the same names) is refused. When nothing is found and downloads are
allowed, the files are fetched from public mirrors into the cache, verified, then written atomically.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.files import atomic_write_bytes, cache_dir
from shared.idx import IdxError, decode_idx, read_idx_bytes

__all__ = [
    "DATASETS",
    "DataNotFoundError",
    "Dataset",
    "DatasetSpec",
    "cache_dir",
    "find_dataset",
    "load_dataset",
    "search_path",
]

ENV_VAR = "NNF_DATA_DIR"
PARTS = ("train_images", "train_labels", "test_images", "test_labels")
FILENAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    sha256: dict[str, str]  # part -> SHA-256 of the decompressed file
    mirrors: tuple[str, ...]  # base URLs holding `<filename>.gz`
    system_dirs: tuple[str, ...] = ()
    classes: tuple[str, ...] = tuple(str(d) for d in range(10))


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        sha256={
            "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        sha256={
            "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        # https only (the project's original mirror, Zalando's S3 website, serves plain http);
        # every file is checked against its SHA-256 whichever mirror gave it
        mirrors=(
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        classes=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
    ),
}


class DataNotFoundError(FileNotFoundError):
    """The data set is in none of the places looked at, and could not be downloaded."""


@dataclass
class Dataset:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 of a train and a test split."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: Path
    classes: tuple[str, ...]


def search_path(name: str, data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders looked in for data set `name`, in order (see the module docstring)."""
    spec = _spec(name)
    roots: list[Path] = []
    if data_dir is not None:
        roots.append(Path(data_dir))
    if os.environ.get(ENV_VAR):
        roots.append(Path(os.environ[ENV_VAR]))
    roots.append(cache_dir())
    folders: list[Path] = []
    for root in roots:
        folders += [root / spec.name, root]
    folders += [Path(d) for d in spec.system_dirs]
    return list(dict.fromkeys(folders))  # drop repeats, keep order


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown data set {name!r}; expected one of {sorted(DATASETS)}") from None


def _file_in(folder: Path, part: str) -> Path | None:
    for candidate in (folder / FILENAMES[part], folder / (FILENAMES[part] + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def find_dataset(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The first folder on the search path holding all four files, or None."""
    for folder in search_path(name, data_dir):
        if all(_file_in(folder, part) for part in PARTS):
            return folder
    return None


def _verified(payload: bytes, expected_sha: str, where: str) -> bytes:
    digest = hashlib.sha256(payload).hexdigest()
    if digest != expected_sha:
        raise IdxError(
            f"{where}: SHA-256 of the decompressed content is {digest}, expected {expected_sha} "
            "(the file is corrupted, truncated, or from another data set); delete it and retry"
        )
    return payload


def download(name: str, dest: Path | None = None, timeout: float = 30.0) -> Path:
    """Fetch the four files into `dest` (default: the cache), verifying each before it is written."""
    spec = _spec(name)
    dest = Path(dest) if dest is not None else cache_dir() / spec.name
    for part in PARTS:
        target = dest / (FILENAMES[part] + ".gz")
        if target.is_file():
            continue
        errors = []
        for base in spec.mirrors:
            url = base + FILENAMES[part] + ".gz"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    blob = response.read()
                payload = gzip.decompress(blob) if blob.startswith(b"\x1f\x8b") else blob
                _verified(payload, spec.sha256[part], url)
            except (urllib.error.URLError, OSError, EOFError, IdxError) as e:
                errors.append(f"{url}: {e}")
                continue
            atomic_write_bytes(target, blob)
            break
        else:
            raise DataNotFoundError(
                f"could not download {FILENAMES[part]}.gz for {name}:\n  " + "\n  ".join(errors)
            )
    return dest


def _not_found_message(name: str, data_dir: str | os.PathLike[str] | None, why: str = "") -> str:
    files = ", ".join(FILENAMES[p] + "[.gz]" for p in PARTS)
    places = "\n  ".join(str(p) for p in search_path(name, data_dir))
    hint = (
        f"Point --data-dir or {ENV_VAR} at a folder holding them"
        + (", or install Debian's dataset-fashion-mnist" if name == "fashion-mnist" else "")
        + "."
    )
    return f"{name}: the four files ({files}) were not found in:\n  {places}\n{why}{hint}"


def load_dataset(
    name: str = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    download_missing: bool = True,
) -> Dataset:
    """Load a data set from the first place that has it, downloading it when allowed.

    Raises `DataNotFoundError` (listing the file names and every place looked) when it is nowhere
    and cannot be fetched, and `IdxError` (naming the file) when a file is corrupted.
    """
    spec = _spec(name)
    folder = find_dataset(name, data_dir)
    if folder is None:
        if not download_missing:
            raise DataNotFoundError(_not_found_message(name, data_dir, "Downloads are disabled. "))
        try:
            folder = download(name)
        except DataNotFoundError as e:
            raise DataNotFoundError(_not_found_message(name, data_dir, f"{e}\n")) from None
    arrays = {}
    for part in PARTS:
        path = _file_in(folder, part)
        assert path is not None
        payload = _verified(read_idx_bytes(path), spec.sha256[part], str(path))
        arrays[part] = decode_idx(payload, str(path))
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise IdxError(
                f"{folder}: {split} images {images.shape} and labels {labels.shape} do not match"
            )
        if labels.size and int(labels.max()) >= len(spec.classes):
            raise IdxError(
                f"{folder}: {split} labels go up to {labels.max()}, "
                f"expected < {len(spec.classes)} (one per class)"
            )
    return Dataset(
        name=name,
        x_train=arrays["train_images"],
        y_train=arrays["train_labels"],
        x_test=arrays["test_images"],
        y_test=arrays["test_labels"],
        source=folder,
        classes=spec.classes,
    )
