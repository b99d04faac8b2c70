// A simulated UART board on a pseudo-terminal: the test's stand-in for an
// iCEBreaker behind an FTDI bridge. It prints the terminal's path (the host
// opens it as uart:PATH@BAUD), then serves the device protocol byte by byte
// at the line rate (10 bits a byte, both directions) with optional seeded
// faults on the wire: dropped and corrupted bytes, noise bursts, stalls.
//
// usage: uart_board_sim [--baud B] [--seed S] [--drop P] [--corrupt P] [--noise P] [--stall P] [--seconds N]
//                       [--rtl [--stop-fault P]]
//   P: probability per byte. Runs until SIGTERM/SIGINT or N seconds.
//   --rtl (uart_rtl_sim, the same file built with SPARQ_UART_RTL): the board
//   RTL behind the wire instead of the C model; --stop-fault drives a byte's
//   stop bit low at the bit level (the RTL receiver must drop it).
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sparq_device.h"
#include "sparq_uart.h"
#include "sparq_clock.h"
#include "wire_device.h"

// --- the device behind the wire (wire_device.h) --------------------------------
static void model_feed(void *ctx, const uint8_t *d, size_t n) { sparq_devmodel_feed(ctx, d, n); }
static void model_quiet(void *ctx) { sparq_devmodel_timeout(ctx); }
static size_t model_take(void *ctx, uint8_t *o, size_t n) { return sparq_devmodel_take(ctx, o, n); }
static void model_close(void *ctx) { sparq_devmodel_destroy(ctx); }

static int wire_device_model(struct wire_device *d)
{
    struct sparq_devmodel *m;
    if (sparq_devmodel_create(&m, NULL))
        return -1;
    *d = (struct wire_device){ "C device model", m, model_feed, model_quiet, model_take, NULL, model_close };
    return 0;
}

// --- faults ---------------------------------------------------------------------
struct faults {
    double drop, corrupt, noise, stall;
    uint64_t rng;
    unsigned long dropped, corrupted, bursts, stalls;
};

static uint64_t next(struct faults *f)
{
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    return f->rng;
}
static int chance(struct faults *f, double p) { return p > 0 && (double)(next(f) >> 11) / 9007199254740992.0 < p; }

// One direction of the wire: bytes wait in `q` and leave at the line rate.
struct lane {
    uint8_t q[1 << 16];
    size_t head, len;
    double credit;      // bytes the line could have carried by now
    double stall_until; // ms
};

static double now_ms(void) { return sparq_clock_s() * 1e3; }

// Passes one byte through the faults into out (up to 17 bytes: a noise burst and the byte).
static size_t corrupt_byte(struct faults *f, struct lane *l, uint8_t b, uint8_t *out, double t)
{
    size_t n = 0;
    if (chance(f, f->stall)) {
        l->stall_until = t + 10 + (double)(next(f) % 300);
        f->stalls++;
    }
    if (chance(f, f->noise)) {
        int k = 1 + (int)(next(f) % 16);
        for (int i = 0; i < k; i++)
            out[n++] = (uint8_t)next(f);
        f->bursts++;
    }
    if (chance(f, f->drop)) {
        f->dropped++;
        return n;
    }
    if (chance(f, f->corrupt)) {
        b ^= (uint8_t)(1u << (next(f) % 8));
        f->corrupted++;
    }
    out[n++] = b;
    return n;
}

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

static int usage(void)
{
    fprintf(stderr, "usage: uart_board_sim [--baud B] [--seed S] [--drop P] [--corrupt P] [--noise P] [--stall P] "
                    "[--seconds N] [--rtl [--stop-fault P]]\n");
    return 2;
}

int main(int argc, char **argv)
{
    int baud = SPARQ_UART_DEFAULT_BAUD;
    double seconds = 600;
    struct faults f = { 0 };
    uint64_t seed = 1;
    int rtl = 0;
    double stop_fault = 0;
    static const struct option opts[] = {
        { "baud", 1, 0, 'b' },  { "seed", 1, 0, 's' },  { "drop", 1, 0, 'd' },    { "corrupt", 1, 0, 'c' },
        { "noise", 1, 0, 'n' }, { "stall", 1, 0, 't' }, { "seconds", 1, 0, 'S' }, { "rtl", 0, 0, 'r' },
        { "stop-fault", 1, 0, 'f' }, { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b': baud = atoi(optarg); break;
        case 's': seed = strtoull(optarg, NULL, 0); break;
        case 'd': f.drop = atof(optarg); break;
        case 'c': f.corrupt = atof(optarg); break;
        case 'n': f.noise = atof(optarg); break;
        case 't': f.stall = atof(optarg); break;
        case 'S': seconds = atof(optarg); break;
        case 'r': rtl = 1; break;
        case 'f': stop_fault = atof(optarg); break;
        default: return usage();
        }
    }
    if (optind != argc || baud < SPARQ_UART_MIN_BAUD || baud > SPARQ_UART_MAX_BAUD)
        return usage();
    f.rng = seed ? seed : 1;
    fprintf(stderr, "uart_board_sim: seed %llu, %d baud, faults per byte: drop %g corrupt %g noise %g stall %g\n",
            (unsigned long long)seed, baud, f.drop, f.corrupt, f.noise, f.stall);

    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) || unlockpt(m)) {
        perror("uart_board_sim: posix_openpt");
        return 1;
    }
    const char *slave = ptsname(m);
    // Holding the slave open keeps the master from reporting hang-up while
    // no host is connected; we never read it.
    int hold = slave ? open(slave, O_RDWR | O_NOCTTY) : -1;
    if (hold < 0) {
        perror("uart_board_sim: open slave");
        return 1;
    }
    fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
    struct wire_device dev;
