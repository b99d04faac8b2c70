# tests/board/uart.sh: the simulated UART board (C device model on a
# pseudo-terminal; core library only) and the GEMM client that talks to it
# through the uart transport (board library).
UART_SIM  := $(BUILD)/tests/board/uart_board_sim
UART_GEMM := $(BUILD)/tests/board/uart_gemm

$(UART_SIM): tests/board/uart_board_sim.c tests/board/wire_device.h $(LIBSPARQ_CORE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/board -o $@ $< $(LIBSPARQ_CORE) $(LDLIBS)
$(UART_GEMM): tests/board/uart_gemm.c $(LIBSPARQ) $$(BOARD_OBJS)
	@mkdir -p $(dir $@)
	$(LINK) $(CFLAGS) -o $@ $< $(LIBSPARQ) $(BOARD_OBJS) $(BOARD_LIBS) $(LDLIBS)

TEST_DEPS += $(UART_SIM) $(UART_GEMM)

# The same simulated board with the board RTL behind the wire
# (tests/board/uart_rtl.sh): sparq_board_uart_core Verilated at bit level.
# 4 clocks per bit keep it fast (the boards run 8: 24 MHz / 3 Mbaud); the
# array and buffers are the HX8K UART image's; TIMEOUT is the partial-packet
# timeout in cycles (a multiple of 256).
URTL_DIR    := $(BUILD)/board/uart_rtl
URTL_SIM    := $(BUILD)/tests/board/uart_rtl_sim
URTL_CPB    := 4
URTL_ROWS   := 4
URTL_COLS   := 2
URTL_WDEPTH := 256
URTL_XDEPTH := 256
URTL_RDEPTH := 64
URTL_TIMEOUT := 65536
URTL_RTL    ?= $(shell sed 's/\#.*//' rtl/sparq_top.f)
URTL_SRCS   := $(URTL_RTL) rtl/board/sparq_uart_rx.v rtl/board/sparq_uart_tx.v rtl/board/sparq_uart_fifo.v \
               rtl/board/sparq_board_uart_core.v
URTL_LIB    := $(URTL_DIR)/Vsparq_board_uart_core__ALL.a
URTL_DEFS   := -DUART_RTL_CLKS_PER_BIT=$(URTL_CPB) -DUART_RTL_ROWS=$(URTL_ROWS) -DUART_RTL_COLS=$(URTL_COLS) \
               -DUART_RTL_WDEPTH=$(URTL_WDEPTH) -DUART_RTL_XDEPTH=$(URTL_XDEPTH) -DUART_RTL_RDEPTH=$(URTL_RDEPTH) \
               -DUART_RTL_TIMEOUT=$(URTL_TIMEOUT)
$(URTL_LIB): $(URTL_SRCS) rtl/sparq_protocol.vh tests/board/uart.mk
	@mkdir -p $(URTL_DIR)
	verilator --cc -O3 --x-assign fast --x-initial fast --top-module sparq_board_uart_core -Wno-fatal \
	  -GROWS=$(URTL_ROWS) -GCOLS=$(URTL_COLS) -GWDEPTH=$(URTL_WDEPTH) -GXDEPTH=$(URTL_XDEPTH) \
	  -GRDEPTH=$(URTL_RDEPTH) -GTIMEOUT=$(URTL_TIMEOUT) -GCLKS_PER_BIT=$(URTL_CPB) \
	  -Irtl -Mdir $(URTL_DIR) -CFLAGS -O2 $(URTL_SRCS) > $(URTL_DIR)/verilator.log
	$(MAKE) --no-print-directory -s -C $(URTL_DIR) -f Vsparq_board_uart_core.mk OPT_FAST=-O2 OPT_SLOW=-O1 \
	  VM_PARALLEL_BUILDS=0 Vsparq_board_uart_core__ALL.a verilated.o verilated_threads.o > /dev/null
$(URTL_DIR)/uart_rtl_device.o: tests/board/uart_rtl_device.cpp tests/board/wire_device.h $(URTL_LIB)
	$(CXX) -O2 -std=c++17 -Wall -Wextra $(URTL_DEFS) -Ihost/include -I$(URTL_DIR) -Itests/board \
	  -isystem $(VERILATOR_ROOT)/include -isystem $(VERILATOR_ROOT)/include/vltstd -c $< -o $@
$(URTL_DIR)/uart_board_sim.o: tests/board/uart_board_sim.c tests/board/wire_device.h
	@mkdir -p $(URTL_DIR)
	$(CC) $(CFLAGS) -DSPARQ_UART_RTL -Itests/board -c $< -o $@
$(URTL_SIM): $(URTL_DIR)/uart_board_sim.o $(URTL_DIR)/uart_rtl_device.o $(URTL_LIB) $(LIBSPARQ_CORE)
	@mkdir -p $(dir $@)
	$(CXX) -o $@ $^ $(URTL_DIR)/verilated.o $(URTL_DIR)/verilated_threads.o $(LDLIBS) -pthread

TEST_DEPS += $(URTL_SIM)
