"""The booking readers on how real veterans answer (tests/booking/phrasing_{dev,heldout}.yml, scored
by bench/booking_phrasing.py, which also prints the figures).

Dev: every row right except those marked known_gap (each with its reason in the file); a known gap
that starts passing must lose its mark. Dev figure when the floor was fixed: 167/173 = 96.5% (the
6 known gaps), after the reader fixes made from the dev rows.

Held-out: never used to decide a fix. Its floor, HELDOUT_FLOOR = 0.80, was fixed from the dev
figure before the held-out set was first scored: 96.5% less 15 points for phrasings the readers
were not fitted to, rounded down to a multiple of 5%. A failure message gives counts per step
only, never the rows."""
from __future__ import annotations

import pytest

from bench.booking_phrasing import DEV, HELDOUT, STEPS, load_rows, run, tally, throwaway_session

HELDOUT_FLOOR = 0.80


@pytest.fixture(scope="module")
def results():
    with pytest.MonkeyPatch.context() as env, throwaway_session() as session:
        env.setenv("VETBOT_PII_KEY", "test-key")  # phones are sealed on the way
        yield {"dev": run(load_rows(DEV), session), "heldout": run(load_rows(HELDOUT), session)}


def test_sets_cover_every_step_and_do_not_share_sentences():
    dev, heldout = load_rows(DEV), load_rows(HELDOUT)
    assert len(dev) >= 120 and len(heldout) >= 80
    for rows in (dev, heldout):
        assert {r["step"] for r in rows} == set(STEPS)
    assert {r["said"] for r in dev} & {r["said"] for r in heldout} == set()
    assert not any(r.get("known_gap") for r in heldout)


def test_dev_rows_are_all_read_right_but_the_known_gaps(results):
    wrong = [(r.row["step"], r.row["said"], r.row["expect"], r.got)
             for r in results["dev"] if not r.ok and not r.row.get("known_gap")]
    assert wrong == []
    fixed = [r.row["said"] for r in results["dev"] if r.ok and r.row.get("known_gap")]
    assert fixed == [], "read right now: remove their known_gap mark"


def test_heldout_accuracy_is_at_least_the_floor(results):
    counts = tally(results["heldout"])
    right, total = counts["overall"]
    assert right / total >= HELDOUT_FLOOR, {step: f"{r}/{t}" for step, (r, t) in counts.items()}
