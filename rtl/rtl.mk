# rtl/: the accelerator in Verilog (filelist rtl/sparq_top.f).
#   make lint    verilator --lint-only -Wall (also run by make test: tests/rtl/lint.sh)
#   make synth   Yosys: generic cell counts for the 16x16 array with LANES=4 and the
#                protocol-3 features (the simulated configuration, sim/sim.mk) and
#                synth_ice40 for a 4x4 one-lane configuration; reports under $(BUILD)/synth/

RTL_SRCS := $(shell sed 's/#.*//' rtl/sparq_top.f)
# generated from host/include/sparq_protocol.h (scripts/gen_protocol_vh.sh; tests/rtl/protocol.sh)
RTL_INCS := rtl/sparq_protocol.vh rtl/sparq_requant_fn.vh
SYNTH_DIR := $(BUILD)/synth
# sim/sim.mk's SIM_PARAMS as Yosys -chparam options
SYNTH_GENERIC_PARAMS := -chparam LANES 4 -chparam XBANKS 4 -chparam RBUFS 2 -chparam WSTORE 262144 \
                        -chparam QDEPTH 16384 -chparam LUTS 16
# Small configuration for iCE40 (fits block RAM: 4x4 PEs, shallow buffers).
ICE40_PARAMS := -chparam ROWS 4 -chparam COLS 4 -chparam WDEPTH 256 -chparam XDEPTH 256 -chparam RDEPTH 64

lint:
	@sh tests/rtl/lint.sh

synth: $(SYNTH_DIR)/generic_16x16.txt $(SYNTH_DIR)/ice40_4x4.txt
	@echo "== generic cells, 16x16, LANES=4, protocol 3 (memories kept as \$$mem cells)"
	@sed -n '/=== design hierarchy ===/,$$p' $(SYNTH_DIR)/generic_16x16.txt.stat | grep -E 'Number of cells|\$$'
	@echo "== synth_ice40, 4x4"
	@sed -n '/=== sparq_top ===/,$$p' $(SYNTH_DIR)/ice40_4x4.txt.stat | grep -E 'Number of cells|SB_'

$(SYNTH_DIR)/generic_16x16.txt: $(RTL_SRCS) $(RTL_INCS) rtl/rtl.mk
	@mkdir -p $(dir $@)
	yosys -q -l $@.tmp -p "read_verilog $(RTL_SRCS); hierarchy -top sparq_top $(SYNTH_GENERIC_PARAMS); \
	  synth -top sparq_top -run begin:fine; memory -nomap; opt -fast; techmap; opt -fast; abc -fast; \
	  opt_clean; tee -o $@.stat stat" > /dev/null
	@mv $@.tmp $@

$(SYNTH_DIR)/ice40_4x4.txt: $(RTL_SRCS) $(RTL_INCS) rtl/rtl.mk
	@mkdir -p $(dir $@)
	yosys -q -l $@.tmp -p "read_verilog $(RTL_SRCS); hierarchy -top sparq_top $(ICE40_PARAMS); \
	  synth_ice40 -top sparq_top; tee -o $@.stat stat" > /dev/null
	@mv $@.tmp $@
