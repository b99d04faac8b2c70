// The FX2 firmware's portable half (firmware/fw_requests.c and
// fw_descriptors.c) compiled natively: descriptor tables, the vendor request
// table's length checks, standard requests, and a randomised check that every
// SETUP packet gets exactly one well-formed reply. Hardware hooks are fakes
// that record what the firmware asked the chip to do.
#include <string.h>

#include "sparq_rng.h"

#include "check.h"
#include "../../firmware/fw_descriptors.c"
#include "../../firmware/fw_requests.c"

static int hw_fpga_reset = -1, hw_fifo_resets, hw_spi_begins, hw_spi_ends;
static uint8_t hw_spi[4096];
static size_t hw_spi_n;
static uint8_t hw_hs = 1, hw_halt_in, hw_halt_out, hw_cdone = 1;

void fw_hw_fpga_reset(uint8_t hold) { hw_fpga_reset = hold; }
void fw_hw_fifo_reset(void) { hw_fifo_resets++; }
uint8_t fw_hw_status_flags(void) { return (uint8_t)((hw_fpga_reset == 1 ? SPARQ_USB_STF_FPGA_RESET : 0) | (hw_cdone ? SPARQ_USB_STF_CDONE : 0)); }
uint8_t fw_hw_bus_resets(void) { return 3; }
uint8_t fw_hw_fifo_flags(uint8_t ep) { return ep == 2 ? 0x02 : 0x04; }
uint8_t fw_hw_high_speed(void) { return hw_hs; }
uint8_t fw_hw_ep_halted(uint8_t ep) { return ep == SPARQ_USB_EP_IN ? hw_halt_in : ep == SPARQ_USB_EP_OUT ? hw_halt_out : 0; }
uint8_t fw_hw_ep_set_halt(uint8_t ep, uint8_t halt)
{
    if (ep == SPARQ_USB_EP_IN)
        hw_halt_in = halt;
    else if (ep == SPARQ_USB_EP_OUT)
        hw_halt_out = halt;
    else if (ep != 0 && ep != 0x80)
        return 0;
    return 1;
}
void fw_hw_spi_begin(void) { hw_spi_begins++; hw_spi_n = 0; }
void fw_hw_spi_write(const uint8_t *d, uint8_t n)
{
    for (uint8_t i = 0; i < n && hw_spi_n < sizeof hw_spi; i++)
        hw_spi[hw_spi_n++] = d[i];
}
uint8_t fw_hw_spi_end(void) { hw_spi_ends++; return hw_cdone; }

static uint8_t run(uint8_t type, uint8_t req, uint16_t value, uint16_t index, uint16_t length, uint8_t *buf,
                   uint8_t *len)
{
    uint8_t raw[8] = { type, req, (uint8_t)value, (uint8_t)(value >> 8), (uint8_t)index, (uint8_t)(index >> 8),
                       (uint8_t)length, (uint8_t)(length >> 8) };
    struct fw_setup s;
    fw_setup_parse(&s, raw);
    return fw_handle_setup(&s, buf, len);
}

static uint64_t rng_state;
static uint32_t rnd(void)
{
    return (uint32_t)(sparq_rng_next(&rng_state) >> 32);
}

static void check_config(int hs, int other)
{
    const uint8_t *d;
    hw_hs = (uint8_t)hs;
    uint8_t n = fw_descriptor(other ? 7 : 2, 0, (uint8_t)hs, &d);
    int pkt = (hs != other) ? SPARQ_USB_BULK_HS : SPARQ_USB_BULK_FS;
    const char *what = other ? "other-speed" : "configuration";
    CHECK(n == (d[2] | d[3] << 8), "%s descriptor (%s): wTotalLength %d equals its size", what, hs ? "hs" : "fs", n);
    int walked = 0, eps = 0, eps_ok = 0, ifaces = 0;
    while (walked < n && d[walked] > 0) {
        const uint8_t *p = d + walked;
        if (p[1] == 4)
            ifaces++;
        if (p[1] == 5) {
            eps++;
            int size = p[4] | p[5] << 8;
            if ((p[2] == SPARQ_USB_EP_OUT || p[2] == SPARQ_USB_EP_IN) && p[3] == 2 && size == pkt)
                eps_ok++;
        }
        walked += p[0];
    }
    CHECK(walked == n && d[1] == (other ? 7 : 2), "%s (%s): descriptor chain walks exactly %d bytes", what,
          hs ? "hs" : "fs", n);
    CHECK(ifaces == 1 && d[4] == 1 && eps == 2 && eps_ok == 2,
          "%s (%s): one interface, bulk EP2 OUT and EP6 IN of %d bytes", what, hs ? "hs" : "fs", pkt);
}

