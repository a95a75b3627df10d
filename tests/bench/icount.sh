#!/usr/bin/env bash
# Instructions per request, by process, under callgrind: a measure that a
# busy or shared machine does not move, for comparing two builds.
#
#   tests/bench/icount.sh [-n REQUESTS] [-b BIN_DIR] [-o OUT_DIR]
#
# Starts fg-sim and fluxgate (one worker, under valgrind --tool=callgrind
# with --trace-children) from BIN_DIR (default build/bench/bin, as `make
# bench` builds it) on free loopback ports with a data folder in OUT_DIR,
# creates a key, sends REQUESTS (default 2000) non-streaming chat requests
# four at a time over keep-alive connections, stops everything by pid and
# prints the user-space instructions per request of the worker and of the
# syncer (start-up included: the master's too, inherited at the fork, which
# since issue 13 holds the tokenizer load; compare fg_worker_run's
# inclusive count when start-up differs). Compare two trees
# by running it in each; `callgrind_annotate OUT_DIR/cg.PID` says where.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=2000
BIN=build/bench/bin
OUT=$(mktemp -d /tmp/fg-icount.XXXXXX)
while getopts "n:b:o:" o; do
    case $o in
    n) N=$OPTARG ;;
    b) BIN=$OPTARG ;;
    o) OUT=$OPTARG ;;
    *) echo "usage: $0 [-n REQUESTS] [-b BIN_DIR] [-o OUT_DIR]" >&2; exit 2 ;;
    esac
done
command -v valgrind >/dev/null || { echo "icount: valgrind is missing (apt-get install valgrind)" >&2; exit 2; }
mkdir -p "$OUT/data"
port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
SIMP=$(port); GWP=$(port); MP=$(port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$BIN/fg-sim" -l "127.0.0.1:$SIMP" -q >"$OUT/sim.log" 2>&1 & pids+=($!)
node -e "
const fs = require('fs');
const j = JSON.parse(fs.readFileSync('etc/fluxgate.json', 'utf8'));
j.workers = 1; j.pid_file = '$OUT/fg.pid'; j.data_dir = '$OUT/data';
j.admin = { listen: 'unix:$OUT/data/admin.sock' };
j.metrics = { listen: '127.0.0.1:$MP' };
j.catalog = { providers: '$PWD/etc/providers.json', models: '$PWD/etc/models.json' };
fs.writeFileSync('$OUT/fluxgate.json', JSON.stringify(j));"
FG_DEMO_BASE_URL="http://127.0.0.1:$SIMP/v1" FG_DEMO_API_KEY=demo \
    valgrind --tool=callgrind --trace-children=yes -q \
    --callgrind-out-file="$OUT/cg.%p" \
    "$BIN/fluxgate" -c "$OUT/fluxgate.json" -l "127.0.0.1:$GWP" >"$OUT/fg.log" 2>&1 & gw=$!
pids=("$gw" "${pids[@]}")
for _ in $(seq 240); do
    [ -S "$OUT/data/admin.sock" ] && [ -s "$OUT/data/admin.token" ] && break
    sleep 0.5
done
key=""
for _ in $(seq 60); do
    key=$(build/bin/fluxgate-admin --admin "unix:$OUT/data/admin.sock" \
          --token-file "$OUT/data/admin.token" --json keys create --name icount \
          --owner icount --balance 1000000 2>/dev/null \
          | sed -n 's/.*"secret": *"\(fg-[^"]*\)".*/\1/p') || true
    [ -n "$key" ] && break
    sleep 0.5
done
[ -n "$key" ] || { echo "icount: could not create a key; see $OUT/fg.log" >&2; exit 1; }
cat >"$OUT/load.mjs" <<JS
import http from 'node:http';
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const body = JSON.stringify({ model: 'demo-chat', max_tokens: 16,
  messages: [{ role: 'user', content: 'Hello, how are you today? Tell me about gateways.' }] });
const one = () => new Promise((ok, fail) => {
  const r = http.request({ agent, host: '127.0.0.1', port: $GWP, method: 'POST',
    path: '/v1/chat/completions', headers: { 'content-type': 'application/json',
      authorization: 'Bearer $key', 'content-length': Buffer.byteLength(body) } }, (s) => {
    s.resume(); s.on('end', () => (s.statusCode === 200 ? ok() : fail(new Error(String(s.statusCode)))));
  });
  r.on('error', fail); r.end(body);
});
let left = Number(process.argv[2]), failed = 0;
const lane = async () => { while (left > 0) { left--; await one().catch(() => failed++); } };
await Promise.all([lane(), lane(), lane(), lane()]);
agent.destroy();
if (failed) { console.error(failed + ' requests failed'); process.exit(1); }
JS
node "$OUT/load.mjs" 200
node "$OUT/load.mjs" "$N"
kill -TERM "$gw"; wait "$gw" 2>/dev/null || true
sleep 1
total=$((N + 200))
for f in "$OUT"/cg.*; do
    ir=$(awk '/^(summary|totals):/ {v=$2} END {print v+0}' "$f")
    echo "$ir $f"
done | sort -n | tail -n 2 | {
    read -r s_ir s_f; read -r w_ir w_f
    echo "worker: $((w_ir / total)) instructions/request ($w_f)"
    echo "syncer: $((s_ir / total)) instructions/request ($s_f)"
}
