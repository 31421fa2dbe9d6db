"""Finding, verifying and downloading data sets, on small synthetic IDX files (and on the real
MNIST where it is available)."""

import gzip
import hashlib

import numpy as np
import pytest

from shared import datasets
from shared.datasets import FILENAMES, DataNotFoundError, DatasetSpec, load_dataset, search_path
from shared.idx import IdxError, encode_idx


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No environment variable, an empty cache, and no network."""
    monkeypatch.delenv("NNF_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def make_tiny(folder, n_train=6, n_test=4, gz=True, seed=0):
    """Write a tiny MNIST-shaped data set and return {part: sha256 of decompressed bytes}."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    sums = {}
    for part, a in arrays.items():
        raw = encode_idx(a)
        sums[part] = hashlib.sha256(raw).hexdigest()
        name = FILENAMES[part] + (".gz" if gz else "")
        (folder / name).write_bytes(gzip.compress(raw) if gz else raw)
    return sums, arrays


@pytest.fixture
def tiny_spec(monkeypatch):
    def register(sums, mirrors=()):
        spec = DatasetSpec(name="tiny", sha256=sums, mirrors=tuple(mirrors))
        monkeypatch.setitem(datasets.DATASETS, "tiny", spec)
        return spec

    return register


def test_search_order(isolated, monkeypatch):
    monkeypatch.setenv("NNF_DATA_DIR", "/env")
    paths = [str(p) for p in search_path("fashion-mnist", "/explicit")]
    assert paths == [
        "/explicit/fashion-mnist", "/explicit", "/env/fashion-mnist", "/env",
        str(isolated / "cache" / "nn-foundations" / "fashion-mnist"),
        str(isolated / "cache" / "nn-foundations"),
        "/usr/share/datasets/fashion-mnist",
    ]  # fmt: skip


@pytest.mark.parametrize("gz", [True, False])
def test_loads_from_an_explicit_folder(isolated, tiny_spec, gz):
    sums, arrays = make_tiny(isolated / "data" / "tiny", gz=gz)
    tiny_spec(sums)
    ds = load_dataset("tiny", isolated / "data", download_missing=False)
    assert ds.source == isolated / "data" / "tiny"
    assert np.array_equal(ds.x_train, arrays["train_images"]) and np.array_equal(
        ds.y_test, arrays["test_labels"]
    )


def test_environment_variable_is_used(isolated, tiny_spec, monkeypatch):
    sums, _ = make_tiny(isolated / "env")
    tiny_spec(sums)
    monkeypatch.setenv("NNF_DATA_DIR", str(isolated / "env"))
    assert load_dataset("tiny", download_missing=False).source == isolated / "env"


def test_wrong_or_corrupted_file_is_named(isolated, tiny_spec):
    sums, _ = make_tiny(isolated / "d")
    tiny_spec({**sums, "test_labels": "0" * 64})
    with pytest.raises(IdxError, match=r"t10k-labels-idx1-ubyte.gz: SHA-256 .* another data set"):
        load_dataset("tiny", isolated / "d", download_missing=False)


def test_labels_out_of_range(isolated, tiny_spec):
    folder = isolated / "d"
    sums, _ = make_tiny(folder, gz=False)
    raw = encode_idx(np.array([1, 2, 3, 12, 0, 0], dtype=np.uint8))
    (folder / FILENAMES["train_labels"]).write_bytes(raw)
    tiny_spec({**sums, "train_labels": hashlib.sha256(raw).hexdigest()})
    with pytest.raises(IdxError, match="train labels go up to 12"):
        load_dataset("tiny", folder, download_missing=False)


def test_nothing_found_lists_the_files_and_every_place(isolated, tiny_spec):
    tiny_spec({p: "0" * 64 for p in FILENAMES})
    with pytest.raises(DataNotFoundError) as info:
        load_dataset("tiny", isolated / "nowhere", download_missing=False)
    message = str(info.value)
    for name in FILENAMES.values():
        assert name in message
    for place in search_path("tiny", isolated / "nowhere"):
        assert str(place) in message


def test_download_from_a_mirror_verifies_and_writes_into_the_cache(isolated, tiny_spec):
    mirror = isolated / "mirror"
    sums, arrays = make_tiny(mirror)
    tiny_spec(sums, mirrors=["file:///does/not/exist/", mirror.as_uri() + "/"])
    ds = load_dataset("tiny")
    cache = isolated / "cache" / "nn-foundations" / "tiny"
    assert ds.source == cache and np.array_equal(ds.x_test, arrays["test_images"])
    assert sorted(p.name for p in cache.iterdir()) == sorted(f + ".gz" for f in FILENAMES.values())


def test_a_corrupted_download_is_never_written(isolated, tiny_spec):
    mirror = isolated / "mirror"
    sums, _ = make_tiny(mirror)
    (mirror / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01garbage"))
    tiny_spec(sums, mirrors=[mirror.as_uri() + "/"])
    with pytest.raises(
        DataNotFoundError, match=r"could not download train-labels-idx1-ubyte.gz(.|\n)*SHA-256"
    ):
        load_dataset("tiny")
    cache = isolated / "cache" / "nn-foundations" / "tiny"
    assert "train-labels-idx1-ubyte.gz" not in [p.name for p in cache.iterdir()]
    assert not any(p.name.endswith(".tmp") for p in cache.iterdir())


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        load_dataset("cifar")


@pytest.mark.skipif(
    datasets.find_dataset("mnist") is None, reason="MNIST not found (set NNF_DATA_DIR)"
)
def test_real_mnist_has_the_published_label_counts():
    ds = load_dataset("mnist", download_missing=False)
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_test.shape == (10000, 28, 28)
    assert np.bincount(ds.y_train).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert np.bincount(ds.y_test).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]


def test_every_mirror_is_https():
    from shared.datasets import DATASETS

    for spec in DATASETS.values():
        assert spec.mirrors and all(url.startswith("https://") for url in spec.mirrors), spec.name
