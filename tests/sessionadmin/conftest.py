"""Fixtures of the sessionadmin tests."""

from __future__ import annotations

import pytest

from sessionadmin.signals import session_ended, session_started


@pytest.fixture
def signals():
    """Every session signal sent during the test, as (name, kwargs) in order."""
    sent: list[tuple[str, dict]] = []

    def started(sender, **kwargs):
        sent.append(("started", kwargs))

    def ended(sender, **kwargs):
        sent.append(("ended", kwargs))

    session_started.connect(started, dispatch_uid="tests-signals-started")
    session_ended.connect(ended, dispatch_uid="tests-signals-ended")
    yield sent
    session_started.disconnect(dispatch_uid="tests-signals-started")
    session_ended.disconnect(dispatch_uid="tests-signals-ended")
