"""Do it yourself: each exercise of the course as a starter file to fill in, checked by the same
tests the project's reference passes.

    python -m shared.exercises list                 every exercise, and which you have started
    python -m shared.exercises start 1.1            write workspace/ex1_1_matrix.py, the starter
    python -m shared.exercises check 1.1            run the reference's tests against your file

A starter is the reference module itself with the bodies taken out: the imports, constants,
classes, signatures and docstrings stay, and each function or method you are to write raises
NotImplementedError, with the hints a teacher would give as comments. It is made from the
reference's source when you ask for it, so it always matches the tests. Your file lives in a
workspace folder outside the packages (`workspace/` by default, `--workspace DIR` to choose);
`start` never overwrites it.

`check` runs the reference's own tests (unchanged) with your file standing in for the reference
module: `shared.exercise_plugin` loads it under the reference's name before the tests are
collected, and whatever the tests reach of that module is yours: a function your file does not
define fails where it is used ("exercise 1.1: write Matrix (your file does not define it)"),
it never falls through to the reference. It prints which tests fail, each with its whole error
and a hint (`check -v`: pytest's own report too). Your file is first imported in a process of
its own: one that does not compile, does not import, exits or loops when imported is named in
one line. Each test may run `--timeout` seconds (default 180; the longest test of a reference
takes about 26 s): past it, the check stops and names the test and where your file was running.

The C and C++ exercises (3.1 src/matrix.c, 3.3 src/pybind_module.cpp, 3.4 src/capi_module.c) go
through the same meson build as the package. Their starter is the reference source with the
bodies it marks (`/* exercise 3.1: begin nn_scale */` ... `/* exercise 3.1: end nn_scale */`)
replaced by a call of `not_written("nn_scale")`, defined at the top: in the C library it prints
"exercise 3.1: write nn_scale" on stdout and returns NN_ERR_ARG (C has no exceptions; the line
lands beside the failing check it causes), in C++ and in a C extension module (one that
includes Python.h) it raises NotImplementedError in Python. `check` keeps one meson build of the
whole project per exercise in build/exercise-ID (configured once, with the option of
meson.options that names the file to build in place of the reference's; the package's own build
leaves it empty). The learner's file is copied into that folder behind a #line directive, so the
compiler's messages name the learner's file; ninja then recompiles only what changed, and a file
that does not compile is the compiler's first error in one line. The C test programs of the
exercise run from that build (one outcome per test function, naming the functions still to write
that printed before its failed checks); the Python tests run against a copy of the package with
the modules just compiled, which the plugin imports ahead of the installed one. A lock on the
build folder makes concurrent checks of one exercise take turns.

The package, one concern a module:
    catalogue.py        every exercise (`Exercise`, `EXERCISES`) with its hints; `repository_root`
    python_starter.py   the starter of a Python exercise
    c_starter.py        the starter of a C or C++ exercise, cut between the markers of its bodies
    runner.py           `start` and `check`
    c_build.py          the meson build and the C test programs of the C and C++ exercises
    cli.py              the command line (`__main__.py` runs it)
    mistakes.py         typical learner mistakes per exercise, which every check must fail and
                        name (`python -m shared.exercises.mistakes [ID ...]`)
    mutation.py         automatic mutants of the bodies to write, and the share each
                        exercise's check kills (`python -m shared.exercises.mutation [ID ...]`)
    c_mutation.py       the mutants of the C and C++ bodies, for mutation.py
    equivalent.py       the surviving mutants judged equivalent, each with the reason
"""

from shared.exercises.catalogue import EXERCISES, Exercise, ExerciseError, repository_root
from shared.exercises.cli import main
from shared.exercises.python_starter import starter
from shared.exercises.runner import check, start

__all__ = [
    "EXERCISES",
    "Exercise",
    "ExerciseError",
    "check",
    "main",
    "repository_root",
    "start",
    "starter",
]
