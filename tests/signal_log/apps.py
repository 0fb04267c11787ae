from __future__ import annotations

import json
import os

from django.apps import AppConfig


def _append(name: str, **fields) -> None:
    line = json.dumps({"signal": name, **fields}, default=str) + "\n"
    # One write of a short line to a file opened for appending: whole, across processes.
    with open(os.environ["SIGNAL_LOG"], "a") as out:
        out.write(line)


def on_started(sender, request, session_id, user, **kwargs) -> None:
    _append("session_started", session_id=session_id, user=user, pid=os.getpid())


def on_ended(sender, session_id, user, reason, **kwargs) -> None:
    _append("session_ended", session_id=session_id, user=user, reason=reason, pid=os.getpid())


class SignalLogConfig(AppConfig):
    name = "tests.signal_log"

    def ready(self) -> None:
        from sessionadmin.signals import session_ended, session_started

        session_started.connect(on_started, dispatch_uid="tests.signal_log.started")
        session_ended.connect(on_ended, dispatch_uid="tests.signal_log.ended")
