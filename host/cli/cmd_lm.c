// sparq-command: lm: build or inspect a word n-gram language model (ARPA)
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_lm.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sparq lm build [--order N] --out LM.arpa TEXT...\n"
                 "       sparq lm info LM.arpa [--ppl TEXT]\n"
                 "build: a word n-gram model with interpolated modified Kneser-Ney smoothing from text files\n"
                 "(one sentence per line, normalised like transcripts), written atomically in ARPA format.\n"
                 "info: reads and checks an ARPA file, prints its n-gram counts and, with --ppl, the\n"
                 "perplexity of a text (</s> counted; unknown words scored as <unk>).\n"
                 "  -n, --order N   n-gram order, 1..%d (default %d)\n"
                 "  -o, --out FILE  the ARPA file to write (build)\n"
                 "  -p, --ppl FILE  a text to measure perplexity on (info)\n"
                 "  -h, --help      this text\n"
                 "Use the model when decoding with --lm FILE --lm-weight A --word-bonus B (docs/model.md).\n",
            SPARQ_LM_MAX_ORDER, SPARQ_LM_DEFAULT_ORDER);
}

// Whole-string integer in [lo, hi]; else a one-line error naming the flag.
static int parse_int(const char *flag, const char *s, int lo, int hi, int *v)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (end == s || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "sparq lm: %s must be an integer in %d..%d, not '%s'\n", flag, lo, hi, s);
        return 0;
    }
    *v = (int)x;
    return 1;
}

static void print_info(const char *path, const struct sparq_lm *lm)
{
    printf("%s: order %d, %zu words\n", path, sparq_lm_order(lm), sparq_lm_vocab_size(lm));
    for (int n = 1; n <= sparq_lm_order(lm); n++)
        printf("  %d-grams: %zu\n", n, sparq_lm_count(lm, n));
}

int cmd_lm(int argc, char **argv)
{
    static const struct option opts[] = {
        { "order", required_argument, NULL, 'n' }, { "out", required_argument, NULL, 'o' },
        { "ppl", required_argument, NULL, 'p' },   { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *out = NULL, *ppl = NULL;
    int order = SPARQ_LM_DEFAULT_ORDER, c;
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || (strcmp(argv[1], "build") && strcmp(argv[1], "info"))) {
        fprintf(stderr, "sparq lm: the first argument must be 'build' or 'info'\n");
        usage(stderr);
        return 2;
    }
    const int build = !strcmp(argv[1], "build");
    argc--;
    argv++;
    while ((c = getopt_long(argc, argv, "n:o:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!parse_int("--order", optarg, 1, SPARQ_LM_MAX_ORDER, &order))
                return 2;
            break;
        case 'o': out = optarg; break;
        case 'p': ppl = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    struct sparq_lm *lm = NULL;
    if (build) {
        if (!out || optind >= argc || ppl) {
            fprintf(stderr, "sparq lm build: --out and at least one TEXT file are required (--ppl is for info)\n");
            return 2;
        }
        if (sparq_lm_build_files(&lm, (const char *const *)argv + optind, argc - optind, order) ||
            sparq_lm_write(lm, out)) {
            fprintf(stderr, "sparq lm build: %s\n", sparq_last_error());
            sparq_lm_free(lm);
            return 1;
        }
        print_info(out, lm);
        sparq_lm_free(lm);
        return 0;
    }
    if (out || optind != argc - 1) {
        fprintf(stderr, "sparq lm info: exactly one ARPA file is required (--out is for build)\n");
        return 2;
    }
    if (sparq_lm_read(&lm, argv[optind])) {
        fprintf(stderr, "sparq lm info: %s\n", sparq_last_error());
        return 1;
    }
    print_info(argv[optind], lm);
    int rc = 0;
    if (ppl) {
        struct sparq_lm_ppl p;
        if (sparq_lm_perplexity_file(lm, ppl, &p)) {
            fprintf(stderr, "sparq lm info: %s\n", sparq_last_error());
            rc = 1;
        } else
            printf("%s: %zu sentences, %zu words, %zu OOVs, log10 prob %.2f, perplexity %.2f\n", ppl, p.sentences,
                   p.words, p.oovs, p.log10_prob, p.perplexity);
    }
    sparq_lm_free(lm);
    return rc;
}
