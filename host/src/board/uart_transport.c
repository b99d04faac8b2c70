// The `uart` transport (sparq_uart.h): protocol bytes over a serial port,
// raw 8N1 without flow control. Timeouts follow the baud rate: a command has
// to cross the wire (10 bits a byte) before the board can answer.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sparq_error.h"
#include "sparq_link.h"
#include "sparq_uart.h"
#include "sparq_clock.h"

struct uart {
    int fd;
    int baud;
    int quiet_ms;
    double wire_free; // ms (monotonic) when the last byte sent is on the wire
    char path[256];
};

static double now_ms(void) { return sparq_clock_s() * 1e3; }

static double byte_ms(int baud) { return 10000.0 / baud; } // start + 8 data + stop bits

static void sleep_ms(double ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = { (time_t)(ms / 1e3), (long)((ms - (double)(time_t)(ms / 1e3) * 1e3) * 1e6) };
    nanosleep(&ts, NULL);
}

int sparq_uart_quiet_ms(int baud)
{
    // The board may sit in the longest job (buffers full, int8) before it
    // answers; a 12 MHz board clock is the slowest we expect. 100 ms covers
    // USB-serial latency timers (16 ms on FTDI) and a loaded host.
    const struct sparq_device_config *c = &sparq_device_default_config;
    double job_ms = (double)sparq_devmodel_job_cycles(c, c->rdepth, c->wdepth / 16, 4) / 12000.0;
    return 100 + (int)job_ms + (int)(256 * byte_ms(baud));
}

int sparq_uart_parse(struct sparq_uart_options *opt, const char *spec)
{
    memset(opt, 0, sizeof *opt);
    opt->baud = SPARQ_UART_DEFAULT_BAUD;
    const char *at = strrchr(spec, '@');
    size_t plen = at ? (size_t)(at - spec) : strlen(spec);
    if (!plen)
        return sparq_fail(SPARQ_EINVAL, "uart: no port given (expected uart:/dev/ttyUSB1[@BAUD])");
    if (plen >= sizeof opt->path)
        return sparq_fail(SPARQ_EINVAL, "uart: port path longer than %zu bytes", sizeof opt->path - 1);
    memcpy(opt->path, spec, plen);
    opt->path[plen] = 0;
    if (at) {
        char *end;
        errno = 0;
        long b = strtol(at + 1, &end, 10);
        if (errno || end == at + 1 || *end || b < SPARQ_UART_MIN_BAUD || b > SPARQ_UART_MAX_BAUD)
            return sparq_fail(SPARQ_EINVAL, "uart: baud '%s': expected an integer in %d..%d", at + 1,
                              SPARQ_UART_MIN_BAUD, SPARQ_UART_MAX_BAUD);
        opt->baud = (int)b;
    }
    return SPARQ_OK;
}

// --- the port ---------------------------------------------------------------------------
static speed_t standard_speed(int baud)
{
    static const struct { int baud; speed_t code; } table[] = {
        { 300, B300 },         { 1200, B1200 },       { 2400, B2400 },       { 4800, B4800 },
        { 9600, B9600 },       { 19200, B19200 },     { 38400, B38400 },     { 57600, B57600 },
        { 115200, B115200 },   { 230400, B230400 },   { 460800, B460800 },   { 500000, B500000 },
        { 576000, B576000 },   { 921600, B921600 },   { 1000000, B1000000 }, { 1152000, B1152000 },
        { 1500000, B1500000 }, { 2000000, B2000000 }, { 2500000, B2500000 }, { 3000000, B3000000 },
        { 3500000, B3500000 }, { 4000000, B4000000 },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].baud == baud)
            return table[i].code;
    return 0;
}

#if defined(__linux__) && defined(TCGETS2) && \
    (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || defined(__arm__) || defined(__riscv))
// struct termios2 of <asm/termbits.h>, which cannot be included beside
// <termios.h>; the layout of these architectures.
struct termios2 {
    tcflag_t c_iflag, c_oflag, c_cflag, c_lflag;
    cc_t c_line;
    cc_t c_cc[19];
    speed_t c_ispeed, c_ospeed;
};
#define KERNEL_BOTHER 0010000

