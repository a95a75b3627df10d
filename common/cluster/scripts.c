/*
 * scripts.c: the cluster's Redis scripts, as Lua sources. scripts.h has
 * each one's KEYS, ARGV, reply and errors; docs/cluster.md ("Scripts")
 * the argument that each keeps the invariant
 *
 *   balance + sum(lease) + charged = initial + topups + adjust + regen
 *
 * Each script is one source: the preludes it needs, then its own body,
 * joined by string-literal concatenation, so the build needs no
 * generator and SCRIPT LOAD gets one self-contained text. The Lua is
 * written one Lua line per C line; read it as Lua.
 *
 * What every script does the same way, and why:
 *
 *   1) It checks every argument, reads, and computes every result
 *      before its first write. Redis does not roll a failing script
 *      back: an error after a write would leave half a change. The
 *      writes that can still fail (XADD, HSET on a key of another type)
 *      come first or have their key's type checked before.
 *   2) Numbers are doubles in Redis's Lua 5.1. Amounts come as decimal
 *      strings, are bounded (FG_CLUSTER_AMOUNT_MAX) so that every sum and
 *      product stays below 2^53, and are written back with
 *      string.format('%d'), never tostring() or "..", which print 14
 *      significant digits (and -0).
 *   3) Whatever a node may send twice (a lease operation after a crash
 *      or a timeout, a report batch after a reconnect, a top-up under an
 *      idempotency key) is applied once and answered every time.
 *   4) KEYS of one call name one tenant key: a call that mixes two is
 *      refused, so no script can move credit between keys.
 *
 * It does not talk to Redis (the syncer loads and calls the scripts)
 * and does not decide policy (lease sizes, when to report): only what
 * one atomic step does.
 */

#include <stddef.h>

#include "common/cluster/scripts.h"

/* ---- the preludes ------------------------------------------------------- */

/* Every script: bounds, argument checks, error replies. */
#define SCRIPTS_LUA_BASE                                                       \
    "-- The prelude of every fluxgate script: bounds, argument checks,\n"      \
    "-- error replies.\n"                                                      \
    "--\n"                                                                     \
    "-- Redis runs Lua 5.1: a number is a double, exact for integers\n"        \
    "-- below 2^53. Every amount is an integer of micro-units; an argument\n"  \
    "-- is a decimal string of at most 16 digits, within LIMIT (10^15, the\n"  \
    "-- admin API's own bound), which keeps every sum and product below\n"     \
    "-- 2^53; a figure that would leave +-SAFE is refused. Numbers are\n"      \
    "-- written with fmt(), never tostring() or \"..\": those print 14\n"      \
    "-- digits, and -0.\n"                                                     \
    "--\n"                                                                     \
    "-- A script checks and computes everything before its first write:\n"     \
    "-- Redis does not roll a failed script back.\n"                           \
    "local LIMIT = 1000000000000000\n"                                         \
    "local SAFE = 9007199254740991\n"                                          \
    "local HOUR_MS = 3600000\n"                                                \
    "\n"                                                                       \
    "-- Ends the script with the error reply \"<KIND> <msg>\" (run()).\n"      \
    "local function fail(kind, msg)\n"                                         \
    "    error({fg = kind .. ' ' .. msg})\n"                                   \
    "end\n"                                                                    \
    "\n"                                                                       \
    "local function fmt(n)\n"                                                  \
    "    return string.format('%d', n)\n"                                      \
    "end\n"                                                                    \
    "\n"                                                                       \
    "-- Checks that the caller passed @n KEYS (EVALSHA's numkeys).\n"          \
    "local function nkeys(n)\n"                                                \
    "    if #KEYS ~= n then\n"                                                 \
    "        fail('FGARG', 'the script takes ' .. fmt(n) .. ' KEYS, not '\n"   \
    "             .. fmt(#KEYS))\n"                                            \
    "    end\n"                                                                \
    "end\n"                                                                    \
    "\n"                                                                       \
    "-- An integer argument within [lo, hi]; +0 turns a \"-0\" into 0.\n"      \
    "local function int(s, lo, hi, what)\n"                                    \
    "    local digits = type(s) == 'string' and s:match('^%-?(%d+)$')\n"       \
    "    if not digits or #digits > 16 then\n"                                 \
    "        fail('FGARG', what .. ' is not an integer: ' .. tostring(s))\n"   \
    "    end\n"                                                                \
    "    local n = tonumber(s) + 0\n"                                          \
    "    if n < lo or n > hi then\n"                                           \
    "        fail('FGARG', what .. ' must be from ' .. fmt(lo) .. ' to '\n"    \
    "             .. fmt(hi) .. ', not ' .. s)\n"                              \
    "    end\n"                                                                \
    "    return n\n"                                                           \
    "end\n"                                                                    \
    "\n"                                                                       \
    "-- A name or token: 1 to 255 bytes, no control characters or spaces.\n"   \
    "local function word(s, what)\n"                                           \
    "    if type(s) ~= 'string' or #s == 0 or #s > 255\n"                      \
    "       or s:find('[%c ]') then\n"                                         \
    "        fail('FGARG', what .. ' must be 1 to 255 bytes, no spaces')\n"    \
    "    end\n"                                                                \
    "    return s\n"                                                           \
    "end\n"                                                                    \
    "\n"                                                                       \
    "-- a + b, refused past +-SAFE: both are within it, so a rounded sum\n"    \
    "-- past it means the exact one is too, and one within it is exact.\n"     \
    "local function add(a, b, what)\n"                                         \
    "    local s = a + b\n"                                                    \
    "    if s > SAFE or s < -SAFE then\n"                                      \
    "        fail('FGARG', what .. ' would pass 2^53')\n"                      \
    "    end\n"                                                                \
    "    return s\n"                                                           \
    "end\n"                                                                    \
    "\n"                                                                       \
    "-- A stored integer (absent: 0). Scripts store nothing past +-SAFE;\n"    \
    "-- a figure that is not one of theirs is refused, never rounded.\n"       \
    "local function stored(v, what)\n"                                         \
    "    if not v then\n"                                                      \
    "        return 0\n"                                                       \
    "    end\n"                                                                \
    "    local digits = type(v) == 'string' and v:match('^%-?(%d+)$')\n"       \
    "    local n = digits and #digits <= 16 and tonumber(v)\n"                 \
    "    if not n or n > SAFE or n < -SAFE then\n"                             \
    "        fail('FGSTATE', what .. ' holds ' .. tostring(v))\n"              \
    "    end\n"                                                                \
    "    return n + 0\n"                                                       \
    "end\n"                                                                    \
    "\n"                                                                       \
    "local function hash(key)\n"                                               \
    "    local flat = redis.call('HGETALL', key)\n"                            \
    "    local t = {}\n"                                                       \
    "    for i = 1, #flat, 2 do\n"                                             \
    "        t[flat[i]] = flat[i + 1]\n"                                       \
    "    end\n"                                                                \
    "    return t\n"                                                           \
    "end\n"                                                                    \
    "\n"                                                                       \
    "-- A JSON object's text, decoded (to check it, and read a field).\n"      \
    "local function object(s, what)\n"                                         \
    "    if type(s) ~= 'string' or not s:match('^%s*{') then\n"                \
    "        fail('FGARG', what .. ' is not a JSON object')\n"                 \
    "    end\n"                                                                \
    "    local ok, t = pcall(cjson.decode, s)\n"                               \
    "    if not ok or type(t) ~= 'table' then\n"                               \
    "        fail('FGARG', what .. ' is not a JSON object')\n"                 \
    "    end\n"                                                                \
    "    return t\n"                                                           \
    "end\n"                                                                    \
    "\n"                                                                       \
    "-- Runs @main, turning a fail() into its error reply; any other\n"        \
    "-- error (a redis.call's) goes on as it was.\n"                           \
    "local function run(main)\n"                                               \
    "    local ok, res = pcall(main)\n"                                        \
    "    if ok then\n"                                                         \
    "        return res\n"                                                     \
    "    end\n"                                                                \
    "    if type(res) == 'table' and res.fg then\n"                            \
    "        return redis.error_reply(res.fg)\n"                               \
    "    end\n"                                                                \
    "    error(res)\n"                                                         \
    "end\n"

