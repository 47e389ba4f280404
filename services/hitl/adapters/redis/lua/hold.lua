-- Hold an answer whose interaction does not exist yet, unless it exists by now (then the
-- caller applies the answer normally). Atomic with create.lua, so no answer falls between.
-- KEYS: 1 interaction hash, 2 early answers, 3 due
-- ARGV: 1 answer payload, 2 give-up time, 3 ttl seconds, 4 due member
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], 'NX', ARGV[2], ARGV[4])
return 1
