-- The bucket of a shard's users index holding user ``uid`` (keys.users_bucket): the first
-- two hex digits of the SHA-1 of its id, so each of the 256 buckets stays a small listpack.
local function users_key(p, uid)
  return p .. ':users:' .. string.sub(redis.sha1hex(uid), 1, 2)
end
-- Bucket number ``n`` (0 to 255) of the shard's users index, for the walks of them all.
local function users_bucket(p, n)
  return string.format('%s:users:%02x', p, n)
end
-- Dead entries (users with no session scored since ``before``) leave the user's bucket
-- as it is written. A user whose sessions all ended by their timeout leaves as the last
-- of them is reported (events.lua, ``expired``); ``prune`` empties every bucket of them.
local function trim_users(p, uid, before)
  redis.call('ZREMRANGEBYSCORE', users_key(p, uid), '-inf', '(' .. before)
end
