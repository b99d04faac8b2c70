# host/: libsparq (host/src), the sparq CLI (host/cli).

HOST_SRCS := $(wildcard host/src/*.c)
HOST_OBJS := $(HOST_SRCS:%.c=$(BUILD)/obj/%.o)
HOST_ASAN_OBJS := $(HOST_SRCS:%.c=$(BUILD)/asan/obj/%.o)
CLI_SRCS  := $(wildcard host/cli/*.c)
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)

LIBSPARQ      := $(BUILD)/libsparq.a
LIBSPARQ_ASAN := $(BUILD)/asan/libsparq.a

# Files named *_avx2.c hold AVX2 kernels; they are compiled for AVX2 and only
# called after a run-time CPU check (host/src/cpu.c).
SIMD_FLAGS_avx2 := -mavx2 -mfma

$(BUILD)/obj/%_avx2.o: %_avx2.c | $(BUILD)/gen/sparq_commands.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SIMD_FLAGS_avx2) -c $< -o $@
$(BUILD)/asan/obj/%_avx2.o: %_avx2.c | $(BUILD)/gen/sparq_commands.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANITIZE) $(SIMD_FLAGS_avx2) -c $< -o $@

$(BUILD)/obj/%.o: %.c | $(BUILD)/gen/sparq_commands.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/asan/obj/%.o: %.c | $(BUILD)/gen/sparq_commands.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANITIZE) -c $< -o $@

$(LIBSPARQ): $(HOST_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBSPARQ_ASAN): $(HOST_ASAN_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Subcommands register themselves with one marker line in their source file:
#   // sparq-command: NAME: one-line summary
# and define `int cmd_NAME(int argc, char **argv)`. The table is generated so
# adding a command never edits a shared list.
$(BUILD)/gen/sparq_commands.h: $(CLI_SRCS) host/host.mk
	@mkdir -p $(dir $@)
	@sed -n 's|^// sparq-command: \([a-z0-9-]*\): \(.*\)$$|\1\t\2|p' $(CLI_SRCS) | sort | \
	  awk -F'\t' '{ fn = $$1; gsub("-", "_", fn); \
	    printf "SPARQ_COMMAND(\"%s\", cmd_%s, \"%s\")\n", $$1, fn, $$2 }' > $@.tmp
	@mv $@.tmp $@

# EXTRA_OBJS grows in fragments included later: expand it at build time.
$(BUILD)/sparq: $(CLI_OBJS) $(LIBSPARQ) $$(EXTRA_OBJS)
	$(LINK) -o $@ $(CLI_OBJS) $(LIBSPARQ) $(EXTRA_OBJS) $(EXTRA_LIBS) $(LDLIBS)

-include $(HOST_OBJS:.o=.d) $(HOST_ASAN_OBJS:.o=.d) $(CLI_OBJS:.o=.d)
PKGS += fftw3

# Benchmarks owned by host/.
BENCH_TARGETS += bench-gemm
.PHONY: bench-gemm
bench-gemm: $(BUILD)/sparq
	@mkdir -p $(BUILD)/bench
	@echo "== GEMM kernel vs OpenBLAS sgemm"
	@$(BUILD)/sparq bench-gemm --json $(BUILD)/bench/gemm.json
PKGS += zlib

BENCH_TARGETS += bench-features
.PHONY: bench-features
bench-features: $(BUILD)/sparq
	@mkdir -p $(BUILD)/bench
	@echo "== feature extraction speed"
	@$(BUILD)/sparq bench-features --json $(BUILD)/bench/features.json