/* The scripts of one tenant key: its balance, leases, regeneration. */
#define SCRIPTS_LUA_KEY                                                        \
    "-- The tenant key id K of @key, which must be fg:{K}:<suffix>.\n"         \
    "local function key_of(key, suffix)\n"                                     \
    "    local k = key:match('^fg:{(key_[0-9a-f]+)}:' .. suffix .. '$')\n"     \
    "    if not k or #k ~= 20 then\n"                                          \
    "        fail('FGARG', 'KEYS: ' .. key\n"                                  \
    "             .. ' is not fg:{key_<16 hex>}:' .. suffix)\n"                \
    "    end\n"                                                                \
    "    return k\n"                                                           \
    "end\n"                                                                    \
    "\n"                                                                       \
    "-- Checks that @key is K's @suffix: one call never mixes two keys.\n"     \
    "local function same_key(key, k, suffix)\n"                                \
    "    if key ~= 'fg:{' .. k .. '}:' .. suffix then\n"                       \
    "        fail('FGARG', 'KEYS: ' .. key .. ' is not fg:{' .. k .. '}:'\n"   \
    "             .. suffix)\n"                                                \
    "    end\n"                                                                \
    "end\n"                                                                    \
    "\n"                                                                       \
    "local BAL = {'balance', 'initial', 'topups', 'adjust', 'regen',\n"        \
    "             'charged', 'regen_at_ms', 'regen_carry',\n"                  \
    "             'regen_per_hour', 'cap'}\n"                                  \
    "\n"                                                                       \
    "-- The balance hash as numbers; FGNOKEY when the key has none.\n"         \
    "local function bal_load(key, k)\n"                                        \
    "    local h = hash(key)\n"                                                \
    "    if h.balance == nil then\n"                                           \
    "        fail('FGNOKEY', k .. ' does not exist')\n"                        \
    "    end\n"                                                                \
    "    local b = {}\n"                                                       \
    "    for _, f in ipairs(BAL) do\n"                                         \
    "        b[f] = stored(h[f], f)\n"                                         \
    "    end\n"                                                                \
    "    return b\n"                                                           \
    "end\n"                                                                    \
    "\n"                                                                       \
    "local function bal_save(key, b)\n"                                        \
    "    local args = {}\n"                                                    \
    "    for _, f in ipairs(BAL) do\n"                                         \
    "        args[#args + 1] = f\n"                                            \
    "        args[#args + 1] = fmt(b[f])\n"                                    \
    "    end\n"                                                                \
    "    redis.call('HSET', key, unpack(args))\n"                              \
    "end\n"                                                                    \
    "\n"                                                                       \
    "-- The lease hash as numbers, and their sum.\n"                           \
    "local function leases(key)\n"                                             \
    "    local h = hash(key)\n"                                                \
    "    local t, sum = {}, 0\n"                                               \
    "    for n, v in pairs(h) do\n"                                            \
    "        t[n] = stored(v, 'lease of ' .. n)\n"                             \
    "        sum = add(sum, t[n], 'the sum of the leases')\n"                  \
    "    end\n"                                                                \
    "    return t, sum\n"                                                      \
    "end\n"                                                                    \
    "\n"                                                                       \
    "-- A lease written back; none is no field: the hash lists holders.\n"     \
    "local function lease_save(key, node, amount)\n"                           \
    "    if amount == 0 then\n"                                                \
    "        redis.call('HDEL', key, node)\n"                                  \
    "    else\n"                                                               \
    "        redis.call('HSET', key, node, fmt(amount))\n"                     \
    "    end\n"                                                                \
    "end\n"                                                                    \
    "\n"                                                                       \
    "-- q, r with x = q * d + r, 0 <= r < d, for 0 <= x <= LIMIT: x / d\n"     \
    "-- is rounded, so floor() may be one off; q * d stays exact.\n"           \
    "local function divmod(x, d)\n"                                            \
    "    local q = math.floor(x / d)\n"                                        \
    "    local r = x - q * d\n"                                                \
    "    if r < 0 then\n"                                                      \
    "        q, r = q - 1, r + d\n"                                            \
    "    elseif r >= d then\n"                                                 \
    "        q, r = q + 1, r - d\n"                                            \
    "    end\n"                                                                \
    "    return q, r\n"                                                        \
    "end\n"                                                                    \
    "\n"                                                                       \
    "-- Regeneration up to @now, as fg_ledger_regen (common/accounts/\n"       \
    "-- ledger.c) computes it, with @credit (balance + the leases: a lease\n"  \
    "-- is the key's credit too, so the cluster never regenerates past the\n"  \
    "-- cap) in place of its balance. Moves b.regen_at_ms and b.regen_carry\n" \
    "-- on; returns what the credit gains, which the caller adds to\n"         \
    "-- b.balance and b.regen.\n"                                              \
    "--\n"                                                                     \
    "-- The formula is n = rate * elapsed + carry, gain n / HOUR_MS, carry\n"  \
    "-- n % HOUR_MS: its product may pass 2^53. With elapsed =\n"              \
    "-- h * HOUR_MS + r and rate = a * HOUR_MS + c it is\n"                    \
    "--   gain = rate * h + a * r + (c * r + carry) / HOUR_MS\n"               \
    "-- where a * r < rate <= LIMIT and c * r + carry < HOUR_MS^2 + HOUR_MS\n" \
    "-- are exact. rate * h may not be, but the gain only matters up to\n"     \
    "-- need = cap - credit (<= 2 * LIMIT), and a rounded product reaches\n"   \
    "-- need exactly when the exact one does (rounding is monotonic and\n"     \
    "-- need a double); below need it is exact.\n"                             \
    "local function regenerate(b, credit, now)\n"                              \
    "    local from = b.regen_at_ms\n"                                         \
    "    if now <= from then\n"                                                \
    "        return 0\n"                                                       \
    "    end\n"                                                                \
    "    b.regen_at_ms = now\n"                                                \
    "    if b.regen_per_hour <= 0 then\n"                                      \
    "        return 0\n"                                                       \
    "    end\n"                                                                \
    "    if credit >= b.cap then\n"                                            \
    "        b.regen_carry = 0\n"                                              \
    "        return 0\n"                                                       \
    "    end\n"                                                                \
    "    local need = b.cap - credit\n"                                        \
    "    local h, r = divmod(now - from, HOUR_MS)\n"                           \
    "    local a, c = divmod(b.regen_per_hour, HOUR_MS)\n"                     \
    "    local q, m = divmod(c * r + b.regen_carry, HOUR_MS)\n"                \
    "    local gain = b.regen_per_hour * h\n"                                  \
    "    if gain < need then\n"                                                \
    "        gain = gain + a * r\n"                                            \
    "    end\n"                                                                \
    "    if gain < need then\n"                                                \
    "        gain = gain + q\n"                                                \
    "    end\n"                                                                \
    "    if gain >= need then\n"                                               \
    "        b.regen_carry = 0\n"                                              \
    "        return need\n"                                                    \
    "    end\n"                                                                \
    "    b.regen_carry = m\n"                                                  \
    "    return gain\n"                                                        \
    "end\n"

