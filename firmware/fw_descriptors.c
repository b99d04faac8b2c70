/* USB descriptors of the sparq FX2 bridge: one configuration, one vendor
 * interface, two bulk endpoints (EP2 OUT, EP6 IN). High- and full-speed
 * variants differ only in the bulk packet size. */
#include "fw.h"

#define LO(x) ((uint8_t)((x) & 0xFF))
#define HI(x) ((uint8_t)(((x) >> 8) & 0xFF))

#define DESC_DEVICE 1
#define DESC_CONFIG 2
#define DESC_STRING 3
#define DESC_QUALIFIER 6
#define DESC_OTHER_SPEED 7

static const uint8_t FW_CODE dev_desc[18] = {
    18, DESC_DEVICE, 0x00, 0x02, /* USB 2.0 */
    0xFF, 0xFF, 0xFF,            /* vendor-specific class */
    FW_EP0_SIZE,
    LO(SPARQ_USB_VID), HI(SPARQ_USB_VID), LO(SPARQ_USB_PID), HI(SPARQ_USB_PID),
    LO(SPARQ_FW_VERSION), HI(SPARQ_FW_VERSION),
    1, 2, 0, /* manufacturer, product, no serial */
    1        /* configurations */
};

static const uint8_t FW_CODE qualifier_desc[10] = {
    10, DESC_QUALIFIER, 0x00, 0x02, 0xFF, 0xFF, 0xFF, FW_EP0_SIZE, 1, 0
};

#define CONFIG_BYTES (9 + 9 + 7 + 7)
#define CONFIG_DESC(type, pkt)                                                  \
    {                                                                           \
        9, type, CONFIG_BYTES, 0, 1, 1, 0, 0x80, 50, /* bus powered, 100 mA */  \
        9, 4, SPARQ_USB_INTERFACE, 0, 2, 0xFF, 0xFF, 0xFF, 0,                   \
        7, 5, SPARQ_USB_EP_OUT, 2, LO(pkt), HI(pkt), 0,                         \
        7, 5, SPARQ_USB_EP_IN, 2, LO(pkt), HI(pkt), 0                           \
    }
static const uint8_t FW_CODE config_hs[CONFIG_BYTES] = CONFIG_DESC(DESC_CONFIG, SPARQ_USB_BULK_HS);
static const uint8_t FW_CODE config_fs[CONFIG_BYTES] = CONFIG_DESC(DESC_CONFIG, SPARQ_USB_BULK_FS);
static const uint8_t FW_CODE other_hs[CONFIG_BYTES] = CONFIG_DESC(DESC_OTHER_SPEED, SPARQ_USB_BULK_HS);
static const uint8_t FW_CODE other_fs[CONFIG_BYTES] = CONFIG_DESC(DESC_OTHER_SPEED, SPARQ_USB_BULK_FS);

static const uint8_t FW_CODE str0[4] = { 4, DESC_STRING, 0x09, 0x04 }; /* en-US */
static const uint8_t FW_CODE str1[12] = { 12, DESC_STRING, 's', 0, 'p', 0, 'a', 0, 'r', 0, 'q', 0 };
static const uint8_t FW_CODE str2[34] = {
    34, DESC_STRING, 's', 0, 'p', 0, 'a', 0, 'r', 0, 'q', 0, ' ', 0, 'F', 0, 'X', 0,
    '2', 0, ' ', 0, 'b', 0, 'r', 0, 'i', 0, 'd', 0, 'g', 0, 'e', 0
};

uint8_t fw_descriptor(uint8_t type, uint8_t index, uint8_t high_speed, const uint8_t FW_CODE **desc)
{
    *desc = 0;
    switch (type) {
    case DESC_DEVICE:
        if (index)
            return 0;
        *desc = dev_desc;
        return sizeof dev_desc;
    case DESC_QUALIFIER:
        if (index)
            return 0;
        *desc = qualifier_desc;
        return sizeof qualifier_desc;
    case DESC_CONFIG:
        if (index)
            return 0;
        *desc = high_speed ? config_hs : config_fs;
        return CONFIG_BYTES;
    case DESC_OTHER_SPEED: /* what we would be at the other speed */
        if (index)
            return 0;
        *desc = high_speed ? other_fs : other_hs;
        return CONFIG_BYTES;
    case DESC_STRING:
        if (index == 0) {
            *desc = str0;
            return sizeof str0;
        }
        if (index == 1) {
            *desc = str1;
            return sizeof str1;
        }
        if (index == 2) {
            *desc = str2;
            return sizeof str2;
        }
        return 0;
    default:
        return 0;
    }
}
