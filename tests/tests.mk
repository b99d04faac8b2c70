# tests/: C unit tests (tests/unit/test_*.c) built twice, plainly and with
# ASan+UBSan; scripts (tests/*/*.sh) run by scripts/run-tests.sh.

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/bin/%)
ASAN_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/asan/tests/bin/%)

# Layers add targets that must be built before the test run.
TEST_DEPS += $(BUILD)/sparq $(UNIT_BINS) $(ASAN_BINS)

$(BUILD)/tests/bin/%: tests/unit/%.c $(LIBSPARQ) $(EXTRA_OBJS)
	@mkdir -p $(dir $@)
	$(LINK) $(CFLAGS) -Itests/unit -o $@ $< $(LIBSPARQ) $(EXTRA_OBJS) $(EXTRA_LIBS) $(LDLIBS)

$(BUILD)/asan/tests/bin/%: tests/unit/%.c $(LIBSPARQ_ASAN) $(EXTRA_OBJS)
	@mkdir -p $(dir $@)
	$(LINK) $(CFLAGS) $(SANITIZE) -Itests/unit -o $@ $< $(LIBSPARQ_ASAN) $(EXTRA_OBJS) $(EXTRA_LIBS) $(LDLIBS)

test: deps
	@$(MAKE) --no-print-directory test-only

test-only: $(TEST_DEPS)
	@BUILD=$(BUILD) sh scripts/run-tests.sh