/* join and heartbeat: the node registry's entries. */
#define SCRIPTS_LUA_NODE                                                       \
    "-- A node's registry entry: {\"instance\", \"seen_ms\", ...@json},\n"     \
    "-- spliced as text so the node's own numbers keep every digit.\n"         \
    "local function node_entry(instance, now, json)\n"                         \
    "    local body = json:match('^%s*{(.*)$')\n"                              \
    "    local head = '{\"instance\":' .. cjson.encode(instance)\n"            \
    "                 .. ',\"seen_ms\":' .. fmt(now)\n"                        \
    "    if body:match('^%s*}%s*$') then\n"                                    \
    "        return head .. '}'\n"                                             \
    "    end\n"                                                                \
    "    return head .. ',' .. body\n"                                         \
    "end\n"

/* lease_grant and lease_return: the node's last lease operation. */
#define SCRIPTS_LUA_LEASE_OP                                                   \
    "-- The node's last lease operation: its id and amount (a grant's is\n"    \
    "-- what it granted, a return's the amount returned, negated); 0 and\n"    \
    "-- nil when it has none.\n"                                               \
    "local function last_op(key, node)\n"                                      \
    "    local v = redis.call('HGET', key, node)\n"                            \
    "    if not v then\n"                                                      \
    "        return 0, nil\n"                                                  \
    "    end\n"                                                                \
    "    local id, amount = v:match('^(%d+):(%-?%d+)$')\n"                     \
    "    if not id then\n"                                                     \
    "        fail('FGSTATE', 'the last lease operation of ' .. node\n"         \
    "             .. ' is ' .. v)\n"                                           \
    "    end\n"                                                                \
    "    return tonumber(id), tonumber(amount)\n"                              \
    "end\n"

/* ---- the scripts -------------------------------------------------------- */

static const char scripts_join[] =
    SCRIPTS_LUA_BASE
    SCRIPTS_LUA_NODE
    "\n"
    "-- join: a node enters the cluster (syncer, at every connect).\n"
    "-- KEYS fg:epoch, fg:secret, fg:nodes\n"
    "-- ARGV node, instance, secret fingerprint, epoch candidate (\"\"\n"
    "--      when the node remembers an epoch: it must not make one),\n"
    "--      now_ms, stale_ms, node json (an object without \"instance\" or\n"
    "--      \"seen_ms\")\n"
    "-- Reply: the cluster's epoch, which a node that remembers one compares\n"
    "-- with it.\n"
    "local function main()\n"
    "    nkeys(3)\n"
    "    local node = word(ARGV[1], 'node')\n"
    "    local instance = word(ARGV[2], 'instance')\n"
    "    local fingerprint = word(ARGV[3], 'secret fingerprint')\n"
    "    local candidate = ARGV[4]\n"
    "    local now = int(ARGV[5], 0, LIMIT, 'now_ms')\n"
    "    local stale = int(ARGV[6], 0, LIMIT, 'stale_ms')\n"
    "    local info = object(ARGV[7], 'node json')\n"
    "    if candidate ~= '' then\n"
    "        word(candidate, 'epoch candidate')\n"
    "    end\n"
    "    if info.instance ~= nil or info.seen_ms ~= nil then\n"
    "        fail('FGARG', 'node json may not hold instance or seen_ms')\n"
    "    end\n"
    "    if KEYS[1] ~= 'fg:epoch' or KEYS[2] ~= 'fg:secret'\n"
    "       or KEYS[3] ~= 'fg:nodes' then\n"
    "        fail('FGARG', 'KEYS must be fg:epoch, fg:secret, fg:nodes')\n"
    "    end\n"
    "\n"
    "    -- An epoch gone while a node remembers one: Redis lost its data\n"
    "    -- (or is another Redis), and what the node holds on lease, its\n"
    "    -- reports and the key events would not match what is here.\n"
    "    local epoch = redis.call('GET', KEYS[1])\n"
    "    if not epoch and candidate == '' then\n"
    "        fail('FGEPOCH', 'the cluster epoch is gone: this Redis lost '\n"
    "             .. 'its data or is another one')\n"
    "    end\n"
    "    -- One key-hashing secret for the whole cluster, or a key made on\n"
    "    -- one node would not authenticate on another.\n"
    "    local secret = redis.call('GET', KEYS[2])\n"
    "    if secret and secret ~= fingerprint then\n"
    "        fail('FGSECRET', \"this node's secret is not the cluster's \"\n"
    "             .. '(fingerprint ' .. fingerprint .. ', cluster '\n"
    "             .. secret .. ')')\n"
    "    end\n"
    "    -- Another process under this id, seen less than stale_ms ago: two\n"
    "    -- live nodes with one id would share report and lease numbering.\n"
    "    local entry = redis.call('HGET', KEYS[3], node)\n"
    "    if entry then\n"
    "        local ok, e = pcall(cjson.decode, entry)\n"
    "        if ok and type(e) == 'table' and e.instance ~= instance\n"
    "           and now - (tonumber(e.seen_ms) or 0) < stale then\n"
    "            fail('FGNODE', 'node ' .. node .. ' is live as instance '\n"
    "                 .. tostring(e.instance))\n"
    "        end\n"
    "    end\n"
    "\n"
    "    if not epoch then\n"
    "        epoch = candidate\n"
    "        redis.call('SET', KEYS[1], epoch)\n"
    "    end\n"
    "    if not secret then\n"
    "        redis.call('SET', KEYS[2], fingerprint)\n"
    "    end\n"
    "    redis.call('HSET', KEYS[3], node,\n"
    "               node_entry(instance, now, ARGV[7]))\n"
    "    return epoch\n"
    "end\n"
    "\n"
    "return run(main)\n";

