-- Claim due members of a sorted set for a lease: whoever claims a member owns it until the
-- lease ends; if it dies, the member falls due again. With KEYS[2], return each member's
-- value from that hash too, and drop members whose value is gone.
-- KEYS: 1 zset, 2 optional data hash
-- ARGV: 1 now, 2 lease until, 3 limit
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local out = {}
for _, member in ipairs(due) do
  if KEYS[2] then
    local value = redis.call('HGET', KEYS[2], member)
    if value then
      redis.call('ZADD', KEYS[1], 'XX', ARGV[2], member)
      out[#out + 1] = member
      out[#out + 1] = value
    else
      redis.call('ZREM', KEYS[1], member)
    end
  else
    redis.call('ZADD', KEYS[1], 'XX', ARGV[2], member)
    out[#out + 1] = member
  end
end
return out
