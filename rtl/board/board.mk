# rtl/board: the iCE40 bitstream and the board simulation (included by the
# top Makefile after sim/sim.mk, whose Verilator settings it uses).
#   make bitstream                      all three images: HX8K CT256 behind the FX2 (the board
#                                       configuration below), iCEBreaker UP5K (UART) and the
#                                       HX8K breakout's own UART; a summary line each
#   make bitstream BOARD_ROWS=8 ...     another array size (FX2 image)
#   make bitstream-icebreaker           one UART image (ICEB_* / HX8KU_* sizes below)
#   make bitstream-hx8k-uart
#   make bitstream-up5k                 the FX2 design on a UP5K at 24 MHz (pins placed by
#                                       nextpnr: a fit/Fmax check with an image, no board)
#   make synth-ecp5                     Yosys synth_ecp5 of the ULX3S-85F top: resources, fit
#   make bitstream-ecp5                 nextpnr-ecp5 + ecppack if installed (Debian 12 has neither)
# Yosys synth_ice40 -> nextpnr-ice40 -> icepack; reports under $(BUILD)/board/.
# Not part of `make test` (place and route takes minutes); tests/board/lint.sh is.
#   tests/board/board_sim.sh            the board design under an FX2 model (built for make test)
BOARD_DIR   := $(BUILD)/board
BOARD_SRCS  := $(shell sed 's/#.*//' rtl/board/sparq_board.f)
BOARD_INCS  := rtl/sparq_protocol.vh rtl/sparq_requant_fn.vh
# 32 bit-serial PEs (sparq_board_top's LANES = 0, sparq_pe_serial) as 16x2:
# 7,382 of 7,680 logic cells, 24 of 32 block RAMs, 58.2 MHz after routing
# (seed 1). Rows are cheap (a block RAM each, XDEPTH 64: 256 x 16 bits),
# columns are not (result writer, requant registers): 8x4 needs 8,010 cells.
# docs/results.md, Board.
BOARD_ROWS   ?= 16
BOARD_COLS   ?= 2
BOARD_WDEPTH ?= 256
BOARD_XDEPTH ?= 64
BOARD_RDEPTH ?= 64
BOARD_FREQ   ?= 30
BOARD_SEED   ?= 1
# 0: bit-serial PEs; 1: the one-MAC PEs of sessions 6-10 (4x2, XDEPTH 256 fits)
BOARD_LANES  ?= 0
BOARD_PARAMS = -set ROWS $(BOARD_ROWS) -set COLS $(BOARD_COLS) -set WDEPTH $(BOARD_WDEPTH) \
               -set XDEPTH $(BOARD_XDEPTH) -set RDEPTH $(BOARD_RDEPTH) -set LANES $(BOARD_LANES)

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

bitstream: $(BOARD_DIR)/sparq.bin $(BOARD_DIR)/icebreaker.bin $(BOARD_DIR)/hx8k_uart.bin
	@cat $(BOARD_DIR)/hx8k_summary.txt $(BOARD_DIR)/icebreaker_summary.txt $(BOARD_DIR)/hx8k_uart_summary.txt

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
# knows of have no FX2; this run checks that the array fits and meets 24 MHz
# (issue 17; nextpnr fails the build otherwise) and packs the image. 2x2
# bit-serial PEs: 4,840 of 5,280 cells, 25.8 MHz; 4x2 fits (5,183 cells
# with XDEPTH 128) but routes at 23.6 MHz.
UP5K_ROWS ?= 2
UP5K_COLS ?= 2
UP5K_FREQ ?= 24
bitstream-up5k: $(BOARD_DIR)/up5k.bin
$(BOARD_DIR)/up5k.json: $(BOARD_SRCS) $(BOARD_INCS) rtl/board/board.mk
	@mkdir -p $(BOARD_DIR)
	yosys -q -l $(BOARD_DIR)/up5k_yosys.log -p "read_verilog $(BOARD_SRCS); \
	  chparam -set ROWS $(UP5K_ROWS) -set COLS $(UP5K_COLS) -set WDEPTH $(BOARD_WDEPTH) \
	    -set XDEPTH $(BOARD_XDEPTH) -set RDEPTH $(BOARD_RDEPTH) -set LANES $(BOARD_LANES) sparq_board_top; \
	  synth_ice40 -dsp -top sparq_board_top -json $@; stat"
