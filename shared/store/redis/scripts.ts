/**
 * The Lua scripts: every multi-key change is one script, so it is atomic. Instants always come in as
 * arguments (never `TIME`): every replica and every test judges time the same way.
 */

/** Compare-and-set of a `{ r: revision, d: data }` hash; an empty `d` deletes it. */
export const CAS_DOC = `
local rev = redis.call('HGET', KEYS[1], 'r') or '0'
if rev ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('HSET', KEYS[1], 'r', tonumber(rev) + 1, 'd', ARGV[2]) end
return 1`;

/**
 * A person's state write: compare-and-set, the indexes, the next transition in the due set, and (when
 * ARGV[7] is set) the change-feed entry, all in one step. A refused write answers what is there now
 * ({ revision, data }), so the writer can try again without reading first.
 * KEYS: state, statesOf, tenants, due, feed, feedSeq, epoch
 * ARGV: expected rev, data ('' removes), version, tenant, person, wakeAt ('' none), event ('' none,
 *       '-' removal, else the presence JSON), feed length, new rev (also the epoch candidate), due member,
 *       cause ('' a new state, else `FeedEvent.cause`, or `copies`: an entry only replicas' copies follow)
 * The person's index entries (statesOf, tenants) are added only when the hash is created: a hash never
 * exists without them (this script and RESTORE_STATE add both; a removal or a lost dataset drops both).
 * The epoch is read, and set only when absent (a new dataset: Redis lost its data). With the two SADDs,
 * the SET NX on every write was a third of the script's commands and about a tenth of its Redis time.
 * Revisions are tokens unique per write (never a counter a removal or a lost dataset would start again),
 * so a replica writing from an old copy of the state can never match a newer one by chance. The feed
 * entry (laid out as `feed-entry.ts` reads it) carries the new revision and data, so the other
 * replicas' copies follow. A cause goes in a field of its own after it, which replicas of earlier
 * versions (reading only the first field) pass over.
 */
export const WRITE_STATE = `
local rev = redis.call('HGET', KEYS[1], 'r') or '0'
if rev ~= ARGV[1] then return {rev, redis.call('HGET', KEYS[1], 'd') or ''} end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[5])
  redis.call('ZREM', KEYS[4], ARGV[10])
else
  redis.call('HSET', KEYS[1], 'r', ARGV[9], 'v', ARGV[3], 'd', ARGV[2])
  if rev == '0' then
    redis.call('SADD', KEYS[2], ARGV[5])
    redis.call('SADD', KEYS[3], ARGV[4])
  end
  if ARGV[6] == '' then redis.call('ZREM', KEYS[4], ARGV[10]) else redis.call('ZADD', KEYS[4], ARGV[6], ARGV[10]) end
end
if ARGV[7] == '' then return '' end
local epoch = redis.call('GET', KEYS[7])
if not epoch then
  epoch = ARGV[9]
  redis.call('SET', KEYS[7], epoch)
end
local seq = redis.call('INCR', KEYS[6])
local x
if ARGV[7] == '-' then x = epoch .. '\\n' .. ARGV[4] .. '\\n' .. ARGV[5]
else x = epoch .. '\\n' .. ARGV[4] .. '\\n' .. ARGV[5] .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[9] .. '\\n' .. ARGV[7] .. '\\n' .. ARGV[2] end
if ARGV[11] == '' then redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[8], seq .. '-0', 'x', x)
else redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[8], seq .. '-0', 'x', x, 'c', ARGV[11]) end
return epoch .. '-' .. seq`;

/**
 * Names the dataset anew when it went back in time under its old name (an AOF that lost its last
 * second, a failover to a replica that lagged): the feed's sequence counts again from where the copy
 * stopped, so ids already handed out would name other changes. Only if the name is still `ARGV[1]`
 * (the first replica to notice renames it; the others adopt its name), and the feed goes with the old
 * name, so every entry of the stream carries the name it is read under.
 * KEYS: epoch, feed. ARGV: old name, new name. Answers the name now.
 */
export const RENAME_DATASET = `
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return epoch end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return ARGV[2]`;

/**
 * Puts back a person's state a replica still holds after Redis lost it, unless Redis already has the
 * same or a newer version. KEYS: state, statesOf, tenants. ARGV: data, version, tenant, person, new rev.
 */
export const RESTORE_STATE = `
local v = redis.call('HGET', KEYS[1], 'v')
if v and tonumber(v) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'r', ARGV[5], 'v', ARGV[2], 'd', ARGV[1])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[3])
return 1`;

