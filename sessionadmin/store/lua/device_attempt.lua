-- KEYS[1] a trusted device's record (its account), KEYS[2] its own attempt count.
-- ARGV: 1 the account the attempt signs in to, 2 attempts allowed per window, 3 window
-- (ms). Returns 1 when the device is trusted for that account and the attempt is counted
-- against the device's own budget (not the account's), 0 when it is not trusted for it,
-- -1 when it has just used up its budget: it loses its trust (the record is deleted) and
-- the attempt is judged as any other.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1], KEYS[2])
  return -1
end
if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return 1
