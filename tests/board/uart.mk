# tests/board/uart.sh: the simulated UART board (C device model on a
# pseudo-terminal; core library only) and the GEMM client that talks to it
# through the uart transport (board library).
UART_SIM  := $(BUILD)/tests/board/uart_board_sim
UART_GEMM := $(BUILD)/tests/board/uart_gemm

$(UART_SIM): tests/board/uart_board_sim.c $(LIBSPARQ_CORE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIBSPARQ_CORE) $(LDLIBS)
$(UART_GEMM): tests/board/uart_gemm.c $(LIBSPARQ) $$(BOARD_OBJS)
	@mkdir -p $(dir $@)
	$(LINK) $(CFLAGS) -o $@ $< $(LIBSPARQ) $(BOARD_OBJS) $(BOARD_LIBS) $(LDLIBS)

TEST_DEPS += $(UART_SIM) $(UART_GEMM)
