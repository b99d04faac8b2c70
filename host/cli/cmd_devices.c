// sparq devices: lists sparq boards (FX2LP bridge + iCE40) and bare FX2s on
// USB and serial boards (UART) answering IDENTIFY; optionally loads the FX2
// firmware and the FPGA bitstream, or programs a UART board with iceprog /
// openFPGALoader.
// sparq-command: devices: list attached sparq boards (USB and serial) and load or program them
#include <errno.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sparq_error.h"
#include "sparq_uart.h"
#include "sparq_usb.h"
#include "sparq_usb_protocol.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sparq devices [--vid HEX] [--pid HEX] [--firmware FILE.ihx] [--bitstream FILE.bin]\n"
            "                     [--loopback BYTES] [--baud B]\n"
            "       sparq devices --program IMAGE.bin [--tool iceprog|openFPGALoader] [--board NAME]\n"
            "  Lists boards with VID:PID %04x:%04x (placeholder pid.codes test ID; override with\n"
            "  --vid/--pid or SPARQ_USB_VID/SPARQ_USB_PID) and bare FX2s (%04x:%04x).\n"
            "  --firmware   load this image (build/firmware/sparq_fx2.ihx) into every bare FX2\n"
            "  --bitstream  configure the first board's iCE40 over the FX2 (build/board/sparq.bin)\n"
            "  --loopback   with build/board/loopback.bin loaded: echo BYTES through USB and the FPGA\n"
            "  --baud       rate for probing serial ports (/dev/ttyUSB*, /dev/ttyACM*, or the ':'-separated\n"
            "               list in SPARQ_UART_PORTS) with IDENTIFY (default %d)\n"
            "  --program    write IMAGE to a UART board's flash with iceprog (fpga-icestorm) or\n"
            "               openFPGALoader (-b NAME with --board), whichever is on PATH\n"
            "Exit status: 0 if a sparq board answered IDENTIFY, 1 otherwise.\n",
            SPARQ_USB_VID, SPARQ_USB_PID, SPARQ_FX2_BARE_VID, SPARQ_FX2_BARE_PID, SPARQ_UART_DEFAULT_BAUD);
}

static int on_path(const char *tool)
{
    const char *path = getenv("PATH");
    char buf[4096];
    for (const char *p = path ? path : ""; *p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, tool);
        if (len && access(buf, X_OK) == 0)
            return 1;
        p += len + (colon != NULL);
    }
    return 0;
}

// Writes IMAGE to the board's SPI flash with an external tool; its own
// messages (which board it found, progress) pass through.
static int program(const char *image, const char *tool, const char *board)
{
    FILE *f = fopen(image, "rb");
    if (!f) {
        fprintf(stderr, "sparq devices: --program %s: %s\n", image, strerror(errno));
        return 1;
    }
    fclose(f);
    if (!tool)
        tool = on_path("iceprog") ? "iceprog" : on_path("openFPGALoader") ? "openFPGALoader" : NULL;
    if (!tool) {
        fprintf(stderr, "sparq devices: --program: no programming tool on PATH: install iceprog (apt-get install "
                        "fpga-icestorm) or openFPGALoader\n");
        return 1;
    }
    if (!on_path(tool)) {
        fprintf(stderr, "sparq devices: --program: --tool %s is not on PATH\n", tool);
        return 1;
    }
    char *args[6];
    int n = 0;
    args[n++] = (char *)tool;
    if (!strcmp(tool, "openFPGALoader") && board) {
        args[n++] = "-b";
        args[n++] = (char *)board;
    }
    args[n++] = (char *)image;
    args[n] = NULL;
    extern char **environ;
    pid_t pid;
    int status = 0, err = posix_spawnp(&pid, tool, NULL, NULL, args, environ);
    if (err) {
        fprintf(stderr, "sparq devices: --program: cannot run %s: %s\n", tool, strerror(err));
        return 1;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "sparq devices: --program: %s failed (%s %d): is a board plugged in and reachable?\n", tool,
                WIFEXITED(status) ? "exit status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return 1;
    }
    printf("programmed %s with %s\n", image, tool);
    return 0;
}

