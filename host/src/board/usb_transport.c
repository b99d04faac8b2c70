// The `usb` transport over libusb-1.0: enumeration, the bridge's vendor
// requests, and asynchronous bulk streaming with several transfers in
// flight (FX2 firmware and bitstream loading: usb_load.c). Every libusb error is reported with libusb_error_name();
// every transfer has a timeout; close and Ctrl-C cancel, then drain.
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libusb.h>

#include "sparq_error.h"
#include "sparq_usb.h"
#include "usb_backend.h"
#include "usb_shared.h"
#include "sparq_usb_protocol.h"
#include "sparq_clock.h"

#define MAX_TRANSFERS 32

static int env_id(const char *var, int *out)
{
    const char *s = getenv(var);
    if (!s || !*s)
        return SPARQ_OK;
    // USB IDs are hex, as lsusb prints them ("1209" or "0x1209").
    char *end;
    errno = 0;
    long v = strtol(s, &end, 16);
    if (errno || *end || v < 0 || v > 0xFFFF)
        return sparq_fail(SPARQ_EINVAL, "%s='%s': not a 16-bit hex USB ID", var, s);
    *out = (int)v;
    return SPARQ_OK;
}

int sparq_usb_options_init(struct sparq_usb_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->vid = SPARQ_USB_VID;
    opt->pid = SPARQ_USB_PID;
    opt->timeout_ms = 1000;
    opt->transfers = 4;
    opt->transfer_bytes = 16384;
    int rc = env_id("SPARQ_USB_VID", &opt->vid);
    if (rc == SPARQ_OK)
        rc = env_id("SPARQ_USB_PID", &opt->pid);
    const char *fw = getenv("SPARQ_USB_FIRMWARE");
    if (fw && *fw)
        opt->firmware = fw;
    return rc;
}

int sparq_usb_fail(int code, const char *what, int err)
{
    return sparq_fail(code, "usb: %s: %s", what, libusb_error_name(err));
}

// --- libusb behind a table (tests swap in a fake device) -----------------------
static int open_at(libusb_context *ctx, int bus, int address, libusb_device_handle **h);
static int lu_init(libusb_context **ctx) { return libusb_init(ctx); }
static void lu_exit(libusb_context *ctx) { libusb_exit(ctx); }
static int lu_claim(libusb_device_handle *h, int iface)
{
    libusb_set_auto_detach_kernel_driver(h, 1); // unsupported on some platforms; claiming reports the real problem
    return libusb_claim_interface(h, iface);
}
static int lu_release(libusb_device_handle *h, int iface) { return libusb_release_interface(h, iface); }
static void lu_close(libusb_device_handle *h) { libusb_close(h); }
static int lu_control(libusb_device_handle *h, uint8_t type, uint8_t req, uint16_t value, uint16_t index,
                      unsigned char *data, uint16_t len, unsigned timeout_ms)
{
    return libusb_control_transfer(h, type, req, value, index, data, len, timeout_ms);
}
static int lu_clear_halt(libusb_device_handle *h, unsigned char ep) { return libusb_clear_halt(h, ep); }
static int lu_bulk(libusb_device_handle *h, unsigned char ep, unsigned char *data, int len, int *got,
                   unsigned timeout_ms)
{
    return libusb_bulk_transfer(h, ep, data, len, got, timeout_ms);
}
static int lu_events(libusb_context *ctx, struct timeval *tv)
{
    return libusb_handle_events_timeout_completed(ctx, tv, NULL);
}
static const struct sparq_usb_backend libusb_backend = {
    .init = lu_init, .exit = lu_exit, .open_board = sparq_usb_find_and_open, .open_at = open_at,
    .claim = lu_claim, .release = lu_release,
    .close = lu_close, .control = lu_control, .clear_halt = lu_clear_halt, .bulk = lu_bulk,
    .submit = libusb_submit_transfer, .cancel = libusb_cancel_transfer, .events = lu_events,
};
static const struct sparq_usb_backend *B = &libusb_backend;

void sparq_usb_set_backend(const struct sparq_usb_backend *b) { B = b ? b : &libusb_backend; }
const struct sparq_usb_backend *sparq_usb_backend(void) { return B; }

