#!/usr/bin/env bash
# Runs every test layer against the binaries in $BUILD/bin and prints one
# closing line "N passed, N failed". Exits non-zero if anything failed or a
# layer could not run. Layers: unit (C), fuzz corpus replay, integration
# (real binaries, node's test runner), compat (the official openai SDK, the
# Vercel AI SDK and LangChain JS as clients).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export FG_BIN_DIR=${FG_BIN_DIR:-$PWD/$BUILD/bin}
export FG_SRC_DIR=$PWD
passed=0
failed=0
broken=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# Adds the counts of a C test binary's closing line "N passed, N failed".
count_c() {
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    if [ -z "$line" ]; then
        echo "tests: $1 printed no closing line" >&2
        broken=$((broken + 1))
        return
    fi
    passed=$((passed + $(echo "$line" | awk '{print $1}')))
    failed=$((failed + $(echo "$line" | awk '{print $3}')))
}

# Adds the counts of node's TAP summary ("# pass N", "# fail N",
# "# cancelled N"). A test cancelled because its suite's hook failed is a
# failure: node counts it apart, and a before() that throws would
# otherwise pass unseen. $2 is node's exit status: non-zero with nothing
# counted as failed is a run that broke.
count_tap() {
    local p f c
    p=$(grep -E '^# pass [0-9]+' "$out" | tail -n 1 | awk '{print $3}')
    f=$(grep -E '^# fail [0-9]+' "$out" | tail -n 1 | awk '{print $3}')
    c=$(grep -E '^# cancelled [0-9]+' "$out" | tail -n 1 | awk '{print $3}')
    if [ -z "$p" ] || [ -z "$f" ]; then
        echo "tests: $1 printed no TAP summary" >&2
        broken=$((broken + 1))
        return
    fi
    passed=$((passed + p))
    failed=$((failed + f + ${c:-0}))
    if [ "${2:-0}" -ne 0 ] && [ $((f + ${c:-0})) -eq 0 ]; then
        echo "tests: $1 exited with status $2" >&2
        broken=$((broken + 1))
    fi
}

# tests/compat's npm packages: the clients of the compat layer (the openai
# SDK, the Vercel AI SDK, LangChain JS), and js-tiktoken for the token ids
# the unit tests compare with. Installed again when the lock file is newer
# than the install.
lock=tests/compat/package-lock.json
if [ ! -f tests/compat/node_modules/.package-lock.json ] \
   || [ "$lock" -nt tests/compat/node_modules/.package-lock.json ]; then
    (cd tests/compat && npm ci --no-audit --no-fund --silent) || {
        echo "tests: npm ci in tests/compat failed" >&2
        broken=$((broken + 1))
    }
fi

# The ids js-tiktoken gives the token corpus; test_bpe fails without them.
export FG_TOKENS_REFERENCE=$PWD/$BUILD/tokens/reference.json
rm -f "$FG_TOKENS_REFERENCE"
node tests/lib/tiktoken-reference.mjs tests/fixtures/tokens/corpus.json \
    "$FG_TOKENS_REFERENCE" || {
    echo "tests: tests/lib/tiktoken-reference.mjs failed" >&2
    broken=$((broken + 1))
}

echo "== unit"
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    "$t" >"$out" 2>&1
    rc=$?
    cat "$out"
    count_c "$t"
    [ $rc -eq 0 ] || grep -q 'not ok' "$out" || broken=$((broken + 1))
done

if [ -x "$BUILD/tests/fuzz_replay_validate" ]; then
    echo "== fuzz corpus replay"
    # Every target the Makefile builds (FUZZ_TARGETS), each on its corpus.
    for bin in "$BUILD"/tests/fuzz_replay_*; do
        target=${bin##*/fuzz_replay_}
        "$bin" "tests/fuzz/corpus/$target" >"$out" 2>&1
        cat "$out"
        count_c "fuzz replay $target"
    done
fi

echo "== integration"
node --test --test-reporter=tap --test-concurrency=1 \
    tests/integration/*.test.mjs >"$out" 2>&1
rc=$?
cat "$out" | grep -vE '^\s+(duration_ms|\.\.\.|---|type:)'
count_tap integration "$rc"

# Every test above reaches fg-sim at http://127.0.0.1, which fluxgate's
# own HTTP/1.1 client serves; the upstream and streaming tests run once
# more through libcurl, the client of every https:// provider.
echo "== integration, upstreams through libcurl"
FG_TEST_UPSTREAM_CLIENT=libcurl node --test --test-reporter=tap \
    --test-concurrency=1 tests/integration/50-upstream.test.mjs \
    tests/integration/57-upstream-outcome.test.mjs \
    tests/integration/60-streaming.test.mjs >"$out" 2>&1
rc=$?
cat "$out" | grep -vE '^\s+(duration_ms|\.\.\.|---|type:)'
count_tap "integration (libcurl)" "$rc"

echo "== compat (openai SDK, Vercel AI SDK, LangChain JS)"
if [ -d tests/compat/node_modules ]; then
    node --test --test-reporter=tap --test-concurrency=1 \
        tests/compat/*.test.mjs >"$out" 2>&1
    rc=$?
    cat "$out" | grep -vE '^\s+(duration_ms|\.\.\.|---|type:)'
    count_tap compat "$rc"
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$broken" -eq 0 ]