/**
 * Hash-field writes applied only if every checked field still holds what was read (optimistic
 * concurrency for directory batches). ARGV[1]: { c: [[key, field, expected ('' absent)]],
 * d: [[key, field]], s: [[key, field, value]] }; ARGV[2]: the directory's revisions (a hash); ARGV[3]:
 * the count of all writes (for replicas of earlier versions); ARGV[4…]: the collections written. Returns
 * their new revisions in that order, or 0 (nothing written).
 */
export const CHECKED_WRITE = `
local p = cjson.decode(ARGV[1])
for _, c in ipairs(p.c) do
  if (redis.call('HGET', c[1], c[2]) or '') ~= c[3] then return 0 end
end
for _, d in ipairs(p.d) do redis.call('HDEL', d[1], d[2]) end
for _, s in ipairs(p.s) do redis.call('HSET', s[1], s[2], s[3]) end
redis.call('INCR', ARGV[3])
local revs = {}
for i = 4, #ARGV do revs[#revs + 1] = redis.call('HINCRBY', ARGV[2], ARGV[i], 1) end
return revs`;

/** Puts back hash fields that are absent (directory restore). ARGV[1]: [[key, field, value]]. */
export const FILL_ABSENT = `
local n = 0
for _, s in ipairs(cjson.decode(ARGV[1])) do n = n + redis.call('HSETNX', s[1], s[2], s[3]) end
return n`;

/** All or none: KEYS: leases. ARGV: owner, now, expiresAt. */
export const LEASE_ACQUIRE = `
for _, k in ipairs(KEYS) do
  local o = redis.call('HGET', k, 'o')
  if o and o ~= ARGV[1] and tonumber(redis.call('HGET', k, 'e')) > tonumber(ARGV[2]) then return 0 end
end
for _, k in ipairs(KEYS) do redis.call('HSET', k, 'o', ARGV[1], 'e', ARGV[3]) end
return 1`;

/** KEYS: leases. ARGV: owner. Answers how many it freed. */
export const LEASE_RELEASE = `
local n = 0
for _, k in ipairs(KEYS) do
  if redis.call('HGET', k, 'o') == ARGV[1] then
    redis.call('DEL', k)
    n = n + 1
  end
end
return n`;

/**
 * KEYS: fingerprint. ARGV: now, expiresAt, ttl. The stored instant decides; the key's own expiry (set
 * on Redis's clock) only collects garbage.
 */
export const FIRST_SEEN = `
local e = redis.call('GET', KEYS[1])
if e and tonumber(e) > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

/** KEYS: due. ARGV: member, now, claimed until. */
export const CLAIM_DUE = `
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s or tonumber(s) > tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1`;

/** KEYS: due. ARGV: due before, claimed until, limit. Returns [member, score, …]. */
export const CLAIM_OVERDUE = `
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[3])
for i = 1, #items, 2 do redis.call('ZADD', KEYS[1], ARGV[2], items[i]) end
return items`;

/**
 * KEYS: a target's delivery ledger. ARGV: person, version, mark, rendering ('' when the target holds
 * nothing of the person now: the entry goes, so deleted people leave nothing behind), and optionally the
 * address. Entries read `version|mark|rendering|address` (older ones `version|mark|rendering` or just
 * `version`); a late acknowledgement never replaces a later one.
 */
export const RECORD_DELIVERED = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local v, m = string.match(old, '^(%d+)|?(%d*)')
  v = tonumber(v)
  m = tonumber(m) or 0
  local nv, nm = tonumber(ARGV[2]), tonumber(ARGV[3])
  if v > nv or (v == nv and m >= nm) then return 0 end
end
if ARGV[4] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  local entry = ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4]
  if ARGV[5] then entry = entry .. '|' .. ARGV[5] end
  redis.call('HSET', KEYS[1], ARGV[1], entry)
end
return 1`;

/**
 * KEYS[1] the target's ledger; ARGV person, and the address (absent: the target holds nothing of the person, the
 * entry goes). Keeps `version|mark|rendering`; older entries have no room for one.
 */
