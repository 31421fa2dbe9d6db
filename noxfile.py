"""Task runner for nn-foundations: build, test, benchmark and chain the phases.

    nox -l              list the sessions
    nox -s tests        every phase's tests (CUDA kernels in numba's simulator without a GPU)
    nox -s mnist        the main job: train an MLP on MNIST (on the GPU where there is one)

Every session installs the project (built by meson-python) into its own virtualenv and tests or
runs the *installed* package. Data sets are found through NNF_DATA_DIR (see shared/datasets.py);
when it is unset and a `../shared/data` folder sits beside the checkout, that folder is used.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

nox.needs_version = ">=2024.10.9"
nox.options.sessions = ["lint", "tests"]  # what a bare `nox` runs: quick and hardware-free
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).resolve().parent
PACKAGES = [
    "shared",
    "phase1_python",
    "phase3_c",
    "phase4_cuda",
    "phase5_training",
    "phase6_report",
]
RESULTS = ROOT / "results"


def _pick_python() -> str:
    """Python 3.12+ where the machine has one: `math.sumprod` (3.12) makes Phase 1's product about
    twice as fast, and the GPU machine runs 3.12. Otherwise the interpreter running nox.
    NNF_PYTHON overrides the choice."""
    if os.environ.get("NNF_PYTHON"):
        return os.environ["NNF_PYTHON"]
    candidates: list[str | None] = []
    for version in ("3.12", "3.13"):
        candidates.append(shutil.which(f"python{version}"))
        # pyenv installs versions it does not put on PATH: its shims then refuse to run them.
        pattern = os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")
        candidates += sorted(glob.glob(pattern), reverse=True)
    for candidate in filter(None, candidates):
        probe = [candidate, "-c", "import math, venv, ensurepip; math.sumprod"]
        if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
            return candidate
    return sys.executable


PYTHON = _pick_python()


def _env(**extra: str) -> dict[str, str]:
    env = {}
    shared_data = ROOT.parent / "shared" / "data"
    if "NNF_DATA_DIR" not in os.environ and (shared_data / "mnist").is_dir():
        env["NNF_DATA_DIR"] = str(shared_data)
    env.update(extra)
    return env


def _install(session: nox.Session, extras: str = "test") -> None:
    """Build the project with meson-python and install it, with `extras`, into the session.

    NNF_EXTRA_SITE_PACKAGES (a site-packages folder) is added to the session's path through a .pth
    file, after the session's own packages: on a GPU machine whose CUDA-enabled numba-cuda lives in another
    environment, the session then uses it, while its own pinned numpy still wins (a virtualenv
    made with --system-site-packages would not see a site-packages that is itself a venv's).
    """
    extra = os.environ.get("NNF_EXTRA_SITE_PACKAGES")
    if extra:
        code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        purelib = session.run("python", "-c", code, silent=True).strip()
        # addsitedir, not a bare path: that folder's own .pth files must run too (numba-cuda
        # installs `numba.cuda` through one; without it numba's legacy CUDA module is imported).
        line = f"import site; site.addsitedir({extra!r})\n"
        Path(purelib, "nn-foundations-extra-site.pth").write_text(line)
    session.install(f".[{extras}]")


def _has_gpu(session: nox.Session) -> bool:
    code = "from numba import cuda; print('GPU', cuda.is_available())"
    out = session.run("python", "-c", code, silent=True, env={"NUMBA_ENABLE_CUDASIM": "0"})
    return "GPU True" in (out or "")


def _describe(session: nox.Session) -> bool:
    """Print what the results depend on (Python, NumPy, numba, the GPU); return whether a GPU is there."""
    session.run(
        "python", "-c",
        "import sys, numpy; print('Python', sys.version.split()[0], '| NumPy', numpy.__version__, end='');"
        "import importlib.util as u; print(' | numba', __import__('numba').__version__ if u.find_spec('numba') else '-')",
    )  # fmt: skip
    gpu = _has_gpu(session)
    session.log("CUDA GPU: " + ("yes" if gpu else "none (CUDA kernels run in numba's simulator)"))
    return gpu


def _pytest(session: nox.Session, gpu: bool, *paths: str) -> None:
    """pytest -n auto over `paths`, one BLAS/OpenMP thread per worker (2 workers on 2 cores would
    otherwise fight over the cores), CUDA kernels in the simulator when there is no GPU."""
    env = _env(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    if not gpu:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    # `python -P -m pytest`: the session's own interpreter, without the checkout on sys.path
    # (pytest may come from NNF_EXTRA_SITE_PACKAGES, with no script in the session's bin/).
    session.run("python", "-P", "-m", "pytest", "-n", "auto", *paths, env=env)


def _module(session: nox.Session, module: str, *args: str) -> None:
    # -P: keep the checkout off sys.path so the installed package (with its compiled parts) runs.
    session.run("python", "-P", "-m", module, *args, env=_env())


def _tested_packages() -> list[str]:
    return [p for p in PACKAGES if (ROOT / p / "tests").is_dir()]


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Every phase's tests, in parallel (CUDA kernels in numba's simulator when there is no GPU;
    Phase 6's browser test where Chromium is installed)."""
    _install(session, "test,plot")
    gpu = _describe(session)
    _pytest(session, gpu, *(session.posargs or _tested_packages()))


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting check."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON, default=False)
def phase1(session: nox.Session) -> None:
    """Phase 1 (pure Python): its tests, the XOR example, the benchmark table (args after -- go to
    the benchmark, e.g. `nox -s phase1 -- --large`)."""
    _install(session)
    gpu = _describe(session)
    _pytest(session, gpu, "shared", "phase1_python")
    _module(session, "phase1_python.examples.xor")
    _bench_phase1(session, *session.posargs)


def _bench_phase1(session: nox.Session, *args: str) -> None:
    _module(
        session, "phase1_python.benchmark", "--json", str(RESULTS / "phase1_matmul.json"), *args
    )


@nox.session(python=PYTHON, default=False)
def phase3(session: nox.Session) -> None:
    """Phase 3 (C library): C tests (plain, under ASan+UBSan, under valgrind where installed),
    Python tests over every binding, the benchmark (args after -- go to it, e.g. -- --large)."""
    session.install(
        "meson>=1.3", "ninja", "numpy>=1.26,<2.5", "pybind11>=2.12"
    )  # meson setup configures every phase
    builds = ROOT / "build" / "phase3"
    sanitizers = [
        "-Db_sanitize=address,undefined",
        "-Db_lundef=false",
        "-Dbuildtype=debugoptimized",
    ]
    for name, options in (("plain", []), ("sanitized", sanitizers)):
        build = builds / name
        wipe = ["--wipe"] if (build / "build.ninja").exists() else []
        session.run("meson", "setup", *wipe, str(build), *options, silent=True)
        session.run("meson", "test", "-C", str(build), "--print-errorlogs")
    if shutil.which("valgrind"):
        # definite leaks only: OpenMP's thread pool lives until exit on purpose
        wrap = "valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite"
        session.run(
            "meson", "test", "-C", str(builds / "plain"), "--wrap", wrap, "--print-errorlogs"
        )
    else:
        session.log("valgrind not installed: skipping the valgrind run of the C tests")
    _install(session)
    _pytest(session, _describe(session), "phase3_c")
    _module(
        session,
        "phase3_c.benchmark",
        "--json",
        str(RESULTS / "phase3_matmul.json"),
        *session.posargs,
    )


@nox.session(python=PYTHON, default=False)
def phase4(session: nox.Session) -> None:
    """Phase 4 (CUDA kernels in numba): tests (in the simulator without a GPU); on a GPU also the
    kernel check and the benchmark (args after -- go to it, e.g. `-- --autotune`)."""
    _install(session)
    gpu = _describe(session)
    _pytest(session, gpu, "phase4_cuda")
    if not gpu:
        session.log(
            "no CUDA GPU here: the tests ran in numba's simulator; the benchmark needs a GPU"
        )
        return
    _module(session, "phase4_cuda")
    _bench_phase4(session, *session.posargs)


def _bench_phase4(session: nox.Session, *args: str) -> None:
    _module(session, "phase4_cuda.benchmark", "--json", str(RESULTS / "phase4_matmul.json"), *args)


@nox.session(python=PYTHON, default=False)
def mnist(session: nox.Session) -> None:
    """The main job: train the 784-512-256-10 MLP on MNIST, on the GPU with Phase 4's kernels
    where there is one, else on the CPU with Phase 3's C library; artefacts in results/mnist
    (args after -- go to `python -m phase5_training`)."""
    _install(session)
    _describe(session)
    _module(
        session,
        "phase5_training",
        "--device",
        "auto",
        "--out",
        str(RESULTS / "mnist"),
        *session.posargs,
    )


@nox.session(python=PYTHON, default=False)
def mnist_gpu(session: nox.Session) -> None:
    """Chain the phases into the MNIST run on the GPU: Phase 4's kernel check on the GPU, then
    training with the project's own kernels; fails clearly on a machine without a GPU."""
    _install(session)
    if not _describe(session):
        session.error(
            "no CUDA GPU found (numba.cuda.is_available() is False); `nox -s mnist` runs on the CPU"
        )
    _module(session, "phase4_cuda")
    _module(
        session,
        "phase5_training",
        "--device",
        "gpu",
        "--out",
        str(RESULTS / "mnist_gpu"),
        *session.posargs,
    )


@nox.session(python=PYTHON, default=False)
def report(session: nox.Session) -> None:
    """Phase 6: every figure the results allow (run `nox -s mnist` first, and any benchmarks), as
    PNGs and one self-contained HTML page in results/report, then a screenshot of the page in
    headless Chromium where it is installed; prints the page's path."""
    _install(session, "plot")
    out = RESULTS / "report"
    folders = [RESULTS, ROOT / "phase4_cuda" / "results", ROOT / "phase5_training" / "results"]
    _module(
        session, "phase6_report", "--results", *map(str, folders), "--out", str(out),
        *session.posargs,
    )  # fmt: skip
    _module(session, "phase6_report.browser", str(out / "index.html"), str(out / "screenshot.png"))


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Every built phase's benchmark, each written as JSON under results/ and printed as a table
    (the GPU ones only where there is a GPU)."""
    _install(session)
    gpu = _describe(session)
    _bench_phase1(session)
    _module(session, "phase3_c.benchmark", "--json", str(RESULTS / "phase3_matmul.json"))
    if gpu:
        _bench_phase4(session)
    else:
        session.log("no CUDA GPU: Phase 4's benchmark skipped")
