-- keygate: gives back what take.lua took for a request the credit ledger refused
-- (see meter/script.rs). Never more than it took:
-- - a rate limit is restored to its value before the request only if no other request
--   changed it since (else it keeps the slot: stricter, never more lenient);
-- - a window gets its units back while it is still the same period;
-- - the one-time token's use is deleted.
if ARGV[1] == '1' then
  redis.call('DEL', KEYS[1])
end
for j = 2, #KEYS do
  local key = KEYS[j]
  local base = 1 + 4 * (j - 2)
  local kind = ARGV[base + 1]
  local written = ARGV[base + 2]
  local restore = ARGV[base + 3]
  if kind == 'r' then
    if redis.call('GET', key) == written then
      if restore == '' then
        redis.call('DEL', key)
      else
        redis.call('SET', key, restore, 'PX', ARGV[base + 4])
      end
    end
  else
    local v = redis.call('HMGET', key, 'e', 'u')
    if v[1] == written then
      local u = (tonumber(v[2]) or 0) - tonumber(restore)
      if u < 0 then u = 0 end
      redis.call('HSET', key, 'u', string.format('%d', u))
    end
  end
end
return 1
