-- Read the held answers of an interaction without taking them: they stay (with their leased
-- timer) until take_early.lua drops them once every one is handled.
-- KEYS: 1 interaction hash, 2 early answers
-- Returns {exists (0/1), answers...}
local out = {redis.call('EXISTS', KEYS[1])}
for _, answer in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do out[#out + 1] = answer end
return out