int sparq_usb_check_options(const struct sparq_usb_options *o)
{
    if (o->vid < 0 || o->vid > 0xFFFF || o->pid < 0 || o->pid > 0xFFFF)
        return sparq_fail(SPARQ_EINVAL, "usb: VID:PID %04x:%04x out of range", o->vid, o->pid);
    if (o->timeout_ms < 1 || o->transfers < 1 || o->transfers > MAX_TRANSFERS || o->transfer_bytes < 512 ||
        o->transfer_bytes % 512)
        return sparq_fail(SPARQ_EINVAL,
                          "usb: options: timeout_ms >= 1, transfers 1..%d, transfer_bytes a multiple of 512",
                          MAX_TRANSFERS);
    return SPARQ_OK;
}

static int identify(libusb_device_handle *h, int timeout_ms, int *api, int *fw, char *err, size_t errcap)
{
    unsigned char b[SPARQ_USB_IDENTIFY_BYTES];
    int r = B->control(h, REQ_IN, SPARQ_REQ_IDENTIFY, 0, 0, b, sizeof b, (unsigned)timeout_ms);
    if (r < 0) {
        snprintf(err, errcap, "IDENTIFY request failed: %s", libusb_error_name(r));
        return SPARQ_EDEVICE;
    }
    if (r != (int)sizeof b || b[SPARQ_USB_ID_MAGIC0] != SPARQ_USB_MAGIC0 || b[SPARQ_USB_ID_MAGIC1] != SPARQ_USB_MAGIC1) {
        snprintf(err, errcap, "IDENTIFY reply is not sparq firmware (%d bytes)", r);
        return SPARQ_EDEVICE;
    }
    *api = b[SPARQ_USB_ID_API] | b[SPARQ_USB_ID_API + 1] << 8;
    *fw = b[SPARQ_USB_ID_FW] | b[SPARQ_USB_ID_FW + 1] << 8;
    if (*api != SPARQ_USB_API_LEVEL) {
        snprintf(err, errcap, "firmware API level %d, host expects %d (reload firmware/sparq_fx2.ihx)", *api,
                 SPARQ_USB_API_LEVEL);
        return SPARQ_EDEVICE;
    }
    return SPARQ_OK;
}

int sparq_usb_list(struct sparq_usb_board *boards, int max, int *count, const struct sparq_usb_options *opt)
{
    int rc = sparq_usb_check_options(opt);
    if (rc)
        return rc;
    *count = 0;
    libusb_context *ctx = NULL;
    int r = libusb_init(&ctx);
    if (r < 0)
        return sparq_usb_fail(SPARQ_EIO, "libusb_init (is /dev/bus/usb available?)", r);
    libusb_device **list = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    if (n < 0) {
        libusb_exit(ctx);
        return sparq_usb_fail(SPARQ_EIO, "libusb_get_device_list", (int)n);
    }
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor d;
        if (libusb_get_device_descriptor(list[i], &d) < 0)
            continue;
        int ours = d.idVendor == opt->vid && d.idProduct == opt->pid;
        int bare = d.idVendor == SPARQ_FX2_BARE_VID && d.idProduct == SPARQ_FX2_BARE_PID;
        if (!ours && !bare)
            continue;
        if (*count < max) {
            struct sparq_usb_board *b = &boards[*count];
            memset(b, 0, sizeof *b);
            b->bus = libusb_get_bus_number(list[i]);
            b->address = libusb_get_device_address(list[i]);
            b->vid = d.idVendor;
            b->pid = d.idProduct;
            b->bare_fx2 = bare && !ours;
            b->speed = libusb_get_device_speed(list[i]);
            b->api_level = b->fw_version = b->status = -1;
            if (ours) {
                libusb_device_handle *h;
                r = libusb_open(list[i], &h);
                if (r < 0) {
                    snprintf(b->error, sizeof b->error, "cannot open: %s (udev rule installed?)",
                             libusb_error_name(r));
                } else {
                    b->status = -1;
                    if (identify(h, opt->timeout_ms, &b->api_level, &b->fw_version, b->error, sizeof b->error) ==
                        SPARQ_OK) {
                        unsigned char st[SPARQ_USB_STATUS_BYTES];
                        if (B->control(h, REQ_IN, SPARQ_REQ_STATUS, 0, 0, st, sizeof st, (unsigned)opt->timeout_ms) ==
                            (int)sizeof st)
                            b->status = st[SPARQ_USB_ST_FLAGS];
                    }
                    libusb_close(h);
                }
            }
        }
        (*count)++;
    }
    libusb_free_device_list(list, 1);
    libusb_exit(ctx);
    return SPARQ_OK;
}

