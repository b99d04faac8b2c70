# rtl/board: the iCE40 bitstream and the board simulation (included by the
# top Makefile after sim/sim.mk, whose Verilator settings it uses).
#   make bitstream                      HX8K CT256, the board configuration below
#   make bitstream BOARD_ROWS=8 ...     another array size
#   make bitstream-up5k                 iCE40 UP5K (SG48) second target, same flow
# Yosys synth_ice40 -> nextpnr-ice40 -> icepack; reports under $(BUILD)/board/.
# Not part of `make test` (place and route takes minutes); tests/board/lint.sh is.
#   tests/board/board_sim.sh            the board design under an FX2 model (built for make test)
BOARD_DIR   := $(BUILD)/board
BOARD_SRCS  := $(shell sed 's/#.*//' rtl/board/sparq_board.f)
BOARD_INCS  := rtl/sparq_protocol.vh
# The largest array that fits the HX8K with the board options of
# sparq_board_top: 4x2 (7,416 of 7,680 logic cells, Fmax 37.3 MHz with seed 1);
# 2x3 (7,133 cells) is the fallback if another seed or tool version fails to
# place it (docs/results.md, Board).
BOARD_ROWS   ?= 4
BOARD_COLS   ?= 2
BOARD_WDEPTH ?= 256
BOARD_XDEPTH ?= 256
BOARD_RDEPTH ?= 64
BOARD_FREQ   ?= 30
BOARD_SEED   ?= 1
BOARD_PARAMS = -set ROWS $(BOARD_ROWS) -set COLS $(BOARD_COLS) -set WDEPTH $(BOARD_WDEPTH) \
               -set XDEPTH $(BOARD_XDEPTH) -set RDEPTH $(BOARD_RDEPTH)

.PHONY: bitstream bitstream-up5k bitstream-loopback
# Link bring-up image (FX2 interface + echo, no accelerator): fits any HX8K.
LOOP_SRCS := rtl/board/sparq_fx2_fifo.v rtl/board/sparq_board_fdio.v rtl/board/sparq_board_reset.v \
             rtl/board/sparq_board_loopback.v
bitstream-loopback: $(BOARD_DIR)/loopback.bin
$(BOARD_DIR)/loopback.json: $(LOOP_SRCS) rtl/board/board.mk
	@mkdir -p $(BOARD_DIR)
	yosys -q -l $(BOARD_DIR)/loopback_yosys.log -p "read_verilog $(LOOP_SRCS); \
	  synth_ice40 -top sparq_board_loopback -json $@; stat"
$(BOARD_DIR)/loopback.asc: $(BOARD_DIR)/loopback.json rtl/board/sparq_hx8k_ct256.pcf
	nextpnr-ice40 -q --hx8k --package ct256 --pcf rtl/board/sparq_hx8k_ct256.pcf --freq 48 \
	  --seed $(BOARD_SEED) --json $< --asc $@ -l $(BOARD_DIR)/loopback_nextpnr.log
$(BOARD_DIR)/loopback.bin: $(BOARD_DIR)/loopback.asc
	icepack $< $@
	@sh rtl/board/report.sh $(BOARD_DIR) loopback "none" 48

bitstream: $(BOARD_DIR)/sparq.bin

$(BOARD_DIR)/hx8k.json: $(BOARD_SRCS) $(BOARD_INCS) rtl/board/board.mk
	@mkdir -p $(BOARD_DIR)
	yosys -q -l $(BOARD_DIR)/hx8k_yosys.log -p "read_verilog $(BOARD_SRCS); \
	  chparam $(BOARD_PARAMS) sparq_board_top; \
	  synth_ice40 -top sparq_board_top -json $@; stat" 

$(BOARD_DIR)/hx8k.asc: $(BOARD_DIR)/hx8k.json rtl/board/sparq_hx8k_ct256.pcf
	@nextpnr-ice40 -q --hx8k --package ct256 --pcf rtl/board/sparq_hx8k_ct256.pcf --freq $(BOARD_FREQ) \
	  --seed $(BOARD_SEED) --json $< --asc $@ --report $(BOARD_DIR)/hx8k_report.json \
	  -l $(BOARD_DIR)/hx8k_nextpnr.log || { grep -A3 'Device utilisation' $(BOARD_DIR)/hx8k_nextpnr.log; \
	  echo "bitstream: nextpnr failed for the $(BOARD_ROWS)x$(BOARD_COLS) accelerator on the iCE40-HX8K (log:"; \
	  echo "  $(BOARD_DIR)/hx8k_nextpnr.log; sizes that fit: docs/results.md, Board)"; exit 1; }