static const char scripts_heartbeat[] =
    SCRIPTS_LUA_BASE
    SCRIPTS_LUA_NODE
    "\n"
    "-- heartbeat: a node says it is alive (syncer, every few seconds).\n"
    "-- KEYS fg:nodes\n"
    "-- ARGV node, instance, now_ms, node json (as join's)\n"
    "-- Reply: OK.\n"
    "local function main()\n"
    "    nkeys(1)\n"
    "    local node = word(ARGV[1], 'node')\n"
    "    local instance = word(ARGV[2], 'instance')\n"
    "    local now = int(ARGV[3], 0, LIMIT, 'now_ms')\n"
    "    local info = object(ARGV[4], 'node json')\n"
    "    if info.instance ~= nil or info.seen_ms ~= nil then\n"
    "        fail('FGARG', 'node json may not hold instance or seen_ms')\n"
    "    end\n"
    "    if KEYS[1] ~= 'fg:nodes' then\n"
    "        fail('FGARG', 'KEYS must be fg:nodes')\n"
    "    end\n"
    "    -- Gone: an operator forgot the node (its leases went back). Another\n"
    "    -- instance: a second process took the id. Either way this process\n"
    "    -- must stop speaking for the node and join again.\n"
    "    local entry = redis.call('HGET', KEYS[1], node)\n"
    "    if not entry then\n"
    "        fail('FGNODE', 'node ' .. node\n"
    "             .. ' is not registered (forgotten?)')\n"
    "    end\n"
    "    local ok, e = pcall(cjson.decode, entry)\n"
    "    if not ok or type(e) ~= 'table' or e.instance ~= instance then\n"
    "        fail('FGNODE', 'node ' .. node .. ' is now instance '\n"
    "             .. tostring(ok and type(e) == 'table' and e.instance))\n"
    "    end\n"
    "    redis.call('HSET', KEYS[1], node,\n"
    "               node_entry(instance, now, ARGV[4]))\n"
    "    return redis.status_reply('OK')\n"
    "end\n"
    "\n"
    "return run(main)\n";

