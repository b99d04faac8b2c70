// sparq-command: format-info: print bits per weight and size for every packed format
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "sparq_error.h"
#include "sparq_parse.h"
#include "sparq_format.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sparq format-info [--out N --in K]\n"
                 "Prints, for every (width, N:M) of docs/format.md, bytes per 16-channel block,\n"
                 "bits per weight and size relative to fp32. With --out/--in it also gives the\n"
                 "exact packed size of one OUT x IN matrix (values + positions + fp32 scales).\n"
                 "  -o, --out N   output channels\n"
                 "  -i, --in K    input channels\n"
                 "  -h, --help    this text\n");
}

int cmd_format_info(int argc, char **argv)
{
    static const struct option opts[] = {
        { "out", required_argument, NULL, 'o' },
        { "in", required_argument, NULL, 'i' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int64_t out = 0, in = 0;
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, "o:i:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': bad = sparq_parse_i64("--out", optarg, 1, 1 << 24, &out); break;
        case 'i': bad = sparq_parse_i64("--in", optarg, 1, 1 << 24, &in); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (bad) {
            fprintf(stderr, "sparq format-info: %s\n", sparq_last_error());
            return 2;
        }
    }
    if ((out != 0) != (in != 0) || out < 0 || in < 0 || out > (1 << 24) || in > (1 << 24)) {
        fprintf(stderr, "sparq format-info: --out and --in must be given together, 1..16777216\n");
        return 2;
    }
    int count;
    const struct sparq_format_type *types = sparq_format_all(&count);
    printf("%-10s %6s %6s %11s %14s %12s", "format", "width", "N:M", "block bytes", "bits/weight", "% of fp32");
    if (out)
        printf(" %14s", "matrix bytes");
    printf("\n");
    for (int i = 0; i < count; i++) {
        const struct sparq_format_type *t = &types[i];
        double bits = sparq_format_bits_per_weight(t);
        printf("%-10s %6d %4d:4 %11d %14.3f %11.3f%%", t->name, t->width, t->kept, t->block_bytes, bits,
               100.0 * bits / 32.0);
        if (out) {
            long long blocks = (in + SPARQ_BLOCK - 1) / SPARQ_BLOCK;
            long long bytes = out * blocks * t->block_bytes + out * 4LL;
            printf(" %14lld", bytes);
        }
        printf("\n");
    }
    if (out)
        printf("fp32 reference: %lld bytes\n", out * in * 4LL);
    return 0;
}
