-- ARGV: prefix, index name (all|auth), min score, offset, count. By rank, not by score
-- with LIMIT: a score range with an offset walks every skipped entry (O(offset)), a rank
-- range does not (O(log N + count)). Entries older than the idle window (ended) are not
-- listed, and nothing is removed while paging, so the next page's ranks do not shift.
local p, since = ARGV[1], tonumber(ARGV[3])
local start = tonumber(ARGV[4])
local found = redis.call('ZREVRANGE', p .. ':' .. ARGV[2], start,
                         start + tonumber(ARGV[5]) - 1, 'WITHSCORES')
local ids = {}
for i = 1, #found, 2 do
  if tonumber(found[i + 1]) < since then break end
  ids[#ids + 1] = found[i]
end
return records(p, ids, false, true)