static const char scripts_key_write[] =
    SCRIPTS_LUA_BASE
    SCRIPTS_LUA_KEY
    "\n"
    "-- key_write: an admin change of a key (syncer, for the admin API).\n"
    "-- KEYS fg:{K}:rec, fg:{K}:bal, fg:events, fg:{K}:idem:<idempotency key>\n"
    "--      (read or written only with the idem flag; without one pass\n"
    "--      fg:{K}:idem:), fg:{K}:lease\n"
    "-- ARGV op, K, now_ms, then by op:\n"
    "--      create  json, initial, regen_per_hour, cap\n"
    "--      update  json, expected version, regen_per_hour, cap\n"
    "--      revoke  json, expected version\n"
    "--      rotate  json, expected version\n"
    "--      topup   amount (> 0), idem flag (\"1\" or \"0\")\n"
    "--      adjust  amount (not 0, may be negative), idem flag\n"
    "-- Reply: {version, event id, balance, applied}; applied is 0 only for a\n"
    "-- top-up or adjust repeated under its idempotency key, whose reply is\n"
    "-- then the first one's.\n"
    "local REVOKED = 2       -- FG_KEY_STATUS_REVOKED, as keyjson stores it\n"
    "local OPS = {create = true, update = true, revoke = true, rotate = true,\n"
    "             topup = true, adjust = true}\n"
    "\n"
    "local function main()\n"
    "    nkeys(5)\n"
    "    local op, k = ARGV[1], ARGV[2]\n"
    "    local now = int(ARGV[3], 0, LIMIT, 'now_ms')\n"
    "    if not OPS[op] then\n"
    "        fail('FGARG', 'op must be create, update, revoke, rotate, '\n"
    "             .. 'topup or adjust, not ' .. tostring(op))\n"
    "    end\n"
    "    if key_of(KEYS[2], 'bal') ~= k then\n"
    "        fail('FGARG', 'KEYS: ' .. KEYS[2] .. ' is not the key of ARGV '\n"
    "             .. tostring(k))\n"
    "    end\n"
    "    same_key(KEYS[1], k, 'rec')\n"
    "    same_key(KEYS[5], k, 'lease')\n"
    "    if KEYS[3] ~= 'fg:events' then\n"
    "        fail('FGARG', 'KEYS: ' .. KEYS[3] .. ' is not fg:events')\n"
    "    end\n"
    "    local idem_prefix = 'fg:{' .. k .. '}:idem:'\n"
    "    if KEYS[4]:sub(1, #idem_prefix) ~= idem_prefix then\n"
    "        fail('FGARG', 'KEYS: ' .. KEYS[4] .. ' is not ' .. idem_prefix\n"
    "             .. '<key>')\n"
    "    end\n"
    "\n"
    "    -- The arguments, all checked before anything is read.\n"
    "    local json, t, expected, initial, rate, cap, amount, has_idem\n"
    "    if op == 'topup' or op == 'adjust' then\n"
    "        if op == 'topup' then\n"
    "            amount = int(ARGV[4], 1, LIMIT, 'amount')\n"
    "        else\n"
    "            amount = int(ARGV[4], -LIMIT, LIMIT, 'amount')\n"
    "            if amount == 0 then\n"
    "                fail('FGARG', 'an adjust of 0 changes nothing')\n"
    "            end\n"
    "        end\n"
    "        if ARGV[5] ~= '1' and ARGV[5] ~= '0' then\n"
    "            fail('FGARG', 'the idem flag must be 1 or 0')\n"
    "        end\n"
    "        has_idem = ARGV[5] == '1'\n"
    "        local ik = KEYS[4]:sub(#idem_prefix + 1)\n"
    "        if has_idem\n"
    "           and (#ik == 0 or #ik > 255 or ik:find('[^!-~]')) then\n"
    "            fail('FGARG', 'an idempotency key is 1 to 255 printable '\n"
    "                 .. 'ASCII characters without spaces')\n"
    "        end\n"
    "    else\n"
    "        json = ARGV[4]\n"
    "        t = object(json, 'json')\n"
    "        if t.id ~= k then\n"
    "            fail('FGARG', 'json is the record of ' .. tostring(t.id)\n"
    "                 .. ', not of ' .. k)\n"
    "        end\n"
    "        if (t.status == REVOKED) ~= (op == 'revoke') then\n"
    "            fail('FGARG', \"json's status does not fit op \" .. op)\n"
    "        end\n"
    "        if op == 'create' then\n"
    "            initial = int(ARGV[5], 0, LIMIT, 'initial')\n"
    "        else\n"
    "            expected = int(ARGV[5], 1, SAFE, 'expected version')\n"
    "        end\n"
    "        if op == 'create' or op == 'update' then\n"
    "            rate = int(ARGV[6], 0, LIMIT, 'regen_per_hour')\n"
    "            cap = int(ARGV[7], 0, LIMIT, 'cap')\n"
    "        end\n"
    "    end\n"
    "\n"
    "    local rec = hash(KEYS[1])\n"
    "    local version = stored(rec.version, 'version')\n"
    "    local function event(v)\n"
    "        return redis.call('XADD', KEYS[3], '*', 'key', k, 'op', op,\n"
    "                          'version', fmt(v))\n"
    "    end\n"
    "\n"
    "    if op == 'create' then\n"
    "        if rec.json or redis.call('EXISTS', KEYS[2], KEYS[5]) > 0 then\n"
    "            fail('FGEXISTS', k .. ' exists')\n"
    "        end\n"
    "        local b = {balance = initial, initial = initial, topups = 0,\n"
    "                   adjust = 0, regen = 0, charged = 0,\n"
    "                   regen_at_ms = now, regen_carry = 0,\n"
    "                   regen_per_hour = rate, cap = cap}\n"
    "        local id = event(1)\n"
    "        redis.call('HSET', KEYS[1], 'json', json, 'version', '1')\n"
    "        bal_save(KEYS[2], b)\n"
    "        return {1, id, initial, 1}\n"
    "    end\n"
    "\n"
    "    if not rec.json then\n"
    "        fail('FGNOKEY', k .. ' does not exist')\n"
    "    end\n"
    "    local revoked =\n"
    "        object(rec.json, 'the stored record').status == REVOKED\n"
    "    local b = bal_load(KEYS[2], k)\n"
    "\n"
    "    if op == 'update' or op == 'revoke' or op == 'rotate' then\n"
    "        -- Compare-and-set: a change made from a stale read never undoes\n"
    "        -- another node's. A revoked key changes no more (as the\n"
    "        -- keystore; revoking it again is the caller's no-op).\n"
    "        if revoked then\n"
    "            fail('FGREVOKED', k .. ' is revoked')\n"
    "        end\n"
    "        if expected ~= version then\n"
    "            fail('FGVERSION', k .. ' is at version ' .. fmt(version)\n"
    "                 .. ', not ' .. fmt(expected))\n"
    "        end\n"
    "        if op == 'update' then\n"
    "            -- What the old settings made up to now is the key's; the\n"
    "            -- new ones count from now (as fg_ledger_put).\n"
    "            local _, leased = leases(KEYS[5])\n"
    "            local gain = regenerate(b, add(b.balance, leased, 'credit'),\n"
    "                                    now)\n"
    "            b.balance = add(b.balance, gain, 'balance')\n"
    "            b.regen = add(b.regen, gain, 'regen')\n"
    "            b.regen_per_hour, b.cap = rate, cap\n"
    "        end\n"
    "        local id = event(version + 1)\n"
    "        redis.call('HSET', KEYS[1], 'json', json,\n"
    "                   'version', fmt(version + 1))\n"
    "        if op == 'update' then\n"
    "            bal_save(KEYS[2], b)\n"
    "        end\n"
    "        return {version + 1, id, b.balance, 1}\n"
    "    end\n"
    "\n"
    "    -- topup, adjust. A repeat under the idempotency key (a resend after\n"
    "    -- a timeout, or the same request on another node) answers what the\n"
    "    -- first did and changes nothing, even on a key revoked since (as\n"
    "    -- the keystore).\n"
    "    if has_idem then\n"
    "        local memo = redis.call('GET', KEYS[4])\n"
    "        if memo then\n"
    "            local mop, mamount, mv, mid, mbal = memo:match(\n"
    "                '^(%a+):(%-?%d+):(%d+):(%d+%-%d+):(%-?%d+)$')\n"
    "            if not mop then\n"
    "                fail('FGSTATE', KEYS[4] .. ' holds ' .. memo)\n"
    "            end\n"
    "            if mop ~= op or tonumber(mamount) ~= amount then\n"
    "                fail('FGIDEM', 'the idempotency key was used for '\n"
    "                     .. 'another change (' .. mop .. ' of ' .. mamount\n"
    "                     .. ')')\n"
    "            end\n"
    "            return {tonumber(mv), mid, tonumber(mbal), 0}\n"
    "        end\n"
    "    end\n"
    "    if revoked then\n"
    "        fail('FGREVOKED', k .. ' is revoked')\n"
    "    end\n"
    "    local _, leased = leases(KEYS[5])\n"
    "    local credit = add(b.balance, leased, 'credit')\n"
    "    local gain = regenerate(b, credit, now)\n"
    "    b.balance = add(b.balance, gain, 'balance')\n"
    "    b.regen = add(b.regen, gain, 'regen')\n"
    "    credit = credit + gain\n"
    "    -- As the keystore: the key's credit never past LIMIT (keyjson's\n"
    "    -- FG_KEYJSON_ENERGY_MAX), and a negative adjust never below 0.\n"
    "    -- What nodes hold on lease cannot be taken back here: only the\n"
    "    -- unleased balance pays a negative adjust.\n"
    "    if credit + amount > LIMIT then\n"
    "        fail('FGARG', 'the balance would pass ' .. fmt(LIMIT))\n"
    "    end\n"
    "    if amount < 0 and b.balance + amount < 0 then\n"
    "        fail('FGARG', 'the unleased balance is ' .. fmt(b.balance)\n"
    "             .. ': an adjust of ' .. fmt(amount) .. ' would take it '\n"
    "             .. 'below 0')\n"
    "    end\n"
    "    b.balance = b.balance + amount\n"
    "    if op == 'topup' then\n"
    "        b.topups = add(b.topups, amount, 'topups')\n"
    "    else\n"
    "        b.adjust = add(b.adjust, amount, 'adjust')\n"
    "    end\n"
    "    -- The record is unchanged: its version stays, so an update read\n"
    "    -- before a top-up still applies (they commute).\n"
    "    local id = event(version)\n"
    "    bal_save(KEYS[2], b)\n"
    "    if has_idem then\n"
    "        redis.call('SET', KEYS[4], op .. ':' .. fmt(amount) .. ':'\n"
    "                   .. fmt(version) .. ':' .. id .. ':'\n"
    "                   .. fmt(b.balance), 'EX', 86400)\n"
    "    end\n"
    "    return {version, id, b.balance, 1}\n"
    "end\n"
    "\n"
    "return run(main)\n";

