-- KEYS: the attempt's buckets (client IP, account). ARGV: 1 op (hit|refund), 2 attempts
-- allowed per window, 3 window (ms); on a refund, 4 an account to trust the browser for
-- ('' or absent: none) and 5 for how long (s): the last key is then the device's record
-- (auth/trusted.py), set in the same step.
-- hit: if any bucket has used its attempts, count nothing and return {0, ms until the
-- fullest of them resets}; else count the attempt in every bucket and return {1, 0}.
-- Checking and counting in one step is what stops concurrent guesses from all passing a
-- check before any of them is recorded. refund: take back an attempt that succeeded.
local op, limit, window = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if op == 'refund' then
  local buckets = #KEYS
  if (ARGV[4] or '') ~= '' then
    redis.call('SET', KEYS[buckets], ARGV[4], 'EX', ARGV[5])
    buckets = buckets - 1
  end
  for i = 1, buckets do
    if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
  end
  return {1, 0}
end
local wait = 0
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= limit then
    local left = redis.call('PTTL', key)
    if left < 0 then  -- never a bucket without an end
      redis.call('PEXPIRE', key, window)
      left = window
    end
    if left > wait then wait = left end
  end
end
if wait > 0 then return {0, wait} end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, window) end
end
return {1, 0}
