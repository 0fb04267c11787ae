"""The index of active sessions in Redis: queries, search, actions (revoke, limit), upkeep."""
