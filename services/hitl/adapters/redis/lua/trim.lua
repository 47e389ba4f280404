-- Forget finished interactions past retention from the read indexes: their hash and history
-- have expired by then. The caller read (done.lua's ZRANGEBYSCORE and the done index keys)
-- which members and keys these are; finished interactions never change, so nothing moved.
-- KEYS: 1 done, 2 done index keys, then every index key named below
-- ARGV: pairs of (id, n keys) followed by n key indexes, to the end
local i = 1
while i <= #ARGV do
  local id = ARGV[i]
  local n = tonumber(ARGV[i + 1])
  i = i + 2
  for _ = 1, n do redis.call('ZREM', KEYS[tonumber(ARGV[i])], id); i = i + 1 end
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
end
return 1
