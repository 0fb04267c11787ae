-- A user agent longer than a listpack value is stored once in the ``:ua`` hash and the
-- session keeps "\1" and 16 hex digits of its SHA-1; the table stops growing at
-- 20,000 agents (later ones are kept inline), so random agents cannot fill Redis.
local function agent_ref(p, ua)
  -- An agent that itself starts with byte 1 always goes through the table, so it can never
  -- be read back as a reference (when the table is full that byte becomes '?').
  local odd = string.byte(ua, 1) == 1
  if #ua <= 40 and not odd then return ua end
  local ref = '\1' .. string.sub(redis.sha1hex(ua), 1, 16)
  local agents = p .. ':ua'
  if redis.call('HEXISTS', agents, ref) == 1 then return ref end
  if redis.call('HLEN', agents) >= 20000 then
    if odd then return '?' .. string.sub(ua, 2) end
    return ua
  end
  redis.call('HSET', agents, ref, ua)
  return ref
end
local function agent(p, ua)
  if ua and string.byte(ua, 1) == 1 then return redis.call('HGET', p .. ':ua', ua) or '' end
  return ua or ''
end
