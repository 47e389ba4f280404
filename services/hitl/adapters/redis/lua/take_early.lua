-- Take the held answers of an interaction whose hold ran out, and drop its timer.
-- KEYS: 1 interaction hash, 2 early answers, 3 due
-- ARGV: 1 due member
-- Returns {exists (0/1), answers...}
local answers = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
local out = {redis.call('EXISTS', KEYS[1])}
for _, answer in ipairs(answers) do out[#out + 1] = answer end
return out
