"""A receiver of sessionadmin's signals for server processes the tests start: each signal
becomes one JSON line in the file SIGNAL_LOG names (tests/signal_settings.py)."""
