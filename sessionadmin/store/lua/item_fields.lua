-- A session's item counts (sessionadmin.items: fields "i:<namespace>:<item>"), appended to
-- ``out`` as field, count, ...: what LOAD returns with the session and TAKE carries over.
local function item_fields(key, out)
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'i:' then
      out[#out + 1] = all[i]
      out[#out + 1] = all[i + 1]
    end
  end
  return out
end
