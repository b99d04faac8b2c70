# sparq top-level build. Everything is built out of tree under $(BUILD).
# Each layer adds its own rules in a fragment (host/host.mk, rtl/rtl.mk,
# sim/sim.mk, firmware/firmware.mk, tests/tests.mk) so layers do not edit
# each other's build logic.

BUILD ?= build
CC    ?= cc
CXX   ?= c++

# Libraries found through pkg-config; each layer may append to these.
PKGS      := openblas sndfile libcjson
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror
CSTD     := -std=c11 -D_GNU_SOURCE
OPT      ?= -O2 -g
INCLUDES := -Ihost/include -I$(BUILD)/gen
CFLAGS    = $(CSTD) $(WARN) $(OPT) $(INCLUDES) $(PKG_CFLAGS) -fopenmp -MMD -MP
LDLIBS    = $(PKG_LIBS) -lm -fopenmp
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Objects / libraries the board library needs, linked into build/sparq and
# the tests that use it (the Verilator model from sim/sim.mk, libusb).
BOARD_OBJS :=
BOARD_LIBS :=
BENCH_TARGETS :=
TEST_DEPS :=
DEMO_STEPS :=
# Linker driver: becomes $(CXX) once C++ objects (Verilator) are linked.
LINK ?= $(CC)

.SECONDEXPANSION:
.PHONY: all deps test test-only bench demo fuzz lint synth clean help
all: $(BUILD)/sparq

help:
	@echo "make demo     run the end-to-end demo (installs dependencies first)"
	@echo "make test     run every test suite; prints 'N passed, N failed'"
	@echo "make bench    run benchmarks; tables on stdout, JSON under $(BUILD)/bench/"
	@echo "make deps     install the Debian packages sparq needs"
	@echo "make fuzz     run the libFuzzer targets for a bounded time"
	@echo "make lint     verilator --lint-only -Wall over rtl/"
	@echo "make synth    Yosys synthesis reports"
	@echo "make clean    remove $(BUILD)/"

deps:
	@sh scripts/deps.sh

include host/host.mk
-include rtl/rtl.mk
-include sim/sim.mk
-include firmware/firmware.mk
-include rtl/board/board.mk
-include explore.mk
-include host/model.mk
-include host/dist.mk
include tests/tests.mk
-include tests/board/uart.mk

clean:
	rm -rf $(BUILD)

# Benchmarks: each layer appends a phony target to BENCH_TARGETS; each
# prints a table and writes JSON under $(BUILD)/bench/.
bench: deps
	@mkdir -p $(BUILD)/bench
	@$(MAKE) --no-print-directory $(BENCH_TARGETS)

# make demo / make test build in parallel on every core unless make -jN was given.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SUBMAKE_JOBS := $(if $(findstring jobserver,$(MAKEFLAGS)),,-j$(JOBS))

# Utterances the demo checks on the Verilator model (sim == ref): all 57 of
# the held-out test set since the front-end runs on the host (4x fewer link
# bytes to simulate); make demo DEMO_SIM_UTTS=N checks the first N.
DEMO_SIM_UTTS ?= 57
demo: deps
	@$(MAKE) --no-print-directory $(SUBMAKE_JOBS) $(BUILD)/sparq
	@mkdir -p $(BUILD)/bench
	@BUILD=$(BUILD) SPARQ_DEMO_SIM_UTTS=$${SPARQ_DEMO_SIM_UTTS:-$(DEMO_SIM_UTTS)} sh scripts/demo.sh

# The compression grid (docs/compression.md, sparq ablate --help); e.g.
# make ablate ABLATE_FLAGS="--steps 60 --resume".
ABLATE_FLAGS ?=
.PHONY: ablate
ablate: deps $(BUILD)/sparq
	$(BUILD)/sparq ablate $(ABLATE_FLAGS)
