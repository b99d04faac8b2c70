# firmware/: the FX2LP USB bridge (sdcc). The FPGA board build and its
# simulation are in rtl/board/board.mk.
#   make firmware   -> $(BUILD)/firmware/sparq_fx2.ihx

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