$(BOARD_DIR)/up5k.asc: $(BOARD_DIR)/up5k.json
	@nextpnr-ice40 -q --up5k --package sg48 --freq $(UP5K_FREQ) --seed $(BOARD_SEED) --json $< --asc $@ \
	  --report $(BOARD_DIR)/up5k_report.json -l $(BOARD_DIR)/up5k_nextpnr.log || { sh rtl/board/report.sh \
	  $(BOARD_DIR) up5k "$(UP5K_ROWS)x$(UP5K_COLS)" $(UP5K_FREQ); echo "bitstream: nextpnr failed for the" \
	  "$(UP5K_ROWS)x$(UP5K_COLS) accelerator on the UP5K (log: $(BOARD_DIR)/up5k_nextpnr.log)"; exit 1; }
$(BOARD_DIR)/up5k.bin: $(BOARD_DIR)/up5k.asc
	icepack $< $@
	@sh rtl/board/report.sh $(BOARD_DIR) up5k "$(UP5K_ROWS)x$(UP5K_COLS)" $(UP5K_FREQ)

# The board design (FX2 adapter + accelerator) Verilated under a C++ model of
# the FX2 FIFOs, driven by the host stack: tests/board/board_sim.sh.
BSIM_DIR  := $(BUILD)/board/sim
BSIM_RTL  := $(shell sed 's/#.*//' rtl/sparq_top.f) rtl/board/sparq_fx2_fifo.v rtl/board/sparq_board_core.v
# the board's options (bit-serial PEs) with small buffers, so GEMMs need many tiles
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
# the same Verilated board core against the C model (bit-serial cycles): tests/board/board_serial.sh
$(BUILD)/board/test_board_serial: tests/board/test_board_serial.c $(BSIM_SHIM) $(BSIM_LIB) $(LIBSPARQ) $(BOARD_OBJS)
	$(CC) $(CFLAGS) -Itests/board -o $@ $< $(BSIM_SHIM) $(BSIM_LIB) $(LIBSPARQ) $(BOARD_OBJS) $(BOARD_LIBS) $(LDLIBS)
TEST_DEPS += $(BUILD)/board/test_board_serial

# The accelerator's Verilog includes the generated protocol constants;
# sim/sim.mk lists only the .v files, so its model is rebuilt from here.
$(SIM_LIB) $(SIM_VLIB): $(BOARD_INCS)

# --- UART boards (sparq_board_uart_top: oscillator [-> PLL] -> UART -> accelerator) ---
# iCEBreaker: UP5K SG48, PE multipliers in SB_MAC16 (-dsp), LEDs active low.
# 12 MHz oscillator on pin 35 (the PLL's own pad) -> PLL -> 24 MHz (icepll -i
# 12 -o 24), 8 clocks per bit at the host's default 3 Mbaud. The 2x2 image
# routes at about 25 MHz since the controller's checks are registered
# (CHK_REG 2, docs/board.md); ICEB_MHZ=12 ICEB_PLL=0 runs it on the
# oscillator itself (4 clocks per bit).
ICEB_ROWS ?= 2
ICEB_COLS ?= 2
ICEB_MHZ  ?= 24
ICEB_PLL  ?= 1
ICEB_PARAMS = -set ROWS $(ICEB_ROWS) -set COLS $(ICEB_COLS) -set WDEPTH 256 -set XDEPTH 256 -set RDEPTH 64 \
              -set CLK_HZ $(ICEB_MHZ)000000 -set USE_PLL $(ICEB_PLL) -set PLL_PAD 1 -set PLL_DIVR 0 \
              -set PLL_DIVF 63 -set PLL_DIVQ 5 -set PLL_FILTER 1 -set LED_ON 0
