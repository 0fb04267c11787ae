-- ARGV: prefix, index name (all|auth), min score, offset, count. By rank, not by score
-- with LIMIT: a score range with an offset walks every skipped entry (O(offset)), a rank
-- range does not (O(log N + count)). Ended entries have the lowest scores, so they only
-- reach the last pages, where records() drops them.
local p = ARGV[1]
local start = tonumber(ARGV[4])
local ids = redis.call('ZREVRANGE', p .. ':' .. ARGV[2], start, start + tonumber(ARGV[5]) - 1)
return records(p, ids, false)
