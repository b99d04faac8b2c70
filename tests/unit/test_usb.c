// The parts of the usb transport that run without a board: the Intel HEX
// reader (hand-made records and the real build/firmware/sparq_fx2.ihx),
// option parsing from the environment, and enumeration on a host with no
// sparq board (must say so plainly and fail, not succeed with nothing).
#include <string.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_usb.h"
#include "sparq_usb_protocol.h"

// Appends one record with a correct checksum (or a wrong one if bad != 0).
static void record(char *out, int type, unsigned addr, const uint8_t *d, int n, int bad)
{
    char *p = out + strlen(out);
    unsigned sum = (unsigned)n + (addr >> 8) + (addr & 0xFF) + (unsigned)type;
    p += sprintf(p, ":%02X%04X%02X", n, addr, type);
    for (int i = 0; i < n; i++) {
        p += sprintf(p, "%02X", d[i]);
        sum += d[i];
    }
    sprintf(p, "%02X\n", (unsigned)((0x100 - (sum & 0xFF) + bad) & 0xFF));
}

static int parse(struct sparq_ihx *img, const char *text) { return sparq_ihx_parse(img, text, strlen(text), "t.ihx"); }

int main(void)
{
    static struct sparq_ihx img;
    static char text[8192];
    uint8_t d[16];
    for (int i = 0; i < 16; i++)
        d[i] = (uint8_t)(0xA0 + i);

    // --- Intel HEX
    text[0] = 0;
    record(text, 0, 0x0000, d, 16, 0);
    record(text, 0, 0x0100, d, 4, 0);
    record(text, 1, 0, NULL, 0, 0);
    CHECK(parse(&img, text) == SPARQ_OK && img.bytes == 20 && img.lo == 0 && img.hi == 0x104 &&
              img.data[0x0F] == 0xAF && img.used[0x0100] && !img.used[0x0010] && img.data[0x103] == 0xA3,
          "two data records and EOF: 20 bytes at 0x0000 and 0x0100");
    text[0] = 0;
    record(text, 0, 0x0000, d, 16, 1);
    record(text, 1, 0, NULL, 0, 0);
    CHECK(parse(&img, text) == SPARQ_EFORMAT && strstr(sparq_last_error(), "t.ihx:1: checksum"),
          "bad checksum rejected, naming file and line: %s", sparq_last_error());
    text[0] = 0;
    record(text, 0, 0x0000, d, 4, 0);
    CHECK(parse(&img, text) == SPARQ_EFORMAT && strstr(sparq_last_error(), "end-of-file"),
          "missing EOF record (truncated file) rejected: %s", sparq_last_error());
    text[0] = 0;
    record(text, 0, 0x0000, d, 4, 0);
    record(text, 0, 0x0002, d, 4, 0);
    record(text, 1, 0, NULL, 0, 0);
    CHECK(parse(&img, text) == SPARQ_EFORMAT && strstr(sparq_last_error(), "0x0002 written twice"),
          "overlapping records rejected: %s", sparq_last_error());
    text[0] = 0;
    record(text, 4, 0, d, 2, 0);
    record(text, 1, 0, NULL, 0, 0);
    CHECK(parse(&img, text) == SPARQ_EFORMAT && strstr(sparq_last_error(), "type 04"),
          "extended-address records rejected (FX2 images are 16-bit)");
    text[0] = 0;
    record(text, 1, 0, NULL, 0, 0);
    record(text, 0, 0x0000, d, 4, 0);
    CHECK(parse(&img, text) == SPARQ_EFORMAT && strstr(sparq_last_error(), "after the end-of-file"),
          "data after EOF rejected");
    CHECK(parse(&img, ":0400000001020304F1\n:00000001FF\n") == SPARQ_EFORMAT, "wrong checksum in a literal record");
    CHECK(parse(&img, ":0400000001020304F2\n:00000001FF\n") == SPARQ_OK && img.bytes == 4, "literal record accepted");
    CHECK(parse(&img, ":0500000001020304F2\n:00000001FF\n") == SPARQ_EFORMAT && strstr(sparq_last_error(), "byte count"),
          "byte count disagreeing with the line length rejected");
    CHECK(parse(&img, ":04000000010203G4F2\n:00000001FF\n") == SPARQ_EFORMAT && strstr(sparq_last_error(), "hex digit"),
          "non-hex digit rejected");
    CHECK(parse(&img, "0400000001020304F2\n") == SPARQ_EFORMAT && strstr(sparq_last_error(), "':'"),
          "record without ':' rejected");
    text[0] = 0;
    record(text, 0, 0xFFFC, d, 8, 0);
    record(text, 1, 0, NULL, 0, 0);
    CHECK(parse(&img, text) == SPARQ_EFORMAT && strstr(sparq_last_error(), "past address 0xFFFF"),
          "record running past 0xFFFF rejected");
    CHECK(sparq_ihx_load(&img, "/nonexistent/sparq_fx2.ihx") != SPARQ_OK && strstr(sparq_last_error(), "/nonexistent"),
          "missing file: error names it (%s)", sparq_last_error());

    // --- the firmware image make firmware built
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char path[512];
    snprintf(path, sizeof path, "%s/firmware/sparq_fx2.ihx", build);
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        int rc = sparq_ihx_load(&img, path);
        int found = 0;
        const uint8_t dev[12] = { 18, 1, 0x00, 0x02, 0xFF, 0xFF, 0xFF, 64, SPARQ_USB_VID & 0xFF, SPARQ_USB_VID >> 8,
                                  SPARQ_USB_PID & 0xFF, SPARQ_USB_PID >> 8 };
        for (uint32_t a = 0; rc == SPARQ_OK && a + sizeof dev <= img.hi && !found; a++)
            found = !memcmp(img.data + a, dev, sizeof dev);
        CHECK(rc == SPARQ_OK && img.hi <= 0x3000 && img.bytes > 1000 && img.used[0],
              "%s: %zu bytes below 0x%04X (code space ends at 0x3000; FX2 RAM is 16 KB)", path, img.bytes,
              (unsigned)img.hi);
        CHECK(found, "%s contains the device descriptor with VID:PID %04x:%04x", path, SPARQ_USB_VID, SPARQ_USB_PID);
    } else {
        printf("# %s not built (make firmware): image checks skipped\n", path);
    }

    // --- options from the environment
    struct sparq_usb_options opt;
    setenv("SPARQ_USB_VID", "1d50", 1);
    setenv("SPARQ_USB_PID", "0x6099", 1);
    CHECK(sparq_usb_options_init(&opt) == SPARQ_OK && opt.vid == 0x1d50 && opt.pid == 0x6099 && opt.timeout_ms > 0,
          "SPARQ_USB_VID=1d50 (bare hex) and SPARQ_USB_PID=0x6099 are read");
    setenv("SPARQ_USB_VID", "zz", 1);
    CHECK(sparq_usb_options_init(&opt) == SPARQ_EINVAL && strstr(sparq_last_error(), "SPARQ_USB_VID"),
          "a bad SPARQ_USB_VID is an error naming the variable");
    unsetenv("SPARQ_USB_VID");
    unsetenv("SPARQ_USB_PID");
    sparq_usb_options_init(&opt);
    opt.transfer_bytes = 1000;
    struct sparq_transport tr;
    CHECK(sparq_transport_usb(&tr, &opt) == SPARQ_EINVAL, "transfer size not a multiple of 512 is refused");

    // --- no board attached
    sparq_usb_options_init(&opt);
    struct sparq_usb_board boards[4], untouched[4];
    memset(boards, 0x5A, sizeof boards);
    memcpy(untouched, boards, sizeof boards);
    int count = -1;
    int rc = sparq_usb_list(boards, 4, &count, &opt);
    if (rc == SPARQ_OK && count == 0) {
        // An empty list writes no entry, and listing again (max 0) agrees.
        int again = -1;
        int rc2 = sparq_usb_list(NULL, 0, &again, &opt);
        CHECK(memcmp(boards, untouched, sizeof boards) == 0 && rc2 == SPARQ_OK && again == 0,
              "enumeration on this host: no sparq board, no bare FX2 (no entry written, a second listing agrees)");
        struct sparq_device *dev = NULL;
        rc = sparq_device_open_usb(&dev, &opt);
        CHECK(rc == SPARQ_EDEVICE && strstr(sparq_last_error(), "no sparq board found") &&
                  strstr(sparq_last_error(), "1209:0001") && strstr(sparq_last_error(), "04b4:8613") && !dev,
              "opening usb without a board fails plainly: %s", sparq_last_error());
    } else if (rc == SPARQ_OK) {
        printf("# %d USB device(s) matching sparq or a bare FX2 attached: no-board checks skipped\n", count);
    } else {
        CHECK(strstr(sparq_last_error(), "usb:") != NULL, "no USB access on this host is reported as an error: %s",
              sparq_last_error());
    }
    return check_done();
}
