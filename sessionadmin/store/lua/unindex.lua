-- Shared helpers, prepended to the scripts that need them.
local function unindex(p, sid, uid)
  redis.call('ZREM', p .. ':guests', sid)
  redis.call('ZREM', p .. ':auth', sid)
  if uid and uid ~= '' and user_remove(p, uid, sid) then
    redis.call('ZREM', users_key(p, uid), uid)
  end
end