static const char scripts_lease_grant[] =
    SCRIPTS_LUA_BASE
    SCRIPTS_LUA_KEY
    SCRIPTS_LUA_LEASE_OP
    "\n"
    "-- lease_grant: a node takes credit on lease (syncer: before its lease\n"
    "-- runs dry, or for a request that waits on it).\n"
    "-- KEYS fg:{K}:bal, fg:{K}:lease, fg:{K}:op\n"
    "-- ARGV node, op id (the node's, increasing), want, now_ms\n"
    "-- Reply: {granted, balance, lease}: granted is min(want, the balance\n"
    "-- after regeneration), never below 0; balance is what is left unleased;\n"
    "-- lease what the node holds now. A resend of the node's last op id\n"
    "-- replies its first granted again, with balance and lease as they are.\n"
    "local function main()\n"
    "    nkeys(3)\n"
    "    local node = word(ARGV[1], 'node')\n"
    "    local op = int(ARGV[2], 1, SAFE, 'op id')\n"
    "    local want = int(ARGV[3], 0, LIMIT, 'want')\n"
    "    local now = int(ARGV[4], 0, LIMIT, 'now_ms')\n"
    "    local k = key_of(KEYS[1], 'bal')\n"
    "    same_key(KEYS[2], k, 'lease')\n"
    "    same_key(KEYS[3], k, 'op')\n"
    "\n"
    "    local b = bal_load(KEYS[1], k)\n"
    "    local held, leased = leases(KEYS[2])\n"
    "    local mine = held[node] or 0\n"
    "    -- The node journaled the op before sending it: after a crash or a\n"
    "    -- timeout it cannot know whether Redis applied it, and sends it\n"
    "    -- again. Applied once, answered as often as asked.\n"
    "    local last, amount = last_op(KEYS[3], node)\n"
    "    if op == last and amount >= 0 then\n"
    "        return {amount, b.balance, mine}\n"
    "    end\n"
    "    if op <= last then\n"
    "        fail('FGSTALE', 'op ' .. fmt(op) .. ' of ' .. node\n"
    "             .. ': its last applied lease operation is ' .. fmt(last)\n"
    "             .. ' (' .. fmt(amount) .. ')')\n"
    "    end\n"
    "\n"
    "    local gain = regenerate(b, add(b.balance, leased, 'credit'), now)\n"
    "    b.balance = add(b.balance, gain, 'balance')\n"
    "    b.regen = add(b.regen, gain, 'regen')\n"
    "    -- Never more than is there: a balance a forgotten node's late\n"
    "    -- report took below 0 grants nothing.\n"
    "    local g = math.min(want, math.max(b.balance, 0))\n"
    "    b.balance = b.balance - g\n"
    "    mine = add(mine, g, 'lease')\n"
    "\n"
    "    bal_save(KEYS[1], b)\n"
    "    lease_save(KEYS[2], node, mine)\n"
    "    redis.call('HSET', KEYS[3], node, fmt(op) .. ':' .. fmt(g))\n"
    "    return {g, b.balance, mine}\n"
    "end\n"
    "\n"
    "return run(main)\n";

static const char scripts_lease_return[] =
    SCRIPTS_LUA_BASE
    SCRIPTS_LUA_KEY
    SCRIPTS_LUA_LEASE_OP
    "\n"
    "-- lease_return: a node gives back part of its lease (syncer: what an\n"
    "-- idle key holds, after withdrawing it from the node's ledger).\n"
    "-- KEYS fg:{K}:bal, fg:{K}:lease, fg:{K}:op\n"
    "-- ARGV node, op id (the node's, increasing, shared with its grants),\n"
    "--      amount (> 0)\n"
    "-- Reply: {returned, balance, lease}, as lease_grant's. A resend of the\n"
    "-- node's last op id with the same amount replies the same again.\n"
    "local function main()\n"
    "    nkeys(3)\n"
    "    local node = word(ARGV[1], 'node')\n"
    "    local op = int(ARGV[2], 1, SAFE, 'op id')\n"
    "    local amount = int(ARGV[3], 1, LIMIT, 'amount')\n"
    "    local k = key_of(KEYS[1], 'bal')\n"
    "    same_key(KEYS[2], k, 'lease')\n"
    "    same_key(KEYS[3], k, 'op')\n"
    "\n"
    "    local b = bal_load(KEYS[1], k)\n"
    "    local held = leases(KEYS[2])\n"
    "    local mine = held[node] or 0\n"
    "    local last, was = last_op(KEYS[3], node)\n"
    "    if op == last and was == -amount then\n"
    "        return {amount, b.balance, mine}\n"
    "    end\n"
    "    if op <= last then\n"
    "        fail('FGSTALE', 'op ' .. fmt(op) .. ' of ' .. node\n"
    "             .. ': its last applied lease operation is ' .. fmt(last)\n"
    "             .. ' (' .. fmt(was) .. ')')\n"
    "    end\n"
    "    -- More than the node holds: the node and Redis disagree (it was\n"
    "    -- forgotten, or its journal is not this Redis's); nothing moves.\n"
    "    if amount > mine then\n"
    "        fail('FGARG', node .. ' holds ' .. fmt(mine)\n"
    "             .. ' on lease, not ' .. fmt(amount))\n"
    "    end\n"
    "    mine = mine - amount\n"
    "    b.balance = add(b.balance, amount, 'balance')\n"
    "\n"
    "    bal_save(KEYS[1], b)\n"
    "    lease_save(KEYS[2], node, mine)\n"
    "    redis.call('HSET', KEYS[3], node, fmt(op) .. ':' .. fmt(-amount))\n"
    "    return {amount, b.balance, mine}\n"
    "end\n"
    "\n"
    "return run(main)\n";

