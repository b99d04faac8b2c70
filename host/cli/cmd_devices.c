// sparq devices: lists sparq boards (FX2LP bridge + iCE40) and bare FX2s on
// USB; optionally loads the FX2 firmware and the FPGA bitstream.
// sparq-command: devices: list attached sparq USB boards (and load firmware/bitstream)
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sparq_error.h"
#include "sparq_usb.h"
#include "sparq_usb_protocol.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sparq devices [--vid HEX] [--pid HEX] [--firmware FILE.ihx] [--bitstream FILE.bin]\n"
            "                     [--loopback BYTES]\n"
            "  Lists boards with VID:PID %04x:%04x (placeholder pid.codes test ID; override with\n"
            "  --vid/--pid or SPARQ_USB_VID/SPARQ_USB_PID) and bare FX2s (%04x:%04x).\n"
            "  --firmware   load this image (build/firmware/sparq_fx2.ihx) into every bare FX2\n"
            "  --bitstream  configure the first board's iCE40 over the FX2 (build/board/sparq.bin)\n"
            "  --loopback   with build/board/loopback.bin loaded: echo BYTES through USB and the FPGA\n"
            "Exit status: 0 if a sparq board answered IDENTIFY, 1 otherwise.\n",
            SPARQ_USB_VID, SPARQ_USB_PID, SPARQ_FX2_BARE_VID, SPARQ_FX2_BARE_PID);
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

int cmd_devices(int argc, char **argv)
{
    struct sparq_usb_options opt;
    if (sparq_usb_options_init(&opt)) {
        fprintf(stderr, "sparq devices: %s\n", sparq_last_error());
        return 2;
    }
    const char *firmware = NULL, *bitstream = NULL;
    long loopback = 0;
    static const struct option longopts[] = {
        { "vid", required_argument, 0, 'v' },       { "pid", required_argument, 0, 'p' },
        { "firmware", required_argument, 0, 'f' },  { "bitstream", required_argument, 0, 'b' },
        { "loopback", required_argument, 0, 'l' },  { "help", no_argument, 0, 'h' },
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
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    struct sparq_usb_board boards[16];
    int count = 0;
    if (sparq_usb_list(boards, 16, &count, &opt)) {
        fprintf(stderr, "sparq devices: %s\n", sparq_last_error());
        return 1;
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
    if (!usable) {
        printf("no sparq board found (looked for VID:PID %04x:%04x and bare FX2 %04x:%04x)\n", opt.vid, opt.pid,
               SPARQ_FX2_BARE_VID, SPARQ_FX2_BARE_PID);
        return 1;
    }
    return 0;
}
