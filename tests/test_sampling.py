"""Comb sampling and recommendations (docs/solvers.md §4; Gan et al. 2020, §5.1)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sim.errors import InvalidParameterError
from sim.sampling import Recommendation, comb_support

from strategies import examples


@st.composite
def coverages(draw):
    m = draw(st.integers(1, 10))
    raw = draw(
        st.lists(
            st.one_of(st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.floats(0, 1)),
            min_size=m,
            max_size=m,
        )
    )
    c = np.array(raw)
    budget = draw(st.integers(int(np.ceil(c.sum() - 1e-12)), m + 1))
    return c, budget


@given(coverages())
@example((np.array([1e-7, 1.0, 1.0]), 3))
@settings(max_examples=examples(300), deadline=None)
def test_marginals_are_exact_and_support_is_small(case):
    c, budget = case
    support = comb_support(c, budget)
    np.testing.assert_allclose(support.marginals(), c, atol=1e-12)
    assert support.probabilities.sum() == pytest.approx(1.0)
    assert support.probabilities.size <= c.size + 1
    assert np.all(support.covered.sum(axis=1) <= budget)


@st.composite
def recommendations(draw):
    c, _ = draw(coverages())
    n = draw(st.integers(1, 4))
    resources = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    total = sum(resources)
    if c.sum() > total:
        c = c * (total / c.sum()) if c.sum() > 0 else c
    return c, resources


@given(recommendations())
@example((np.array([1e-7, 1.0, 1.0]), [2, 1]))  # cumulative sums agree to an ulp
@settings(max_examples=examples(300), deadline=None)
def test_recommendation_realises_coverage_within_each_budget(case):
    c, resources = case
    rec = Recommendation.from_coverage(c, resources)
    np.testing.assert_allclose(rec.coverage(), c, atol=1e-9)
    per_strategy = rec.assignments.sum(axis=2)  # (s, n) targets each defender guards
    assert np.all(per_strategy <= np.asarray(resources))
    assert np.all(rec.assignments.sum(axis=1) <= 1)  # no target guarded twice
    np.testing.assert_allclose(rec.defender_coverage().sum(axis=0), c, atol=1e-9)


def test_sampling_frequencies_match_probabilities():
    rec = Recommendation.from_coverage([0.3, 0.9, 0.8], [1, 1])
    rng = np.random.default_rng(7)
    draws = np.bincount([rec.sample_index(rng) for _ in range(20000)], minlength=rec.n_strategies)
    np.testing.assert_allclose(draws / draws.sum(), rec.probabilities, atol=0.015)
    support = comb_support([0.3, 0.9, 0.8], 2)
    hits = np.mean([support.covered[support.sample_index(rng)] for _ in range(20000)], axis=0)
    np.testing.assert_allclose(hits, [0.3, 0.9, 0.8], atol=0.015)


def test_ownership_uses_consecutive_teeth():
    rec = Recommendation.from_coverage([1.0, 1.0, 1.0], [2, 1])
    assert rec.n_strategies == 1
    assert rec.assignments[0].astype(int).tolist() == [[1, 1, 0], [0, 0, 1]]
    assert rec.to_dict()["assignments"] == [[[0, 1], [2]]]


@pytest.mark.parametrize(
    ("coverage", "budget", "match"),
    [
        ([0.5, 1.2], 2, r"coverage must lie in \[0, 1\]"),
        ([0.9, 0.9], 1, "coverage must sum to at most the budget 1"),
        ([0.5], -1, "budget must be an int >= 0"),
        ([np.nan], 1, "finite"),
    ],
)
def test_invalid_coverage(coverage, budget, match):
    with pytest.raises(InvalidParameterError, match=match):
        comb_support(coverage, budget)