// --- a device by bus position (firmware loading) --------------------------------
static int open_at(libusb_context *ctx, int bus, int address, libusb_device_handle **h)
{
    libusb_device **list = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    if (n < 0)
        return sparq_usb_fail(SPARQ_EIO, "libusb_get_device_list", (int)n);
    int rc = sparq_fail(SPARQ_EDEVICE, "usb: no device at bus %d address %d", bus, address);
    for (ssize_t i = 0; i < n; i++)
        if (libusb_get_bus_number(list[i]) == bus && libusb_get_device_address(list[i]) == address) {
            int r = libusb_open(list[i], h);
            rc = r < 0 ? sparq_usb_fail(SPARQ_EIO, "libusb_open", r) : SPARQ_OK;
            break;
        }
    libusb_free_device_list(list, 1);
    return rc;
}

// --- the streaming transport ---------------------------------------------------
static volatile sig_atomic_t usb_interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    usb_interrupted = 1;
}

struct usb_tr {
    libusb_context *ctx;
    libusb_device_handle *h;
    struct sparq_usb_options opt;
    int claimed, closing;
    struct sigaction old_sigint;
    int have_old_sigint;

    struct libusb_transfer *in[MAX_TRANSFERS];
    int in_active[MAX_TRANSFERS];
    uint8_t *rx;          // received, not yet consumed bytes
    size_t rx_head, rx_len, rx_cap;

    struct libusb_transfer *out[MAX_TRANSFERS];
    int out_active[MAX_TRANSFERS];

    int error;            // first transfer failure (libusb status), 0 if none
    int error_ep;
    int in_stalled;
};

static void in_done(struct libusb_transfer *t)
{
    struct usb_tr *u = t->user_data;
    int i = 0;
    while (u->in[i] != t)
        i++;
    u->in_active[i] = 0;
    if (t->actual_length > 0) { // timed-out transfers may still carry data
        size_t need = u->rx_len + (size_t)t->actual_length;
        if (need > u->rx_cap) {
            if (u->rx_head) {
                memmove(u->rx, u->rx + u->rx_head, u->rx_len - u->rx_head);
                u->rx_len -= u->rx_head;
                u->rx_head = 0;
                need = u->rx_len + (size_t)t->actual_length;
            }
            if (need > u->rx_cap) {
                size_t cap = u->rx_cap * 2;
                while (cap < need)
                    cap *= 2;
                uint8_t *p = realloc(u->rx, cap);
                if (!p) {
                    u->error = LIBUSB_ERROR_NO_MEM;
                    return;
                }
                u->rx = p;
                u->rx_cap = cap;
            }
        }
        memcpy(u->rx + u->rx_len, t->buffer, (size_t)t->actual_length);
        u->rx_len += (size_t)t->actual_length;
    }
    if (u->closing)
        return;
    switch (t->status) {
    case LIBUSB_TRANSFER_COMPLETED:
    case LIBUSB_TRANSFER_TIMED_OUT: // idle link: nothing to read, keep listening
        if (B->submit(t) == 0)
            u->in_active[i] = 1;
        else if (!u->error)
            u->error = LIBUSB_ERROR_IO, u->error_ep = SPARQ_USB_EP_IN;
        break;
    case LIBUSB_TRANSFER_STALL:
        u->in_stalled = 1; // recv() clears the halt and resubmits
        break;
    case LIBUSB_TRANSFER_CANCELLED:
        break;
    default:
        if (!u->error) {
            u->error = t->status == LIBUSB_TRANSFER_NO_DEVICE ? LIBUSB_ERROR_NO_DEVICE
                       : t->status == LIBUSB_TRANSFER_OVERFLOW ? LIBUSB_ERROR_OVERFLOW
                                                               : LIBUSB_ERROR_IO;
            u->error_ep = SPARQ_USB_EP_IN;
        }
    }
}

