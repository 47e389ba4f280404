-- A connection's first word with a Redis process, per shard, before any transition on it:
-- the first connection of any broker to see a new Redis process (another run_id: a restart,
-- a failover, a restore) records how far the shard's sequence came back ('loaded') and when
-- the shard was last marked alive before ('since'), and fences the shard, so nothing is
-- decided there until the broker that records it has reconciled the store with the log of
-- what was published (broker/integrity.py). A Redis that came back empty records n = 0.
-- KEYS: 1 the shard's sequence hash
-- ARGV: 1 the Redis run_id, 2 why it is fenced
-- Returns {n, loaded, first (1 when this call recorded the new run), since or '', fenced 0/1}
local h = KEYS[1]
local n = tonumber(redis.call('HGET', h, 'n') or '0')
if redis.call('HGET', h, 'run') ~= ARGV[1] then
  local since = redis.call('HGET', h, 'mark') or ''
  redis.call('HSET', h, 'n', n, 'run', ARGV[1], 'loaded', n, 'since', since, 'fence', ARGV[2])
  return {n, n, 1, since, 1}
end
return {n, tonumber(redis.call('HGET', h, 'loaded') or '0'), 0,
  redis.call('HGET', h, 'since') or '', redis.call('HEXISTS', h, 'fence')}