static int set_other_speed(int fd, int baud)
{
    struct termios2 t2;
    if (ioctl(fd, TCGETS2, &t2))
        return -1;
    t2.c_cflag &= ~(tcflag_t)CBAUD;
    t2.c_cflag |= KERNEL_BOTHER;
    t2.c_ispeed = t2.c_ospeed = (speed_t)baud;
    return ioctl(fd, TCSETS2, &t2);
}
#else
static int set_other_speed(int fd, int baud)
{
    (void)fd;
    (void)baud;
    errno = ENOTSUP;
    return -1;
}
#endif

static int configure(int fd, const struct sparq_uart_options *opt)
{
    struct termios t;
    if (tcgetattr(fd, &t))
        return sparq_fail(SPARQ_EIO, "uart: %s: cannot read the line settings: %s", opt->path, strerror(errno));
    cfmakeraw(&t); // no echo, no CR/LF translation, no signals: every byte as it is
    t.c_cflag &= ~(tcflag_t)(CSIZE | CSTOPB | PARENB | CRTSCTS);
    t.c_cflag |= CS8 | CLOCAL | CREAD;
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    speed_t code = standard_speed(opt->baud);
    if (code && (cfsetispeed(&t, code) || cfsetospeed(&t, code)))
        return sparq_fail(SPARQ_EINVAL, "uart: %s: baud %d rejected", opt->path, opt->baud);
    if (tcsetattr(fd, TCSANOW, &t))
        return sparq_fail(SPARQ_EIO, "uart: %s: cannot set raw 8N1: %s", opt->path, strerror(errno));
    if (!code && set_other_speed(fd, opt->baud))
        return sparq_fail(SPARQ_EINVAL, "uart: %s: baud %d: the port does not take this rate (%s)", opt->path,
                          opt->baud, strerror(errno));
    tcflush(fd, TCIOFLUSH); // nothing stale from an earlier session
    return SPARQ_OK;
}

static int open_port(const struct sparq_uart_options *opt)
{
    int fd = open(opt->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            sparq_fail(SPARQ_EIO, "uart: %s: no such port (board unplugged? `sparq devices` lists ports)",
                       opt->path);
        else if (e == EACCES || e == EPERM)
            sparq_fail(SPARQ_EIO, "uart: %s: permission denied (join the dialout group: sudo usermod -aG dialout "
                                  "$USER, then log in again)",
                       opt->path);
        else if (e == EBUSY)
            sparq_fail(SPARQ_EIO, "uart: %s: port busy (another program has it open)", opt->path);
        else
            sparq_fail(SPARQ_EIO, "uart: %s: %s", opt->path, strerror(e));
        return -1;
    }
    if (!isatty(fd)) {
        close(fd);
        sparq_fail(SPARQ_EINVAL, "uart: %s: not a serial port (not a tty)", opt->path);
        return -1;
    }
    if (configure(fd, opt)) {
        close(fd);
        return -1;
    }
    return fd;
}

// --- transport ops -----------------------------------------------------------------------
static int hung_up(struct uart *u)
{
    return sparq_fail(SPARQ_EIO, "uart: %s: the port went away (board unplugged?)", u->path);
}

static int uart_send(void *ctx, const uint8_t *data, size_t n)
{
    struct uart *u = ctx;
    double t = now_ms();
    u->wire_free = (u->wire_free > t ? u->wire_free : t) + (double)n * byte_ms(u->baud);
    while (n) {
        ssize_t w = write(u->fd, data, n);
        if (w > 0) {
            data += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN)
            return errno == EIO ? hung_up(u) : sparq_fail(SPARQ_EIO, "uart: %s: write: %s", u->path, strerror(errno));
        struct pollfd p = { u->fd, POLLOUT, 0 };
        int r = poll(&p, 1, u->quiet_ms);
        if (r == 0)
            return sparq_fail(SPARQ_ETIMEOUT, "uart: %s: the port took no byte for %d ms (%zu bytes unsent)", u->path,
                              u->quiet_ms, n);
        if (r > 0 && (p.revents & (POLLHUP | POLLERR)) && !(p.revents & POLLOUT))
            return hung_up(u);
    }
    return SPARQ_OK;
}