static void out_done(struct libusb_transfer *t)
{
    struct usb_tr *u = t->user_data;
    int i = 0;
    while (u->out[i] != t)
        i++;
    u->out_active[i] = 0;
    if (t->status == LIBUSB_TRANSFER_CANCELLED)
        return;
    if (!u->error && (t->status != LIBUSB_TRANSFER_COMPLETED || t->actual_length != t->length)) {
        // A short or timed-out OUT transfer means the FPGA stopped taking
        // bytes: the protocol never expects that.
        u->error = t->status == LIBUSB_TRANSFER_TIMED_OUT ? LIBUSB_ERROR_TIMEOUT
                   : t->status == LIBUSB_TRANSFER_STALL   ? LIBUSB_ERROR_PIPE
                   : t->status == LIBUSB_TRANSFER_NO_DEVICE ? LIBUSB_ERROR_NO_DEVICE
                                                            : LIBUSB_ERROR_IO;
        u->error_ep = SPARQ_USB_EP_OUT;
    }
}

static int any_active(const struct usb_tr *u)
{
    for (int i = 0; i < u->opt.transfers; i++)
        if (u->in_active[i] || u->out_active[i])
            return 1;
    return 0;
}

// Cancels every transfer in flight and handles events until each callback
// has run, so no buffer is freed under libusb.
static void cancel_and_drain(struct usb_tr *u)
{
    u->closing = 1;
    for (int i = 0; i < u->opt.transfers; i++) {
        if (u->in_active[i])
            B->cancel(u->in[i]);
        if (u->out_active[i])
            B->cancel(u->out[i]);
    }
    for (int spins = 0; any_active(u) && spins < 1000; spins++) {
        struct timeval tv = { 0, 10000 };
        B->events(u->ctx, &tv);
    }
}

static double now_ms(void) { return sparq_clock_s() * 1e3; }

// One round of event handling; returns an error for a failed transfer or
// Ctrl-C.
static int pump(struct usb_tr *u, double deadline)
{
    if (usb_interrupted) {
        cancel_and_drain(u);
        return sparq_fail(SPARQ_EIO, "usb: interrupted (Ctrl-C): transfers cancelled and drained");
    }
    if (u->error) {
        int e = u->error;
        cancel_and_drain(u);
        return sparq_fail(SPARQ_EIO, "usb: bulk %s transfer failed: %s",
                          u->error_ep == SPARQ_USB_EP_OUT ? "OUT (EP2)" : "IN (EP6)", libusb_error_name(e));
    }
    double left = deadline - now_ms();
    if (left <= 0)
        return SPARQ_ETIMEOUT;
    if (left > 100)
        left = 100; // wake up now and then to notice Ctrl-C
    struct timeval tv = { 0, (long)(left * 1000) };
    int r = B->events(u->ctx, &tv);
    if (r < 0 && r != LIBUSB_ERROR_INTERRUPTED) {
        cancel_and_drain(u);
        return sparq_usb_fail(SPARQ_EIO, "libusb_handle_events", r);
    }
    return SPARQ_OK;
}

static int usb_send(void *ctx, const uint8_t *data, size_t n)
{
    struct usb_tr *u = ctx;
    if (u->closing)
        return sparq_fail(SPARQ_EIO, "usb: transport already failed");
    size_t chunk = (size_t)u->opt.transfer_bytes;
    while (n > 0) {
        double deadline = now_ms() + u->opt.timeout_ms;
        int slot = -1;
        for (;;) {
            for (int i = 0; i < u->opt.transfers && slot < 0; i++)
                if (!u->out_active[i])
                    slot = i;
            if (slot >= 0)
                break;
            int rc = pump(u, deadline);
            if (rc == SPARQ_ETIMEOUT)
                return sparq_fail(SPARQ_ETIMEOUT, "usb: bulk OUT: no transfer completed in %d ms (FPGA not reading?)",
                                  u->opt.timeout_ms);
            if (rc)
                return rc;
        }
        size_t k = n < chunk ? n : chunk;
        struct libusb_transfer *t = u->out[slot];
        memcpy(t->buffer, data, k);
        t->length = (int)k;
        int r = B->submit(t);
        if (r < 0)
            return sparq_usb_fail(SPARQ_EIO, "submit bulk OUT", r);
        u->out_active[slot] = 1;
        data += k;
        n -= k;
    }
    return SPARQ_OK;
}

