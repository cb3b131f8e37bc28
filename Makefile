# Kevo build. Every source file is picked up by wildcard: adding a module needs no edit here.
#   make                  build kevo-server (and build/liblsm.a)
#   make test             install test deps if missing, build, run unit tests + redis-compat tests
#   make run              install build deps if missing, build, start kevo-server with kevo-server.conf
#   make SANITIZER=address|undefined|thread test
#   make bench-engine     engine benchmark vs RocksDB db_bench
#   make bench-bigkeys    1M-member hash/set/zset: per-member cost vs small, O(1) DEL, space back (SIZE=)
#   make bench-scale      data set ~7x the memory limit: load, disk-bound/skewed reads, latency
#                         isolation, space reclaim, compaction, restart, 1M collections; next to
#                         fio and db_bench; ~40 min (SIZE= VALUE= CLIENTS= MEMORY= DURATION= OUT=
#                         KEEP=1; see bench/bench-scale.sh). Needs root (memory cgroup, drop_caches)
#                         and fio, rocksdb-tools, gnuplot-nox. Not part of make test.
#   make install          binary, /etc/kevo/kevo-server.conf and a systemd unit (PREFIX, DESTDIR)
#   make test-scale       long engine runs (5M-op model, 2 GiB memory bound, dense crash cuts)
#   make fault-test       every engine I/O call failed in turn + many power cuts (FAULT_STRIDE,
#                         POWER_CUTS, SEED)
#   make crash-test       kill -9 crash harness over the protocol (CYCLES=N CLIENTS= SEED= FSYNC=)
CC       ?= cc
SANITIZER ?=
OPT      ?= -O2
CFLAGS   ?=
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) -pthread -MMD -MP -Isrc -Isrc/lsm -Isrc/resp \
            -Isrc/scripting $(LUA_CFLAGS)
# Lua 5.1 (what Redis embeds) with Debian's cjson and bitop, linked statically (scripting)
LUA_CFLAGS := $(shell pkg-config --cflags lua5.1 2>/dev/null || echo -I/usr/include/lua5.1)
LUA_LIBS   := -l:liblua5.1-cjson.a -l:liblua5.1-bitop.a -l:liblua5.1.a -ldl
LDLIBS   += $(LUA_LIBS) -pthread -llz4 -lm
# io_uring (Debian liburing-dev) for the loop's own disk reads (src/lsm/uring_reader.c); without
# it the engine builds with reader threads only
URING_LIBS := $(shell pkg-config --libs liburing 2>/dev/null)
ifneq ($(URING_LIBS),)
  CFLAGS += -DKEVO_URING
  LDLIBS += $(URING_LIBS)
endif
BUILD    := build
TEST_CFLAGS :=
TEST_LIBCRITERION := -lcriterion

ifeq ($(SANITIZER),)
  LDLIBS += -ljemalloc
  CFLAGS += -DKEVO_JEMALLOC
else
  BUILD  := build-$(SANITIZER)
  ifeq ($(SANITIZER),thread)
    # Criterion cannot start under TSAN (Snaipe/Criterion#274): the same test files build
    # against tests/criterion-shim, a minimal runner with Criterion's test/assert macros.
    TEST_CFLAGS := -Itests/criterion-shim
    TEST_LIBCRITERION :=
  endif
  CFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer
  ifeq ($(SANITIZER),undefined)
    CFLAGS += -fno-sanitize-recover=all
  endif
  LDFLAGS += -fsanitize=$(SANITIZER)
  OPT    := -O1
endif

ifneq ($(FAKE_LSM),)
  BUILD  := $(BUILD)-fake
