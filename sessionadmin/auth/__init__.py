"""Authentication: the cached user, login limits, and what user changes do to sessions."""
