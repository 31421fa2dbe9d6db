"""The starter of a C or C++ exercise (Phase 3): the reference source with the bodies the learner
writes replaced by a call of `not_written`. The reference marks each such body, on lines of their
own inside the function's braces:

    nn_status nn_scale(const nn_matrix *a, double s, nn_matrix *out) {
        /* exercise 3.1: begin nn_scale */
        ...
        /* exercise 3.1: end nn_scale */
    }

(`// exercise 3.3: begin product64` in C++), and the starter cuts between the markers: no parsing
of C. Compiling the learner's file is c_build.py's."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from shared.exercises.catalogue import Exercise, ExerciseError

#: a marker line: "/* exercise 3.1: begin nn_scale */" or "// exercise 3.3: end product64"
_MARKER = re.compile(
    r"^(?P<indent>[ \t]*)(?:/\*|//) exercise (?P<id>[0-9.]+): (?P<edge>begin|end) (?P<name>\w+)"
    r"(?: \*/)?[ \t]*$",
    re.MULTILINE,
)


def marked_bodies(
    source: str, exercise_id: str, where: str = "the source"
) -> dict[str, tuple[int, int, str]]:
    """The bodies `source` marks as exercise `exercise_id`'s: name -> (the offset where its begin
    marker's line starts, the offset just past its end marker's line, the marker's indentation).
    A begin without its end (or the other way round), a body marked twice or markers inside one
    another is an ExerciseError naming the line."""
    bodies: dict[str, tuple[int, int, str]] = {}
    opened = None  # (name, offset, indent) of the begin marker not yet closed
    for m in _MARKER.finditer(source):
        if m["id"] != exercise_id:
            continue
        line = source.count("\n", 0, m.start()) + 1
        if m["edge"] == "begin":
            if opened or m["name"] in bodies:
                raise ExerciseError(
                    f"{where}:{line}: a second begin of {m['name']}"
                    + (f" inside {opened[0]}'s markers" if opened else "")
                )
            opened = (m["name"], m.start(), m["indent"])
        else:
            if not opened or opened[0] != m["name"]:
                raise ExerciseError(f"{where}:{line}: the end of {m['name']} without its begin")
            bodies[m["name"]] = (opened[1], m.end() + 1, opened[2])
            opened = None
    if opened:
        raise ExerciseError(f"{where}: the begin of {opened[0]} without its end")
    return bodies


#: per language: what a body still to write does, defined once at the top of the starter (after
#: the includes), and the statement that replaces each body. C has no exceptions: the function says
#: so on stdout (flushed, so that the line lands beside the failing check it causes, in the C tests
#: and in Python's) and fails with matrix.h's NN_ERR_ARG. C++ raises NotImplementedError in Python.
_NOT_WRITTEN = {
    ".c": (
        "\n#include <stdio.h>\n\n"
        "/* A function still to write says so on stdout and fails with NN_ERR_ARG (delete this\n"
        " * once every body is written). */\n"
        "static nn_status not_written(const char *name) {{\n"
        '    printf("exercise {id}: write %s\\n", name);\n'
        "    fflush(stdout);\n"
        "    return NN_ERR_ARG;\n"
        "}}\n",
        'return not_written("{name}");',
    ),
    # a C file that is a Python extension (Python.h): a function still to write raises in Python
    "capi": (
        "\n/* A function still to write raises NotImplementedError in Python (delete this once every\n"
        " * body is written). It returns NULL as any pointer: PyObject *, PyArrayObject *. */\n"
        "static void *not_written(const char *name) {{\n"
        '    PyErr_Format(PyExc_NotImplementedError, "exercise {id}: write %s", name);\n'
        "    return NULL;\n"
        "}}\n",
        'return not_written("{name}");',
    ),
    ".cpp": (
        "\n// A function still to write raises NotImplementedError in Python (delete this once every\n"
        "// body is written).\n"
        "[[noreturn]] static void not_written(const char *name) {{\n"
        '    PyErr_Format(PyExc_NotImplementedError, "exercise {id}: write %s", name);\n'
        "    throw pybind11::error_already_set();\n"
        "}}\n",
        'not_written("{name}");',
    ),
}


def c_starter(exercise: Exercise, source: str) -> str:
    """The reference C or C++ source with the bodies it marks for `exercise` (which must be
    `exercise.write`) replaced by a call of `not_written` (defined after the includes) and the
    hints as comments; every comment outside the bodies kept."""
    suffix = Path(exercise.reference).suffix
    extension = suffix == ".c" and "#include <Python.h>" in source
    prelude, stub = _NOT_WRITTEN["capi" if extension else suffix]
    bodies = marked_bodies(source, exercise.id, exercise.reference)
    if bodies.keys() != exercise.write:
        raise ExerciseError(
            f"{exercise.reference} marks the bodies of {', '.join(sorted(bodies)) or 'nothing'} "
            f"for exercise {exercise.id}, the catalogue {', '.join(sorted(exercise.write))}"
        )
    text = source
    for name in sorted(bodies, key=lambda f: -bodies[f][0]):  # from the end
        first, last, indent = bodies[name]
        hint = exercise.hints.get(name)
        lines = textwrap.wrap(f"hint: {hint}", 92) if hint else []
        comment = "".join(
            f"{indent}{'/* ' if k == 0 else ' * '}{line}{' */' if k == len(lines) - 1 else ''}\n"
            for k, line in enumerate(lines)
        )
        text = text[:first] + f"{comment}{indent}{stub.format(name=name)}\n" + text[last:]
    includes = list(re.finditer(r"^#include .*\n", text, re.MULTILINE))
    at = includes[-1].end() if includes else 0
    text = text[:at] + prelude.format(id=exercise.id) + text[at:]
    c = "//" if suffix == ".cpp" else " *"
    header = (
        f"{'//' if suffix == '.cpp' else '/*'} Exercise {exercise.id}: {exercise.title}. Fill in every body that calls\n"
        f"{c} not_written; the lesson is {exercise.lesson}. Check your work with\n"
        f"{c}     python -m shared.exercises check {exercise.id}\n"
        f"{c} (phase3_c built with this file in place of {exercise.reference}, and its tests)."
        f"{'' if suffix == '.cpp' else ' */'}\n"
    )
    return header + text
