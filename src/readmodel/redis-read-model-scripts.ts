// The Lua scripts of the Redis read model (redis-read-model.ts has the layout of the keys they
// touch). Each write is one script, so a change and its checkpoint are applied atomically.
import { CHECKPOINT_EVENT_KEY, CHECKPOINT_KEY, LOG_ID_KEY } from './read-model-limits.ts';

// Shared by the write scripts. `now` is the injected clock, passed in: an entry whose
// PEXPIRETIME is at or before it counts as gone here exactly as in the memory adapter, even
// while Redis's own clock has not reached it yet (PXAT itself is only garbage collection).
const LUA_LIVE_TYPE = `
local function live_type(k, now)
  local t = redis.call('TYPE', k)['ok']
  if t ~= 'none' then
    local at = redis.call('PEXPIRETIME', k)
    if at >= 0 and at <= now then
      redis.call('DEL', k)
      return 'none'
    end
  end
  return t
end
`;

// KEYS[1] live pointer, KEYS[2] building set.
// ARGV[1] generation key base '<prefix>:{rm}:g', ARGV[2] explicit generation or '' for the
// live one, ARGV[3] now (ms), ARGV[4] expect-at-least position or '', ARGV[5] log identity or
// '', then per event: position (20 digits), the event's reference or '', op count, ops:
//   s key value exp|''   d key   h key exp|'' nfields f v ...   a key member   r key member
// Positions are compared as equal-length digit strings: Lua numbers are doubles and
// positions are u64. The log identity and the reference of the event at the checkpoint are
// kept next to the checkpoint, in the same step. Returns the checkpoint after ('' when none).
export const LUA_APPLY = `${LUA_LIVE_TYPE}
local gen = ARGV[2]
local live = redis.call('GET', KEYS[1]) or '0'
if gen == '' then
  gen = live
elseif gen ~= live and redis.call('SISMEMBER', KEYS[2], gen) == 0 then
  return redis.error_reply('AUTHLOG_GENERATION_GONE generation ' .. gen .. ' is neither live nor being built')
end
local base = ARGV[1] .. gen .. ':'
local cpKey = base .. '${CHECKPOINT_KEY}'
local cp = redis.call('GET', cpKey) or ''
local now = tonumber(ARGV[3])
-- Positions are zero-padded to one width, so they compare as strings; '' (empty) is below all.
if ARGV[4] ~= '' and cp < ARGV[4] then
  return redis.error_reply('AUTHLOG_READ_MODEL_BEHIND ' .. cp)
end
if ARGV[5] ~= '' then
  local logKey = base .. '${LOG_ID_KEY}'
  local stored = redis.call('GET', logKey)
  if stored and stored ~= ARGV[5] then
    return redis.error_reply('AUTHLOG_READ_MODEL_OTHER_LOG ' .. stored)
  end
  if not stored then redis.call('SET', logKey, ARGV[5]) end
end
local lastRef = false
local i = 6
local n = #ARGV
while i <= n do
  local pos = ARGV[i]
  local ref = ARGV[i + 1]
  local nops = tonumber(ARGV[i + 2])
  i = i + 3
  local apply = pos > cp
  for _ = 1, nops do
    local code = ARGV[i]
    local k = base .. ARGV[i + 1]
    if code == 's' then
      if apply then
        local exp = ARGV[i + 3]
        if exp == '' then
          redis.call('SET', k, ARGV[i + 2])
        elseif tonumber(exp) > now then
          redis.call('SET', k, ARGV[i + 2], 'PXAT', exp)
        else
          -- Already expired: skip the write, and drop what it would have replaced.
          redis.call('DEL', k)
        end
      end
      i = i + 4
    elseif code == 'd' then
      if apply then redis.call('DEL', k) end
      i = i + 2
    elseif code == 'h' then
      local exp = ARGV[i + 2]
      local nf = tonumber(ARGV[i + 3])
      if apply then
        if exp ~= '' and tonumber(exp) <= now then
          redis.call('DEL', k)
        else
          local t = live_type(k, now)
          if t ~= 'none' and t ~= 'hash' then redis.call('DEL', k) end
          -- In slices: unpack is limited by Lua's C stack (about 8000 values).
          local first, last = i + 4, i + 3 + 2 * nf
          while first <= last do
            local upto = math.min(first + 999, last)
            redis.call('HSET', k, unpack(ARGV, first, upto))
            first = upto + 1
          end
          if exp ~= '' then redis.call('PEXPIREAT', k, exp) end
        end
      end
      i = i + 4 + 2 * nf
    elseif code == 'a' then
      if apply then
        local t = live_type(k, now)
        if t ~= 'none' and t ~= 'set' then redis.call('DEL', k) end
        redis.call('SADD', k, ARGV[i + 2])
      end
      i = i + 3
    elseif code == 'r' then
      if apply and live_type(k, now) == 'set' then redis.call('SREM', k, ARGV[i + 2]) end
      i = i + 3
    else
      return redis.error_reply('AUTHLOG_BAD_OP ' .. tostring(code))
    end
  end
  if apply then
    redis.call('SET', cpKey, pos)
    cp = pos
    if ref ~= '' then lastRef = ref end
  end
end
if lastRef then
  local refKey = base .. '${CHECKPOINT_EVENT_KEY}'
  -- An entry without an event (the checkpoint moved past streams it does not project) keeps the
  -- last event it did see as its checkpoint event.
  redis.call('SET', refKey, lastRef)
end
return cp
`;

