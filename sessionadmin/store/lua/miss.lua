-- KEYS[1] session hash (then the shard's keys). ARGV: sid, prefix.
-- Run after a read found no session under this id (backends/reading.py). Deletes what
-- the read's HINCRBY made of the key (a hash without ``a``: no session is one), never a
-- session written since, and returns the id's ``auth`` index score, the tombstone that
-- tells which timeout ended it ('' when there is none).
if redis.call('HEXISTS', KEYS[1], 'a') == 0 then redis.call('DEL', KEYS[1]) end
return redis.call('ZSCORE', ARGV[2] .. ':auth', ARGV[1]) or ''
