# tests/: C unit tests (tests/unit/test_*.c) built twice, plainly and with
# ASan+UBSan; scripts (tests/*/*.sh) run by scripts/run-tests.sh.

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/bin/%)
ASAN_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/asan/tests/bin/%)

# Layers add targets that must be built before the test run.
TEST_DEPS += $(BUILD)/sparq $(UNIT_BINS) $(ASAN_BINS)

# A test that includes a board-layer header (docs/dev.md) links the board
# library with Verilator and libusb; every other test links only the core.
BOARD_HEADERS := $(shell grep -l '^// sparq-layer: \(board\|runtime\|explore\)' host/include/*.h)
BOARD_TESTS   := $(shell grep -l $(foreach h,$(BOARD_HEADERS),-e '#include "$(notdir $(h))"') $(UNIT_SRCS))
CORE_TESTS    := $(filter-out $(BOARD_TESTS),$(UNIT_SRCS))

$(CORE_TESTS:tests/unit/%.c=$(BUILD)/tests/bin/%): $(BUILD)/tests/bin/%: tests/unit/%.c $(LIBSPARQ_CORE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIBSPARQ_CORE) $(LDLIBS)
$(CORE_TESTS:tests/unit/%.c=$(BUILD)/asan/tests/bin/%): $(BUILD)/asan/tests/bin/%: tests/unit/%.c $(LIBSPARQ_CORE_ASAN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANITIZE) -Itests/unit -o $@ $< $(LIBSPARQ_CORE_ASAN) $(LDLIBS)

$(BOARD_TESTS:tests/unit/%.c=$(BUILD)/tests/bin/%): $(BUILD)/tests/bin/%: tests/unit/%.c $(LIBSPARQ) $$(BOARD_OBJS)
	@mkdir -p $(dir $@)
	$(LINK) $(CFLAGS) -Itests/unit -o $@ $< $(LIBSPARQ) $(BOARD_OBJS) $(BOARD_LIBS) $(LDLIBS)
$(BOARD_TESTS:tests/unit/%.c=$(BUILD)/asan/tests/bin/%): $(BUILD)/asan/tests/bin/%: tests/unit/%.c $(LIBSPARQ_ASAN) $$(BOARD_OBJS)
	@mkdir -p $(dir $@)
	$(LINK) $(CFLAGS) $(SANITIZE) -Itests/unit -o $@ $< $(LIBSPARQ_ASAN) $(BOARD_OBJS) $(BOARD_LIBS) $(LDLIBS)

test: deps
	@$(MAKE) --no-print-directory $(SUBMAKE_JOBS) $(TEST_DEPS)
	@$(MAKE) --no-print-directory test-only

test-only: $(TEST_DEPS)
	@BUILD=$(BUILD) sh scripts/run-tests.sh

# libFuzzer targets (clang), each run for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIB_SRCS = host/src/pack/format.c host/src/pack/gemm_ref.c host/src/base/error.c host/src/pack/modelfile.c host/src/model/safetensors.c host/src/base/file.c host/src/data/manifest.c host/src/data/audio.c host/src/data/text.c host/src/data/wer.c host/src/model/checkpoint.c host/src/model/config.c host/src/model/conformer.c host/src/model/adamw.c host/src/base/rng.c host/src/model/layers.c
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRCS) | $(BUILD)/gen/sparq_commands.h
	@mkdir -p $(dir $@)
	clang $(CSTD) $(WARN) -g -O1 $(INCLUDES) $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined \
	  -o $@ $< $(FUZZ_LIB_SRCS) $(PKG_LIBS) -lm -fopenmp=libgomp
fuzz: deps $(FUZZ_TARGETS)
	@mkdir -p $(BUILD)/fuzz/corpus
	@for f in $(FUZZ_TARGETS); do \
	  echo "== fuzzing $$(basename $$f) for $(FUZZ_SECONDS) s"; \
	  mkdir -p $(BUILD)/fuzz/corpus/$$(basename $$f); \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(BUILD)/fuzz/corpus/$$(basename $$f) \
	    2>&1 | tail -5 || exit 1; \
	done