static int restart_in(struct usb_tr *u)
{
    for (int i = 0; i < u->opt.transfers; i++)
        if (!u->in_active[i]) {
            int r = B->submit(u->in[i]);
            if (r < 0)
                return sparq_usb_fail(SPARQ_EIO, "submit bulk IN", r);
            u->in_active[i] = 1;
        }
    return SPARQ_OK;
}

static int usb_recv(void *ctx, uint8_t *data, size_t n)
{
    struct usb_tr *u = ctx;
    if (u->closing)
        return sparq_fail(SPARQ_EIO, "usb: transport already failed");
    double deadline = now_ms() + u->opt.timeout_ms;
    while (u->rx_len - u->rx_head < n) {
        if (u->in_stalled) {
            u->in_stalled = 0;
            int r = B->clear_halt(u->h, SPARQ_USB_EP_IN);
            if (r < 0)
                return sparq_usb_fail(SPARQ_EIO, "clear halt on EP6 IN", r);
            int rc = restart_in(u);
            if (rc)
                return rc;
        }
        int rc = pump(u, deadline);
        if (rc == SPARQ_ETIMEOUT)
            return sparq_fail(SPARQ_ETIMEOUT, "usb: %zu of %zu reply bytes after %d ms", u->rx_len - u->rx_head, n,
                              u->opt.timeout_ms);
        if (rc)
            return rc;
    }
    memcpy(data, u->rx + u->rx_head, n);
    u->rx_head += n;
    if (u->rx_head == u->rx_len)
        u->rx_head = u->rx_len = 0;
    return SPARQ_OK;
}

// The host stopped sending: wait until every OUT transfer has completed so
// the device has all bytes (its own rx timeout handles partial packets).
static int usb_idle(void *ctx)
{
    struct usb_tr *u = ctx;
    double deadline = now_ms() + u->opt.timeout_ms;
    for (;;) {
        int busy = 0;
        for (int i = 0; i < u->opt.transfers; i++)
            busy |= u->out_active[i];
        if (!busy)
            return SPARQ_OK;
        int rc = pump(u, deadline);
        if (rc == SPARQ_ETIMEOUT)
            return sparq_fail(SPARQ_ETIMEOUT, "usb: bulk OUT still pending after %d ms", u->opt.timeout_ms);
        if (rc)
            return rc;
    }
}

static uint64_t usb_cycles(void *ctx)
{
    (void)ctx;
    return 0; // not observable from the host; COUNTERS has the device's count
}

static void usb_close(void *ctx)
{
    struct usb_tr *u = ctx;
    if (!u)
        return;
    if (u->ctx)
        cancel_and_drain(u);
    for (int i = 0; i < MAX_TRANSFERS; i++) {
        if (u->in[i]) {
            free(u->in[i]->buffer);
            libusb_free_transfer(u->in[i]);
        }
        if (u->out[i]) {
            free(u->out[i]->buffer);
            libusb_free_transfer(u->out[i]);
        }
    }
    if (u->claimed)
        B->release(u->h, SPARQ_USB_INTERFACE);
    if (u->h)
        B->close(u->h);
    if (u->ctx)
        B->exit(u->ctx);
    if (u->have_old_sigint)
        sigaction(SIGINT, &u->old_sigint, NULL);
    free(u->rx);
    free(u);
}

static const struct sparq_transport_ops usb_ops = {
    .name = "usb", .send = usb_send, .recv = usb_recv, .idle = usb_idle, .cycles = usb_cycles, .close = usb_close,
};

int sparq_usb_vendor_out(libusb_device_handle *h, int req, int value, int timeout_ms, const char *what)
{
    int r = B->control(h, REQ_OUT, (uint8_t)req, (uint16_t)value, 0, NULL, 0, (unsigned)timeout_ms);
    return r < 0 ? sparq_usb_fail(SPARQ_EIO, what, r) : SPARQ_OK;
}

