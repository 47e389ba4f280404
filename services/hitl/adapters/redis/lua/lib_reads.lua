-- Shared by create.lua, commit.lua and note.lua (prepended to them).

-- An interaction's history is a field of its hash, 'hist': its items (JSON, hitl.core.audit)
-- joined by commas, so a reader parses '[' .. hist .. ']'. A history that an older version
-- kept in a list of its own (KEYS[legacy]) moves into the field on the next write. Returns
-- the history as it was (false when there was none).
local function history_before(legacy)
  local before = redis.call('HGET', KEYS[1], 'hist')
  if not before then
    local old = redis.call('LRANGE', KEYS[legacy], 0, -1)
    if #old > 0 then
      before = table.concat(old, ',')
      redis.call('DEL', KEYS[legacy])
    end
  end
  return before
end

local function set_history(before, item)
  redis.call('HSET', KEYS[1], 'hist', before and (before .. ',' .. item) or item)
end

-- The read side of a transition, written in the same atomic step as the state
-- (adapters/redis/filing.py builds it). Its keys follow the script's own, from KEYS[k], in the
-- order used here; from ARGV[i]:
--   n_add: the next n keys get (score, member) added,
--   n_remove: the next n keys lose member,
--   the transition's history item ('' when none), appended to the history (KEYS[legacy]:
--     the older list; nil for a new interaction, which has none),
--   n_counters, then when n > 0: the ttl of the next key (the hour's counters) and the n
--     fields it adds 1 to,
--   n_pending, then when n > 0: '1' or '-1' and the n fields of the next key (the running
--     pending counts) it adds that to; a count that falls to zero is deleted,
--   the record of the finished interaction's index keys for trimming ('' while pending).
-- Returns the index after the section.
local function write_reads(i, k, legacy, done_keys, member, score)
  local n = tonumber(ARGV[i])
  for j = k, k + n - 1 do redis.call('ZADD', KEYS[j], score, member) end
  k = k + n
  n = tonumber(ARGV[i + 1])
  for j = k, k + n - 1 do redis.call('ZREM', KEYS[j], member) end
  k = k + n
  if ARGV[i + 2] ~= '' then
    set_history(legacy and history_before(legacy), ARGV[i + 2])
  end
  i = i + 3
  n = tonumber(ARGV[i])
  if n > 0 then
    local key = KEYS[k]
    k = k + 1
    for j = i + 2, i + n + 1 do redis.call('HINCRBY', key, ARGV[j], '1') end
    redis.call('EXPIRE', key, ARGV[i + 1])
    i = i + n + 1
  end
  i = i + 1
  n = tonumber(ARGV[i])
  if n > 0 then
    local key, by = KEYS[k], ARGV[i + 1]
    -- A running count that falls to zero goes: its names are open-ended (responders).
    for j = i + 2, i + n + 1 do
      if redis.call('HINCRBY', key, ARGV[j], by) <= 0 and by == '-1' then
        redis.call('HDEL', key, ARGV[j])
      end
    end
    i = i + n + 1
  end
  i = i + 1
  if ARGV[i] ~= '' then redis.call('HSET', KEYS[done_keys], member, ARGV[i]) end
  return i + 1
end
