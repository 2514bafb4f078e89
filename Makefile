# backupd / backupctl build. Layers build to their own static archives and may only use
# the layers below them (docs/architecture.md; `make check-layers` enforces it).
#
#   make            both binaries          make check   deps + every test
#   make asan       tests under ASan+UBSan make bench   benchmarks -> docs/benchmarks.md
#   make demo       end-to-end PITR demo   make clean

BUILD   ?= build
CC      ?= cc
PKGS    := libcurl libssl libcrypto libzstd liblz4 liblzma libbrotlienc libbrotlidec lzo2 \
           libpq json-c yaml-0.1 libxml-2.0
SAN     ?=
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
# -Wno-format-truncation: error fields are fixed-size on purpose (recording an error never allocates)
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-format-truncation -pthread $(SAN) \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
INCS    := -Ilib/util -Istorage -Ilib/archive -Ibackupd/engine -Irestore -Ibackupd/ctl
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

# layer 0..3 sources (wildcards: a new file in a layer folder is built automatically)
UTIL_SRC    := $(wildcard lib/util/*.c)
STORAGE_SRC := $(wildcard storage/*.c storage/*/*.c)
ARCHIVE_SRC := $(wildcard lib/archive/*.c)
ENGINE_SRC  := $(wildcard backupd/engine/*.c restore/*.c)
CTL_SRC     := $(wildcard backupd/ctl/*.c)
DAEMON_SRC  := backupd/main.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
UTIL_A    := $(BUILD)/libbkutil.a
STORAGE_A := $(BUILD)/libbkstorage.a
ARCHIVE_A := $(BUILD)/libbkarchive.a
ENGINE_A  := $(BUILD)/libbkengine.a
LAYER_LIBS := $(ENGINE_A) $(ARCHIVE_A) $(STORAGE_A) $(UTIL_A)
# the registry refers to drivers weakly (an absent driver says "not built"), and weak references
# do not pull objects out of an archive, so the storage archive is linked whole
LINK_LIBS := $(ENGINE_A) $(ARCHIVE_A) -Wl,--whole-archive $(STORAGE_A) -Wl,--no-whole-archive $(UTIL_A)

BACKUPCTL := $(BUILD)/bin/backupctl
BACKUPD   := $(BUILD)/bin/backupd

UNIT_SRC  := $(wildcard tests/unit/*_test.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
CONF_BIN  := $(BUILD)/tests/storage_conformance
TEST_HELPERS := $(wildcard tests/unit/helpers/*.c)

.PHONY: all deps check unit conformance e2e asan bench demo clean check-layers check-headers
all: $(BACKUPCTL) $(BACKUPD)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCS) -MMD -MP -c $< -o $@

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

$(UTIL_A): $(call obj,$(UTIL_SRC))
$(STORAGE_A): $(call obj,$(STORAGE_SRC))
$(ARCHIVE_A): $(call obj,$(ARCHIVE_SRC))
$(ENGINE_A): $(call obj,$(ENGINE_SRC))
$(BUILD)/%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BACKUPCTL): $(call obj,$(CTL_SRC)) $(LAYER_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(call obj,$(CTL_SRC)) $(LINK_LIBS) $(LDLIBS)

$(BACKUPD): $(call obj,$(DAEMON_SRC)) $(LAYER_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(call obj,$(DAEMON_SRC)) $(LINK_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(call obj,$(TEST_HELPERS)) $(LAYER_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCS) -Itests/unit -o $@ $< $(call obj,$(TEST_HELPERS)) $(LINK_LIBS) $(CHECK_LIBS) $(LDLIBS)

$(CONF_BIN): tests/conformance/storage_conformance.c $(LAYER_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCS) -o $@ $< $(LINK_LIBS) $(CHECK_LIBS) $(LDLIBS)

deps:
	@bash tests/deps.sh

check-layers:
	@bash tests/check_layers.sh

# every header compiles alone (bk_codes.h is an X-macro list, included by bk_error.h only)
check-headers:
	@for h in $$(find lib storage backupd restore -name '*.h' ! -name bk_codes.h); do \
	  echo "#include \"$$(basename $$h)\"" | $(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -pedantic -Werror \
	    -I$$(dirname $$h) $(INCS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -x c -fsyntax-only - || { echo "header $$h does not compile alone"; exit 1; }; done; echo "headers: ok"

unit: all $(UNIT_BIN)
	@BUILD=$(BUILD) bash tests/run_unit.sh $(UNIT_BIN)

conformance: all $(CONF_BIN)
	@BUILD=$(BUILD) bash tests/run_conformance.sh

e2e: all
	@BUILD=$(BUILD) bash tests/run_e2e.sh

check: deps
	@$(MAKE) --no-print-directory check-layers check-headers
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(CONF_BIN)
	@BUILD=$(BUILD) bash tests/run_all.sh

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" all $(patsubst $(BUILD)/%,build-asan/%,$(UNIT_BIN)) build-asan/tests/storage_conformance
	@BUILD=build-asan ASAN_OPTIONS=detect_leaks=1 CK_FORK=no bash tests/run_all.sh --no-e2e

bench: deps all
	@BUILD=$(BUILD) bash tests/bench/run_bench.sh

demo: deps all
	@BUILD=$(BUILD) bash tests/demo.sh

clean:
	rm -rf build build-asan
