-- Shared helpers, prepended to the scripts that need them.
local function unindex(p, sid, uid)
  redis.call('ZREM', p .. ':guests', sid)
  redis.call('ZREM', p .. ':auth', sid)
  if uid and uid ~= '' then
    local uk = p .. ':u:' .. uid
    redis.call('ZREM', uk, sid)
    if redis.call('ZCARD', uk) == 0 then redis.call('ZREM', users_key(p, uid), uid) end
  end
end