// Reset handshake: FPGA held in reset, FX2 FIFOs flushed, halts cleared,
// FPGA released, stale IN bytes drained. Afterwards both directions are
// empty and the accelerator is in its reset state.
static int reset_handshake(libusb_device_handle *h, int timeout_ms)
{
    int rc = sparq_usb_vendor_out(h, SPARQ_REQ_FPGA_RESET, 1, timeout_ms, "FPGA_RESET hold");
    if (!rc)
        rc = sparq_usb_vendor_out(h, SPARQ_REQ_FIFO_RESET, 0, timeout_ms, "FIFO_RESET");
    if (rc)
        return rc;
    int r = B->clear_halt(h, SPARQ_USB_EP_OUT);
    if (r < 0)
        return sparq_usb_fail(SPARQ_EIO, "clear halt on EP2 OUT", r);
    r = B->clear_halt(h, SPARQ_USB_EP_IN);
    if (r < 0)
        return sparq_usb_fail(SPARQ_EIO, "clear halt on EP6 IN", r);
    rc = sparq_usb_vendor_out(h, SPARQ_REQ_FPGA_RESET, 0, timeout_ms, "FPGA_RESET release");
    if (rc)
        return rc;
    uint8_t junk[SPARQ_USB_BULK_HS];
    for (int i = 0; i < 64; i++) {
        int got = 0;
        r = B->bulk(h, SPARQ_USB_EP_IN, junk, sizeof junk, &got, 20);
        if (r == LIBUSB_ERROR_TIMEOUT && got == 0)
            return SPARQ_OK;
        if (r < 0 && r != LIBUSB_ERROR_TIMEOUT)
            return sparq_usb_fail(SPARQ_EIO, "draining EP6 IN", r);
    }
    return sparq_fail(SPARQ_EDEVICE, "usb: EP6 IN keeps delivering data after an FPGA reset (bitstream loaded?)");
}

int sparq_usb_find_and_open(libusb_context *ctx, int vid, int pid, int index, libusb_device_handle **h, int *bare_bus,
                         int *bare_addr)
{
    libusb_device **list = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    if (n < 0)
        return sparq_usb_fail(SPARQ_EIO, "libusb_get_device_list", (int)n);
    int seen = 0, rc = SPARQ_EDEVICE;
    *bare_bus = -1;
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor d;
        if (libusb_get_device_descriptor(list[i], &d) < 0)
            continue;
        if (d.idVendor == SPARQ_FX2_BARE_VID && d.idProduct == SPARQ_FX2_BARE_PID && *bare_bus < 0) {
            *bare_bus = libusb_get_bus_number(list[i]);
            *bare_addr = libusb_get_device_address(list[i]);
        }
        if (d.idVendor != vid || d.idProduct != pid || seen++ != index)
            continue;
        int r = libusb_open(list[i], h);
        rc = r < 0 ? sparq_usb_fail(SPARQ_EIO, "libusb_open (udev rule installed? docs/board.md)", r) : SPARQ_OK;
        break;
    }
    libusb_free_device_list(list, 1);
    return rc;
}

