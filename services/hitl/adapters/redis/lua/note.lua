-- Append an entry to an interaction's history if the interaction still exists (an answer
-- that was refused or came late changes nothing else). The history keeps at most ARGV[2]
-- such entries beyond its transitions, so a flood of bad answers cannot grow it forever.
-- KEYS: 1 interaction hash, 2 history
-- ARGV: 1 entry, 2 most entries
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[2]) then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1
