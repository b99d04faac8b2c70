// Loading the board: the FX2's firmware into its RAM over the 0xA0 vendor
// request (through the backend table, so tests can fake it), and the iCE40
// bitstream over the sparq bridge's CONFIG_* requests.
#include <stdio.h>
#include <stdlib.h>

#include <libusb.h>

#include "sparq_error.h"
#include "sparq_usb.h"
#include "sparq_usb_protocol.h"
#include "usb_backend.h"
#include "usb_shared.h"

static int fx2_cpucs(libusb_device_handle *h, uint8_t v, int timeout_ms)
{
    const struct sparq_usb_backend *B = sparq_usb_backend();
    int r = B->control(h, REQ_OUT, SPARQ_FX2_REQ_LOAD, SPARQ_FX2_CPUCS, 0, &v, 1, (unsigned)timeout_ms);
    return r == 1 ? SPARQ_OK : sparq_usb_fail(SPARQ_EIO, v ? "FX2 CPUCS hold (0xA0 write)" : "FX2 CPUCS release", r);
}

int sparq_usb_load_firmware(int bus, int address, const char *ihx_path, int timeout_ms)
{
    const struct sparq_usb_backend *B = sparq_usb_backend();
    struct sparq_ihx *img = sparq_malloc(sizeof *img, "ihx image");
    if (!img)
        return SPARQ_ENOMEM;
    int rc = sparq_ihx_load(img, ihx_path);
    if (rc) {
        free(img);
        return rc;
    }
    if (img->hi > SPARQ_FX2_RAM_SIZE) {
        rc = sparq_fail(SPARQ_EFORMAT, "%s: writes address 0x%04X, beyond the FX2's 16 KB RAM", ihx_path,
                        (unsigned)img->hi - 1);
        free(img);
        return rc;
    }
    libusb_context *ctx = NULL;
    libusb_device_handle *h = NULL;
    int r = B->init(&ctx);
    if (r < 0) {
        free(img);
        return sparq_usb_fail(SPARQ_EIO, "libusb_init", r);
    }
    rc = B->open_at(ctx, bus, address, &h);
    if (rc)
        goto out_ctx;
    rc = fx2_cpucs(h, 1, timeout_ms);
    if (rc)
        goto out_close;
    // Contiguous runs of written bytes, at most 1 KB per control transfer.
    for (uint32_t a = img->lo; a < img->hi;) {
        if (!img->used[a]) {
            a++;
            continue;
        }
        uint32_t e = a;
        while (e < img->hi && img->used[e] && e - a < 1024)
            e++;
        r = B->control(h, REQ_OUT, SPARQ_FX2_REQ_LOAD, (uint16_t)a, 0, img->data + a,
                                    (uint16_t)(e - a), (unsigned)timeout_ms);
        if (r != (int)(e - a)) {
            rc = r < 0 ? sparq_usb_fail(SPARQ_EIO, "FX2 RAM write (0xA0)", r)
                       : sparq_fail(SPARQ_EIO, "usb: FX2 RAM write at 0x%04X: short transfer", (unsigned)a);
            goto out_close;
        }
        a = e;
    }
    rc = fx2_cpucs(h, 0, timeout_ms); // the FX2 now runs our firmware and renumerates
out_close:
    B->close(h);
out_ctx:
    B->exit(ctx);
    free(img);
    return rc;
}

int sparq_usb_load_bitstream(const struct sparq_usb_options *opt, const char *bin_path)
{
    int rc = sparq_usb_check_options(opt);
    if (rc)
        return rc;
    FILE *f = sparq_fopen(bin_path, "rb");
    if (!f)
        return SPARQ_EIO;
    libusb_context *ctx = NULL;
    libusb_device_handle *h = NULL;
    int r = libusb_init(&ctx);
    if (r < 0) {
        fclose(f);
        return sparq_usb_fail(SPARQ_EIO, "libusb_init", r);
    }
    int bb, ba;
    rc = sparq_usb_find_and_open(ctx, opt->vid, opt->pid, opt->index, &h, &bb, &ba);
    if (rc == SPARQ_EDEVICE)
        rc = sparq_fail(SPARQ_EDEVICE, "usb: no sparq board found (looked for VID:PID %04x:%04x); load the firmware first",
                        opt->vid, opt->pid);
    if (rc)
        goto out;
    rc = sparq_usb_vendor_out(h, SPARQ_REQ_CONFIG_BEGIN, 0, opt->timeout_ms, "CONFIG_BEGIN");
    size_t total = 0;
    uint8_t chunk[SPARQ_USB_CONFIG_CHUNK];
    while (!rc) {
        size_t k = fread(chunk, 1, sizeof chunk, f);
        if (k == 0)
            break;
        r = libusb_control_transfer(h, REQ_OUT, SPARQ_REQ_CONFIG_DATA, 0, 0, chunk, (uint16_t)k,
                                    (unsigned)opt->timeout_ms);
        if (r != (int)k)
            rc = r < 0 ? sparq_usb_fail(SPARQ_EIO, "CONFIG_DATA", r) : sparq_fail(SPARQ_EIO, "usb: CONFIG_DATA short");
        total += k;
    }
    if (!rc && ferror(f))
        rc = sparq_fail(SPARQ_EIO, "%s: read error", bin_path);
    if (!rc && total == 0)
        rc = sparq_fail(SPARQ_EFORMAT, "%s: empty bitstream", bin_path);
    if (!rc) {
        uint8_t cdone = 0;
        r = libusb_control_transfer(h, REQ_IN, SPARQ_REQ_CONFIG_END, 0, 0, &cdone, 1, (unsigned)opt->timeout_ms);
        if (r != 1)
            rc = r < 0 ? sparq_usb_fail(SPARQ_EIO, "CONFIG_END", r) : sparq_fail(SPARQ_EIO, "usb: CONFIG_END short");
        else if (!cdone)
            rc = sparq_fail(SPARQ_EDEVICE, "%s: %zu bytes sent but the iCE40 did not raise CDONE", bin_path, total);
    }
out:
    if (h)
        libusb_close(h);
    libusb_exit(ctx);
    fclose(f);
    return rc;
}
