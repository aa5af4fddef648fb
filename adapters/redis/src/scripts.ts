import { createHash } from 'node:crypto';

/** A Lua script with its SHA1, run with EVALSHA and loaded with EVAL on NOSCRIPT. */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

function script(name: string, body: string): LuaScript {
  const source = `${HELPERS}\n${body}`;
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Shared helpers. Numbers that must survive exactly (epochs, sequences) stay strings from ARGV and are only compared
 * as Lua numbers (exact below 2^53); `%.0f` formats integers without Lua's 14-digit rounding.
 */
const HELPERS = `
local function fmt(n) return string.format('%.0f', n) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function id_ms(id) return tonumber(string.match(id, '^(%d+)-')) end
local function trim_age(stream, meta, cutoff)
  if cutoff <= 0 then return end
  local floor = fmt(cutoff) .. '-0'
  local older = redis.call('XREVRANGE', stream, '(' .. floor, '-', 'COUNT', 1)
  if #older > 0 then
    redis.call('XTRIM', stream, 'MINID', floor)
    redis.call('HSET', meta, 't', older[1][1])
  end
end
local function trim_count(stream, meta, max)
  local len = redis.call('XLEN', stream)
  if len > max then
    local gone = redis.call('XRANGE', stream, '-', '+', 'COUNT', len - max)
    redis.call('XTRIM', stream, 'MAXLEN', max)
    redis.call('HSET', meta, 't', gone[#gone][1])
  end
end
local function id_lt(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
`;

/**
 * Append. KEYS: stream, meta. ARGV: end flag, producer id ('' for none), epoch, seq, maxEvents (0: none),
 * maxAgeMs (0: none), notify channel, notify message, records…
 * Returns {'A', ids…} or {'D', ids…} (a duplicate: the ids stored by that call, when still known). Errors carry the
 * markers DS_ENDED, DS_GAP <expected>, DS_STALE <epoch>. Producer state per producer: "epoch seq recent" where
 * recent is up to 8 "seq:ms:firstSeq:count" (a batch gets consecutive ids in one millisecond, so 4 numbers
 * describe all its ids: the transcription of the core's checkProducer/advanceProducer with PRODUCER_WINDOW = 8).
 */
export const APPEND = script(
  'append',
  `
local stream, meta = KEYS[1], KEYS[2]
if redis.call('HEXISTS', meta, 'e') == 1 then return redis.error_reply('DS_ENDED the session has ended') end
local pid = ARGV[2]
local field
local recent = {}
if pid ~= '' then
  field = 'p:' .. pid
  local epoch, seq = tonumber(ARGV[3]), tonumber(ARGV[4])
  local raw = redis.call('HGET', meta, field)
  local se, ss, rest
  if raw then
    se, ss, rest = string.match(raw, '^(%d+) (%d+) ?(.*)$')
    se, ss = tonumber(se), tonumber(ss)
  end
  if (not raw) or epoch > se then
    if seq ~= 0 then return redis.error_reply('DS_GAP 0') end
  elseif epoch < se then
    return redis.error_reply('DS_STALE ' .. fmt(se))
  else
    for item in string.gmatch(rest, '[^,]+') do recent[#recent + 1] = item end
    if seq <= ss then
      for _, item in ipairs(recent) do
        local rseq, rms, rfirst, rcount = string.match(item, '^(%d+):(%d+):(%d+):(%d+)$')
        if tonumber(rseq) == seq then
          local out = {'D'}
          for i = 0, tonumber(rcount) - 1 do out[#out + 1] = rms .. '-' .. fmt(tonumber(rfirst) + i) end
          return out
        end
      end
      return {'D'}
    elseif seq ~= ss + 1 then
      return redis.error_reply('DS_GAP ' .. fmt(ss + 1))
    end
  end
end
local n = #ARGV - 8
local first = redis.call('XADD', stream, '*', 'd', ARGV[9])
local ms, s0 = string.match(first, '^(%d+)-(%d+)$')
local base = tonumber(s0)
local out = {'A', first}
for i = 2, n do
  local id = ms .. '-' .. fmt(base + i - 1)
  redis.call('XADD', stream, id, 'd', ARGV[8 + i])
  out[i + 1] = id
end
if field then
  recent[#recent + 1] = ARGV[4] .. ':' .. ms .. ':' .. s0 .. ':' .. n
  local from = math.max(1, #recent - 7)
  redis.call('HSET', meta, field, ARGV[3] .. ' ' .. ARGV[4] .. ' ' .. table.concat(recent, ',', from, #recent))
end
if ARGV[1] == '1' then redis.call('HSET', meta, 'e', out[n + 1]) end
local max_events, max_age = tonumber(ARGV[5]), tonumber(ARGV[6])
if max_age > 0 then trim_age(stream, meta, tonumber(ms) - max_age) end
if max_events > 0 then trim_count(stream, meta, max_events) end
if ARGV[7] ~= '' then redis.call('PUBLISH', ARGV[7], ARGV[8]) end
return out
`,
);

/**
 * Read a page. KEYS: stream, meta. ARGV: after id ('' for the start), count, maxAgeMs (0: none).
 * Fails with DS_TRIMMED <watermark> when retention removed entries after \`after\`; otherwise the XRANGE reply.
 */
export const READ = script(
  'read',
  `
local stream, meta = KEYS[1], KEYS[2]
local max_age = tonumber(ARGV[3])
if max_age > 0 then trim_age(stream, meta, now_ms() - max_age) end
local after = ARGV[1]
if after ~= '' then
  local w = redis.call('HGET', meta, 't')
  if w and id_lt(after, w) then return redis.error_reply('DS_TRIMMED ' .. w) end
  return redis.call('XRANGE', stream, '(' .. after, '+', 'COUNT', ARGV[2])
end
return redis.call('XRANGE', stream, '-', '+', 'COUNT', ARGV[2])
`,
);

/** Log info. KEYS: stream, meta. ARGV: maxAgeMs (0: none). Returns {last id or '', ended 0/1, watermark or ''}. */
export const INFO = script(
  'info',
  `
local stream, meta = KEYS[1], KEYS[2]
local max_age = tonumber(ARGV[1])
if max_age > 0 then trim_age(stream, meta, now_ms() - max_age) end
local t = redis.call('HGET', meta, 't') or ''
local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
local last = t
if #newest > 0 then last = newest[1][1] end
return {last, redis.call('HEXISTS', meta, 'e'), t}
`,
);

/** The trim watermarks of several logs (live tails check them when retention is on). KEYS: metas. */
export const WATERMARKS = script(
  'watermarks',
  `
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HGET', key, 't') or '' end
return out
`,
);

/**
 * Presence put. KEYS: hash, expiry zset. ARGV: connectionId, payload, expiresAt, channel, message.
 * Publishes a wake-up only when the payload changed (heartbeats only move the expiry).
 */
export const PRESENCE_PUT = script(
  'presence-put',
  `
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if old ~= ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return 1
`,
);

/** Presence remove. KEYS: hash, expiry zset. ARGV: connectionId, channel, message. */
export const PRESENCE_REMOVE = script(
  'presence-remove',
  `
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if removed > 0 then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return removed
`,
);

/**
 * Presence list. KEYS: hash, expiry zset. ARGV: now (ms). Reaps members whose expiry has passed (the core filters by
 * expiresAt as well; reaping only bounds storage), then returns {connectionId, payload, expiresAt, …}.
 */
export const PRESENCE_LIST = script(
  'presence-list',
  `
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if #gone > 0 then
  redis.call('HDEL', KEYS[1], unpack(gone))
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
end
local members = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #members, 2 do
  local payload = redis.call('HGET', KEYS[1], members[i])
  if payload then
    out[#out + 1] = members[i]
    out[#out + 1] = payload
    out[#out + 1] = members[i + 1]
  end
end
return out
`,
);
