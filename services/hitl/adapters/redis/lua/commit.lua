-- Compare-and-set: apply a transition only if the version is the one it was computed from.
-- Its history, read indexes and counters are written in the same step (write_reads).
-- A shard whose Redis may have lost data is fenced (adapters/redis/integrity.py): nothing is
-- decided there until the loss is reconciled, except by the reconciliation itself, whose
-- expected version ends in '!'. Returns the shard's new sequence number, 'stale', 'missing'
-- or 'fenced'.
-- KEYS: 1 interaction hash, 2 pending, 3 due, 4 outbox, 5 outbox data, 6 done, 7 the history
--       list of older versions (history_before), 8 done index keys, 9 the shard's sequence,
--       then write_reads' keys
-- ARGV: 1 expected version (ending in '!': despite a fence), 2 id, 3 finished_at or '' (when
--       the interaction finishes), 4 retention seconds, 5 outbox visible-at, 6 requested_at, 7 n fields, then n
--       (field, value), then n_unschedule, members, then n_schedule, (score, member) pairs,
--       then n outbox, then n (entry id, payload), then write_reads' section
local v, expected = redis.call('HGET', KEYS[1], 'v'), ARGV[1]
if string.byte(expected, -1) == 33 then
  expected = string.sub(expected, 1, -2)
elseif redis.call('HEXISTS', KEYS[9], 'fence') == 1 then
  return 'fenced'
end
if not v then return 'missing' end
if v ~= expected then return 'stale' end
local n = tonumber(ARGV[7])
local i = 8 + 2 * n
redis.call('HSET', KEYS[1], unpack(ARGV, 8, i - 1))
redis.call('HINCRBY', KEYS[1], 'v', 1)
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('ZREM', KEYS[3], ARGV[i]); i = i + 1
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('ZADD', KEYS[3], ARGV[i], ARGV[i + 1]); i = i + 2
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[i])
  redis.call('HSET', KEYS[5], ARGV[i], ARGV[i + 1])
  i = i + 2
end
write_reads(i, 10, 7, 8, ARGV[2], ARGV[6])
if ARGV[3] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('ZADD', KEYS[6], ARGV[3], ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return redis.call('HINCRBY', KEYS[9], 'n', 1)
