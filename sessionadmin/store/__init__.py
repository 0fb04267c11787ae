"""The Redis layer: connection and errors, key names, Lua scripts, the payload codec."""
