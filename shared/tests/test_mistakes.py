"""Every typical mistake of shared/exercises/mistakes.py, made in the reference and run through
`check`: the check must fail, and its failures must name the wrong behaviour. The checks of the
C exercises (a rebuild each) and of the GPU ones (numba's simulator) are slow; those stop at the
first failing Python test (`check -x`), whose message must then name the mistake."""

from pathlib import Path

import pytest

from shared.exercises import EXERCISES, check
from shared.exercises.mistakes import MISTAKES, SLOW, failures_text, mutant

CASES = [
    pytest.param(exercise_id, mistake, id=f"{exercise_id}-{mistake.what}",
                 marks=[pytest.mark.slow] if exercise_id in SLOW else [])
    for exercise_id, mistakes in MISTAKES.items()
    for mistake in mistakes
]  # fmt: skip


def test_every_exercise_has_five_mistakes_that_apply():
    assert set(MISTAKES) == set(EXERCISES)
    for exercise_id, mistakes in MISTAKES.items():
        texts = {mutant(exercise_id, m) for m in mistakes}  # (each applies once, or raises)
        assert len(texts) == len(mistakes) >= 5, exercise_id


@pytest.mark.mistakes
@pytest.mark.parametrize("exercise_id,mistake", CASES)
def test_the_check_catches_the_mistake_and_names_it(exercise_id, mistake, tmp_path: Path):
    (tmp_path / EXERCISES[exercise_id].file).write_text(mutant(exercise_id, mistake))
    code, outcomes = check(exercise_id, tmp_path, timeout=120, first_failure=exercise_id in SLOW)
    text = failures_text(exercise_id, outcomes)
    assert code == 1, f"{mistake.what}: every test passes"
    assert mistake.said.lower() in text.lower(), f"{mistake.what}: not named in\n{text[:2000]}"