$(BOARD_DIR)/sparq.bin: $(BOARD_DIR)/hx8k.asc
	icepack $< $@
	@sh rtl/board/report.sh $(BOARD_DIR) hx8k "$(BOARD_ROWS)x$(BOARD_COLS)" $(BOARD_FREQ)

# Second target: iCE40 UP5K (SG48). No FX2 pin file: the UP5K boards sparq
# knows of have no FX2; this run reports whether the array fits and its Fmax.
# 2x2 places (95 % of the cells) but routes at about 17 MHz (docs/results.md).
UP5K_ROWS ?= 2
UP5K_COLS ?= 2
bitstream-up5k: $(BOARD_DIR)/up5k.asc
$(BOARD_DIR)/up5k.json: $(BOARD_SRCS) $(BOARD_INCS) rtl/board/board.mk
	@mkdir -p $(BOARD_DIR)
	yosys -q -l $(BOARD_DIR)/up5k_yosys.log -p "read_verilog $(BOARD_SRCS); \
	  chparam -set ROWS $(UP5K_ROWS) -set COLS $(UP5K_COLS) -set WDEPTH $(BOARD_WDEPTH) \
	    -set XDEPTH $(BOARD_XDEPTH) -set RDEPTH $(BOARD_RDEPTH) sparq_board_top; \
	  synth_ice40 -dsp -top sparq_board_top -json $@; stat"
$(BOARD_DIR)/up5k.asc: $(BOARD_DIR)/up5k.json
	nextpnr-ice40 -q --up5k --package sg48 --freq $(BOARD_FREQ) --seed $(BOARD_SEED) --json $< --asc $@ \
	  --report $(BOARD_DIR)/up5k_report.json -l $(BOARD_DIR)/up5k_nextpnr.log
	@sh rtl/board/report.sh $(BOARD_DIR) up5k "$(UP5K_ROWS)x$(UP5K_COLS)" $(BOARD_FREQ)

# The board design (FX2 adapter + accelerator) Verilated under a C++ model of
# the FX2 FIFOs, driven by the host stack: tests/board/board_sim.sh.
BSIM_DIR  := $(BUILD)/board/sim
BSIM_RTL  := $(shell sed 's/#.*//' rtl/sparq_top.f) rtl/board/sparq_fx2_fifo.v rtl/board/sparq_board_core.v
# the board's options with small buffers, so GEMMs need many tiles
BSIM_PARAMS := -GROWS=4 -GCOLS=4 -GWDEPTH=64 -GXDEPTH=64 -GRDEPTH=16 -GTIMEOUT=4096
BSIM_LIB  := $(BSIM_DIR)/Vsparq_board_core__ALL.a
BSIM_SHIM := $(BSIM_DIR)/board_sim.o
$(BSIM_LIB): $(BSIM_RTL) $(BOARD_INCS) rtl/board/board.mk
	@mkdir -p $(BSIM_DIR)
	verilator --cc -O3 --x-assign fast --x-initial fast --top-module sparq_board_core $(BSIM_PARAMS) -Wno-fatal \
	  -Mdir $(BSIM_DIR) -CFLAGS -O2 $(BSIM_RTL) > $(BSIM_DIR)/verilator.log
	$(MAKE) --no-print-directory -s -C $(BSIM_DIR) -f Vsparq_board_core.mk OPT_FAST=-O2 OPT_SLOW=-O1 \
	  VM_PARALLEL_BUILDS=0 Vsparq_board_core__ALL.a > /dev/null
$(BSIM_SHIM): tests/board/board_sim.cpp tests/board/board_sim.h $(BSIM_LIB)
	$(CXX) -O2 -std=c++17 -Wall -Wextra -I$(BSIM_DIR) -Itests/board -isystem $(VERILATOR_ROOT)/include \
	  -isystem $(VERILATOR_ROOT)/include/vltstd -c $< -o $@
$(BUILD)/board/test_board_sim: tests/board/test_board_sim.c $(BSIM_SHIM) $(BSIM_LIB) $(LIBSPARQ) $(BOARD_OBJS)
	$(CC) $(CFLAGS) -Itests/board -o $@ $< $(BSIM_SHIM) $(BSIM_LIB) $(LIBSPARQ) $(BOARD_OBJS) $(BOARD_LIBS) $(LDLIBS)
TEST_DEPS += $(BUILD)/board/test_board_sim

# The accelerator's Verilog includes the generated protocol constants;
# sim/sim.mk lists only the .v files, so its model is rebuilt from here.
$(SIM_LIB) $(SIM_VLIB): $(BOARD_INCS)
