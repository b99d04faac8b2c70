# firmware/: the FX2LP USB bridge (sdcc) and the FPGA board build (rtl/board).
#   make firmware   -> $(BUILD)/firmware/sparq_fx2.ihx
#   make bitstream  -> $(BUILD)/board/sparq.bin  (rtl/board/board.mk)

FW_DIR   := $(BUILD)/firmware
FW_SRCS  := firmware/fx2_main.c firmware/fw_requests.c firmware/fw_descriptors.c
FW_RELS  := $(FW_SRCS:firmware/%.c=$(FW_DIR)/%.rel)
# FX2LP: 16 KB of unified code/data RAM; code below 0x3000, xdata above.
SDCC       ?= sdcc
# Build-time USB IDs: make firmware SPARQ_USB_VID=0x1d50 SPARQ_USB_PID=0x....
FW_IDS :=
ifdef SPARQ_USB_VID
FW_IDS += -DSPARQ_USB_VID=$(SPARQ_USB_VID)
endif
ifdef SPARQ_USB_PID
FW_IDS += -DSPARQ_USB_PID=$(SPARQ_USB_PID)
endif
FW_CFLAGS  := -mmcs51 --model-small --std-c99 -Ihost/include -Ifirmware $(FW_IDS)
FW_LDFLAGS := --code-size 0x3000 --xram-loc 0x3000 --xram-size 0x1000 --iram-size 256
# Rebuild when the IDs change: the stamp holds the last FW_IDS.
FW_STAMP := $(FW_DIR)/ids.txt
$(shell mkdir -p $(FW_DIR) && (echo '$(FW_IDS)' | cmp -s - $(FW_STAMP) || echo '$(FW_IDS)' > $(FW_STAMP)))

.PHONY: firmware
firmware: $(FW_DIR)/sparq_fx2.ihx

$(FW_DIR)/%.rel: firmware/%.c firmware/fw.h firmware/fx2regs.h host/include/sparq_usb_protocol.h $(FW_STAMP)
	@mkdir -p $(FW_DIR)
	$(SDCC) $(FW_CFLAGS) -c $< -o $@

$(FW_DIR)/sparq_fx2.ihx: $(FW_RELS)
	$(SDCC) $(FW_CFLAGS) $(FW_LDFLAGS) -o $(FW_DIR)/sparq_fx2.ihx $(FW_RELS)
	@grep -q ':00000001FF' $@ && echo "firmware: $@ ($$(grep -c '^:' $@) records)"

# tests/unit/test_usb.c checks the built image; tests/board/devices.sh runs sparq.
TEST_DEPS += $(FW_DIR)/sparq_fx2.ihx

-include rtl/board/board.mk

# Link-bound throughput estimate for a USB board (table + JSON).
BENCH_TARGETS += bench-link
.PHONY: bench-link
bench-link: $(BUILD)/sparq
	@mkdir -p $(BUILD)/bench
	@echo "== USB board: link-bound time per GEMM (estimate from counted bytes and round trips)"
	@$(BUILD)/sparq bench-link --json $(BUILD)/bench/board_link.json

# The board design (FX2 adapter + accelerator) Verilated under a C++ model of
# the FX2 FIFOs, driven by the host stack: tests/board/board_sim.sh.
BSIM_DIR  := $(BUILD)/board/sim
BSIM_RTL  := $(shell sed 's/#.*//' rtl/sparq_top.f) rtl/board/sparq_fx2_fifo.v tests/board/board_core.v
BSIM_LIB  := $(BSIM_DIR)/Vsparq_board_core__ALL.a
BSIM_SHIM := $(BSIM_DIR)/board_sim.o
$(BSIM_LIB): $(BSIM_RTL) firmware/firmware.mk
	@mkdir -p $(BSIM_DIR)
	verilator --cc -O3 --x-assign fast --x-initial fast --top-module sparq_board_core -Wno-fatal \
	  -Mdir $(BSIM_DIR) -CFLAGS -O2 $(BSIM_RTL) > $(BSIM_DIR)/verilator.log
	$(MAKE) --no-print-directory -s -C $(BSIM_DIR) -f Vsparq_board_core.mk OPT_FAST=-O2 OPT_SLOW=-O1 \
	  VM_PARALLEL_BUILDS=0 Vsparq_board_core__ALL.a > /dev/null
$(BSIM_SHIM): tests/board/board_sim.cpp tests/board/board_sim.h $(BSIM_LIB)
	$(CXX) -O2 -std=c++17 -Wall -Wextra -I$(BSIM_DIR) -Itests/board -isystem $(VERILATOR_ROOT)/include \
	  -isystem $(VERILATOR_ROOT)/include/vltstd -c $< -o $@
$(BUILD)/board/test_board_sim: tests/board/test_board_sim.c $(BSIM_SHIM) $(BSIM_LIB) $(LIBSPARQ) $(BOARD_OBJS)
	$(CC) $(CFLAGS) -Itests/board -o $@ $< $(BSIM_SHIM) $(BSIM_LIB) $(LIBSPARQ) $(BOARD_OBJS) $(BOARD_LIBS) $(LDLIBS)
TEST_DEPS += $(BUILD)/board/test_board_sim
