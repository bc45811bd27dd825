"""A slice of the honest measurement, in CI: a model fitted without the writer `chloe` reads
every other of chloe's tickets through the real engine and both packs. The bounds guard the
measured figures (docs/triage.md; `python tests/triage/evaluate.py` prints the whole table)
against regressions; they are not the issue's targets, which the full rotation reports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_model import OUT, corpus_digest  # noqa: E402
from corpus import DEV, EXTRA, FRESH, FRESH_HERE, TERSE, URGENT, load_writer  # noqa: E402
from evaluate import PACKS, Tally, fitted, merge, score  # noqa: E402

from tierlift.service.daemon.policies import load_policy  # noqa: E402
from tierlift.service.daemon.triage import shipped_classifier  # noqa: E402
from tierlift.triage.model import load_shipped  # noqa: E402


@pytest.fixture(scope="module")
def unseen() -> dict[str, dict[str, Tally]]:
    train = [i for w in ("ana", DEV, *EXTRA) for i in load_writer(w)]  # neither ben nor chloe: a smaller, faster fit
    classifier = fitted(train, "ci-slice")
    items = load_writer("chloe")[::2]
    assert not {i.text for i in items} & {i.text for i in train}, "a scored ticket was in the training set"
    return {pack: score(load_policy(pack), pack, classifier, items) for pack in PACKS}


def share(tallies: dict[str, Tally], groups: tuple[str, ...], what: str) -> float:
    ts = [tallies[g] for g in groups if g in tallies]
    n = sum(t.n for t in ts)
    return sum(getattr(t, w) for t in ts for w in what.split("+")) / n


def assert_reads(t: dict[str, Tally], pack: str, *, caught: float, outright: float, paged: float,
                 asked: float) -> tuple[str, ...]:
    """Urgent tickets escalated or sent to review at least `caught`, escalated at least
    `outright`, requests for a manager caught at least 90%; near misses escalated at most
    `paged`, sent to review at most `asked`. Returns the pack's urgent categories."""
    urgent = tuple(g for g in URGENT if g in PACKS[pack])
    assert share(t, urgent, "escalated+review") >= caught
    assert share(t, urgent, "escalated") >= outright
    assert share(t, ("manager",), "escalated+review") >= 0.9
    assert share(t, ("near_miss", "refund_small"), "escalated") <= paged
    assert share(t, ("near_miss", "refund_small"), "review") <= asked
    return urgent


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_an_unseen_writers_urgent_tickets_are_caught_and_near_misses_stay_quiet(unseen, pack: str):
    t = unseen[pack]
    urgent = assert_reads(t, pack, caught=0.92, outright=0.78, paged=0.06, asked=0.12)
    # The rules alone were what the issue measured: the model must add, not replace.
    assert share(t, urgent, "escalated") > share(t, urgent, "rules") + 0.3


def _as_shipped(writers: tuple[str, ...]) -> dict[str, dict[str, Tally]]:
    """The writers' tickets (never fitted on, never used to choose a threshold) read by the
    model and the packs exactly as they ship: `evaluate.py --fresh`, the clean measure."""
    classifier = shipped_classifier()
    totals: dict[str, dict[str, Tally]] = {pack: {} for pack in PACKS}
    for writer in writers:
        items = load_writer(writer, FRESH_HERE)
        for pack in PACKS:
            merge(totals[pack], score(load_policy(pack), pack, classifier, items))
    return totals


@pytest.fixture(scope="module")
def fresh() -> dict[str, dict[str, Tally]]:
    return _as_shipped(tuple(w for w in FRESH if w not in TERSE))


@pytest.fixture(scope="module")
def terse() -> dict[str, dict[str, Tally]]:
    return _as_shipped(TERSE)


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_tickets_of_a_few_words_are_caught_though_fewer_escalate_outright(terse, pack: str):
    # The terse fresh writers (finn, gale, hugo, ash, bea): 1 to 14 words. Urgent ones are
    # caught (escalated or asked about) as often as the issue asks (97.9% on both packs): a
    # sure reading of a few words asks a person. Fewer escalate outright: 71.4% / 74.0% of the
    # five together (finn, gale and hugo 76.2% / 78.9%, ash and bea, added with the same
    # model, 64.3% / 66.7%; docs/triage.md). The bound guards that figure against regressions;
    # it is below the 85%, as the note says.
    assert_reads(terse[pack], pack, caught=0.95, outright=0.70, paged=0.02, asked=0.10)


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_the_shipped_model_meets_the_targets_on_writers_it_never_saw(fresh, pack: str):
    # The targets, on every fresh writer but the terse ones together (docs/triage.md
    # has the figures). A refit is decided on the development writers; this tells when one
    # reads worse where it counts.
    t = fresh[pack]
    assert_reads(t, pack, caught=0.95, outright=0.85, paged=0.02, asked=0.10)
    if "churn" in PACKS[pack]:
        assert share(t, ("churn",), "escalated+review") >= 0.85
        assert share(t, ("refund",), "escalated+review") >= 0.95


def test_the_shipped_model_was_fitted_on_the_corpus_as_it_is():
    """A corpus edited without refitting (`python tests/triage/build_model.py`) ships a stale model."""
    model = load_shipped()
    assert OUT.is_file()
    assert model.figures.get("corpus") == corpus_digest(), "refit: python tests/triage/build_model.py"
    assert set(model.classes) >= {"outage", "security", "data_loss", "legal", "gdpr_erasure", "refund", "churn",
                                  "manager", "none"}
