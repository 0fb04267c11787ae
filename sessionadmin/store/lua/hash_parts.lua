-- One read of a session's whole hash: its fields by name, and its item counts
-- (sessionadmin.items: fields "i:<namespace>:<item>") appended to ``items`` as field,
-- count, ...: what LOAD returns with the session and TAKE carries to another shard.
local function hash_parts(key, items)
  local fields = {}
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'i:' then
      items[#items + 1] = all[i]
      items[#items + 1] = all[i + 1]
    else
      fields[all[i]] = all[i + 1]
    end
  end
  return fields, items
end
