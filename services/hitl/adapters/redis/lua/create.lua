-- Create an interaction if its id is new; a redelivered request changes nothing.
-- KEYS: 1 interaction hash, 2 pending, 3 due, 4 outbox, 5 outbox data, 6 thread index
-- ARGV: 1 id, 2 request json, 3 request digest, 4 requested_at, 5 deadline or '',
--       6 outbox visible-at, 7 thread ttl, 8 n due, then n (score, member),
--       then n outbox (entry id, payload) pairs to the end
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], 'h') == ARGV[3] then return 'duplicate' end
  return 'conflict'
end
redis.call('HSET', KEYS[1], 'req', ARGV[2], 'h', ARGV[3], 'st', 'pending', 'v', 1,
  'ra', ARGV[4], 'dl', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
local n_due = tonumber(ARGV[8])
local i = 9
for _ = 1, n_due do
  redis.call('ZADD', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i < #ARGV do
  redis.call('ZADD', KEYS[4], ARGV[6], ARGV[i])
  redis.call('HSET', KEYS[5], ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('ZADD', KEYS[6], ARGV[4], ARGV[1])
redis.call('EXPIRE', KEYS[6], ARGV[7])
return 'created'