static const char scripts_lease_release[] =
    SCRIPTS_LUA_BASE
    SCRIPTS_LUA_KEY
    "\n"
    "-- lease_release: an operator's \"cluster forget NODE\", for one key:\n"
    "-- the node's whole lease goes back into the balance. The node's op\n"
    "-- and seq numbering stay: should it come back, its reports still\n"
    "-- apply once, in order, taking from the balance what its lease no\n"
    "-- longer covers (the exposure: at most the lease released here).\n"
    "-- KEYS fg:{K}:bal, fg:{K}:lease\n"
    "-- ARGV node\n"
    "-- Reply: the amount released (0 when the node held none).\n"
    "local function main()\n"
    "    nkeys(2)\n"
    "    local node = word(ARGV[1], 'node')\n"
    "    local k = key_of(KEYS[1], 'bal')\n"
    "    same_key(KEYS[2], k, 'lease')\n"
    "\n"
    "    local b = bal_load(KEYS[1], k)\n"
    "    local held = leases(KEYS[2])\n"
    "    local mine = held[node] or 0\n"
    "    if mine == 0 then\n"
    "        return 0\n"
    "    end\n"
    "    b.balance = add(b.balance, mine, 'balance')\n"
    "    bal_save(KEYS[1], b)\n"
    "    lease_save(KEYS[2], node, 0)\n"
    "    return mine\n"
    "end\n"
    "\n"
    "return run(main)\n";

static const char scripts_report[] =
    SCRIPTS_LUA_BASE
    SCRIPTS_LUA_KEY
    "\n"
    "-- report: a node's charges of one key, one numbered batch (syncer, in\n"
    "-- journal order, after its local usage journal has them).\n"
    "-- KEYS fg:{K}:bal, fg:{K}:lease, fg:{K}:seq, fg:{K}:use:<yyyymmdd>,\n"
    "--      fg:usage\n"
    "-- ARGV node, seq, charged, retention_s (of the day's counters),\n"
    "--      usage_maxlen (of fg:usage, approximate), n_models,\n"
    "--      n_models times: model, requests, prompt, completion, charged\n"
    "--      (the models' charged adding up to charged; a model may come\n"
    "--      twice), then zero or more usage records (JSON text) for fg:usage\n"
    "-- Reply: {\"ok\", seq} when applied; {\"dup\", last} when seq is at or\n"
    "-- below the node's last applied batch (a resend: nothing changes).\n"
    "local COUNTERS = {'requests', 'prompt', 'completion', 'charged'}\n"
    "local MODELS_MAX = 500\n"
    "\n"
    "local function main()\n"
    "    nkeys(5)\n"
    "    local node = word(ARGV[1], 'node')\n"
    "    local seq = int(ARGV[2], 1, SAFE, 'seq')\n"
    "    local charged = int(ARGV[3], 0, LIMIT, 'charged')\n"
    "    local retention = int(ARGV[4], 1, LIMIT, 'retention_s')\n"
    "    local maxlen = int(ARGV[5], 1, LIMIT, 'usage_maxlen')\n"
    "    -- At most MODELS_MAX: the day's counters go through unpack(),\n"
    "    -- whose limit must not be met at a write.\n"
    "    local n = int(ARGV[6], 0, math.min(MODELS_MAX,\n"
    "                                       math.floor((#ARGV - 6) / 5)),\n"
    "                  'n_models')\n"
    "    local k = key_of(KEYS[1], 'bal')\n"
    "    same_key(KEYS[2], k, 'lease')\n"
    "    same_key(KEYS[3], k, 'seq')\n"
    "    local day = KEYS[4]:match('^fg:{(key_[0-9a-f]+)}:use:'\n"
    "                              .. '%d%d%d%d%d%d%d%d$')\n"
    "    if day ~= k then\n"
    "        fail('FGARG', 'KEYS: ' .. KEYS[4] .. ' is not fg:{' .. k\n"
    "             .. '}:use:<yyyymmdd>')\n"
    "    end\n"
    "    if KEYS[5] ~= 'fg:usage' then\n"
    "        fail('FGARG', 'KEYS: ' .. KEYS[5] .. ' is not fg:usage')\n"
    "    end\n"
    "\n"
    "    local models, per, sum = {}, {}, 0\n"
    "    for i = 0, n - 1 do\n"
    "        local at = 7 + 5 * i\n"
    "        local model = ARGV[at]\n"
    "        if #model == 0 or #model > 255 or model:find('%c') then\n"
    "            fail('FGARG', 'a model is 1 to 255 bytes without control '\n"
    "                 .. 'characters')\n"
    "        end\n"
    "        if not per[model] then\n"
    "            per[model] = {0, 0, 0, 0}\n"
    "            models[#models + 1] = model\n"
    "        end\n"
    "        local c = per[model]\n"
    "        for j, what in ipairs(COUNTERS) do\n"
    "            local v = int(ARGV[at + j], 0, LIMIT, what)\n"
    "            c[j] = add(c[j], v, what)\n"
    "            if what == 'charged' then\n"
    "                sum = add(sum, v, \"the models' charged\")\n"
    "            end\n"
    "        end\n"
    "    end\n"
    "    if sum ~= charged then\n"
    "        fail('FGARG', \"the models' charged add up to \" .. fmt(sum)\n"
    "             .. ', not ' .. fmt(charged))\n"
    "    end\n"
    "    for i = 7 + 5 * n, #ARGV do\n"
    "        if #ARGV[i] == 0 then\n"
    "            fail('FGARG', 'a usage record is empty')\n"
    "        end\n"
    "    end\n"
    "\n"
    "    -- Exactly once, in order: a batch at or below the last is a resend\n"
    "    -- after a reconnect; one past last + 1 means Redis lost batches it\n"
    "    -- had acknowledged (restored from an older copy), which the node\n"
    "    -- must refuse loudly rather than paper over.\n"
    "    local last = stored(redis.call('HGET', KEYS[3], node), 'seq')\n"
    "    if seq <= last then\n"
    "        return {'dup', last}\n"
    "    end\n"
    "    if seq > last + 1 then\n"
    "        fail('FGGAP', 'batch ' .. fmt(seq) .. ' of ' .. node\n"
    "             .. ' after ' .. fmt(last) .. ': Redis lost batches')\n"
    "    end\n"
    "\n"
    "    -- The node's ledger paid these charges from its lease. A lease\n"
    "    -- released meanwhile (cluster forget) leaves the rest to the\n"
    "    -- balance, which may go below 0: the documented exposure.\n"
    "    local b = bal_load(KEYS[1], k)\n"
    "    local held = leases(KEYS[2])\n"
    "    local mine = held[node] or 0\n"
    "    local take = math.min(charged, mine)\n"
    "    mine = mine - take\n"
    "    b.balance = b.balance - (charged - take)\n"
    "    if b.balance < -LIMIT then\n"
    "        fail('FGARG', 'the balance would go below -' .. fmt(LIMIT))\n"
    "    end\n"
    "    b.charged = add(b.charged, charged, 'charged')\n"
    "\n"
    "    local fields, values = {}, {}\n"
    "    for _, m in ipairs(models) do\n"
    "        for j, what in ipairs(COUNTERS) do\n"
    "            fields[#fields + 1] = m .. '|' .. what\n"
    "            values[#values + 1] = per[m][j]\n"
    "        end\n"
    "    end\n"
    "    local day_type = redis.call('TYPE', KEYS[4]).ok\n"
    "    local usage_type = redis.call('TYPE', KEYS[5]).ok\n"
    "    if (day_type ~= 'none' and day_type ~= 'hash')\n"
    "       or (usage_type ~= 'none' and usage_type ~= 'stream') then\n"
    "        fail('FGSTATE', KEYS[4] .. ' or ' .. KEYS[5]\n"
    "             .. ' is of a wrong type')\n"
    "    end\n"
    "    local set = {}\n"
    "    if #fields > 0 then\n"
    "        local cur = redis.call('HMGET', KEYS[4], unpack(fields))\n"
    "        for i = 1, #fields do\n"
    "            set[#set + 1] = fields[i]\n"
    "            local v = stored(cur[i], fields[i])\n"
    "            set[#set + 1] = fmt(add(v, values[i], fields[i]))\n"
    "        end\n"
    "    end\n"
    "\n"
    "    bal_save(KEYS[1], b)\n"
    "    lease_save(KEYS[2], node, mine)\n"
    "    if #set > 0 then\n"
    "        redis.call('HSET', KEYS[4], unpack(set))\n"
    "        redis.call('EXPIRE', KEYS[4], retention)\n"
    "    end\n"
    "    for i = 7 + 5 * n, #ARGV do\n"
    "        redis.call('XADD', KEYS[5], 'MAXLEN', '~', fmt(maxlen), '*',\n"
    "                   'node', node, 'key', k, 'record', ARGV[i])\n"
    "    end\n"
    "    redis.call('HSET', KEYS[3], node, fmt(seq))\n"
    "    return {'ok', seq}\n"
    "end\n"
    "\n"
    "return run(main)\n";