int sparq_transport_usb(struct sparq_transport *tr, const struct sparq_usb_options *opt_in)
{
    struct sparq_usb_options opt;
    if (opt_in)
        opt = *opt_in;
    else if (sparq_usb_options_init(&opt))
        return SPARQ_EINVAL;
    int rc = sparq_usb_check_options(&opt);
    if (rc)
        return rc;
    struct usb_tr *u = sparq_calloc(1, sizeof *u, "usb transport");
    if (!u)
        return SPARQ_ENOMEM;
    u->opt = opt;
    int r = B->init(&u->ctx);
    if (r < 0) {
        u->ctx = NULL;
        rc = sparq_usb_fail(SPARQ_EIO, "libusb_init (is /dev/bus/usb available?)", r);
        goto fail;
    }
    int bare_bus, bare_addr;
    rc = B->open_board(u->ctx, opt.vid, opt.pid, opt.index, &u->h, &bare_bus, &bare_addr);
    if (rc == SPARQ_EDEVICE && bare_bus >= 0 && opt.firmware) {
        rc = sparq_usb_load_firmware(bare_bus, bare_addr, opt.firmware, opt.timeout_ms);
        if (rc)
            goto fail;
        for (int tries = 0; tries < 50; tries++) { // renumeration takes about a second
            struct timespec ts = { 0, 100 * 1000 * 1000 };
            nanosleep(&ts, NULL);
            rc = B->open_board(u->ctx, opt.vid, opt.pid, opt.index, &u->h, &bare_bus, &bare_addr);
            if (rc != SPARQ_EDEVICE)
                break;
        }
    }
    if (rc == SPARQ_EDEVICE) {
        rc = sparq_fail(SPARQ_EDEVICE,
                        "usb: no sparq board found (looked for VID:PID %04x:%04x%s and bare FX2 %04x:%04x%s)",
                        opt.vid, opt.pid, opt.index ? " at that index" : "", SPARQ_FX2_BARE_VID,
                        SPARQ_FX2_BARE_PID,
                        bare_bus >= 0 ? "; a bare FX2 is attached: set SPARQ_USB_FIRMWARE or --firmware" : "");
        u->h = NULL;
    }
    if (rc)
        goto fail;
    r = B->claim(u->h, SPARQ_USB_INTERFACE);
    if (r < 0) {
        rc = sparq_usb_fail(SPARQ_EIO, "claim interface 0 (board in use by another program?)", r);
        goto fail;
    }
    u->claimed = 1;
    int api, fw;
    char why[96];
    if (identify(u->h, opt.timeout_ms, &api, &fw, why, sizeof why)) {
        rc = sparq_fail(SPARQ_EDEVICE, "usb: %s", why);
        goto fail;
    }
    rc = reset_handshake(u->h, opt.timeout_ms);
    if (rc)
        goto fail;
    u->rx_cap = (size_t)opt.transfer_bytes * (size_t)opt.transfers * 2;
    u->rx = sparq_malloc(u->rx_cap, "usb receive buffer");
    if (!u->rx) {
        rc = SPARQ_ENOMEM;
        goto fail;
    }
    for (int i = 0; i < opt.transfers; i++) {
        u->in[i] = libusb_alloc_transfer(0);
        u->out[i] = libusb_alloc_transfer(0);
        uint8_t *ib = u->in[i] ? malloc((size_t)opt.transfer_bytes) : NULL;
        uint8_t *ob = u->out[i] ? malloc((size_t)opt.transfer_bytes) : NULL;
        if (!ib || !ob) {
            free(ib);
            free(ob);
            if (u->in[i])
                libusb_free_transfer(u->in[i]), u->in[i] = NULL;
            if (u->out[i])
                libusb_free_transfer(u->out[i]), u->out[i] = NULL;
            rc = sparq_fail(SPARQ_ENOMEM, "usb: cannot allocate transfers");
            goto fail;
        }
        libusb_fill_bulk_transfer(u->in[i], u->h, SPARQ_USB_EP_IN, ib, opt.transfer_bytes, in_done, u,
                                  (unsigned)opt.timeout_ms);
        libusb_fill_bulk_transfer(u->out[i], u->h, SPARQ_USB_EP_OUT, ob, opt.transfer_bytes, out_done, u,
                                  (unsigned)opt.timeout_ms);
    }
    rc = restart_in(u);
    if (rc)
        goto fail;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    usb_interrupted = 0;
    if (sigaction(SIGINT, &sa, &u->old_sigint) == 0)
        u->have_old_sigint = 1;
    tr->ops = &usb_ops;
    tr->ctx = u;
    return SPARQ_OK;
fail:
    usb_close(u);
    return rc;
}

int sparq_usb_fpga_reset(struct sparq_transport *tr)
{
    if (tr->ops != &usb_ops)
        return sparq_fail(SPARQ_EINVAL, "sparq_usb_fpga_reset: not a usb transport");
    struct usb_tr *u = tr->ctx;
    int rc = sparq_usb_vendor_out(u->h, SPARQ_REQ_FPGA_RESET, 1, u->opt.timeout_ms, "FPGA_RESET hold");
    return rc ? rc : sparq_usb_vendor_out(u->h, SPARQ_REQ_FPGA_RESET, 0, u->opt.timeout_ms, "FPGA_RESET release");
}