# HX8K breakout (CT256), its FT2232H channel B as the UART; no DSPs on the HX.
# 12 MHz oscillator -> PLL -> 24 MHz (icepll -i 12 -o 24: DIVR 0, DIVF 63,
# DIVQ 5), 8 clocks per bit at 3 Mbaud.
HX8KU_ROWS ?= 4
HX8KU_COLS ?= 2
HX8KU_MHZ  ?= 24
HX8KU_PARAMS = -set ROWS $(HX8KU_ROWS) -set COLS $(HX8KU_COLS) -set WDEPTH 256 -set XDEPTH 256 -set RDEPTH 64 \
               -set CLK_HZ $(HX8KU_MHZ)000000 -set PLL_DIVR 0 -set PLL_DIVF 63 -set PLL_DIVQ 5 -set PLL_FILTER 1 \
               -set LED_ON 1
UART_SRCS := $(shell sed 's/\#.*//' rtl/sparq_top.f) rtl/board/sparq_board_reset.v rtl/board/sparq_uart_rx.v \
             rtl/board/sparq_uart_tx.v rtl/board/sparq_uart_fifo.v rtl/board/sparq_board_uart_core.v \
             rtl/board/sparq_board_uart_pll.v rtl/board/sparq_board_uart_top.v

.PHONY: bitstream-icebreaker bitstream-hx8k-uart synth-ecp5 bitstream-ecp5
bitstream-icebreaker: $(BOARD_DIR)/icebreaker.bin
bitstream-hx8k-uart: $(BOARD_DIR)/hx8k_uart.bin

$(BOARD_DIR)/icebreaker.json: $(UART_SRCS) $(BOARD_INCS) rtl/board/board.mk
	@mkdir -p $(BOARD_DIR)
	yosys -q -l $(BOARD_DIR)/icebreaker_yosys.log -p "read_verilog $(UART_SRCS); \
	  chparam $(ICEB_PARAMS) sparq_board_uart_top; \
	  synth_ice40 -dsp -top sparq_board_uart_top -json $@; stat"
$(BOARD_DIR)/hx8k_uart.json: $(UART_SRCS) $(BOARD_INCS) rtl/board/board.mk
	@mkdir -p $(BOARD_DIR)
	yosys -q -l $(BOARD_DIR)/hx8k_uart_yosys.log -p "read_verilog $(UART_SRCS); \
	  chparam $(HX8KU_PARAMS) sparq_board_uart_top; \
	  synth_ice40 -top sparq_board_uart_top -json $@; stat"

# nextpnr's own timing check is what fails a build that misses the clock.
$(BOARD_DIR)/icebreaker.asc: $(BOARD_DIR)/icebreaker.json rtl/board/sparq_icebreaker.pcf
	@nextpnr-ice40 -q --up5k --package sg48 --pcf rtl/board/sparq_icebreaker.pcf --freq $(ICEB_MHZ) \
	  --seed $(BOARD_SEED) --json $< --asc $@ --report $(BOARD_DIR)/icebreaker_report.json \
	  -l $(BOARD_DIR)/icebreaker_nextpnr.log || { sh rtl/board/report.sh $(BOARD_DIR) icebreaker \
	  "$(ICEB_ROWS)x$(ICEB_COLS)" $(ICEB_MHZ); echo "bitstream: nextpnr failed for the iCEBreaker image (log:"; \
	  echo "  $(BOARD_DIR)/icebreaker_nextpnr.log)"; exit 1; }
$(BOARD_DIR)/hx8k_uart.asc: $(BOARD_DIR)/hx8k_uart.json rtl/board/sparq_hx8k_uart.pcf
	@nextpnr-ice40 -q --hx8k --package ct256 --pcf rtl/board/sparq_hx8k_uart.pcf --freq $(HX8KU_MHZ) \
	  --seed $(BOARD_SEED) --json $< --asc $@ --report $(BOARD_DIR)/hx8k_uart_report.json \
	  -l $(BOARD_DIR)/hx8k_uart_nextpnr.log || { sh rtl/board/report.sh $(BOARD_DIR) hx8k_uart \
	  "$(HX8KU_ROWS)x$(HX8KU_COLS)" $(HX8KU_MHZ); echo "bitstream: nextpnr failed for the HX8K UART image (log:"; \
	  echo "  $(BOARD_DIR)/hx8k_uart_nextpnr.log)"; exit 1; }
