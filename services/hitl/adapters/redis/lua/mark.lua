-- Note that the shard was alive and unfenced at ARGV[1] (seconds): a snapshot restored later
-- says from when the log of published messages must be read again (epoch.lua keeps it).
-- KEYS: 1 the shard's sequence hash
-- ARGV: 1 now
-- Returns 1 when fenced (nothing written), else 0
if redis.call('HEXISTS', KEYS[1], 'fence') == 1 then return 1 end
redis.call('HSET', KEYS[1], 'mark', ARGV[1])
return 0
