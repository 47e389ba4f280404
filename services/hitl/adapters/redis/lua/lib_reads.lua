-- Shared by create.lua and commit.lua (prepended to them): the read side of a transition,
-- written in the same atomic step as the state. Starting at ARGV[i]:
--   n_zadd, then n key indexes (score ARGV[score], member ARGV[member]),
--   n_zrem, then n key indexes,
--   n_history, then n entries (RPUSHed to KEYS[hist]),
--   n_incr, then n (key index, field, increment; a field decremented to 0 is deleted),
--   n_expire, then n (key index, seconds),
--   the finished index keys to record for trimming ('' while pending)
-- Returns the index after the section.
local function write_reads(i, hist, done_keys, member, score)
  local n = tonumber(ARGV[i]); i = i + 1
  for _ = 1, n do redis.call('ZADD', KEYS[tonumber(ARGV[i])], score, member); i = i + 1 end
  n = tonumber(ARGV[i]); i = i + 1
  for _ = 1, n do redis.call('ZREM', KEYS[tonumber(ARGV[i])], member); i = i + 1 end
  n = tonumber(ARGV[i]); i = i + 1
  if n > 0 then
    redis.call('RPUSH', KEYS[hist], unpack(ARGV, i, i + n - 1))
    i = i + n
  end
  n = tonumber(ARGV[i]); i = i + 1
  for _ = 1, n do
    local key, field, by = KEYS[tonumber(ARGV[i])], ARGV[i + 1], tonumber(ARGV[i + 2])
    -- A running count (pending) that falls to zero goes: its names are open-ended.
    if redis.call('HINCRBY', key, field, by) <= 0 and by < 0 then
      redis.call('HDEL', key, field)
    end
    i = i + 3
  end
  n = tonumber(ARGV[i]); i = i + 1
  for _ = 1, n do redis.call('EXPIRE', KEYS[tonumber(ARGV[i])], ARGV[i + 1]); i = i + 2 end
  if ARGV[i] ~= '' then redis.call('HSET', KEYS[done_keys], member, ARGV[i]) end
  return i + 1
end