// KEYS[1] live pointer. ARGV[1] generation key base, ARGV[2] explicit generation or '' for the
// live one. Returns {generation, checkpoint, log identity, checkpoint event} ('' for absent:
// a nil would end the Lua array), all read in one step.
export const LUA_PROVENANCE = `
local gen = ARGV[2]
if gen == '' then gen = redis.call('GET', KEYS[1]) or '0' end
local base = ARGV[1] .. gen .. ':'
return {
  gen,
  redis.call('GET', base .. '${CHECKPOINT_KEY}') or '',
  redis.call('GET', base .. '${LOG_ID_KEY}') or '',
  redis.call('GET', base .. '${CHECKPOINT_EVENT_KEY}') or '',
}
`;

// KEYS[1] live pointer. ARGV[1] generation key base, ARGV[2] 'get'|'hgetall'|'smembers'|'cp',
// ARGV[3] key, ARGV[4] now. Resolving the generation here, in the same atomic step as the
// read, is what keeps a query from reading a dropped generation (see `read` below).
export const LUA_READ = `
local gen = redis.call('GET', KEYS[1]) or '0'
local base = ARGV[1] .. gen .. ':'
local op = ARGV[2]
if op == 'cp' then return redis.call('GET', base .. '${CHECKPOINT_KEY}') end
local k = base .. ARGV[3]
local t = redis.call('TYPE', k)['ok']
if t == 'none' then return false end
local at = redis.call('PEXPIRETIME', k)
if at >= 0 and at <= tonumber(ARGV[4]) then return false end
if op == 'get' and t == 'string' then return redis.call('GET', k) end
if op == 'hgetall' and t == 'hash' then return redis.call('HGETALL', k) end
if op == 'smembers' and t == 'set' then return redis.call('SMEMBERS', k) end
return false
`;

// KEYS: data keys of one generation. ARGV[1] now. Returns per key {type, content}, with
// type 'none' for keys gone or expired by the injected clock.
export const LUA_DUMP = `
local now = tonumber(ARGV[1])
local out = {}
for idx, k in ipairs(KEYS) do
  local t = redis.call('TYPE', k)['ok']
  local at = redis.call('PEXPIRETIME', k)
  if t == 'none' or (at >= 0 and at <= now) then
    out[idx] = {'none'}
  elseif t == 'string' then
    out[idx] = {t, redis.call('GET', k)}
  elseif t == 'hash' then
    out[idx] = {t, redis.call('HGETALL', k)}
  elseif t == 'set' then
    out[idx] = {t, redis.call('SMEMBERS', k)}
  else
    out[idx] = {t}
  end
end
return out
`;

// KEYS[1] live pointer, KEYS[2] generation sequence, KEYS[3] building set. The new id is
// above both the sequence and the live id, so it never names the live generation even if
// the sequence key was lost.
export const LUA_OPEN = `
local live = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = redis.call('INCR', KEYS[2])
if n <= live then
  n = live + 1
  redis.call('SET', KEYS[2], n)
end
redis.call('SADD', KEYS[3], n)
return tostring(n)
`;

// KEYS[1] live pointer, KEYS[2] building set. ARGV[1] generation, ARGV[2] the generation that
// must still be live ('' for any). Swaps the pointer and returns the previous live id, which
// the caller then deletes.
export const LUA_ACTIVATE = `
local live = redis.call('GET', KEYS[1]) or '0'
if live == ARGV[1] then return live end
if ARGV[2] ~= '' and live ~= ARGV[2] then
  return redis.error_reply('AUTHLOG_GENERATION_MOVED ' .. live)
end
if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then
  return redis.error_reply('AUTHLOG_GENERATION_GONE generation ' .. ARGV[1] .. ' is not being built (discarded, or Redis was flushed)')
end
redis.call('SET', KEYS[1], ARGV[1])
return live
`;

// KEYS[1] live pointer, KEYS[2] building set. ARGV[1] generation.
export const LUA_DISCARD = `
if (redis.call('GET', KEYS[1]) or '0') == ARGV[1] then
  return redis.error_reply('AUTHLOG_GENERATION_LIVE generation ' .. ARGV[1] .. ' is live and cannot be discarded')
end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
`;