endif
LSM_SRC    := $(wildcard src/lsm/*.c)
SERVER_SRC := $(filter-out src/main.c,$(wildcard src/*.c src/types/*.c src/resp/*.c src/scripting/*.c))
LSM_OBJ    := $(LSM_SRC:%.c=$(BUILD)/%.o)
ifneq ($(FAKE_LSM),)
  LSM_OBJ := $(BUILD)/fake_lsm.o
endif
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ   := $(BUILD)/src/main.o
TEST_SRC   := $(wildcard tests/test_*.c)
TEST_BIN   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC  := $(wildcard bench/*.c)
BENCH_BIN  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.DELETE_ON_ERROR:
.PHONY: bench-bigkeys bench-scale install uninstall test-scale fault-test all test unit-test compat-test run install clean deps test-deps bench-engine bench
# ./kevo-server is always the release build; sanitizer builds stay in build-<sanitizer>/.
ifeq ($(SANITIZER),)
all: kevo-server
else
all: $(BUILD)/kevo-server
endif

# FAKE_LSM=path/to/fake.c builds against a throwaway implementation of lsm.h (development only,
# while the engine is being written); never used by make test.
ifneq ($(FAKE_LSM),)
$(BUILD)/fake_lsm.o: $(FAKE_LSM)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<
endif

$(BUILD)/liblsm.a: $(LSM_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/libkevo.a: $(SERVER_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/kevo-server: $(MAIN_OBJ) $(BUILD)/libkevo.a $(BUILD)/liblsm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

ifeq ($(SANITIZER),)
kevo-server: $(BUILD)/kevo-server
	cp --remove-destination $< $@
else
# a sanitizer build must never land at ./kevo-server (benchmarks and `make run` take it for
# the release build)
.PHONY: kevo-server
kevo-server:
	@echo "./kevo-server is the release build: run make without SANITIZER; this build's server is $(BUILD)/kevo-server" >&2; exit 2
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(BUILD)/libkevo.a $(BUILD)/liblsm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^) $(TEST_LIBCRITERION) -lhiredis $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/liblsm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^) $(LDLIBS)

deps:
	@bash scripts/install-deps.sh build

test-deps:
	@bash scripts/install-deps.sh test

unit-test: $(TEST_BIN)
	@bash scripts/run-unit-tests.sh $(TEST_BIN)

compat-test: $(BUILD)/kevo-server
	@bash redis-compat-tests/run.sh $(BUILD)/kevo-server

test: test-deps
	$(MAKE) unit-test
	$(MAKE) compat-test
	$(MAKE) fuzz-smoke

# Long engine runs (not part of make test): 5M-op model, 2 GiB memory bound, dense crash cuts.
# Long fault runs (not part of make test, which fails every 7th call and cuts power 80 times):
# every I/O call of the workload failed in turn, and POWER_CUTS power cuts per sync mode.
FAULT_STRIDE ?= 1
POWER_CUTS ?= 500
fault-test: $(BUILD)/tests/test_engine_faults $(BUILD)/tests/test_engine_errors
	KEVO_FAULT_STRIDE=$(FAULT_STRIDE) KEVO_POWER_CUTS=$(POWER_CUTS) $(if $(SEED),KEVO_SEED=$(SEED)) \
	  $(BUILD)/tests/test_engine_faults --jobs 1
	$(BUILD)/tests/test_engine_errors

test-scale: $(BUILD)/tests/test_engine_model $(BUILD)/tests/test_engine_memory $(BUILD)/tests/test_engine_crash
	KEVO_MODEL_OPS=$${KEVO_MODEL_OPS:-5000000} KEVO_MODEL_TINY_OPS=$${KEVO_MODEL_TINY_OPS:-1000000} $(BUILD)/tests/test_engine_model --jobs 2
	KEVO_MEMTEST_BYTES=$${KEVO_MEMTEST_BYTES:-2g} $(BUILD)/tests/test_engine_memory
	KEVO_KILL_ROUNDS=$${KEVO_KILL_ROUNDS:-20} KEVO_CRASH_STRIDE=$${KEVO_CRASH_STRIDE:-101} $(BUILD)/tests/test_engine_crash --jobs 2

# ---- crash harness (redis-compat-tests/crash_harness.py) ------------------------------------
# make crash-test [CYCLES=1000] [CLIENTS=4] [SEED=n] [FSYNC=always|everysec|no] [VERBOSE=1]
# kill -9 cycles on one data directory; every acknowledged reply checked after each restart.
# A progress line every 50 cycles (VERBOSE=1: one per cycle); on failure the seed, cycle, key,
# its history and the kept data directory are printed.
.PHONY: crash-test
CYCLES  ?= 1000
CLIENTS ?= 4
FSYNC   ?= always
crash-test: test-deps $(BUILD)/kevo-server
	/usr/bin/python3 redis-compat-tests/crash_harness.py --server $(BUILD)/kevo-server \
	  --cycles $(CYCLES) --clients $(CLIENTS) --fsync $(FSYNC) $(if $(SEED),--seed $(SEED)) \
	  $(if $(filter 1,$(VERBOSE)),,--quiet)
# ---- end crash harness -----------------------------------------------------------------------

run: deps
	$(MAKE) kevo-server
	./kevo-server kevo-server.conf

# Big collections (1M members by default): per-member cost vs a small key, O(1) DEL, space back.
bench-bigkeys: $(BUILD)/kevo-server
	@SIZE=$${SIZE:-1000000} /usr/bin/python3 bench/bigkeys.py $(BUILD)/kevo-server

# A data set several times the server's memory (4.5M x 1 KiB under a 700M cgroup by default).
bench-scale: $(BUILD)/kevo-server $(BUILD)/bench/getload
	@SERVER=$(BUILD)/kevo-server GETLOAD=$(BUILD)/bench/getload bash bench/bench-scale.sh

bench-engine: $(BENCH_BIN)
	@bash bench/run-engine-bench.sh $(BUILD)/bench

# ---- fuzzing (fuzz/, libFuzzer; clang-14 + libclang-rt-14-dev from Debian) ---------------------
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="resp wal"]   each target N seconds from its corpus
#   make fuzz-smoke                                          each target over its seed corpus only
# Targets: fuzz/fuzz_<name>.c; seeds: fuzz/corpus/<name>/ (made by fuzz/gen_corpus.c, make
# fuzz-corpus). New inputs go to build-fuzz/corpus/<name>/, crashes to build-fuzz/artifacts/.
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build-fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror $(FUZZ_SAN) \
                -Isrc -Isrc/lsm -Isrc/resp -Ifuzz
FUZZ_SRC     := $(LSM_SRC) src/resp/parser.c src/util.c
FUZZ_OBJ     := $(FUZZ_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_NAMES   := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_BIN     := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
.PHONY: fuzz fuzz-build fuzz-smoke fuzz-corpus
.SECONDARY: $(FUZZ_OBJ)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_util.h $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) -pthread -llz4 -lm

# The seed generator uses the real engine (normal gcc build).
$(BUILD)/fuzz/gen_corpus: fuzz/gen_corpus.c $(BUILD)/liblsm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ifuzz $(LDFLAGS) -o $@ $(filter %.c %.a,$^) $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz-corpus: $(BUILD)/fuzz/gen_corpus
	$(BUILD)/fuzz/gen_corpus fuzz/corpus

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS)s"; \
	  $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- \
	    $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t || exit 1; \
	done

fuzz-smoke: fuzz-build
	@for t in $(FUZZ_NAMES); do \
	  echo "== fuzz_$$t over fuzz/corpus/$$t"; \
	  $(FUZZ_BUILD)/fuzz_$$t -runs=0 fuzz/corpus/$$t > $(FUZZ_BUILD)/smoke-$$t.log 2>&1 \
	    || { cat $(FUZZ_BUILD)/smoke-$$t.log; exit 1; }; \
	  grep -E 'Done|INITED' $(FUZZ_BUILD)/smoke-$$t.log | tail -n 1; \
	done

-include $(FUZZ_OBJ:.o=.d)
# ---- end fuzzing ---------------------------------------------------------------------------------

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the config (data in /var/lib/kevo,
# log via journald), a systemd unit, and a 'kevo' system user when run as root on a live system.
PREFIX  ?= /usr/local
BINDIR  := $(PREFIX)/bin
CONFDIR ?= /etc/kevo
DOCDIR  := $(PREFIX)/share/doc/kevo
UNITDIR ?= /etc/systemd/system
install: kevo-server
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(CONFDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 kevo-server $(DESTDIR)$(BINDIR)/kevo-server
	@if [ -e $(DESTDIR)$(CONFDIR)/kevo-server.conf ]; then \
	  echo "keeping existing $(DESTDIR)$(CONFDIR)/kevo-server.conf"; \
	else \
	  sed -e 's|^dir .*|dir /var/lib/kevo|' kevo-server.conf > $(DESTDIR)$(CONFDIR)/kevo-server.conf; \
	  chmod 0644 $(DESTDIR)$(CONFDIR)/kevo-server.conf; \
	fi
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@CONFDIR@|$(CONFDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
	  scripts/kevo-server.service > $(DESTDIR)$(UNITDIR)/kevo-server.service
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && ! getent passwd kevo >/dev/null; then \
	  useradd --system --home-dir /var/lib/kevo --shell /usr/sbin/nologin kevo; fi
	@echo "installed; start with: systemctl daemon-reload && systemctl enable --now kevo-server"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/kevo-server $(DESTDIR)$(UNITDIR)/kevo-server.service
	rm -rf $(DESTDIR)$(DOCDIR)
	@echo "kept $(CONFDIR) and /var/lib/kevo"

clean:
	rm -rf build build-* kevo-server

# ---- kevo-check (offline checker of a data directory): begin ------------------------------------
# src/tools/kevo_check.c over the engine's read-only checker (src/lsm/check.c, in liblsm.a).
# Built by plain `make` next to kevo-server; unit tests use it too (tests/test_corruption.c).
ifeq ($(SANITIZER),)
all: kevo-check
else
all: $(BUILD)/kevo-check
endif
$(BUILD)/kevo-check: $(BUILD)/src/tools/kevo_check.o $(BUILD)/liblsm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
kevo-check: $(BUILD)/kevo-check
	cp --remove-destination $< $@
unit-test: $(BUILD)/kevo-check
compat-test: $(BUILD)/kevo-check
.PHONY: clean-kevo-check install-kevo-check
clean: clean-kevo-check
clean-kevo-check:
	rm -f kevo-check
install: install-kevo-check
install-kevo-check: kevo-check
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 kevo-check $(DESTDIR)$(BINDIR)/kevo-check
# ---- kevo-check: end -----------------------------------------------------------------------------

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