int main(void)
{
    const uint8_t *d;
    uint8_t buf[FW_EP0_SIZE], len;

    // --- descriptors
    uint8_t n = fw_descriptor(1, 0, 1, &d);
    CHECK(n == 18 && d[0] == 18 && d[1] == 1 && d[7] == 64, "device descriptor: 18 bytes, EP0 packet 64");
    CHECK((d[8] | d[9] << 8) == SPARQ_USB_VID && (d[10] | d[11] << 8) == SPARQ_USB_PID,
          "device descriptor carries VID:PID %04x:%04x from sparq_usb_protocol.h", SPARQ_USB_VID, SPARQ_USB_PID);
    n = fw_descriptor(6, 0, 1, &d);
    CHECK(n == 10 && d[0] == 10 && d[1] == 6, "device qualifier: 10 bytes");
    check_config(1, 0);
    check_config(0, 0);
    check_config(1, 1);
    check_config(0, 1);
    int strings_ok = 1;
    for (int i = 0; i < 3; i++) {
        n = fw_descriptor(3, (uint8_t)i, 1, &d);
        if (n == 0 || d[0] != n || d[1] != 3 || n % 2)
            strings_ok = 0;
    }
    CHECK(strings_ok, "string descriptors 0..2: bLength equals size, type 3, UTF-16");
    CHECK(fw_descriptor(3, 3, 1, &d) == 0 && fw_descriptor(1, 1, 1, &d) == 0 && fw_descriptor(9, 0, 1, &d) == 0,
          "absent descriptors (string 3, device index 1, type 9) are not found");
    hw_hs = 1;
    CHECK(run(0x80, 6, 0x0200, 0, 9, buf, &len) == FW_DATA && len == 9 && buf[1] == 2,
          "GET_DESCRIPTOR(config, wLength 9) returns the 9-byte prefix");
    CHECK(run(0x80, 6, 0x0303, 0x0409, 255, buf, &len) == FW_STALL, "GET_DESCRIPTOR of a missing string stalls");

    // --- vendor table sanity
    int table_ok = 1;
    for (int i = 0; i < fw_vendor_count; i++) {
        const struct fw_vendor_request *r = &fw_vendor_table[i];
        if (r->min_len > r->max_len || r->max_len > FW_EP0_SIZE || !r->handler)
            table_ok = 0;
        for (int j = 0; j < i; j++)
            if (fw_vendor_table[j].request == r->request)
                table_ok = 0;
    }
    CHECK(table_ok && fw_vendor_count == 7, "vendor table: 7 unique requests, lengths within EP0's 64 bytes");

    // --- identify
    memset(buf, 0, sizeof buf);
    CHECK(run(0xC0, SPARQ_REQ_IDENTIFY, 0, 0, SPARQ_USB_IDENTIFY_BYTES, buf, &len) == FW_DATA &&
              len == SPARQ_USB_IDENTIFY_BYTES && buf[0] == 'S' && buf[1] == 'Q' &&
              (buf[SPARQ_USB_ID_API] | buf[SPARQ_USB_ID_API + 1] << 8) == SPARQ_USB_API_LEVEL,
          "IDENTIFY: 8 bytes, magic 'SQ', API level %d", SPARQ_USB_API_LEVEL);
    CHECK(run(0xC0, SPARQ_REQ_IDENTIFY, 0, 0, 7, buf, &len) == FW_STALL &&
              run(0xC0, SPARQ_REQ_IDENTIFY, 0, 0, 9, buf, &len) == FW_STALL,
          "IDENTIFY with wLength 7 or 9 stalls (length checked before the handler)");
    CHECK(run(0x40, SPARQ_REQ_IDENTIFY, 0, 0, 8, buf, &len) == FW_STALL, "IDENTIFY in the OUT direction stalls");
    CHECK(run(0xC0, 0xBF, 0, 0, 8, buf, &len) == FW_STALL && run(0xC1, SPARQ_REQ_IDENTIFY, 0, 0, 8, buf, &len) == FW_STALL,
          "unknown vendor request and interface recipient stall");

    // --- status, FPGA reset, FIFO reset
    CHECK(run(0x40, SPARQ_REQ_FPGA_RESET, 1, 0, 0, buf, &len) == FW_ACK && hw_fpga_reset == 1,
          "FPGA_RESET 1 holds the FPGA in reset");
    CHECK(run(0xC0, SPARQ_REQ_STATUS, 0, 0, 4, buf, &len) == FW_DATA && len == 4 &&
              (buf[0] & SPARQ_USB_STF_FPGA_RESET) && buf[1] == 3 && buf[2] == 0x02 && buf[3] == 0x04,
          "STATUS reports reset line, bus resets and both FIFO flag bytes");
    CHECK(run(0x40, SPARQ_REQ_FPGA_RESET, 0, 0, 0, buf, &len) == FW_ACK && hw_fpga_reset == 0,
          "FPGA_RESET 0 releases it");
    CHECK(run(0x40, SPARQ_REQ_FPGA_RESET, 2, 0, 0, buf, &len) == FW_STALL && hw_fpga_reset == 0,
          "FPGA_RESET with wValue 2 stalls and leaves the line alone");
    int before = hw_fifo_resets;
    CHECK(run(0x40, SPARQ_REQ_FIFO_RESET, 0, 0, 0, buf, &len) == FW_ACK && hw_fifo_resets == before + 1,
          "FIFO_RESET flushes the FIFOs once");
    CHECK(run(0x40, SPARQ_REQ_FIFO_RESET, 0, 0, 1, buf, &len) == FW_STALL && hw_fifo_resets == before + 1,
          "FIFO_RESET with a data stage stalls without flushing");

    // --- FPGA configuration over SPI
    struct fw_setup s;
    uint8_t raw[8] = { 0x40, SPARQ_REQ_CONFIG_DATA, 0, 0, 0, 0, 64, 0 };
    fw_setup_parse(&s, raw);
    CHECK(fw_out_data_ok(&s), "CONFIG_DATA with 64 bytes may receive its data stage");
    raw[6] = 65;
    fw_setup_parse(&s, raw);
    CHECK(!fw_out_data_ok(&s), "CONFIG_DATA with 65 bytes is refused before the data stage");
    raw[0] = 0xC0;
    raw[1] = SPARQ_REQ_IDENTIFY;
    raw[6] = 8;
    fw_setup_parse(&s, raw);
    CHECK(!fw_out_data_ok(&s), "IN requests never get an OUT data stage");
    CHECK(run(0x40, SPARQ_REQ_CONFIG_DATA, 0, 0, 4, buf, &len) == FW_STALL && hw_spi_n == 0,
          "CONFIG_DATA before CONFIG_BEGIN stalls");
    CHECK(run(0x40, SPARQ_REQ_CONFIG_BEGIN, 0, 0, 0, buf, &len) == FW_ACK && hw_spi_begins == 1, "CONFIG_BEGIN");
    for (int i = 0; i < 64; i++)
        buf[i] = (uint8_t)(i * 7);
    int sent_ok = run(0x40, SPARQ_REQ_CONFIG_DATA, 0, 0, 64, buf, &len) == FW_ACK;
    sent_ok = sent_ok && run(0x40, SPARQ_REQ_CONFIG_DATA, 0, 0, 3, buf, &len) == FW_ACK;
    CHECK(sent_ok && hw_spi_n == 67 && hw_spi[63] == (uint8_t)(63 * 7) && hw_spi[66] == 14,
          "CONFIG_DATA shifts exactly the bytes of each data stage (64 + 3)");
    CHECK(run(0xC0, SPARQ_REQ_CONFIG_END, 0, 0, 1, buf, &len) == FW_DATA && len == 1 && buf[0] == 1 &&
              hw_spi_ends == 1,
          "CONFIG_END returns CDONE");
    CHECK(run(0xC0, SPARQ_REQ_CONFIG_END, 0, 0, 1, buf, &len) == FW_STALL && hw_spi_ends == 1,
          "a second CONFIG_END stalls");

    // --- standard requests
    before = hw_fifo_resets;
    CHECK(run(0x00, 9, 1, 0, 0, buf, &len) == FW_ACK && fw_configuration == 1 && hw_fifo_resets == before + 1,
          "SET_CONFIGURATION 1 configures and flushes the FIFOs");
    CHECK(run(0x80, 8, 0, 0, 1, buf, &len) == FW_DATA && len == 1 && buf[0] == 1, "GET_CONFIGURATION returns 1");
    CHECK(run(0x00, 9, 2, 0, 0, buf, &len) == FW_STALL && fw_configuration == 1, "SET_CONFIGURATION 2 stalls");
    CHECK(run(0x02, 3, 0, SPARQ_USB_EP_IN, 0, buf, &len) == FW_ACK && hw_halt_in == 1 &&
              run(0x82, 0, 0, SPARQ_USB_EP_IN, 2, buf, &len) == FW_DATA && buf[0] == 1,
          "SET_FEATURE(halt) on EP6 IN shows in GET_STATUS");
    CHECK(run(0x02, 1, 0, SPARQ_USB_EP_IN, 0, buf, &len) == FW_ACK && hw_halt_in == 0,
          "CLEAR_FEATURE(halt) on EP6 IN (libusb_clear_halt) clears it");
    CHECK(run(0x02, 1, 0, 0x04, 0, buf, &len) == FW_STALL, "CLEAR_FEATURE on a missing endpoint stalls");

    // --- randomised: every SETUP packet gets exactly one well-formed reply
    rng_state = check_seed(0x5eed0f1fULL);
    int bad = 0;
    for (int i = 0; i < 200000 && !bad; i++) {
        uint8_t rawp[8];
        for (int k = 0; k < 8; k++)
            rawp[k] = (uint8_t)rnd();
        if (rnd() % 2) { // bias towards interesting requests
            rawp[0] = (uint8_t)((rnd() % 2 ? 0xC0 : 0x40) | (rnd() % 4 == 0 ? 1 : 0));
            rawp[1] = (uint8_t)(0xB0 + rnd() % 9);
            rawp[7] = 0;
            rawp[6] = (uint8_t)(rnd() % 70);
        }
        struct fw_setup sp;
        fw_setup_parse(&sp, rawp);
        if (!(sp.type & 0x80) && sp.length > 0 && !fw_out_data_ok(&sp))
            continue; // the glue stalls these before any handler runs
        memset(buf, 0xEE, sizeof buf);
        if (!(sp.type & 0x80))
            for (int k = 0; k < (int)sp.length && k < FW_EP0_SIZE; k++)
                buf[k] = (uint8_t)rnd();
        len = 0xFF;
        uint8_t r = fw_handle_setup(&sp, buf, &len);
        if (r > FW_DATA)
            bad = 1;
        if (r == FW_DATA && (!(sp.type & 0x80) || len > sp.length || len > FW_EP0_SIZE))
            bad = 2;
        if (r != FW_DATA && len != 0)
            bad = 3;
        if (r == FW_ACK && (sp.type & 0x80))
            bad = 4;
        if (bad)
            printf("# setup %02x %02x %04x %04x %04x -> %u len %u\n", sp.type, sp.request, sp.value, sp.index,
                   sp.length, r, len);
    }
    CHECK(!bad, "200000 random SETUP packets: one reply each, IN data only for IN requests, never beyond wLength");
    return check_done();
}
