// sparq-command: selftest: known-answer GEMM suite on a device backend vs the reference GEMM
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "sparq_backend.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_gemm.h"
#include "sparq_gemm_case.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sparq selftest [--backend ref|sim|usb]\n"
                 "Runs GEMMs of every packed format (int8/int4/int2 x 4:4/2:4/1:4) on ragged and\n"
                 "multi-tile shapes, raw int32 and requantized int8, through the device protocol,\n"
                 "and compares each result bit for bit with sparq_gemm_ref. Prints a table;\n"
                 "exits 1 on any mismatch.\n"
                 "  -b, --backend NAME   ref (C device model, default), sim (Verilator RTL) or usb (a board)\n"
                 "  -h, --help           this text\n");
}

static const int shapes[][3] = { { 1, 1, 1 }, { 7, 5, 20 }, { 16, 16, 64 }, { 33, 17, 70 }, { 40, 35, 144 } };
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

// One random case (seeded, so a failure reproduces), raw int32 and
// requantized int8. Returns the number of mismatching results (or -1 on a
// device error).
static long run_one(struct sparq_device *dev, const struct sparq_format_type *type, int t, int out, int in,
                    uint64_t *rng)
{
    struct sparq_gemm_case c;
    if (sparq_gemm_case_make(&c, t, out, in, type->width, type->kept, rng))
        return -1;
    long bad = -1;
    if (!sparq_device_gemm(dev, c.y, out, c.x, in, &c.w, t, 0) &&
        !sparq_device_gemm_q8(dev, c.y8, out, c.x, in, &c.w, t, c.qp))
        bad = (long)sparq_gemm_case_mismatches(&c, c.y, 0, c.y8);
    sparq_gemm_case_free(&c);
    return bad;
}

int cmd_selftest(int argc, char **argv)
{
    static const struct option opts[] = {
        { "backend", required_argument, NULL, 'b' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *backend = "ref";
    int c;
    while ((c = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': backend = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || (strcmp(backend, "ref") && strcmp(backend, "sim") && strcmp(backend, "usb") &&
                             strncmp(backend, "uart:", 5))) {
        usage(stderr);
        return 2;
    }
    struct sparq_device *dev;
    if (sparq_device_open(&dev, backend)) {
        fprintf(stderr, "sparq selftest: %s\n", sparq_last_error());
        return 1;
    }
    struct sparq_device_info info;
    if (sparq_device_identify(dev, &info)) {
        fprintf(stderr, "sparq selftest: %s\n", sparq_last_error());
        sparq_device_close(dev);
        return 1;
    }
    printf("backend %s: %dx%d array, protocol v%d, buffers: %d weight entries/col, %d act words/row, %d result "
           "frames\n",
           backend, info.rows, info.cols, info.version, info.wdepth, info.xdepth, info.rdepth);
    printf("%-10s %8s %10s %12s %12s %12s  %s\n", "format", "GEMMs", "results", "mismatches", "busy cyc", "MACs",
           "status");
    int count, failed = 0;
    const struct sparq_format_type *types = sparq_format_all(&count);
    uint64_t rng = 0x5eed1234u;
    for (int f = 0; f < count; f++) {
        struct sparq_device_counters c0, c1;
        long results = 0, bad = 0;
        int err = sparq_device_counters(dev, &c0);
        for (int s = 0; s < NSHAPES && !err; s++) {
            long b = run_one(dev, &types[f], shapes[s][0], shapes[s][1], shapes[s][2], &rng);
            if (b < 0)
                err = 1;
            else
                bad += b;
            results += 2L * shapes[s][0] * shapes[s][1];
        }
        if (!err)
            err = sparq_device_counters(dev, &c1);
        if (err) {
            printf("%-10s  device error: %s\n", types[f].name, sparq_last_error());
            failed = 1;
            continue;
        }
        printf("%-10s %8d %10ld %12ld %12llu %12llu  %s\n", types[f].name, 2 * NSHAPES, results, bad,
               (unsigned long long)(c1.busy - c0.busy), (unsigned long long)(c1.macs - c0.macs),
               bad ? "FAIL" : "ok");
        failed |= bad != 0;
    }
    const struct sparq_link_stats *link = sparq_device_link(dev);
    uint64_t wire_out, wire_in;
    sparq_device_wire(dev, &wire_out, &wire_in);
    printf("link: %llu bytes to the device, %llu bytes back, %llu commands; on the wire (reliability layer "
           "included) %llu / %llu",
           (unsigned long long)link->bytes_out, (unsigned long long)link->bytes_in,
           (unsigned long long)link->commands, (unsigned long long)wire_out, (unsigned long long)wire_in);
    if (sparq_device_cycles(dev))
        printf(", %llu device cycles", (unsigned long long)sparq_device_cycles(dev));
    printf("\n%s\n", failed ? "selftest FAILED" : "selftest passed");
    sparq_device_close(dev);
    return failed ? 1 : 0;
}
