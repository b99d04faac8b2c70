// sparq-command: search: budgeted mixed-precision search: per-layer sensitivity, then the best spec under a size budget
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_dist.h"
#include "sparq_error.h"
#include "sparq_finetune.h"
#include "sparq_parse.h"
#include "sparq_paths.h"
#include "sparq_search.h"
#include "sparq_train.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sparq search --from MODEL --dev M.jsonl --budget PERCENT [options]\n"
            "Measures, for every weight matmul and every candidate setting, the dev CTC loss\n"
            "increase when only that layer is compressed (post-training), then picks one setting\n"
            "per layer so that the exported file is at most PERCENT %% of the fp32 parameter bytes\n"
            "at the lowest summed loss increase (exact knapsack). Prints the table and the\n"
            "--compress spec to fine-tune with (sparq finetune --compress \"$(cat SPEC)\").\n"
            "  --from FILE          float model\n"
            "  --dev FILE           manifest for the loss (its first --max-utts utterances)\n"
            "  --budget PCT         size budget, %% of fp32 (9.4)\n"
            "  --candidates LIST    settings per layer (int8,int4,int4-2:4,int2-2:4,int4-1:4,int2-1:4)\n"
            "  --keep SPEC          layers not searched, e.g. sub1_w=int8 (default: none)\n"
            "  --max-utts N (40)  --scales maxabs|mse (mse)  --threads N\n"
            "  --spec-out FILE      write the chosen spec (atomically)\n"
            "  --json FILE          the table as JSON (atomically)\n"
            "  --quiet              no progress line\n");
}

int cmd_search(int argc, char **argv)
{
    if (sparq_dist_require_single("search")) // every rank would write the same files
        return 2;
    enum { O_FROM = 256, O_DEV, O_BUDGET, O_CAND, O_KEEP, O_MAXU, O_SCALES, O_THREADS, O_SPEC, O_JSON, O_QUIET };
    static const struct option opts[] = {
        { "from", required_argument, NULL, O_FROM },       { "dev", required_argument, NULL, O_DEV },
        { "budget", required_argument, NULL, O_BUDGET },   { "candidates", required_argument, NULL, O_CAND },
        { "keep", required_argument, NULL, O_KEEP },       { "max-utts", required_argument, NULL, O_MAXU },
        { "scales", required_argument, NULL, O_SCALES },   { "threads", required_argument, NULL, O_THREADS },
        { "spec-out", required_argument, NULL, O_SPEC },   { "json", required_argument, NULL, O_JSON },
        { "quiet", no_argument, NULL, O_QUIET },           { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct sparq_search_options so;
    sparq_search_default_options(&so);
    const char *from = NULL, *dev = NULL, *spec_out = NULL, *json = NULL;
    int c, threads = 0, bad = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_FROM: from = optarg; break;
        case O_DEV: dev = optarg; break;
        case O_BUDGET: bad = sparq_parse_double("--budget", optarg, 1e-6, 100, &so.budget_percent) != 0; break;
        case O_CAND: bad |= sparq_search_parse_options(&so, optarg) != 0; break;
        case O_KEEP: bad |= *optarg && sparq_compress_spec_parse(&so.fixed, optarg) != 0; break;
        case O_MAXU: bad = sparq_parse_int("--max-utts", optarg, 0, INT32_MAX, &so.max_utts) != 0; break;
        case O_SCALES:
            bad |= sparq_scale_method_parse(optarg, &so.scale_method) != 0 ||
                   (so.scale_method == SPARQ_SCALE_LSQ && sparq_fail(SPARQ_EINVAL, "--scales lsq needs training"));
            break;
        case O_THREADS: bad = sparq_parse_int("--threads", optarg, 0, SPARQ_THREADS_MAX, &threads) != 0; break;
        case O_SPEC: spec_out = optarg; break;
        case O_JSON: json = optarg; break;
        case O_QUIET: so.progress = 0; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (bad) {
            fprintf(stderr, "sparq search: %s\n", sparq_last_error());
            return 2;
        }
    }
    if (optind < argc || !from || !dev || !(so.budget_percent > 0 && so.budget_percent <= 100) || so.max_utts < 0) {
        fprintf(stderr, "sparq search: --from and --dev are required; 0 < --budget <= 100 (see --help)\n");
        return 2;
    }
    const struct sparq_path_arg ins[] = { { "--from", from }, { "--dev", dev } };
    const struct sparq_path_arg outs[] = { { "--spec-out", spec_out }, { "--json", json } };
    if (sparq_check_outputs(ins, 2, outs, 2)) {
        fprintf(stderr, "sparq search: %s\n", sparq_last_error());
        return 2;
    }
    if (threads > 0)
        omp_set_num_threads(threads);
    sparq_threads_init();
    struct sparq_model m;
    struct sparq_dataset ds;
    if (sparq_checkpoint_load(from, &m, NULL, NULL)) {
        fprintf(stderr, "sparq search: %s\n", sparq_last_error());
        return 1;
    }
    if (sparq_dataset_load(&ds, dev, 0)) {
        fprintf(stderr, "sparq search: %s\n", sparq_last_error());
        sparq_model_free(&m);
        return 1;
    }
    struct sparq_search_result r;
    int rc = sparq_search_run(&m, &ds, &so, &r);
    if (!rc) {
        sparq_search_print(&r, &so, stdout);
        printf("spec: %s\n", r.spec);
        if (spec_out) {
            size_t n = strlen(r.spec);
            char *line = malloc(n + 2);
            rc = line ? SPARQ_OK : SPARQ_ENOMEM;
            if (line) {
                memcpy(line, r.spec, n);
                line[n] = '\n';
                rc = sparq_write_file_atomic(spec_out, line, n + 1);
            }
            free(line);
        }
        if (!rc && json) {
            char *text = sparq_search_json(&r, &so);
            rc = text ? sparq_write_file_atomic(json, text, strlen(text)) : SPARQ_ENOMEM;
            free(text);
        }
        sparq_search_result_free(&r);
    }
    if (rc)
        fprintf(stderr, "sparq search: %s\n", sparq_last_error());
    sparq_dataset_free(&ds);
    sparq_model_free(&m);
    return rc ? 1 : 0;
}