// Probes every candidate serial port with IDENTIFY; returns how many answered.
static int list_serial(int baud)
{
    struct sparq_uart_port ports[32];
    int count = 0, answered = 0;
    if (sparq_uart_list(ports, 32, &count)) {
        fprintf(stderr, "sparq devices: %s\n", sparq_last_error());
        return 0;
    }
    for (int i = 0; i < count && i < 32; i++) {
        const struct sparq_uart_port *p = &ports[i];
        char ids[40] = "";
        if (p->vid >= 0)
            snprintf(ids, sizeof ids, "%04x:%04x %s", p->vid, p->pid, p->bridge);
        struct sparq_device_info info;
        if (sparq_uart_probe(p->path, baud, &info) == SPARQ_OK) {
            printf("serial %s  %s  sparq board, protocol v%d, %dx%d array, %d baud\n", p->path, ids, info.version,
                   info.rows, info.cols, baud);
            answered++;
        } else {
            printf("serial %s  %s  no answer: %s\n", p->path, ids, sparq_last_error());
        }
    }
    if (!answered)
        printf("serial: no sparq board answered (%d port%s probed at %d baud)\n", count, count == 1 ? "" : "s", baud);
    return answered;
}

static int parse_id(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 16);
    if (!*s || *end || v < 0 || v > 0xFFFF)
        return -1;
    *out = (int)v;
    return 0;
}

static const char *speed_name(int s)
{
    return s == 3 ? "high speed" : s == 2 ? "full speed" : s == 1 ? "low speed" : "speed unknown";
}

// Prints the USB boards found; returns how many are usable sparq boards.
static int print_usb(const struct sparq_usb_board *boards, int count)
{
    int usable = 0;
    for (int i = 0; i < count && i < 16; i++) {
        const struct sparq_usb_board *b = &boards[i];
        if (b->bare_fx2) {
            printf("bus %03d address %03d  %04x:%04x  bare FX2 (no firmware): load it with\n"
                   "    sparq devices --firmware build/firmware/sparq_fx2.ihx\n",
                   b->bus, b->address, b->vid, b->pid);
        } else if (b->api_level >= 0) {
            printf("bus %03d address %03d  %04x:%04x  sparq board, firmware %d.%d, API level %d, %s, %s\n", b->bus,
                   b->address, b->vid, b->pid, b->fw_version >> 8, b->fw_version & 0xFF, b->api_level,
                   speed_name(b->speed),
                   b->status < 0                             ? "FPGA state unknown"
                   : !(b->status & SPARQ_USB_STF_CDONE)      ? "FPGA not configured"
                   : (b->status & SPARQ_USB_STF_FPGA_RESET) ? "FPGA configured, held in reset"
                                                             : "FPGA configured");
            usable++;
        } else {
            printf("bus %03d address %03d  %04x:%04x  not usable: %s\n", b->bus, b->address, b->vid, b->pid,
                   b->error);
        }
    }
    if (count > 16)
        printf("(%d more not shown)\n", count - 16);
    return usable;
}