export const READDRESS_DELIVERED = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
local kept = string.match(old, '^[^|]*|[^|]*|[^|]*')
if not kept then return 0 end
if ARGV[2] == nil then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], kept .. '|' .. ARGV[2])
end
return 1`;

/** KEYS: a target's status report. ARGV: replica. Deletes the report only if that replica made it. */
export const WITHDRAW_REPORT = `
if redis.call('HGET', KEYS[1], 'r') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * A replica's heartbeat (`outage-bound.ts`). KEYS: alive, registration bound, its lock, the dataset's name,
 * the last bound set, whether any replica renewed alive in this dataset. ARGV: replica, key expiry in ms,
 * the bound as of now (`<now>:<registrations until>`, '' for none), the dataset's name as the replica
 * knows it, '1' when the replica vouches for the dataset's past (it reached Redis all along since before
 * the dataset was named), '1' when it found a full outage itself. Finding no replica alive in the same
 * dataset (every replica down, or cut off from Redis, for the expiry: a full outage) sets the bound, and
 * keeps the dataset's name as the last bound's (a copy that lagged, failed over to, keeps that key but is
 * named anew); a dataset that is not the one the replica knows lost `alive` with its data, which is no
 * outage; nor is one where no replica renewed alive yet (a new dataset, or one emptied: a `FLUSHALL`
 * within a heartbeat of a replica's start), unless the replica found the outage itself. Alive is marked
 * `?` unless the replica vouches or continues the renewals of one that did (a new replica in an emptied
 * dataset knows nothing of the gap before it). Answers the bound while one is pending and no other
 * replica holds its lock, taking the lock; '' while another replica holds it; nil when none is pending.
 */
export const REPLICA_BEAT = `
local was = redis.call('GET', KEYS[1])
if ARGV[3] ~= '' and not was and redis.call('GET', KEYS[4]) == ARGV[4] and (ARGV[6] == '1' or redis.call('EXISTS', KEYS[6]) == 1) then
  redis.call('SET', KEYS[2], ARGV[3])
  redis.call('SET', KEYS[5], ARGV[4])
end
local mark = ''
if ARGV[5] ~= '1' and (not was or string.sub(was, 1, 1) == '?') then mark = '?' end
redis.call('SET', KEYS[1], mark .. ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[6], '1')
local bound = redis.call('GET', KEYS[2])
if not bound then return false end
local holder = redis.call('GET', KEYS[3])
if holder and holder ~= ARGV[1] then return '' end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
return bound`;

/**
 * The bound applied to every person: KEYS: registration bound, its lock. ARGV: the bound applied, replica.
 * The bound goes only if it is still the one applied (a later full outage sets another), the lock only if held.
 */
export const BOUND_APPLIED = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return 1`;

/**
 * A shared token bucket (`shared-limits.ts`): a `{ t: tokens, a: at }` hash. KEYS: the bucket. ARGV: per
 * minute, need (0: take want into debt), want, now, the key's expiry in ms (collects an untouched bucket,
 * which is full by then; one in debt refills within two minutes, so the expiry is that).
 * Answers { taken, left } (left as a string: Lua numbers come back to Redis as integers).
 */
export const TAKE_TOKENS = `
local perMinute, need, want, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 't', 'a')
local level, at = perMinute, ARGV[4]
if b[1] then
  level = math.min(perMinute, tonumber(b[1]) + math.max(0, now - tonumber(b[2])) * perMinute / 60000)
  -- A replica whose clock is behind must not set the time back: the next take would refill that gap twice.
  if tonumber(b[2]) > now then at = b[2] end
end
local taken = want
if need > 0 then
  if level < need then return {0, tostring(level)} end
  taken = math.min(want, math.floor(level))
end
local left = math.max(-perMinute, level - taken)
redis.call('HSET', KEYS[1], 't', tostring(left), 'a', at)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {taken, tostring(left)}`;

/**
 * One more place of a count shared by replicas (`shared-limits.ts`): a hash of replica → `<own>:<fresh
 * until>`. KEYS: the count. ARGV: replica, own (with this one), at once (0: no limit), now, fresh until,
 * the key's expiry in ms. Counts gone stale (their replica stopped renewing them) are removed.
 * Answers { taken 1/0, total }.
 */
export const HOLD_PLACE = `
local own, atOnce, now = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local total = own
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] ~= ARGV[1] then
    local c, e = string.match(all[i + 1], '^(%d+):(%d+)$')
    if c and tonumber(e) > now then total = total + tonumber(c) else redis.call('HDEL', KEYS[1], all[i]) end
  end
end
if atOnce > 0 and total > atOnce then return {0, total - 1} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {1, total}`;

/**
 * A replica's counts of places and its liveness (`shared-limits.ts`). KEYS: the replicas (a sorted set by
 * fresh-until), then one count per ARGV pair. ARGV: replica, now, fresh until, key expiry in ms (0: the
 * replica stops, fresh until now, and leaves the keys' expiries to the others' renewals), then own per
 * count (0 withdraws). Answers how many replicas are fresh at now.
 */
export const PUBLISH_PLACES = `
local expire = ARGV[4] ~= '0'
for i = 2, #KEYS do
  if ARGV[3 + i] == '0' then redis.call('HDEL', KEYS[i], ARGV[1])
  else
    redis.call('HSET', KEYS[i], ARGV[1], ARGV[3 + i] .. ':' .. ARGV[3])
    if expire then redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
  end
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if expire then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return redis.call('ZCARD', KEYS[1])`;
