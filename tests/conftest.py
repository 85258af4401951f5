"""Hypothesis profiles: ``quick``, the default suite's example counts, and ``stress``,
five times as many. A property test states its quick count through
:func:`strategies.examples`, which scales it by the loaded profile. ``make test-slow``
runs the property tests again under ``--hypothesis-profile=stress``, and only them:
under that profile the other tests are deselected (the default suite ran them)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("quick", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("stress", settings.get_profile("quick"), max_examples=500)
settings.load_profile("quick")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("hypothesis_profile", None) != "stress":
        return
    keep = [
        item for item in items if getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
    ]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep
