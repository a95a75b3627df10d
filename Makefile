# fluxgate: one non-recursive Makefile. Out of tree: objects in $(BUILD)/obj
# mirror the source tree, binaries in $(BUILD)/bin, unit tests in
# $(BUILD)/tests. `make asan` builds into build/asan so flags never mix.
#
#   make run     install what is missing, build, start the demo gateway
#   make test    install what is missing, build, run every test
#   make asan    the same tests against an ASan+UBSan build
#   make install PREFIX=/usr/local [DESTDIR=…]

BUILD   ?= build
PREFIX  ?= /usr/local
SAN     ?=
V       ?=

PORT     ?= 8080
SIM_PORT ?= 8081

CC      ?= cc
PKGS     = libevent libcurl jansson libsodium hiredis libpcre2-8 zlib

OPT      = -O2
ifeq ($(SAN),1)
OPT      = -O1 -fsanitize=address,undefined -fno-sanitize-recover=all
endif

CFLAGS  ?= $(OPT) -g -fno-omit-frame-pointer
WARN     = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wno-format-nonliteral
SYSCONFDIR ?= $(CURDIR)/etc
ALL_CFLAGS = $(WARN) $(CFLAGS) -D_GNU_SOURCE -I. -MMD -MP \
             -DFG_SYSCONFDIR=\"$(SYSCONFDIR)\" \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -levent_pthreads -lm
ALL_LDFLAGS = $(LDFLAGS) $(if $(filter 1,$(SAN)),-fsanitize=address$(,)undefined)
, := ,

ifeq ($(V),)
Q = @
else
Q =
endif

COMMON_SRCS  = $(sort $(wildcard common/*/*.c))
WORKER_SRCS  = $(sort $(wildcard worker/*.c))
MASTER_SRCS  = $(sort $(wildcard master/*.c))
ADMIN_SRCS   = $(sort $(wildcard admin/*.c))
SIM_SRCS     = $(sort $(wildcard tests/sim/*.c))
UNIT_SRCS    = $(sort $(wildcard tests/unit/test_*.c))


obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBCOMMON = $(BUILD)/lib/libfgcommon.a
LIBWORKER = $(BUILD)/lib/libfgworker.a
FLUXGATE  = $(BUILD)/bin/fluxgate
SIM       = $(BUILD)/bin/fg-sim
UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
FUZZ_TARGETS = validate sse http conn h1head h1chunked proxyproto image tokcount \
               jsonrepair compress jedit
FUZZ_REPLAY  = $(patsubst %,$(BUILD)/tests/fuzz_replay_%,$(FUZZ_TARGETS))

BINS = $(FLUXGATE) $(SIM)
ifneq ($(ADMIN_SRCS),)
ADMIN = $(BUILD)/bin/fluxgate-admin
BINS += $(ADMIN)
endif

.PHONY: all deps run test asan lint install clean fuzz fuzz-ready bench
.SECONDARY:

all: $(BINS) $(UNIT_BINS) $(FUZZ_REPLAY)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBCOMMON): $(call obj,$(COMMON_SRCS))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBWORKER): $(call obj,$(WORKER_SRCS))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

# -rdynamic: a crash report's backtrace names the exported functions.
$(FLUXGATE): $(call obj,$(MASTER_SRCS)) $(LIBWORKER) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -rdynamic $^ $(LDLIBS) -o $@

$(SIM): $(call obj,$(SIM_SRCS)) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

ifneq ($(ADMIN_SRCS),)
$(ADMIN): $(call obj,$(ADMIN_SRCS)) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@
endif

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBWORKER) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

# fg-sim's prompt counting, tested apart from the simulator. A rule of its
# own: an object added to the pattern rule above would link after the
# archives, whose members it needs.
$(BUILD)/tests/test_sim_count: $(BUILD)/obj/tests/unit/test_sim_count.o \
                               $(BUILD)/obj/tests/sim/count.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/test_sim_schema: $(BUILD)/obj/tests/unit/test_sim_schema.o \
                                $(BUILD)/obj/tests/sim/schema.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

# Debian packages the build and the tests need; only missing ones are
# installed. node and npm are checked as commands because a machine may
# carry them from elsewhere than Debian's nodejs package. The tests start
# redis-server themselves, on private unix sockets; the package's own
# service is never used.
DEB_PKGS = gcc make pkg-config libevent-dev libcurl4-openssl-dev \
           libjansson-dev libhiredis-dev libsodium-dev libpcre2-dev zlib1g-dev \
           curl prometheus jq redis-server

deps:
	@missing=""; \
	for p in $(DEB_PKGS); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing$$missing"; \
	    if [ "$$(id -u)" != 0 ]; then \
	        echo "deps: error: missing$$missing; run as root or install them" >&2; \
	        exit 1; \
	    fi; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $$missing; } \
	      >/tmp/fluxgate-deps.log 2>&1 || { \
	        echo "deps: error: apt-get install$$missing failed; see /tmp/fluxgate-deps.log" >&2; \
	        exit 1; }; \
	fi

# The demo: the upstream simulator as provider "demo", the gateway in front,
# and a first API key, created once through the admin API and kept in
# $(DEMO_KEY) (the gateway itself stores only its hash) so that the README's
# curl works: export FLUXGATE_KEY=$$(cat $(DEMO_KEY)).
#
# Everything a demo writes is in $(RUN_DIR), one folder per PORT: its
# configuration (etc/fluxgate.json with the paths and the metrics port
# moved there), data folder (key store, lock, admin socket; the shm name
# follows it), pid file and demo key. So two `make run PORT=… SIM_PORT=…`
# on one machine share nothing, and a second run reuses its own key.
# The key is replaced only when the gateway answers 401 for it: never
# while it is still starting (503 key_store_loading, no answer yet).
RUN_DIR      ?= /tmp/fluxgate-$(PORT)
DEMO_KEY     ?= $(RUN_DIR)/demo.key
METRICS_PORT ?= $(shell echo $$(( $(PORT) + 1384 )))
RUN_CONF      = $(RUN_DIR)/fluxgate.json
RUN_JQ        = def abs: if startswith("/") then . else $$etc + "/" + . end; \
                .listen = $$listen | .data_dir = $$dir + "/data" \
                | .pid_file = $$dir + "/fluxgate.pid" \
                | .admin.listen = "unix:" + $$dir + "/data/admin.sock" \
                | .metrics.listen = $$metrics \
                | .catalog.providers |= abs | .catalog.models |= abs

run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(RUN_DIR) && chmod 700 $(RUN_DIR)
	@jq --arg dir '$(RUN_DIR)' --arg etc '$(CURDIR)/etc' \
	    --arg listen '127.0.0.1:$(PORT)' --arg metrics '127.0.0.1:$(METRICS_PORT)' \
	    '$(RUN_JQ)' etc/fluxgate.json > $(RUN_CONF).tmp && mv $(RUN_CONF).tmp $(RUN_CONF)
	@$(SIM) -l 127.0.0.1:$(SIM_PORT) & sim=$$!; \
	FG_DEMO_BASE_URL=http://127.0.0.1:$(SIM_PORT)/v1 FG_DEMO_API_KEY=demo \
	    $(FLUXGATE) -c $(RUN_CONF) & gw=$$!; \
	trap 'kill $$gw $$sim 2>/dev/null; wait $$gw 2>/dev/null' EXIT INT TERM; \
	unset FLUXGATE_ADMIN FLUXGATE_ADMIN_TOKEN FLUXGATE_ADMIN_TOKEN_FILE; \
	export FLUXGATE_CONF=$(RUN_CONF); \
	key=$$(cat $(DEMO_KEY) 2>/dev/null); code=000; \
	for i in $$(seq 300); do \
	    kill -0 $$gw 2>/dev/null || { \
	        echo "fluxgate: the gateway stopped (see above)" >&2; exit 1; }; \
	    code=$$(curl -s -o /dev/null -w '%{http_code}' \
	        -H "Authorization: Bearer $${key:-none}" \
	        http://127.0.0.1:$(PORT)/v1/models); \
	    case $$code in 200|401) break;; esac; sleep 0.1; \
	done; \
	if [ "$$code" = 401 ]; then \
	    for i in $$(seq 50); do \
	        key=$$($(ADMIN) --json keys create --name demo --owner demo \
	               --balance 100 2>/dev/null \
	               | sed -n 's/.*"secret": *"\(fg-[^"]*\)".*/\1/p'); \
	        [ -n "$$key" ] && break; sleep 0.1; \
	    done; \
	    [ -n "$$key" ] || { echo "fluxgate: could not create the demo key" >&2; exit 1; }; \
	    (umask 077; echo "$$key" > $(DEMO_KEY)); \
	elif [ "$$code" != 200 ]; then \
	    echo "fluxgate: no answer on 127.0.0.1:$(PORT) (HTTP $$code)" >&2; exit 1; \
	fi; \
	echo; \
	echo "fluxgate: demo gateway on http://127.0.0.1:$(PORT) (Ctrl-C stops it)"; \
	echo "fluxgate: metrics on http://127.0.0.1:$(METRICS_PORT)/metrics"; \
	echo "fluxgate: demo API key (also in $(DEMO_KEY)):"; \
	echo "  export FLUXGATE_KEY=$$key"; \
	echo "fluxgate: administer it with:"; \
	echo "  export FLUXGATE_CONF=$(RUN_CONF)"; \
	echo "  $(ADMIN) status"; \
	echo; \
	wait $$gw

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory lint
	@BUILD=$(BUILD) tests/run.sh

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 test

# Benchmarks, never part of `make test`: fluxgate against the upstream alone
# and against nginx as a plain keep-alive proxy, on loopback, in one run
# (docs/performance.md). Installs wrk and nginx if missing, builds the
# release binaries into $(BENCH_DIR), prints one table and writes
# $(BENCH_DIR)/results.json; exits non-zero only if a request failed.
# MODE=throughput|capacity runs one half; PROFILE=1 adds a perf profile.
BENCH_DIR     ?= build/bench
BENCH_PKGS     = wrk nginx
MODE          ?= all
BENCH_SECONDS ?= 5
BENCH_ROUNDS  ?= 2
bench: deps
	@missing=""; \
	for p in $(BENCH_PKGS); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "bench: installing$$missing"; \
	    if [ "$$(id -u)" != 0 ]; then \
	        echo "bench: error: missing$$missing; run as root or install them" >&2; \
	        exit 1; \
	    fi; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $$missing; } \
	      >/tmp/fluxgate-bench-deps.log 2>&1 || { \
	        echo "bench: error: apt-get install$$missing failed; see /tmp/fluxgate-bench-deps.log" >&2; \
	        exit 1; }; \
	fi
	@$(MAKE) --no-print-directory -j2 BUILD=$(BENCH_DIR) \
	    $(BENCH_DIR)/bin/fluxgate $(BENCH_DIR)/bin/fg-sim \
	    $(BENCH_DIR)/bin/fg-bench-client $(BENCH_DIR)/bin/nodelay.so
	@$(MAKE) --no-print-directory BUILD=$(BENCH_DIR) $(BENCH_DIR)/bin/bench_auth \
	    || echo "bench: tests/bench/bench_auth.c did not build; its line is skipped"
	@$(MAKE) --no-print-directory BUILD=$(BENCH_DIR) $(BENCH_DIR)/bin/bench_tokens \
	    || echo "bench: tests/bench/bench_tokens.c did not build; its lines are skipped"
	@$(MAKE) --no-print-directory BUILD=$(BENCH_DIR) $(BENCH_DIR)/bin/bench_route \
	    || echo "bench: tests/bench/bench_route.c did not build; its lines are skipped"
	@ulimit -n $$(ulimit -Hn) 2>/dev/null; \
	node tests/bench/run.mjs --bin $(BENCH_DIR)/bin --out $(BENCH_DIR) \
	    --mode $(MODE) --seconds $(BENCH_SECONDS) --rounds $(BENCH_ROUNDS) \
	    $(if $(filter 1,$(PROFILE)),--profile)

$(BUILD)/bin/fg-bench-client: tests/bench/client.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(WARN) $(CFLAGS) -D_GNU_SOURCE $< -o $@

$(BUILD)/bin/nodelay.so: tests/bench/nodelay.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -shared -fPIC $< -o $@ -ldl

$(BUILD)/bin/bench_auth: $(BUILD)/obj/tests/bench/bench_auth.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bin/bench_tokens: $(BUILD)/obj/tests/bench/bench_tokens.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bin/bench_route: $(BUILD)/obj/tests/bench/bench_route.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

# The layering rules. Between folders: common/ includes nothing from
# worker/, master/ or admin/; worker/ and master/ never include each other;
# admin/ only common/. Inside common/, grouped by what a module knows:
# base/ (allocation, clock, log, configuration, errors, the shm arena,
# metrics, catalog), wire/ (HTTP, JSON, SSE, UTF-8, number formatting),
# accounts/ (keys, ledger, limiter, usage rings, impact) and store/
# (journals, key store, usage log, access log), tokens/ (token counts),
# route/ (health table, router). The wire knows nothing of money or disk:
# it includes only wire/ and base/'s alloc, errors, clock and log.
# accounts/ never includes store/ or the wire's HTTP server. tokens/
# includes only base/, wire/ and itself. route/ never includes store/.
# cluster/ (the Redis connection and what speaks through it) includes only
# base/, wire/ and itself.
WIRE_MAY = common/wire/|common/base/(alloc|errors|clock|log)\.h
lint:
	@bad=$$(grep -n '#include "\(worker\|master\|admin\)/' common/*/*.[ch]; \
	        grep -n '#include "master/' worker/*.[ch]; \
	        grep -n '#include "worker/' master/*.[ch] admin/*.[ch] 2>/dev/null; \
	        grep -n '#include "master/' admin/*.[ch] 2>/dev/null; \
	        grep -n '#include "common/' common/wire/*.[ch] | grep -Ev '"($(WIRE_MAY))'; \
	        grep -n '#include "common/\(store\|wire/http\)' common/accounts/*.[ch]; \
	        grep -n '#include "common/' common/tokens/*.[ch] \
	            | grep -Ev '"common/(base|wire|tokens)/'; \
	        grep -n '#include "common/' common/route/*.[ch] \
	            | grep -Ev '"common/(base|wire|accounts|tokens|route)/'; \
	        grep -n '#include "common/' common/cluster/*.[ch] \
	            | grep -Ev '"common/(base|wire|cluster)/'; \
	        ls common/*.[ch] 2>/dev/null; true); \
	if [ -n "$$bad" ]; then echo "lint: layering violation:"; echo "$$bad"; exit 1; fi
	@echo "lint: layering ok"

# Installed binaries look for their configuration in $(PREFIX)/etc/fluxgate,
# so they are built apart with that directory compiled in.
install:
	@$(MAKE) --no-print-directory BUILD=build/install \
	    SYSCONFDIR=$(PREFIX)/etc/fluxgate build/install/bin/fluxgate \
	    build/install/bin/fluxgate-admin
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/etc/fluxgate
	install -m 755 build/install/bin/fluxgate $(DESTDIR)$(PREFIX)/bin/fluxgate
	install -m 755 build/install/bin/fluxgate-admin \
	    $(DESTDIR)$(PREFIX)/bin/fluxgate-admin
	install -d $(DESTDIR)$(PREFIX)/etc/fluxgate/impact
	for f in etc/*.json etc/impact/*.json; do \
	    d=$(DESTDIR)$(PREFIX)/etc/fluxgate/$${f#etc/}; \
	    [ -e $$d ] || install -m 644 $$f $$d; \
	done
	@# Tokenizers are data that must match the code: always replaced.
	install -d $(DESTDIR)$(PREFIX)/etc/fluxgate/tokenizers
	install -m 644 etc/tokenizers/* $(DESTDIR)$(PREFIX)/etc/fluxgate/tokenizers

clean:
	rm -rf build

# Fuzzing. The corpus replay builds with any compiler and runs in
# `make test`; `make fuzz` runs libFuzzer (clang, installed from Debian if
# missing) under ASan and UBSan for FUZZ_TIME seconds per target, writing
# new inputs under $(BUILD)/fuzz/work and any crash under $(BUILD)/fuzz/.
# `make fuzz-ready` only checks (and installs) clang with libFuzzer: .ci/run
# skips fuzzing, never fails, when it says no.
FUZZ_CC     ?= clang
FUZZ_TIME   ?= 60
FUZZ_FLAGS   = $(WARN) -D_GNU_SOURCE -DFG_SYSCONFDIR=\"$(SYSCONFDIR)\" -I. -g -O1 \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_PROBE   = printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, \
               unsigned long n) { (void) d; (void) n; return 0; }\n' \
               | $(FUZZ_CC) -x c -fsanitize=fuzzer -o /dev/null - \
               >/dev/null 2>&1

$(BUILD)/tests/fuzz_replay_%: $(BUILD)/obj/tests/fuzz/replay.o \
                             $(BUILD)/obj/tests/fuzz/fuzz_%.o \
                             $(LIBWORKER) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/fuzz/fuzz_validate: tests/fuzz/fuzz_validate.c worker/validate.c worker/verdict.c \
                             worker/responses_req.c worker/responses_store.c \
                             common/store/respstore.c common/base/clock.c \
                             common/base/log.c \
                             worker/routereq.c common/route/preset.c \
                             common/wire/httpparse.c common/wire/jdoc.c common/wire/utf8.c \
                             common/wire/json.c common/base/errors.c common/base/alloc.c
$(BUILD)/fuzz/fuzz_sse: tests/fuzz/fuzz_sse.c common/wire/sse.c common/base/errors.c \
                        common/base/alloc.c
$(BUILD)/fuzz/fuzz_http: tests/fuzz/fuzz_http.c common/wire/httpparse.c
$(BUILD)/fuzz/fuzz_conn: tests/fuzz/fuzz_conn.c common/wire/httpserver.c \
                         common/wire/proxyproto.c common/wire/cidr.c \
                         common/wire/httpparse.c common/wire/fmt.c \
                         common/base/errors.c common/base/alloc.c \
                         common/base/log.c
$(BUILD)/fuzz/fuzz_h1head: tests/fuzz/fuzz_h1head.c worker/upstream_h1_reply.c \
                           common/wire/httpparse.c
$(BUILD)/fuzz/fuzz_h1chunked: tests/fuzz/fuzz_h1chunked.c \
                              worker/upstream_h1_reply.c common/wire/httpparse.c
$(BUILD)/fuzz/fuzz_proxyproto: tests/fuzz/fuzz_proxyproto.c common/wire/proxyproto.c
$(BUILD)/fuzz/fuzz_image: tests/fuzz/fuzz_image.c common/tokens/media.c
$(BUILD)/fuzz/fuzz_tokcount: tests/fuzz/fuzz_tokcount.c common/tokens/tokcount.c \
                            common/tokens/bpe.c common/tokens/media.c \
                            common/wire/jdoc.c common/wire/utf8.c \
                            common/wire/json.c common/base/errors.c \
                            common/base/alloc.c
$(BUILD)/fuzz/fuzz_jsonrepair: tests/fuzz/fuzz_jsonrepair.c common/wire/jsonrepair.c \
                              common/wire/jdoc.c common/wire/utf8.c \
                              common/wire/json.c common/base/errors.c \
                              common/base/alloc.c
$(BUILD)/fuzz/fuzz_compress: tests/fuzz/fuzz_compress.c common/tokens/compress.c \
                             common/tokens/tokcount.c common/tokens/bpe.c \
                             common/tokens/media.c worker/validate.c worker/verdict.c \
                             worker/responses_req.c worker/responses_store.c \
                             common/store/respstore.c common/base/clock.c \
                             common/base/log.c \
                             worker/routereq.c common/route/preset.c \
                             common/wire/httpparse.c common/wire/jdoc.c \
                             common/wire/utf8.c common/wire/json.c \
                             common/base/errors.c common/base/alloc.c
$(BUILD)/fuzz/fuzz_jedit: tests/fuzz/fuzz_jedit.c common/wire/jedit.c \
                          common/wire/jdoc.c common/wire/utf8.c \
                          common/wire/json.c common/base/errors.c \
                          common/base/alloc.c
$(BUILD)/fuzz/fuzz_%:
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $(filter %.c,$^) $(LDLIBS) -o $@

fuzz-ready:
	@$(FUZZ_PROBE) || { [ "$$(id -u)" = 0 ] \
	    && { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	         apt-get install -y -qq --no-install-recommends clang \
	         libclang-rt-dev; } >/tmp/fluxgate-fuzz-deps.log 2>&1 \
	    && $(FUZZ_PROBE); } || { \
	    echo "fuzz: clang with libFuzzer is missing and could not be" \
	         "installed (root and Debian's archive are needed; see" \
	         "/tmp/fluxgate-fuzz-deps.log)" >&2; exit 1; }

fuzz: fuzz-ready
	@$(MAKE) --no-print-directory \
	    $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do mkdir -p $(BUILD)/fuzz/work/$$t; \
	    echo "fuzz: $$t for $(FUZZ_TIME) s"; \
	    $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -timeout=25 \
	        -artifact_prefix=$(BUILD)/fuzz/$$t- -print_final_stats=1 \
	        -dict=tests/fuzz/$$t.dict $(BUILD)/fuzz/work/$$t \
	        tests/fuzz/corpus/$$t || exit 1; done

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