$(BOARD_DIR)/icebreaker.bin: $(BOARD_DIR)/icebreaker.asc
	icepack $< $@
	@sh rtl/board/report.sh $(BOARD_DIR) icebreaker "$(ICEB_ROWS)x$(ICEB_COLS)" $(ICEB_MHZ)
$(BOARD_DIR)/hx8k_uart.bin: $(BOARD_DIR)/hx8k_uart.asc
	icepack $< $@
	@sh rtl/board/report.sh $(BOARD_DIR) hx8k_uart "$(HX8KU_ROWS)x$(HX8KU_COLS)" $(HX8KU_MHZ)

# --- ECP5: ULX3S-85F (sparq_ulx3s_top.v, sparq_ulx3s.lpf) ------------------------------
# synth-ecp5 synthesises the 16x16 array with the simulation's buffer sizes
# (the generic build) behind the ULX3S UART and reports what it takes of the
# LFE5U-85F; ECP5_* pick another configuration. No place and route here.
ECP5_ROWS   ?= 16
ECP5_COLS   ?= 16
ECP5_WDEPTH ?= 1024
ECP5_XDEPTH ?= 4096
ECP5_RDEPTH ?= 256
ECP5_PARAMS  = -set ROWS $(ECP5_ROWS) -set COLS $(ECP5_COLS) -set WDEPTH $(ECP5_WDEPTH) \
               -set XDEPTH $(ECP5_XDEPTH) -set RDEPTH $(ECP5_RDEPTH)
ECP5_TAG     = $(ECP5_ROWS)x$(ECP5_COLS)_w$(ECP5_WDEPTH)_x$(ECP5_XDEPTH)_r$(ECP5_RDEPTH)
ECP5_SRCS   := $(shell sed 's/\#.*//' rtl/sparq_top.f) rtl/board/sparq_board_reset.v rtl/board/sparq_uart_rx.v \
               rtl/board/sparq_uart_tx.v rtl/board/sparq_uart_fifo.v rtl/board/sparq_board_uart_core.v \
               rtl/board/sparq_ulx3s_top.v
synth-ecp5: $(BOARD_DIR)/ulx3s_$(ECP5_TAG).json
	@sh rtl/board/report_ecp5.sh $(BOARD_DIR)/ulx3s_$(ECP5_TAG)_yosys.log "$(ECP5_ROWS)x$(ECP5_COLS)" \
	  "WDEPTH $(ECP5_WDEPTH) XDEPTH $(ECP5_XDEPTH) RDEPTH $(ECP5_RDEPTH)"
$(BOARD_DIR)/ulx3s_$(ECP5_TAG).json: $(ECP5_SRCS) $(BOARD_INCS) rtl/board/board.mk
	@mkdir -p $(BOARD_DIR)
	yosys -q -l $(BOARD_DIR)/ulx3s_$(ECP5_TAG)_yosys.log -p "read_verilog $(ECP5_SRCS); \
	  chparam $(ECP5_PARAMS) sparq_ulx3s_top; synth_ecp5 -top sparq_ulx3s_top -json $@; stat"

# Place and route needs nextpnr-ecp5 and ecppack (prjtrellis), which Debian
# 12 does not package: without them this target says so and exits 2. The
# 16x16 generic build does not fit the 85F (MULT18X18D and DP16KD, see
# docs/board.md); the image is 16x8 with XDEPTH 2048, which does.
ULX3S_COLS   ?= 8
ULX3S_XDEPTH ?= 2048
bitstream-ecp5:
	@sh rtl/board/bitstream_ecp5.sh "$(BOARD_DIR)" \
	  "$(ECP5_ROWS)x$(ULX3S_COLS)_w$(ECP5_WDEPTH)_x$(ULX3S_XDEPTH)_r$(ECP5_RDEPTH)" \
	  "$(MAKE) --no-print-directory synth-ecp5 ECP5_COLS=$(ULX3S_COLS) ECP5_XDEPTH=$(ULX3S_XDEPTH)"
