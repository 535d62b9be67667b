-- keygate: one request's charges and one-time use, decided together and committed all
-- or nothing (see meter/script.rs for the layout of KEYS and ARGV and of the reply).
--
-- Every number is an integer below 2^53, so Lua's doubles compute exactly; values are
-- written with string.format('%d'), never tostring (which keeps only 14 digits).
local now = tonumber(ARGV[1])
local now_s = tonumber(ARGV[2])
local n = #KEYS - 2
local reply = {0, 0}
local state = {}
local written = {}

-- Decide every charge, each from the state the charges before it on the same counter
-- leave; nothing is written until all of them allow.
for i = 1, n do
  local key = KEYS[i + 2]
  local base = 6 + 3 * (i - 1)
  local kind = ARGV[base + 1]
  local a = tonumber(ARGV[base + 2])
  local b = tonumber(ARGV[base + 3])
  local s = state[key]
  if s == nil then
    -- First charge on this counter: read it, and report what was stored.
    s = {orig = {0, 0, 0}}
    if kind == 'r' then
      local v = redis.call('GET', key)
      if v then
        s.tat = tonumber(v)
        s.orig = {1, s.tat, 0}
      end
    else
      local v = redis.call('HMGET', key, 'e', 'u')
      if v[1] then
        s.e = tonumber(v[1])
        s.u = tonumber(v[2]) or 0
        s.orig = {1, s.e, s.u}
      end
    end
    state[key] = s
  end
  reply[#reply + 1] = s.orig[1]
  reply[#reply + 1] = s.orig[2]
  reply[#reply + 1] = s.orig[3]
  if kind == 'r' then
    -- GCRA: a = T (emission interval, µs), b = L (limit).
    local tat = s.tat or now
    if tat < now then tat = now end
    local new_tat = tat + a
    if new_tat - now > a * b then
      reply[1] = 1
      reply[2] = i - 1
      return reply
    end
    s.tat = new_tat
  else
    -- Fixed window: a = count, b = the end of the period `now` falls in (Unix s).
    local e, u = s.e, s.u
    if not (e and e > now_s) then
      e = b
      u = 0
    end
    if u >= a then
      reply[1] = 1
      reply[2] = i - 1
      return reply
    end
    s.e = e
    s.u = u + 1
  end
  s.kind = kind
end

-- The ledger's epoch, on every call that gets this far, so that after a loss it is
-- written as early as traffic allows: the ledger is complete from then on (a new Redis,
-- or one that lost its data).
local epoch = redis.call('GET', KEYS[1])
if epoch then
  epoch = tonumber(epoch)
else
  redis.call('SET', KEYS[1], ARGV[1])
  epoch = now
end

-- The one-time token: refused if issued before the ledger was complete, or used.
if ARGV[3] == '1' then
  if tonumber(ARGV[4]) < epoch + tonumber(ARGV[6]) then
    reply[1] = 3
    return reply
  end
  if redis.call('EXISTS', KEYS[2]) == 1 then
    reply[1] = 2
    return reply
  end
end

-- Commit: every counter once, with a TTL so idle keys leave memory: the time until the
-- counter is idle (a TAT in the past, a period that ended) plus the skew margin, so an
-- instance whose clock lags still finds it.
local margin = math.floor(tonumber(ARGV[6]) / 1000) + 1
for i = 1, n do
  local key = KEYS[i + 2]
  if not written[key] then
    written[key] = true
    local s = state[key]
    if s.kind == 'r' then
      local ttl = math.floor((s.tat - now) / 1000) + margin
      redis.call('SET', key, string.format('%d', s.tat), 'PX', string.format('%d', ttl))
    else
      local ttl = math.floor((s.e * 1000000 - now) / 1000) + margin
      redis.call('HSET', key, 'e', string.format('%d', s.e), 'u', string.format('%d', s.u))
      redis.call('PEXPIRE', key, string.format('%d', ttl))
    end
  end
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[5])
end
return reply
