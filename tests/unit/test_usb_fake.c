// The usb transport's own state machine (host/src/board/usb_transport.c), run
// against a fake USB device instead of libusb: the fake completes bulk
// transfers from a C device model (the ref backend's model), so GEMMs go
// through the real code paths for asynchronous transfers, reassembly of IN
// data, slot reuse for OUT, the reset handshake, stall recovery, transfer
// failures, Ctrl-C and cancel-and-drain on close. No hardware needed.
#include <signal.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "../../host/src/board/usb_backend.h"
#include "sparq_bytequeue.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_gemm.h"
#include "sparq_gemm_case.h"
#include "sparq_link.h"
#include "sparq_rng.h"
#include "sparq_usb.h"
#include "sparq_usb_protocol.h"

#define MAXP 64

static struct fake {
    int present, mute, echo, flip_at; // echo: the loopback bitstream; flip_at: corrupt that echoed byte (1-based)
    size_t echoed;
    struct sparq_devmodel *m;
    struct sparq_bytequeue outq; // device -> host bytes not yet in a transfer
    struct libusb_transfer *pending[MAXP];
    int cancelled[MAXP];
    int npending;
    // knobs
    int in_chunk, stall_in_once, fail_out_once, sigint_at;
    // observations
    int events, clear_halts, fifo_resets, fpga_holds, fpga_releases, claims, releases, closes, exits;
    int max_in, max_out, in_timeouts;
    // FX2 ROM loader (vendor request 0xA0)
    uint8_t ram[SPARQ_FX2_RAM_SIZE];
    uint8_t written[SPARQ_FX2_RAM_SIZE];
    int cpu_held, cpucs_log[8], ncpucs, ram_writes, writes_while_running, max_write, opened_at;
} F;

static const struct sparq_device_config cfg = { .rows = 4, .cols = 4, .wdepth = 64, .xdepth = 64, .rdepth = 16,
                                                .timeout = 4096 };

static void model_reset(void)
{
    sparq_devmodel_destroy(F.m);
    F.m = NULL;
    sparq_devmodel_create(&F.m, &cfg);
    // sparq_devmodel_take() memcpy()s from a NULL buffer until the model has
    // queued its first reply (UBSan: device_model.c); one IDENTIFY allocates it.
    static const uint8_t identify[12] = { 0xA5, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF };
    uint8_t pkt[12];
    memcpy(pkt, identify, sizeof pkt);
    uint16_t c = sparq_crc16(0xFFFF, pkt, 8);
    pkt[8] = (uint8_t)c;
    pkt[9] = (uint8_t)(c >> 8);
    sparq_devmodel_feed(F.m, pkt, sizeof pkt);
    uint8_t junk[64];
    while (sparq_devmodel_take(F.m, junk, sizeof junk))
        ;
    sparq_bytequeue_clear(&F.outq);
}

static void pull_model(void)
{
    if (F.mute)
        return;
    uint8_t chunk[4096];
    size_t n;
    while ((n = sparq_devmodel_take(F.m, chunk, sizeof chunk)))
        sparq_bytequeue_push(&F.outq, chunk, n);
}