#ifdef SPARQ_UART_RTL
    if (rtl ? wire_device_rtl(&dev, stop_fault, seed) : wire_device_model(&dev)) {
#else
    if (rtl || stop_fault > 0) {
        fprintf(stderr, "uart_board_sim: built without the RTL (use uart_rtl_sim)\n");
        return 2;
    }
    if (wire_device_model(&dev)) {
#endif
        fprintf(stderr, "uart_board_sim: cannot create the device model\n");
        return 1;
    }
    fprintf(stderr, "uart_board_sim: device: %s\n", dev.name);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("%s\n", slave);
    fflush(stdout);

    static struct lane rx, tx; // host -> device, device -> host
    double bytes_per_ms = baud / 10000.0, cap = 64 + 2 * bytes_per_ms;
    double t0 = now_ms(), last = t0, last_rx = t0;
    int partial = 0;
    unsigned long long in = 0, out = 0;
    while (!stop && now_ms() - t0 < seconds * 1e3) {
        double t = now_ms();
        rx.credit += (t - last) * bytes_per_ms;
        tx.credit += (t - last) * bytes_per_ms;
        rx.credit = rx.credit > cap ? cap : rx.credit;
        tx.credit = tx.credit > cap ? cap : tx.credit;
        last = t;
        // host -> device at the line rate
        if (t >= rx.stall_until && rx.credit >= 1) {
            uint8_t buf[4096];
            size_t want = (size_t)rx.credit < sizeof buf ? (size_t)rx.credit : sizeof buf;
            ssize_t r = read(m, buf, want);
            for (ssize_t i = 0; i < r; i++) {
                uint8_t o[17];
                size_t k = corrupt_byte(&f, &rx, buf[i], o, t);
                dev.feed(dev.ctx, o, k);
            }
            if (r > 0) {
                rx.credit -= (double)r;
                in += (unsigned long long)r;
                last_rx = t;
                partial = 1;
            }
        }
        if (partial && t - last_rx > SPARQ_UART_RX_TIMEOUT_MS) {
            dev.quiet(dev.ctx); // ends a partial packet with TRUNCATED
            partial = 0;
        }
        // device -> host
        int busy = dev.step ? dev.step(dev.ctx) : 0;
        if (tx.len < sizeof tx.q / 2) {
            uint8_t buf[1024];
            size_t k = dev.take(dev.ctx, buf, sizeof buf);
            for (size_t i = 0; i < k; i++) {
                uint8_t o[17];
                size_t n = corrupt_byte(&f, &tx, buf[i], o, t);
                for (size_t j = 0; j < n; j++)
                    tx.q[(tx.head + tx.len++) % sizeof tx.q] = o[j];
            }
        }
        while (t >= tx.stall_until && tx.len && tx.credit >= 1) {
            size_t n = tx.len < sizeof tx.q - tx.head ? tx.len : sizeof tx.q - tx.head;
            n = n < (size_t)tx.credit ? n : (size_t)tx.credit;
            ssize_t w = write(m, tx.q + tx.head, n);
            if (w <= 0)
                break;
            tx.head = (tx.head + (size_t)w) % sizeof tx.q;
            tx.len -= (size_t)w;
            tx.credit -= (double)w;
            out += (unsigned long long)w;
        }
        // sleep a tick; wake early for host bytes only if the line can take them
        struct pollfd p = { m, (short)(now_ms() >= rx.stall_until && rx.credit >= 1 ? POLLIN : 0), 0 };
        poll(&p, 1, busy ? 0 : 1);
    }
    fprintf(stderr,
            "uart_board_sim: %llu bytes in, %llu out; faults: %lu dropped, %lu corrupted, %lu noise bursts, "
            "%lu stalls\n",
            in, out, f.dropped, f.corrupted, f.bursts, f.stalls);
    dev.close(dev.ctx);
    close(hold);
    close(m);
    return 0;
}
