"""Sessions on Redis: the engine, its index of active sessions, timeouts and administration."""