static int f_init(libusb_context **ctx) { *ctx = (libusb_context *)(void *)&F; return 0; }
static void f_exit(libusb_context *ctx) { (void)ctx; F.exits++; }
static int f_open(libusb_context *ctx, int vid, int pid, int index, libusb_device_handle **h, int *bb, int *ba)
{
    (void)ctx;
    *bb = *ba = -1;
    if (!F.present || vid != SPARQ_USB_VID || pid != SPARQ_USB_PID || index != 0)
        return SPARQ_EDEVICE;
    *h = (libusb_device_handle *)(void *)&F;
    return SPARQ_OK;
}
static int f_open_at(libusb_context *ctx, int bus, int address, libusb_device_handle **h)
{
    (void)ctx;
    if (bus != 1 || address != 7)
        return sparq_fail(SPARQ_EDEVICE, "usb: no device at bus %d address %d", bus, address);
    F.opened_at++;
    *h = (libusb_device_handle *)(void *)&F;
    return SPARQ_OK;
}
static int f_claim(libusb_device_handle *h, int i) { (void)h; (void)i; F.claims++; return 0; }
static int f_release(libusb_device_handle *h, int i) { (void)h; (void)i; F.releases++; return 0; }
static void f_close(libusb_device_handle *h) { (void)h; F.closes++; }
static int f_control(libusb_device_handle *h, uint8_t type, uint8_t req, uint16_t value, uint16_t index,
                     unsigned char *data, uint16_t len, unsigned timeout_ms)
{
    (void)h; (void)index; (void)timeout_ms;
    if (type == 0xC0 && req == SPARQ_REQ_IDENTIFY && len == SPARQ_USB_IDENTIFY_BYTES) {
        memset(data, 0, len);
        data[0] = SPARQ_USB_MAGIC0;
        data[1] = SPARQ_USB_MAGIC1;
        data[SPARQ_USB_ID_API] = SPARQ_USB_API_LEVEL;
        data[SPARQ_USB_ID_FW] = 0x00;
        data[SPARQ_USB_ID_FW + 1] = 0x01;
        return len;
    }
    if (type == 0x40 && req == SPARQ_FX2_REQ_LOAD) {
        if (value == SPARQ_FX2_CPUCS && len == 1) {
            if (F.ncpucs < 8)
                F.cpucs_log[F.ncpucs++] = data[0];
            F.cpu_held = data[0] & 1;
            return 1;
        }
        if ((unsigned)value + len > SPARQ_FX2_RAM_SIZE)
            return LIBUSB_ERROR_PIPE;
        F.ram_writes++;
        F.writes_while_running += !F.cpu_held;
        F.max_write = len > F.max_write ? len : F.max_write;
        memcpy(F.ram + value, data, len);
        memset(F.written + value, 1, len);
        return len;
    }
    if (type == 0x40 && req == SPARQ_REQ_FPGA_RESET && len == 0) {
        if (value) {
            F.fpga_holds++;
            model_reset();
        } else {
            F.fpga_releases++;
        }
        return 0;
    }
    if (type == 0x40 && req == SPARQ_REQ_FIFO_RESET && len == 0) {
        F.fifo_resets++;
        sparq_bytequeue_clear(&F.outq);
        return 0;
    }
    return LIBUSB_ERROR_PIPE;
}
static int f_clear_halt(libusb_device_handle *h, unsigned char ep) { (void)h; (void)ep; F.clear_halts++; return 0; }
static int f_bulk(libusb_device_handle *h, unsigned char ep, unsigned char *d, int len, int *got, unsigned t)
{
    (void)h; (void)ep; (void)d; (void)len; (void)t;
    *got = 0;
    return sparq_bytequeue_size(&F.outq) ? LIBUSB_ERROR_IO : LIBUSB_ERROR_TIMEOUT; // drained: nothing stale after a reset
}
static int count_ep(unsigned char ep)
{
    int n = 0;
    for (int i = 0; i < F.npending; i++)
        n += F.pending[i]->endpoint == ep;
    return n;
}
static int f_submit(struct libusb_transfer *t)
{
    if (F.npending == MAXP)
        return LIBUSB_ERROR_BUSY;
    for (int i = 0; i < F.npending; i++)
        if (F.pending[i] == t)
            return LIBUSB_ERROR_BUSY; // submitted twice: a transport bug
    F.cancelled[F.npending] = 0;
    F.pending[F.npending++] = t;
    int in = count_ep(SPARQ_USB_EP_IN), out = count_ep(SPARQ_USB_EP_OUT);
    F.max_in = in > F.max_in ? in : F.max_in;
    F.max_out = out > F.max_out ? out : F.max_out;
    return 0;
}
static int f_cancel(struct libusb_transfer *t)
{
    for (int i = 0; i < F.npending; i++)
        if (F.pending[i] == t) {
            F.cancelled[i] = 1;
            return 0;
        }
    return LIBUSB_ERROR_NOT_FOUND;
}
static void complete(int i, enum libusb_transfer_status st, int actual)
{
    struct libusb_transfer *t = F.pending[i];
    memmove(F.pending + i, F.pending + i + 1, sizeof F.pending[0] * (size_t)(F.npending - i - 1));
    memmove(F.cancelled + i, F.cancelled + i + 1, sizeof F.cancelled[0] * (size_t)(F.npending - i - 1));
    F.npending--;
    t->status = st;
    t->actual_length = actual;
    t->callback(t); // may resubmit
}
static int f_events(libusb_context *ctx, struct timeval *tv)
{
    (void)ctx; (void)tv;
    if (++F.events == F.sigint_at)
        raise(SIGINT);
    int did = 0;
    for (int i = 0; i < F.npending;) { // cancellations first, then OUT in order
        if (F.cancelled[i]) {
            complete(i, LIBUSB_TRANSFER_CANCELLED, 0);
            did = 1;
            continue;
        }
        i++;
    }
    for (int i = 0; i < F.npending;) {
        struct libusb_transfer *t = F.pending[i];
        if (t->endpoint != SPARQ_USB_EP_OUT) {
            i++;
            continue;
        }
        if (F.fail_out_once) {
            F.fail_out_once = 0;
            complete(i, LIBUSB_TRANSFER_TIMED_OUT, 0);
        } else if (F.echo) {
            for (int k = 0; k < t->length; k++) {
                uint8_t v = t->buffer[k];
                if (++F.echoed == (size_t)F.flip_at)
                    v ^= 0x10;
                sparq_bytequeue_push(&F.outq, &v, 1);
            }
            complete(i, LIBUSB_TRANSFER_COMPLETED, t->length);
        } else {
            sparq_devmodel_feed(F.m, t->buffer, (size_t)t->length);
            complete(i, LIBUSB_TRANSFER_COMPLETED, t->length);
        }
        did = 1;
    }
    pull_model();
    for (int i = 0; i < F.npending;) {
        struct libusb_transfer *t = F.pending[i];
        if (t->endpoint != SPARQ_USB_EP_IN || !sparq_bytequeue_size(&F.outq)) {
            i++;
            continue;
        }
        if (F.stall_in_once) {
            F.stall_in_once = 0;
            complete(i, LIBUSB_TRANSFER_STALL, 0);
            did = 1;
            continue;
        }
        size_t n = (size_t)t->length;
        if (F.in_chunk && n > (size_t)F.in_chunk)
            n = (size_t)F.in_chunk;
        n = sparq_bytequeue_pop(&F.outq, t->buffer, n);
        complete(i, LIBUSB_TRANSFER_COMPLETED, (int)n);
        did = 1;
    }
    if (!did) {
        // Quiet link: the device's rx timeout ends a partial packet, and an
        // IN transfer times out (the transport must resubmit it).
        sparq_devmodel_timeout(F.m);
        for (int i = 0; i < F.npending; i++)
            if (F.pending[i]->endpoint == SPARQ_USB_EP_IN) {
                F.in_timeouts++;
                complete(i, LIBUSB_TRANSFER_TIMED_OUT, 0);
                break;
            }
        struct timespec ts = { 0, 200000 };
        nanosleep(&ts, NULL);
    }
    return 0;
}

