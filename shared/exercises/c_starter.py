"""The starter of a C or C++ exercise (Phase 3): the reference source with the chosen bodies
replaced by a call of `not_written`, found by a small hand-written lexer (`c_functions`) that
knows enough of C to find bodies and no more. Compiling the learner's file is c_build.py's."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from shared.exercises.catalogue import Exercise, ExerciseError


def c_functions(source: str) -> dict[str, tuple[int, int]]:
    """The functions a C or C++ source defines at file scope (or in a namespace): name -> the
    offsets of the `{` that opens its body and of the `}` that closes it. Comments, strings,
    character literals and preprocessor lines are skipped; enough of C to find bodies, no more."""
    found: dict[str, tuple[int, int]] = {}
    depth, scopes, header_at, i, n = 0, [0], 0, 0, len(source)
    braces: list[int] = []  # open braces inside a body (or a struct) being skipped
    start = None  # the `{` of the function being skipped, and its name
    while i < n:
        c = source[i]
        if source.startswith("//", i) or (
            c == "#" and not source[source.rfind("\n", 0, i) + 1 : i].strip()
        ):
            while (j := source.find("\n", i)) != -1 and source[j - 1] == "\\":  # continued lines
                i = j + 1
            i = n if j == -1 else j
            if not braces:
                header_at = i
            continue
        if source.startswith("/*", i):
            i = source.find("*/", i + 2) % (n + 1) + 2
            continue
        if c in "\"'":
            j = i + 1
            while j < n and source[j] != c:
                j += 2 if source[j] == "\\" else 1
            i = j + 1
            continue
        if c == "{":
            if braces:
                braces.append(i)
            else:
                header = source[header_at:i]
                name = re.search(
                    r"(\w+)\s*\((?:[^()]|\([^()]*\))*\)\s*(?:const\s*)?(?:noexcept\s*)?$", header
                )
                if re.search(r'\bnamespace\b[^;]*$|\bextern\s+"C"\s*$', header):
                    scopes.append(depth := depth + 1)
                    header_at = i + 1
                else:
                    braces.append(i)
                    start = (name.group(1), i) if name and depth == scopes[-1] else None
        elif c == "}":
            if braces:
                braces.pop()
                if not braces:
                    if start:
                        found[start[0]] = (start[1], i)
                    header_at = i + 1
            elif len(scopes) > 1:  # the end of a namespace
                scopes.pop()
                depth -= 1
                header_at = i + 1
        elif c == ";" and not braces:
            header_at = i + 1
        i += 1
    return found


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
    """The reference C or C++ source with the bodies of `exercise.write` replaced by a call of
    `not_written` (defined after the includes) and the hints as comments; every comment outside
    the bodies kept."""
    suffix = Path(exercise.reference).suffix
    extension = suffix == ".c" and "#include <Python.h>" in source
    prelude, stub = _NOT_WRITTEN["capi" if extension else suffix]
    functions = c_functions(source)
    missing = sorted(exercise.write - functions.keys())
    if missing:
        raise ExerciseError(f"{exercise.reference} defines no {', '.join(missing)}")
    text = source
    for name in sorted(exercise.write, key=lambda f: -functions[f][0]):  # from the end
        first, last = functions[name]
        hint = exercise.hints.get(name)
        lines = textwrap.wrap(f"hint: {hint}", 92) if hint else []
        comment = "".join(
            f"    {'/* ' if k == 0 else ' * '}{line}{' */' if k == len(lines) - 1 else ''}\n"
            for k, line in enumerate(lines)
        )
        text = text[: first + 1] + f"\n{comment}    {stub.format(name=name)}\n" + text[last:]
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