// KEYS[1] bucket. ARGV[1] limit, ARGV[2] window ms, ARGV[3] now (the injected clock), ARGV[4]
// add, ARGV[5] grace ms. The steps of gcra.ts gcraStep, line for line, so both read models decide
// alike; one script, so concurrent callers on any instance cannot both take the last unit. The
// TAT is stored with %.17g, which reads back as the same double. The expiry is relative (PEXPIRE)
// so that it does not depend on the injected clock agreeing with Redis's clock.
// Returns { allowed 0|1, retry-after ms, remaining }.
// The steps of gcra.ts gcraStep as a Lua function, shared by LUA_GCRA and LUA_TAKE_AND_READ.
const LUA_GCRA_FUNCTION = `
local function gcra(key, limit, window, now, add, grace)
  local slack = 1
  local interval = window / limit
  local raw = redis.call('GET', key)
  local stored = raw and tonumber(raw) or nil
  local base = math.max(stored or now, now)
  local function remaining_at(tat)
    return math.max(0, math.floor((window - (tat - now) + slack) / interval))
  end
  local function store(tat)
    redis.call('SET', key, string.format('%.17g', tat), 'PX', math.max(1, math.ceil(tat - now)) + grace)
  end
  if add < 0 then
    local tat = math.max(now, base + add * interval)
    if stored ~= nil then
      if tat > now then store(tat) else redis.call('DEL', key) end
    end
    return {1, 0, remaining_at(tat)}
  end
  local wanted = base + math.max(add, 1) * interval
  local over = wanted - now - window
  if over > slack then return {0, math.ceil(over), remaining_at(base)} end
  if add == 0 then return {1, 0, remaining_at(base)} end
  store(wanted)
  return {1, 0, remaining_at(wanted)}
end
`;

export const LUA_GCRA = `${LUA_GCRA_FUNCTION}
return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
`;

// KEYS[1] live pointer, KEYS[2] rate bucket ('' for no take). ARGV[1] generation key base,
// ARGV[2] now (the injected clock, for expiry), ARGV[3..7] limit, window ms, now, add, grace (the
// take's, as LUA_GCRA), ARGV[8..15] the second take (take-and-read.ts encodeThenTake: mode '' |
// 'key' | 'from', the full key or key prefix, 1-based step, field, limit, window, now, add), then
// per read step (encodeReadSteps): op, key or prefix, from (0: a literal key, else the 1-based
// step whose value completes the key), field. Returns {take {allowed, retry, remaining} or {},
// second take the same or {} when not made, then one value per step: a string, a flat hash, or
// false for absent}. The rate bucket lives outside the {rm} tag: fine on one Redis, which is the
// deployment this adapter supports (a Cluster would need both under one tag).
export const LUA_TAKE_AND_READ = `${LUA_GCRA_FUNCTION}
local gen = redis.call('GET', KEYS[1]) or '0'
local base = ARGV[1] .. gen .. ':'
local now = tonumber(ARGV[2])
local out = {}
if KEYS[2] ~= '' then
  out[1] = gcra(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]))
else
  out[1] = {}
end
local values = {}
local i = 16
local step = 0
local function piece_of(source, field)
  if field == '' then
    if type(source) == 'string' then return source end
  elseif type(source) == 'table' then
    for j = 1, #source, 2 do
      if source[j] == field then return source[j + 1] end
    end
  end
  return false
end
while i <= #ARGV do
  step = step + 1
  local op, part, from, field = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  i = i + 4
  local k = false
  if from == 0 then
    k = part
  else
    local piece = piece_of(values[from], field)
    if piece and piece ~= '' then k = part .. piece end
  end
  local value = false
  if k then
    local full = base .. k
    local t = redis.call('TYPE', full)['ok']
    local at = redis.call('PEXPIRETIME', full)
    if t ~= 'none' and not (at >= 0 and at <= now) then
      if op == 'get' and t == 'string' then value = redis.call('GET', full) end
      if op == 'hgetall' and t == 'hash' then value = redis.call('HGETALL', full) end
    end
  end
  values[step] = value
  out[step + 2] = value
end
out[2] = {}
if ARGV[8] ~= '' and (KEYS[2] == '' or out[1][1] == 1) then
  local k = false
  if ARGV[8] == 'key' then
    k = ARGV[9]
  else
    local piece = piece_of(values[tonumber(ARGV[10])], ARGV[11])
    if piece and piece ~= '' then k = ARGV[9] .. piece end
  end
  if k then out[2] = gcra(k, tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[7])) end
end
return out
`;

export type ScriptArg = string | number;
/** The commands `defineCommand` adds; ioredis cannot type them itself. */
export interface ScriptCommands {
  authlogRmApply(...args: ScriptArg[]): Promise<unknown>;
  authlogRmRead(...args: ScriptArg[]): Promise<unknown>;
  authlogRmProvenance(...args: ScriptArg[]): Promise<unknown>;
  authlogRmDump(...args: ScriptArg[]): Promise<unknown>;
  authlogRmOpen(...args: ScriptArg[]): Promise<unknown>;
  authlogRmActivate(...args: ScriptArg[]): Promise<unknown>;
  authlogRmDiscard(...args: ScriptArg[]): Promise<unknown>;
  authlogRmGcra(...args: ScriptArg[]): Promise<unknown>;
  authlogRmTakeAndRead(...args: ScriptArg[]): Promise<unknown>;
}