static const struct sparq_usb_backend fake = {
    .init = f_init, .exit = f_exit, .open_board = f_open, .open_at = f_open_at, .claim = f_claim, .release = f_release,
    .close = f_close, .control = f_control, .clear_halt = f_clear_halt, .bulk = f_bulk,
    .submit = f_submit, .cancel = f_cancel, .events = f_events,
};

static void fake_reset(void)
{
    struct sparq_devmodel *m = F.m;
    struct sparq_bytequeue q = F.outq;
    memset(&F, 0, sizeof F);
    F.m = m;
    F.outq = q; // keep the buffer, drop its bytes
    sparq_bytequeue_clear(&F.outq);
    F.present = 1;
    model_reset();
}

static uint64_t rng;
static uint32_t rnd(void)
{
    return (uint32_t)(sparq_rng_next(&rng) >> 32);
}

// n random GEMMs; returns how many were exact (-1 - k if the k-th failed).
static int gemms(struct sparq_device *dev, int n)
{
    int exact = 0;
    for (int g = 0; g < n; g++) {
        int T = 1 + (int)(rnd() % 20), out = 1 + (int)(rnd() % 9), in = 1 + (int)(rnd() % 60);
        static const int wk[3][2] = { { 8, 4 }, { 4, 2 }, { 2, 1 } };
        int f = (int)(rnd() % 3);
        struct sparq_gemm_case c;
        if (sparq_gemm_case_make(&c, T, out, in, wk[f][0], wk[f][1], &rng))
            return -1 - g;
        sparq_device_set_kchunk(dev, 1 + (int)(rnd() % 2));
        int rc = sparq_device_gemm(dev, c.y, out, c.x, in, &c.w, T, 0);
        if (!rc)
            exact += sparq_gemm_case_mismatches(&c, c.y, 0, NULL) == 0;
        sparq_gemm_case_free(&c);
        if (rc)
            return -1 - g;
    }
    return exact;
}

