# Design-space exploration (docs/explore.md, host/src/explore, sparq explore).
#   make explore            the worked example: the default model (models/base.sparq exported int4 2:4,
#                           q8 read-out) on the demo's held-out test set, arrays 4x4..32x32 with 4
#                           lanes and the simulation's buffer depths but none of the protocol-version-3
#                           features (EXPLORE_V3), 100 MHz, FX2 vs FT601 vs a 3 Mbaud UART;
#                           area from Yosys (iCE40 and ECP5 flows, cached under $(BUILD)/explore/area).
#                           Table and JSON under $(BUILD)/explore/, plot $(BUILD)/explore/pareto.png.
#   make explore EXPLORE_ARRAYS=4x4,8x8 EXPLORE_SYNTH=generic,ice40,ecp5 EXPLORE_FLAGS="--lanes 1,4"
# The cross-check (tests/cli/explore.sh, in make test): a Verilator build of each small
# configuration in XCHECK_CFGS (ROWS_COLS_LANES_WDEPTH_XDEPTH_RDEPTH) runs GEMM calls whose busy
# counter and wire bytes must equal the model device's (tests/explore/xcheck.c).
EXPLORE_DIR    := $(BUILD)/explore
# Another checkout's rtl/ (its root directory; the RTL includes "rtl/sparq_protocol.vh").
EXPLORE_ROOT   ?= .
EXPLORE_ARRAYS ?= 4x4,8x8,16x16,32x32
EXPLORE_SYNTH  ?= ice40,ecp5
EXPLORE_FLAGS  ?=
# 2 activation banks, 1 result buffer, no weight store, no epilogue: what an FPGA can hold
# (docs/explore.md); EXPLORE_FLAGS comes later on the command line and overrides any of them.
EXPLORE_V3     ?= --xbanks 2 --rbufs 1 --wstore 0 --qdepth 0 --luts 0
EXPLORE_MODEL  := $(EXPLORE_DIR)/base-int4-2_4.spq
EXPLORE_DATA   := $(EXPLORE_DIR)/data/test.jsonl

.PHONY: explore
# The demo's test split (same seed and size as scripts/demo.sh; no training data needed).
$(EXPLORE_DATA): | $(BUILD)/sparq
	@rm -rf $(EXPLORE_DIR)/data
	$(BUILD)/sparq data gen --out $(EXPLORE_DIR)/data --hours 0.001 --dev-hours 0.001 --test-hours 0.04 \
	  --seed 20261126 --quiet
# The model as an absolute path: host/model.mk has a rule for models/base.sparq (train it from
# the corpus), which a fresh clone would otherwise run for hours.
$(EXPLORE_MODEL): $(abspath models/base.sparq) | $(BUILD)/sparq
	@mkdir -p $(dir $@)
	$(BUILD)/sparq export --model models/base.sparq --compress "int4-2:4,sub1_w=int8" --out $@ > $@.log
explore: $(BUILD)/sparq $(EXPLORE_DATA) $(EXPLORE_MODEL)
	SPARQ_RTL_ROOT=$(EXPLORE_ROOT) $(BUILD)/sparq explore --model $(EXPLORE_MODEL) --data $(EXPLORE_DATA) \
	  --out $(EXPLORE_DIR) --readout q8 --array $(EXPLORE_ARRAYS) --synth $(EXPLORE_SYNTH) \
	  --link FX2=40 --link FT601=200 --link UART3M=0.3 $(EXPLORE_V3) $(EXPLORE_FLAGS)
	@if command -v gnuplot > /dev/null; then \
	  gnuplot -e "dat='$(EXPLORE_DIR)/pareto.dat'; out='$(EXPLORE_DIR)/pareto.png'" scripts/explore_pareto.gp && \
	  echo "Pareto plot: $(EXPLORE_DIR)/pareto.png"; else echo "gnuplot not installed: no plot"; fi

# --- cross-check builds ---------------------------------------------------------
# ROWS_COLS_LANES_WDEPTH_XDEPTH_RDEPTH[_XBANKS_RBUFS_WSTORE_QDEPTH_LUTS]: the board's one-lane
# array, two 4-lane arrays with buffers small enough for several K/frame chunks, and one with
# the version-3 store, 4 banks, 2 result buffers and the epilogue (16 columns: chains need 16).
XCHECK_CFGS ?= 4_4_1_256_256_64 4_8_4_64_64_16 8_4_4_128_128_32 4_16_4_64_64_16_4_2_4096_32_2
XCHECK_DIR  := $(EXPLORE_DIR)/xcheck
XCHECK_RTL  := $(shell sed 's/\#.*//' $(EXPLORE_ROOT)/rtl/sparq_top.f)
xcheck_p     = $(word $(1),$(subst _, ,$(2)))
xcheck_G     = -GROWS=$(call xcheck_p,1,$(1)) -GCOLS=$(call xcheck_p,2,$(1)) -GLANES=$(call xcheck_p,3,$(1)) \
               -GWDEPTH=$(call xcheck_p,4,$(1)) -GXDEPTH=$(call xcheck_p,5,$(1)) -GRDEPTH=$(call xcheck_p,6,$(1)) \
               $(if $(call xcheck_p,7,$(1)),-GXBANKS=$(call xcheck_p,7,$(1)) -GRBUFS=$(call xcheck_p,8,$(1)) \
               -GWSTORE=$(call xcheck_p,9,$(1)) -GQDEPTH=$(call xcheck_p,10,$(1)) -GLUTS=$(call xcheck_p,11,$(1)))

$(XCHECK_DIR)/%/Vsparq_top__ALL.a: $(addprefix $(EXPLORE_ROOT)/,$(XCHECK_RTL) rtl/sparq_protocol.vh) explore.mk
	@mkdir -p $(dir $@)
	cd $(EXPLORE_ROOT) && $(VERILATOR) --cc -O3 --x-assign fast --x-initial fast --top-module sparq_top -Wno-fatal \
	  -CFLAGS -O2 $(call xcheck_G,$*) -Mdir $(abspath $(dir $@)) $(XCHECK_RTL) > $(abspath $(dir $@))/verilator.log
	$(MAKE) --no-print-directory -s -C $(dir $@) -f Vsparq_top.mk OPT_FAST=-O2 OPT_SLOW=-O1 VM_PARALLEL_BUILDS=0 \
	  Vsparq_top__ALL.a verilated.o verilated_threads.o > /dev/null
$(XCHECK_DIR)/%/xcheck: tests/explore/xcheck.c tests/explore/xcheck_sim.cpp sim/sim_link.h $(XCHECK_DIR)/%/Vsparq_top__ALL.a \
  $(LIBSPARQ)
	$(CXX) -O2 -std=c++17 -Wall -Wextra -Ihost/include -Isim -I$(dir $@) -isystem $(VERILATOR_ROOT)/include \
	  -isystem $(VERILATOR_ROOT)/include/vltstd -c tests/explore/xcheck_sim.cpp -o $(dir $@)xcheck_sim.o
	$(CC) $(CFLAGS) -o $@ tests/explore/xcheck.c $(dir $@)xcheck_sim.o $(dir $@)Vsparq_top__ALL.a \
	  $(dir $@)verilated.o $(dir $@)verilated_threads.o $(LIBSPARQ) $(BOARD_LIBS) -lstdc++ -lz -pthread $(LDLIBS)
.PRECIOUS: $(XCHECK_DIR)/%/Vsparq_top__ALL.a
TEST_DEPS += $(foreach c,$(XCHECK_CFGS),$(XCHECK_DIR)/$(c)/xcheck)
