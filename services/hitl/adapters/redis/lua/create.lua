-- Create an interaction if its id is new; a redelivered request changes nothing. Answers that
-- arrived before the request (held in the early list) are returned to be applied now, after
-- the shard's new sequence number ({'created', seq, answers...}). Its
-- history, read indexes and counters are written in the same step (write_reads).
-- KEYS: 1 interaction hash, 2 pending, 3 due, 4 outbox, 5 outbox data, 6 done, 7 early answers,
--       8 done index keys, 9 the shard's sequence (adapters/redis/integrity.py), then
--       write_reads' keys
-- ARGV: 1 id, 2 request json, 3 request digest, 4 requested_at, 5 mutable state json,
--       6 status, 7 outcome json or '', 8 finished_at or '' (created already finished),
--       9 retention seconds, 10 outbox visible-at, 11 n due, then n (score, member),
--       then n outbox, then n (entry id, payload), then write_reads' section
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], 'h') == ARGV[3] then return {'duplicate'} end
  return {'conflict'}
end
redis.call('HSET', KEYS[1], 'req', ARGV[2], 'h', ARGV[3], 'st', ARGV[6], 'v', 1,
  'ra', ARGV[4], 'ms', ARGV[5])
local i = 12
for _ = 1, tonumber(ARGV[11]) do
  redis.call('ZADD', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('ZADD', KEYS[4], ARGV[10], ARGV[i])
  redis.call('HSET', KEYS[5], ARGV[i], ARGV[i + 1])
  i = i + 2
end
write_reads(i, 10, nil, 8, ARGV[1], ARGV[4])
if ARGV[8] == '' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
else
  redis.call('HSET', KEYS[1], 'out', ARGV[7])
  redis.call('ZADD', KEYS[6], ARGV[8], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[9])
end
-- Held answers stay until the caller has applied them (then take_early.lua drops them); if it
-- dies first, their timer (moved to the outbox take-over time) makes the poller apply them.
local early = redis.call('LRANGE', KEYS[7], 0, -1)
if #early > 0 then
  redis.call('ZADD', KEYS[3], 'XX', ARGV[10], ARGV[1] .. '|early')
end
local out = {'created', redis.call('HINCRBY', KEYS[9], 'n', 1)}
for _, answer in ipairs(early) do out[#out + 1] = answer end
return out
