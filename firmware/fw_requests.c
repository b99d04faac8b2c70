/* EP0 request handling: standard requests, then the sparq vendor requests
 * from one table that checks direction and wLength before any handler runs.
 * Every path returns exactly one of FW_STALL / FW_ACK / FW_DATA. */
#include "fw.h"

uint8_t fw_configuration;

void fw_setup_parse(struct fw_setup *s, const uint8_t *raw)
{
    s->type = raw[0];
    s->request = raw[1];
    s->value = (uint16_t)(raw[2] | ((uint16_t)raw[3] << 8));
    s->index = (uint16_t)(raw[4] | ((uint16_t)raw[5] << 8));
    s->length = (uint16_t)(raw[6] | ((uint16_t)raw[7] << 8));
}

/* --- vendor requests ----------------------------------------------------- */
static uint8_t req_identify(const struct fw_setup *s, uint8_t *buf, uint8_t *len) FW_REENTRANT
{
    (void)s;
    buf[SPARQ_USB_ID_MAGIC0] = SPARQ_USB_MAGIC0;
    buf[SPARQ_USB_ID_MAGIC1] = SPARQ_USB_MAGIC1;
    buf[SPARQ_USB_ID_API] = (uint8_t)(SPARQ_USB_API_LEVEL & 0xFF);
    buf[SPARQ_USB_ID_API + 1] = (uint8_t)(SPARQ_USB_API_LEVEL >> 8);
    buf[SPARQ_USB_ID_FW] = (uint8_t)(SPARQ_FW_VERSION & 0xFF);
    buf[SPARQ_USB_ID_FW + 1] = (uint8_t)(SPARQ_FW_VERSION >> 8);
    buf[SPARQ_USB_ID_IFCLK] = SPARQ_FW_IFCLK_MHZ;
    buf[SPARQ_USB_ID_FLAGS] = 0x01; /* FPGA configuration over SPI */
    *len = SPARQ_USB_IDENTIFY_BYTES;
    return FW_DATA;
}

static uint8_t req_status(const struct fw_setup *s, uint8_t *buf, uint8_t *len) FW_REENTRANT
{
    (void)s;
    buf[SPARQ_USB_ST_FLAGS] = (uint8_t)(fw_hw_status_flags() | (fw_configuration ? SPARQ_USB_STF_CONFIGURED : 0));
    buf[SPARQ_USB_ST_RESETS] = fw_hw_bus_resets();
    buf[SPARQ_USB_ST_EP2] = fw_hw_fifo_flags(2);
    buf[SPARQ_USB_ST_EP6] = fw_hw_fifo_flags(6);
    *len = SPARQ_USB_STATUS_BYTES;
    return FW_DATA;
}

static uint8_t req_fpga_reset(const struct fw_setup *s, uint8_t *buf, uint8_t *len) FW_REENTRANT
{
    (void)buf;
    (void)len;
    if (s->value > 1)
        return FW_STALL;
    fw_hw_fpga_reset((uint8_t)s->value);
    return FW_ACK;
}

static uint8_t req_fifo_reset(const struct fw_setup *s, uint8_t *buf, uint8_t *len) FW_REENTRANT
{
    (void)s;
    (void)buf;
    (void)len;
    fw_hw_fifo_reset();
    return FW_ACK;
}

static uint8_t config_active;

static uint8_t req_config_begin(const struct fw_setup *s, uint8_t *buf, uint8_t *len) FW_REENTRANT
{
    (void)s;
    (void)buf;
    (void)len;
    fw_hw_spi_begin();
    config_active = 1;
    return FW_ACK;
}

static uint8_t req_config_data(const struct fw_setup *s, uint8_t *buf, uint8_t *len) FW_REENTRANT
{
    (void)len;
    if (!config_active)
        return FW_STALL; /* CONFIG_BEGIN first */
    fw_hw_spi_write(buf, (uint8_t)s->length);
    return FW_ACK;
}

static uint8_t req_config_end(const struct fw_setup *s, uint8_t *buf, uint8_t *len) FW_REENTRANT
{
    (void)s;
    if (!config_active)
        return FW_STALL;
    config_active = 0;
    buf[0] = fw_hw_spi_end();
    *len = 1;
    return FW_DATA;
}

const struct fw_vendor_request FW_CODE fw_vendor_table[] = {
    { SPARQ_REQ_IDENTIFY, 1, SPARQ_USB_IDENTIFY_BYTES, SPARQ_USB_IDENTIFY_BYTES, req_identify },
    { SPARQ_REQ_STATUS, 1, SPARQ_USB_STATUS_BYTES, SPARQ_USB_STATUS_BYTES, req_status },
    { SPARQ_REQ_FPGA_RESET, 0, 0, 0, req_fpga_reset },
    { SPARQ_REQ_FIFO_RESET, 0, 0, 0, req_fifo_reset },
    { SPARQ_REQ_CONFIG_BEGIN, 0, 0, 0, req_config_begin },
    { SPARQ_REQ_CONFIG_DATA, 0, 1, SPARQ_USB_CONFIG_CHUNK, req_config_data },
    { SPARQ_REQ_CONFIG_END, 1, 1, 1, req_config_end },
};
const uint8_t fw_vendor_count = (uint8_t)(sizeof fw_vendor_table / sizeof fw_vendor_table[0]);

