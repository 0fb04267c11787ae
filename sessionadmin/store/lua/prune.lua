-- ARGV: prefix, dead before (ms), batch, now (ms), idle timeout (ms). Removes up to
-- ``batch`` entries of ``all`` scored before the cut (ended sessions), reporting the
-- signed-in ones as ended by their timeout (events.lua); a session still there is
-- rescored instead. Returns {how many were examined, ENDED, how many were removed}; the
-- caller repeats while a whole batch was examined.
local p = ARGV[1]
local dead = redis.call('ZRANGEBYSCORE', p .. ':all', '-inf', '(' .. ARGV[2], 'WITHSCORES',
                        'LIMIT', 0, tonumber(ARGV[3]))
local ids = {}
for i = 1, #dead, 2 do
  if not still_live(p, dead[i], dead[i + 1], tonumber(ARGV[4]), tonumber(ARGV[5])) then
    ids[#ids + 1] = dead[i]
    expired(p, dead[i], dead[i + 1])
  end
end
if #ids > 0 then redis.call('ZREM', p .. ':all', unpack(ids)) end
return {#dead / 2, ENDED, #ids}