static int uart_recv(void *ctx, uint8_t *data, size_t n)
{
    struct uart *u = ctx;
    size_t want = n;
    double t = now_ms();
    // The command must reach the board before its reply can start.
    double deadline = (u->wire_free > t ? u->wire_free : t) + u->quiet_ms;
    while (n) {
        ssize_t r = read(u->fd, data, n);
        if (r > 0) {
            data += r;
            n -= (size_t)r;
            deadline = now_ms() + u->quiet_ms; // silence counts from the last byte
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno != EAGAIN)
            return errno == EIO ? hung_up(u) : sparq_fail(SPARQ_EIO, "uart: %s: read: %s", u->path, strerror(errno));
        double left = deadline - now_ms();
        if (left <= 0)
            return sparq_fail(SPARQ_ETIMEOUT, "uart: %s: no byte for %d ms (%zu of %zu reply bytes)", u->path,
                              u->quiet_ms, want - n, want);
        struct pollfd p = { u->fd, POLLIN, 0 };
        int pr = poll(&p, 1, (int)left + 1);
        if (pr > 0 && (p.revents & (POLLHUP | POLLERR)) && !(p.revents & POLLIN))
            return hung_up(u);
        if (r == 0 && pr > 0 && (p.revents & POLLIN)) {
            // readable yet nothing read twice in a row: end of file
            ssize_t again = read(u->fd, data, n);
            if (again == 0)
                return hung_up(u);
            if (again > 0) {
                data += again;
                n -= (size_t)again;
                deadline = now_ms() + u->quiet_ms;
            }
        }
    }
    return SPARQ_OK;
}

static int uart_idle(void *ctx)
{
    struct uart *u = ctx;
    // Wait until what was sent is on the wire (the kernel and the USB bridge
    // buffer it), then stay quiet past the board's rx timeout.
    double give_up = now_ms() + u->quiet_ms + (u->wire_free - now_ms());
    int queued = 0;
    while (now_ms() < give_up && !ioctl(u->fd, TIOCOUTQ, &queued) && queued > 0)
        sleep_ms(1);
    sleep_ms(u->wire_free - now_ms());
    sleep_ms(SPARQ_UART_RX_TIMEOUT_MS + 10);
    return SPARQ_OK;
}

static uint64_t uart_cycles(void *ctx)
{
    (void)ctx;
    return 0; // the board's cycle counter is read with COUNTERS
}

static void uart_close(void *ctx)
{
    struct uart *u = ctx;
    close(u->fd);
    free(u);
}

static const struct sparq_transport_ops uart_ops = {
    .name = "uart", .send = uart_send, .recv = uart_recv, .idle = uart_idle, .cycles = uart_cycles, .close = uart_close,
};

int sparq_transport_uart(struct sparq_transport *tr, const struct sparq_uart_options *opt)
{
    if (opt->baud < SPARQ_UART_MIN_BAUD || opt->baud > SPARQ_UART_MAX_BAUD)
        return sparq_fail(SPARQ_EINVAL, "uart: baud %d: expected %d..%d", opt->baud, SPARQ_UART_MIN_BAUD,
                          SPARQ_UART_MAX_BAUD);
    struct uart *u = calloc(1, sizeof *u);
    if (!u)
        return sparq_fail(SPARQ_ENOMEM, "uart: out of memory");
    snprintf(u->path, sizeof u->path, "%s", opt->path);
    u->baud = opt->baud;
    // SPARQ_UART_TIMEOUT_MS: for a board slower than its line rate (the
    // bit-level RTL simulation, tests/board/uart_rtl.sh); probes set their own.
    const char *env = getenv("SPARQ_UART_TIMEOUT_MS");
    int env_ms = env ? atoi(env) : 0;
    u->quiet_ms = opt->timeout_ms > 0 ? opt->timeout_ms : env_ms > 0 ? env_ms : sparq_uart_quiet_ms(opt->baud);
    u->fd = open_port(opt);
    if (u->fd < 0) {
        free(u);
        return SPARQ_EIO;
    }
    tr->ops = &uart_ops;
    tr->ctx = u;
    return SPARQ_OK;
}

int sparq_device_open_uart(struct sparq_device **dev, const struct sparq_uart_options *opt)
{
    struct sparq_transport raw, link;
    int rc = sparq_transport_uart(&raw, opt);
    if (!rc)
        rc = sparq_link_wrap(&link, raw, NULL);
    return rc ? rc : sparq_device_open_transport(dev, link);
}
