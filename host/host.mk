# host/: two libraries and the sparq CLI (host/cli). host/src has one folder
# per layer (docs/dev.md: the layer order and the check that enforces it).
#   libsparq_core.a   base data features model pack compress device: plain C,
#                     no Verilator, no libusb; most unit tests link only this
#   libsparq_board.a  board runtime explore: the transports that need Verilator
#                     (sim) or libusb (usb), backends by name, the runtime, and
#                     the design-space exploration above it
CORE_LAYERS  := base data features model pack compress device
BOARD_LAYERS := board runtime explore

CORE_SRCS  := $(foreach l,$(CORE_LAYERS),$(wildcard host/src/$(l)/*.c))
BOARD_SRCS := $(foreach l,$(BOARD_LAYERS),$(wildcard host/src/$(l)/*.c))
HOST_SRCS  := $(CORE_SRCS) $(BOARD_SRCS)
HOST_OBJS := $(HOST_SRCS:%.c=$(BUILD)/obj/%.o)
HOST_ASAN_OBJS := $(HOST_SRCS:%.c=$(BUILD)/asan/obj/%.o)
CLI_SRCS  := $(wildcard host/cli/*.c)
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)

LIBSPARQ_CORE       := $(BUILD)/libsparq_core.a
LIBSPARQ_CORE_ASAN  := $(BUILD)/asan/libsparq_core.a
LIBSPARQ_BOARD      := $(BUILD)/libsparq_board.a
LIBSPARQ_BOARD_ASAN := $(BUILD)/asan/libsparq_board.a
# Everything, board first (it calls into core): what the CLI links.
LIBSPARQ      := $(LIBSPARQ_BOARD) $(LIBSPARQ_CORE)
LIBSPARQ_ASAN := $(LIBSPARQ_BOARD_ASAN) $(LIBSPARQ_CORE_ASAN)

# The board layer talks to boards through libusb-1.0; sim/sim.mk appends the
# Verilator model to BOARD_OBJS. Only the board library's users link them.
BOARD_PKGS := libusb-1.0
# CFLAGS is expanded before this fragment is read, so add the include path here.
CFLAGS += $(shell pkg-config --cflags $(BOARD_PKGS))
BOARD_LIBS += $(shell pkg-config --libs $(BOARD_PKGS))

# Files named *_avx2.c hold AVX2 kernels; they are compiled for AVX2 and only
# called after a run-time CPU check (__builtin_cpu_supports).
SIMD_FLAGS_avx2 := -mavx2 -mfma
SIMD_FLAGS_avx512 := -mavx512f -mavx512bw -mavx512vl -mavx512vnni

$(BUILD)/obj/%_avx2.o: %_avx2.c | $(BUILD)/gen/sparq_commands.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SIMD_FLAGS_avx2) -c $< -o $@
$(BUILD)/asan/obj/%_avx2.o: %_avx2.c | $(BUILD)/gen/sparq_commands.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANITIZE) $(SIMD_FLAGS_avx2) -c $< -o $@
$(BUILD)/obj/%_avx512.o: %_avx512.c | $(BUILD)/gen/sparq_commands.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SIMD_FLAGS_avx512) -c $< -o $@
$(BUILD)/asan/obj/%_avx512.o: %_avx512.c | $(BUILD)/gen/sparq_commands.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANITIZE) $(SIMD_FLAGS_avx512) -c $< -o $@
# oneDNN (no pkg-config file in Debian): the int8 anchor of `sparq bench-gemm`,
# so only the CLI links it.
CLI_LIBS := -ldnnl

$(BUILD)/obj/%.o: %.c | $(BUILD)/gen/sparq_commands.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/asan/obj/%.o: %.c | $(BUILD)/gen/sparq_commands.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANITIZE) -c $< -o $@

$(LIBSPARQ_CORE): $(CORE_SRCS:%.c=$(BUILD)/obj/%.o)
$(LIBSPARQ_CORE_ASAN): $(CORE_SRCS:%.c=$(BUILD)/asan/obj/%.o)
$(LIBSPARQ_BOARD): $(BOARD_SRCS:%.c=$(BUILD)/obj/%.o)
$(LIBSPARQ_BOARD_ASAN): $(BOARD_SRCS:%.c=$(BUILD)/asan/obj/%.o)
$(LIBSPARQ_CORE) $(LIBSPARQ_CORE_ASAN) $(LIBSPARQ_BOARD) $(LIBSPARQ_BOARD_ASAN):
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

# BOARD_OBJS grows in fragments included later: expand it at build time.
$(BUILD)/sparq: $(CLI_OBJS) $(LIBSPARQ) $$(BOARD_OBJS)
	$(LINK) -o $@ $(CLI_OBJS) $(LIBSPARQ) $(BOARD_OBJS) $(BOARD_LIBS) $(CLI_LIBS) $(LDLIBS)

-include $(HOST_OBJS:.o=.d) $(HOST_ASAN_OBJS:.o=.d) $(CLI_OBJS:.o=.d)
PKGS += fftw3

# Benchmarks owned by host/.
BENCH_TARGETS += bench-gemm
.PHONY: bench-gemm
bench-gemm: $(BUILD)/sparq
	@mkdir -p $(BUILD)/bench
	@echo "== GEMM kernel vs OpenBLAS sgemm and oneDNN int8"
	@$(BUILD)/sparq bench-gemm --micro --json $(BUILD)/bench/gemm.json
PKGS += zlib

BENCH_TARGETS += bench-features
.PHONY: bench-features
bench-features: $(BUILD)/sparq
	@mkdir -p $(BUILD)/bench
	@echo "== feature extraction speed"
	@$(BUILD)/sparq bench-features --json $(BUILD)/bench/features.json

# Link-bound throughput estimate for a board (FX2, FT601, UART; table + JSON).
BENCH_TARGETS += bench-link
.PHONY: bench-link
bench-link: $(BUILD)/sparq
	@mkdir -p $(BUILD)/bench
	@echo "== board link: link-bound time per GEMM over FX2, FT601 and UART (estimate from counted bytes and round trips)"
	@$(BUILD)/sparq bench-link --json $(BUILD)/bench/board_link.json

# The CLI built with ASan+UBSan (issue 14): tests/cli/badinput.sh runs a few
# hostile-input cases with it. Same objects as build/sparq, sanitized.
CLI_ASAN_OBJS := $(CLI_SRCS:%.c=$(BUILD)/asan/obj/%.o)
$(BUILD)/asan/sparq: $(CLI_ASAN_OBJS) $(LIBSPARQ_ASAN) $$(BOARD_OBJS)
	$(LINK) $(SANITIZE) -o $@ $(CLI_ASAN_OBJS) $(LIBSPARQ_ASAN) $(BOARD_OBJS) $(BOARD_LIBS) $(CLI_LIBS) $(LDLIBS)
TEST_DEPS += $(BUILD)/asan/sparq
-include $(CLI_ASAN_OBJS:.o=.d)