static int open_dev(struct sparq_device **dev, int transfers, int bytes)
{
    struct sparq_usb_options opt;
    sparq_usb_options_init(&opt);
    opt.vid = SPARQ_USB_VID;
    opt.pid = SPARQ_USB_PID;
    opt.firmware = NULL;
    opt.timeout_ms = 100;
    opt.transfers = transfers;
    opt.transfer_bytes = bytes;
    return sparq_device_open_usb(dev, &opt);
}

int main(void)
{
    rng = check_seed(77);
    sparq_usb_set_backend(&fake);
    struct sparq_device *dev = NULL;

    // --- no board
    fake_reset();
    F.present = 0;
    int rc = open_dev(&dev, 3, 512);
    CHECK(rc == SPARQ_EDEVICE && strstr(sparq_last_error(), "no sparq board found") && F.exits == 1,
          "no board: '%s', libusb context released", sparq_last_error());

    // --- normal operation: small transfers so commands span several
    fake_reset();
    rc = open_dev(&dev, 3, 512);
    CHECK(rc == SPARQ_OK, "open over the fake device: %s", rc ? sparq_last_error() : "ok");
    if (rc)
        return check_done();
    CHECK(F.claims == 1 && F.fpga_holds == 1 && F.fpga_releases == 1 && F.fifo_resets == 1 && F.clear_halts == 2,
          "reset handshake: FPGA held and released, FIFOs flushed, halts cleared on both endpoints");
    int ok = gemms(dev, 25);
    CHECK(ok == 25, "25 GEMMs through async bulk transfers are exact (%d)", ok);
    CHECK(F.max_in == 3 && F.max_out >= 2, "transfers in flight: %d IN, up to %d OUT (3 slots)", F.max_in, F.max_out);

    // --- IN data in 7-byte pieces: replies reassembled across transfers
    F.in_chunk = 7;
    ok = gemms(dev, 10);
    CHECK(ok == 10, "replies split into 7-byte IN transfers: 10/10 GEMMs exact (%d)", ok);
    F.in_chunk = 0;

    // --- a STALL on EP6 IN is cleared and streaming resumes
    int halts = F.clear_halts;
    F.stall_in_once = 1;
    ok = gemms(dev, 5);
    CHECK(ok == 5 && F.clear_halts == halts + 1, "STALL on IN: halt cleared once, 5/5 GEMMs exact");

    // --- close with transfers in flight: cancelled and drained
    int inflight = F.npending;
    sparq_device_close(dev);
    CHECK(inflight > 0 && F.npending == 0 && F.releases == 1 && F.closes == 1 && F.exits == 1,
          "close with %d transfers in flight: all cancelled and completed, interface released, handle closed",
          inflight);

    // --- an OUT transfer that times out is an error, never a hang
    fake_reset();
    rc = open_dev(&dev, 2, 512);
    CHECK(rc == SPARQ_OK, "reopen");
    if (!rc) {
        F.fail_out_once = 1;
        ok = gemms(dev, 1);
        CHECK(ok < 0 && strstr(sparq_last_error(), "OUT (EP2)") && strstr(sparq_last_error(), "LIBUSB_ERROR_TIMEOUT"),
              "timed-out OUT transfer: GEMM fails with '%s'", sparq_last_error());
        ok = gemms(dev, 1);
        CHECK(ok < 0, "the failed transport stays failed: '%s'", sparq_last_error());
        sparq_device_close(dev);
        CHECK(F.npending == 0, "closed after the failure: nothing left in flight");
    }

    // --- Ctrl-C in the middle of a GEMM
    fake_reset();
    struct sigaction before;
    sigaction(SIGINT, NULL, &before);
    rc = open_dev(&dev, 3, 512);
    if (!rc) {
        F.sigint_at = F.events + 40;
        ok = gemms(dev, 5);
        CHECK(ok < 0 && strstr(sparq_last_error(), "interrupted (Ctrl-C)") && F.npending == 0,
              "SIGINT during a GEMM: '%s', every transfer cancelled and drained", sparq_last_error());
        sparq_device_close(dev);
        struct sigaction after;
        sigaction(SIGINT, NULL, &after);
        CHECK(after.sa_handler == before.sa_handler, "the previous SIGINT handler is restored on close");
    } else {
        CHECK(0, "open for the Ctrl-C test: %s", sparq_last_error());
    }

    // --- a device that never answers: the transport times out
    fake_reset();
    struct sparq_usb_options opt;
    sparq_usb_options_init(&opt);
    opt.vid = SPARQ_USB_VID;
    opt.pid = SPARQ_USB_PID;
    opt.firmware = NULL;
    opt.timeout_ms = 50;
    struct sparq_transport tr;
    rc = sparq_transport_usb(&tr, &opt);
    if (!rc) {
        F.mute = 1;
        uint8_t b[10];
        const uint8_t junk[3] = { 1, 2, 3 };
        rc = tr.ops->send(tr.ctx, junk, sizeof junk);
        int rr = tr.ops->recv(tr.ctx, b, sizeof b);
        CHECK(rc == SPARQ_OK && rr == SPARQ_ETIMEOUT && strstr(sparq_last_error(), "0 of 10 reply bytes"),
              "silent device: recv times out ('%s')", sparq_last_error());
        CHECK(F.in_timeouts > 0 && count_ep(SPARQ_USB_EP_IN) == opt.transfers,
              "IN transfers that timed out on the idle link were resubmitted (%d timeouts, %d in flight)",
              F.in_timeouts, count_ep(SPARQ_USB_EP_IN));
        tr.ops->close(tr.ctx);
    } else {
        CHECK(0, "open raw transport: %s", sparq_last_error());
    }
    // --- loopback bitstream: bytes come back as sent
    fake_reset();
    F.echo = 1;
    opt.timeout_ms = 200;
    rc = sparq_transport_usb(&tr, &opt);
    if (!rc) {
        double rate = 0;
        int lr = sparq_usb_loopback(&tr, 300000, 5, &rate);
        CHECK(lr == SPARQ_OK && F.echoed == 300000, "loopback: 300000 bytes echoed and compared (%s)",
              lr ? sparq_last_error() : "ok");
        F.flip_at = 123457;
        F.echoed = 0;
        lr = sparq_usb_loopback(&tr, 200000, 6, &rate);
        CHECK(lr == SPARQ_EDEVICE && strstr(sparq_last_error(), "byte 123456"),
              "loopback: one flipped bit is found and named: %s", sparq_last_error());
        tr.ops->close(tr.ctx);
    } else {
        CHECK(0, "open for loopback: %s", sparq_last_error());
    }

    // --- firmware loading as fxload does it: hold the 8051, write RAM, release
    fake_reset();
    static struct sparq_ihx img;
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char path[512];
    snprintf(path, sizeof path, "%s/firmware/sparq_fx2.ihx", build);
    if (sparq_ihx_load(&img, path) == SPARQ_OK) {
        rc = sparq_usb_load_firmware(1, 7, path, 100);
        int same = 1;
        for (uint32_t a = 0; a < SPARQ_FX2_RAM_SIZE; a++)
            if (img.used[a] != F.written[a] || (img.used[a] && img.data[a] != F.ram[a]))
                same = 0;
        CHECK(rc == SPARQ_OK && same && F.ncpucs == 2 && F.cpucs_log[0] == 1 && F.cpucs_log[1] == 0 &&
                  F.writes_while_running == 0 && F.max_write <= 1024,
              "%s loaded: %zu bytes in %d writes of at most %d bytes, all while CPUCS held the 8051 (1 then 0)", path,
              img.bytes, F.ram_writes, F.max_write);
        CHECK(sparq_usb_load_firmware(2, 9, path, 100) == SPARQ_EDEVICE && strstr(sparq_last_error(), "bus 2"),
              "loading to a missing device fails naming it: %s", sparq_last_error());
    } else {
        printf("# %s not built: firmware-loading check skipped\n", path);
    }
    fake_reset();
    snprintf(path, sizeof path, "%s/tests/too_big.ihx", build);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(":01400000556A\n:00000001FF\n", f); // one byte at 0x4000, past the 16 KB RAM
        fclose(f);
        rc = sparq_usb_load_firmware(1, 7, path, 100);
        CHECK(rc == SPARQ_EFORMAT && F.ncpucs == 0 && F.ram_writes == 0 && strstr(sparq_last_error(), "16 KB"),
              "an image beyond the FX2's RAM is refused before touching the chip: %s", sparq_last_error());
        remove(path);
    }

    sparq_devmodel_destroy(F.m);
    sparq_bytequeue_free(&F.outq);
    sparq_usb_set_backend(NULL);
    return check_done();
}