static const char scripts_balance[] =
    SCRIPTS_LUA_BASE
    SCRIPTS_LUA_KEY
    "\n"
    "-- balance: a key's figures, regenerated to now, without writing (the\n"
    "-- admin API's view; tests check the invariant with it).\n"
    "-- KEYS fg:{K}:bal, fg:{K}:lease\n"
    "-- ARGV now_ms\n"
    "-- Reply: {balance, leased (the sum of the leases), charged, initial,\n"
    "-- topups, adjust, regen}, where\n"
    "--   balance + leased + charged = initial + topups + adjust + regen.\n"
    "local function main()\n"
    "    nkeys(2)\n"
    "    local now = int(ARGV[1], 0, LIMIT, 'now_ms')\n"
    "    local k = key_of(KEYS[1], 'bal')\n"
    "    same_key(KEYS[2], k, 'lease')\n"
    "\n"
    "    local b = bal_load(KEYS[1], k)\n"
    "    local _, leased = leases(KEYS[2])\n"
    "    local gain = regenerate(b, add(b.balance, leased, 'credit'), now)\n"
    "    return {add(b.balance, gain, 'balance'), leased, b.charged,\n"
    "            b.initial, b.topups, b.adjust, add(b.regen, gain, 'regen')}\n"
    "end\n"
    "\n"
    "return run(main)\n";

/* ---- the table ---------------------------------------------------------- */

static const struct {
    const char *name;
    const char *text;
    unsigned    numkeys;
} scripts_table[FG_CLUSTER_SCRIPTS] = {
    [FG_CLUSTER_SCRIPT_JOIN] = { "join", scripts_join, 3 },
    [FG_CLUSTER_SCRIPT_HEARTBEAT] = { "heartbeat", scripts_heartbeat, 1 },
    [FG_CLUSTER_SCRIPT_KEY_WRITE] = { "key_write", scripts_key_write, 5 },
    [FG_CLUSTER_SCRIPT_LEASE_GRANT] = { "lease_grant", scripts_lease_grant,
                                        3 },
    [FG_CLUSTER_SCRIPT_LEASE_RETURN] = { "lease_return",
                                         scripts_lease_return, 3 },
    [FG_CLUSTER_SCRIPT_LEASE_RELEASE] = { "lease_release",
                                          scripts_lease_release, 2 },
    [FG_CLUSTER_SCRIPT_REPORT] = { "report", scripts_report, 5 },
    [FG_CLUSTER_SCRIPT_BALANCE] = { "balance", scripts_balance, 2 },
};

const char *
fg_cluster_script_name(fg_cluster_script_t s)
{
    return (unsigned) s < FG_CLUSTER_SCRIPTS ? scripts_table[s].name : "";
}

const char *
fg_cluster_script_text(fg_cluster_script_t s)
{
    return (unsigned) s < FG_CLUSTER_SCRIPTS ? scripts_table[s].text : "";
}

unsigned
fg_cluster_script_numkeys(fg_cluster_script_t s)
{
    return (unsigned) s < FG_CLUSTER_SCRIPTS ? scripts_table[s].numkeys : 0;
}