int cmd_devices(int argc, char **argv)
{
    struct sparq_usb_options opt;
    if (sparq_usb_options_init(&opt)) {
        fprintf(stderr, "sparq devices: %s\n", sparq_last_error());
        return 2;
    }
    const char *firmware = NULL, *bitstream = NULL;
    const char *image = NULL, *tool = NULL, *board = NULL;
    long loopback = 0;
    int baud = SPARQ_UART_DEFAULT_BAUD;
    static const struct option longopts[] = {
        { "vid", required_argument, 0, 'v' },       { "pid", required_argument, 0, 'p' },
        { "firmware", required_argument, 0, 'f' },  { "bitstream", required_argument, 0, 'b' },
        { "loopback", required_argument, 0, 'l' },  { "help", no_argument, 0, 'h' },
        { "program", required_argument, 0, 'P' },   { "tool", required_argument, 0, 't' },
        { "board", required_argument, 0, 'B' },     { "baud", required_argument, 0, 'r' },
        { 0, 0, 0, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'v':
        case 'p':
            if (parse_id(optarg, c == 'v' ? &opt.vid : &opt.pid)) {
                fprintf(stderr, "sparq devices: --%s '%s': not a hex USB ID\n", c == 'v' ? "vid" : "pid", optarg);
                return 2;
            }
            break;
        case 'f': firmware = optarg; break;
        case 'b': bitstream = optarg; break;
        case 'l': {
            char *end;
            loopback = strtol(optarg, &end, 10);
            if (*end || loopback < 1 || loopback > (1L << 30)) {
                fprintf(stderr, "sparq devices: --loopback '%s': bytes in 1..%ld\n", optarg, 1L << 30);
                return 2;
            }
            break;
        }
        case 'P': image = optarg; break;
        case 'B': board = optarg; break;
        case 't':
            if (strcmp(optarg, "iceprog") && strcmp(optarg, "openFPGALoader")) {
                fprintf(stderr, "sparq devices: --tool '%s': expected iceprog or openFPGALoader\n", optarg);
                return 2;
            }
            tool = optarg;
            break;
        case 'r': {
            char *end;
            long b = strtol(optarg, &end, 10);
            if (!*optarg || *end || b < SPARQ_UART_MIN_BAUD || b > SPARQ_UART_MAX_BAUD) {
                fprintf(stderr, "sparq devices: --baud '%s': expected %d..%d\n", optarg, SPARQ_UART_MIN_BAUD,
                        SPARQ_UART_MAX_BAUD);
                return 2;
            }
            baud = (int)b;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || ((tool || board) && !image)) {
        usage(stderr);
        return 2;
    }
    if (image)
        return program(image, tool, board);

    struct sparq_usb_board boards[16];
    int count = 0;
    if (sparq_usb_list(boards, 16, &count, &opt)) {
        if (firmware || bitstream || loopback) {
            fprintf(stderr, "sparq devices: %s\n", sparq_last_error());
            return 1;
        }
        fprintf(stderr, "sparq devices: usb: %s\n", sparq_last_error()); // serial boards may still be there
        count = 0;
    }
    if (firmware) {
        int loaded = 0;
        for (int i = 0; i < count && i < 16; i++) {
            if (!boards[i].bare_fx2)
                continue;
            if (sparq_usb_load_firmware(boards[i].bus, boards[i].address, firmware, opt.timeout_ms)) {
                fprintf(stderr, "sparq devices: %s\n", sparq_last_error());
                return 1;
            }
            printf("loaded %s into the FX2 at bus %03d address %03d\n", firmware, boards[i].bus, boards[i].address);
            loaded++;
        }
        if (!loaded) {
            fprintf(stderr, "sparq devices: --firmware: no bare FX2 (%04x:%04x) attached\n", SPARQ_FX2_BARE_VID,
                    SPARQ_FX2_BARE_PID);
            return 1;
        }
        // The FX2 renumerates with our IDs after about a second.
        for (int tries = 0; tries < 30; tries++) {
            struct timespec ts = { 0, 100 * 1000 * 1000 };
            nanosleep(&ts, NULL);
            if (sparq_usb_list(boards, 16, &count, &opt) == SPARQ_OK) {
                int ours = 0;
                for (int i = 0; i < count && i < 16; i++)
                    ours += !boards[i].bare_fx2 && boards[i].api_level >= 0;
                if (ours)
                    break;
            }
        }
    }
    if (bitstream) {
        if (sparq_usb_load_bitstream(&opt, bitstream)) {
            fprintf(stderr, "sparq devices: %s\n", sparq_last_error());
            return 1;
        }
        printf("configured the iCE40 with %s (CDONE high)\n", bitstream);
    }

    int usable = print_usb(boards, count);
    if (usable && loopback) {
        struct sparq_transport tr;
        double rate = 0;
        int rc = sparq_transport_usb(&tr, &opt);
        if (!rc) {
            rc = sparq_usb_loopback(&tr, (size_t)loopback, 1, &rate);
            tr.ops->close(tr.ctx);
        }
        if (rc) {
            fprintf(stderr, "sparq devices: --loopback: %s\n", sparq_last_error());
            return 1;
        }
        printf("loopback: %ld bytes echoed correctly, %.2f MB/s each way\n", loopback, rate);
    }
    int serial = list_serial(baud);
    if (!usable && !serial) {
        printf("no sparq board found (looked for VID:PID %04x:%04x and bare FX2 %04x:%04x)\n", opt.vid, opt.pid,
               SPARQ_FX2_BARE_VID, SPARQ_FX2_BARE_PID);
        return 1;
    }
    return 0;
}
