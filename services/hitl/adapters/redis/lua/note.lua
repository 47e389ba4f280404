-- Append an entry to an interaction's history if the interaction still exists (an answer
-- that was refused or came late changes nothing else). Beyond ARGV[2] bytes of history no
-- note is added, so a flood of bad answers cannot grow it forever.
-- KEYS: 1 interaction hash, 2 the history list of older versions (history_before)
-- ARGV: 1 entry, 2 most bytes
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local before = history_before(2)
if before and #before >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'hist', before)  -- moved from the list, if it was there
  return 0
end
set_history(before, ARGV[1])
return 1