/* The table entry for a vendor request whose direction and wLength are
 * allowed, or 0. */
static const struct fw_vendor_request FW_CODE *vendor_lookup(const struct fw_setup *s)
{
    uint8_t i;
    uint8_t dir_in = (s->type & 0x80) ? 1 : 0;
    if ((s->type & 0x7F) != 0x40) /* vendor, device recipient */
        return 0;
    for (i = 0; i < fw_vendor_count; i++) {
        const struct fw_vendor_request FW_CODE *r = &fw_vendor_table[i];
        if (r->request != s->request)
            continue;
        if (r->dir_in != dir_in || s->length < r->min_len || s->length > r->max_len)
            return 0;
        return r;
    }
    return 0;
}

uint8_t fw_out_data_ok(const struct fw_setup *s)
{
    return (s->type & 0x80) == 0 && s->length > 0 && s->length <= FW_EP0_SIZE && vendor_lookup(s) != 0;
}

/* --- standard requests --------------------------------------------------- */
#define REQ_GET_STATUS 0
#define REQ_CLEAR_FEATURE 1
#define REQ_SET_FEATURE 3
#define REQ_GET_DESCRIPTOR 6
#define REQ_GET_CONFIGURATION 8
#define REQ_SET_CONFIGURATION 9
#define REQ_GET_INTERFACE 10
#define REQ_SET_INTERFACE 11
#define FEATURE_ENDPOINT_HALT 0

static uint8_t valid_ep(uint16_t ep)
{
    return ep == 0x00 || ep == 0x80 || ep == SPARQ_USB_EP_OUT || ep == SPARQ_USB_EP_IN;
}

static uint8_t standard(const struct fw_setup *s, uint8_t *buf, uint8_t *len)
{
    uint8_t n;
    const uint8_t FW_CODE *d;
    switch (s->request) {
    case REQ_GET_DESCRIPTOR:
        if (s->type != 0x80)
            return FW_STALL;
        n = fw_descriptor((uint8_t)(s->value >> 8), (uint8_t)(s->value & 0xFF), fw_hw_high_speed(), &d);
        if (!n)
            return FW_STALL;
        if (n > s->length)
            n = (uint8_t)s->length; /* the host asked for a prefix */
        for (*len = 0; *len < n; (*len)++)
            buf[*len] = d[*len];
        return FW_DATA;
    case REQ_GET_STATUS:
        if (s->length != 2)
            return FW_STALL;
        buf[0] = 0;
        buf[1] = 0;
        if (s->type == 0x82) {
            if (!valid_ep(s->index))
                return FW_STALL;
            buf[0] = fw_hw_ep_halted((uint8_t)s->index);
        } else if (s->type != 0x80 && s->type != 0x81) {
            return FW_STALL;
        }
        *len = 2;
        return FW_DATA;
    case REQ_CLEAR_FEATURE:
    case REQ_SET_FEATURE:
        /* Only ENDPOINT_HALT; libusb_clear_halt() lands here. */
        if (s->type != 0x02 || s->value != FEATURE_ENDPOINT_HALT || s->length != 0)
            return FW_STALL;
        if (!fw_hw_ep_set_halt((uint8_t)s->index, s->request == REQ_SET_FEATURE))
            return FW_STALL;
        return FW_ACK;
    case REQ_GET_CONFIGURATION:
        if (s->type != 0x80 || s->length != 1)
            return FW_STALL;
        buf[0] = fw_configuration;
        *len = 1;
        return FW_DATA;
    case REQ_SET_CONFIGURATION:
        if (s->type != 0x00 || s->value > 1 || s->length != 0)
            return FW_STALL;
        fw_configuration = (uint8_t)s->value;
        if (fw_configuration)
            fw_hw_fifo_reset(); /* fresh FIFOs and data toggles */
        return FW_ACK;
    case REQ_GET_INTERFACE:
        if (s->type != 0x81 || s->index != SPARQ_USB_INTERFACE || s->length != 1 || !fw_configuration)
            return FW_STALL;
        buf[0] = 0;
        *len = 1;
        return FW_DATA;
    case REQ_SET_INTERFACE:
        if (s->type != 0x01 || s->index != SPARQ_USB_INTERFACE || s->value != 0 || s->length != 0)
            return FW_STALL;
        fw_hw_fifo_reset();
        return FW_ACK;
    default:
        return FW_STALL;
    }
}

uint8_t fw_handle_setup(const struct fw_setup *s, uint8_t *buf, uint8_t *len)
{
    const struct fw_vendor_request FW_CODE *r;
    *len = 0;
    if ((s->type & 0x60) == 0x00)
        return standard(s, buf, len);
    r = vendor_lookup(s);
    if (!r)
        return FW_STALL;
    return r->handler(s, buf, len);
}
