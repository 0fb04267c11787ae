"""The index of active sessions in Redis: queries, actions (revoke, limit), upkeep."""
