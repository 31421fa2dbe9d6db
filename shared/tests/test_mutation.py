"""The mutation pass itself (shared/exercises/mutation.py and c_mutation.py): which places of a
small function it changes, what it leaves alone (signatures, annotations, docstrings; C comments,
strings, `->` and templates), that its sample is fixed by the seed, and that every mutant it
makes of the references is a distinct change that compiles. No check runs here: the scores are
measured by `python -m shared.exercises.mutation`."""

import ast

import pytest

from shared.exercises import EXERCISES
from shared.exercises.c_mutation import _sites as c_sites
from shared.exercises.c_mutation import c_mutants, mask
from shared.exercises.equivalent import EQUIVALENT
from shared.exercises.mutation import _sites, all_mutants, main, sample

SMALL = '''
@decorate(3)
def f(x: int = 3, *, y: float = 0.5, z: list[int] = [1]) -> tuple[int, 2]:
    """A docstring of 7 words, and a 1."""
    w: int = x + 1
    def inner(q=4):
        """Inner docstring."""
        return q
    v = lambda r=6: r
    w -= 2
    return w < y and not z
'''


def _kinds(source: str) -> list[tuple[str, str]]:
    function = ast.parse(source).body[0]
    return [(kind, ast.unparse(node)) for node, kind in _sites(function)]


def test_the_body_is_mutated_and_the_signature_annotations_and_docstrings_are_not():
    sites = _kinds(SMALL)
    assert sorted(sites) == sorted([
        ("op", "x + 1"), ("constant", "1"),  # w: int = x + 1 (the annotation left alone)
        ("op", "w -= 2"), ("constant", "2"),
        ("op", "w < y and (not z)"), ("compare", "w < y"), ("unary", "not z"),
        ("drop", "w -= 2"), ("drop", "v = lambda r=6: r"),
    ])  # fmt: skip
    # (3, 0.5 and [1] are defaults, 4 and 6 a nested function's and a lambda's, 2 and 7 sit in
    # annotations and docstrings: none is a site)


def test_the_sample_is_fixed_by_the_seed_and_keeps_the_order():
    every = list(range(50))
    assert sample(every, 10, 3) == sample(every, 10, 3) == sorted(sample(every, 10, 3))
    assert sample(every, 10, 3) != sample(every, 10, 4)
    assert sample(every, 0, 3) == sample(every, 60, 3) == every


C_BODY = """int f(const nn_matrix *a, double *out) {
    /* a - b < c */ const char *s = "x + y";  // z - 1
    if (!a || a->rows <= 2) return -1;
    for (size_t i = 0; i < a->rows; ++i)
        out[i] = a->data[i * a->stride + 1];
    size_t n = a->rows;
    take<double>(a);
    memset(out, 0, n);
    return 0;
}"""


def test_c_sites_skip_comments_strings_arrows_and_templates():
    code = mask(C_BODY)
    assert len(code) == len(C_BODY) and "a - b" not in code and "x + y" not in code
    changes = [(C_BODY[a:b], new) for a, b, new in c_sites(code, 0, len(code))]
    assert changes == [
        ("!", ""), ("||", "&&"), ("<=", "<"), ("2", "1"), ("1", "0"),
        ("0", "1"), ("<", "<="),
        ("out[i] = a->data[i * a->stride + 1];", ";"), ("+", "-"), ("1", "0"),
        ("memset(out, 0, n);", ";"), ("0", "1"), ("0", "1"),
    ]  # fmt: skip
    # (the declaration `size_t n = ...` is never dropped: its name would be undeclared)


# (a few small ones of each kind: the larger references take seconds each)
@pytest.mark.parametrize("exercise_id", ["1.5", "1.6", "3.1", "3.3", "4.3"])
def test_every_mutant_is_a_distinct_change_of_a_written_body(exercise_id):
    every = all_mutants(exercise_id)
    assert every, exercise_id
    assert len({m.source for m in every}) == len(every)
    assert len({(m.function, m.change) for m in every}) == len(every)  # (named apart)
    written = EXERCISES[exercise_id].write
    assert not written or {m.function for m in every} <= written
    if EXERCISES[exercise_id].option:
        assert c_mutants(exercise_id) == every
    else:  # a Python mutant changes no `def` line (its defaults and annotations)
        for m in every:
            assert not m.change.lstrip().startswith("def "), m


def test_every_equivalent_is_a_mutant_the_pass_makes_and_gives_a_reason():
    # (a reference edited under an entry leaves it naming a mutant that no longer exists)
    for exercise_id in sorted({key[0] for key in EQUIVALENT}):
        made = {(m.function, m.change) for m in all_mutants(exercise_id)}
        for (eid, function, change), reason in EQUIVALENT.items():
            if eid == exercise_id:
                assert (function, change) in made, (eid, function, change)
                assert len(reason) > 20, (eid, function, change)


def test_list_prints_the_sample_with_file_line_and_change(capsys):
    assert main(["--list", "--sample", "3", "1.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("1.5: ") and len(lines) == 4
    assert all(
        line.startswith("  phase1_python/layers.py:") and " -> " in line for line in lines[1:]
    )
