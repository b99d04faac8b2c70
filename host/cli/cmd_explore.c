// sparq-command: explore: sweep array size, lanes, buffers, clock and link on the model device, with Yosys area and FPGA fit
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_explore.h"
#include "sparq_file.h"
#include "sparq_parse.h"
#include "sparq_paths.h"
#include "sparq_runtime.h"
#include "sparq_train.h"

#define MAX_VALUES 16
#define MAX_CFGS 4096

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sparq explore --model M.spq --data M.jsonl --out DIR [sweep options]\n"
            "Plans the decode of the manifest's utterances (their fbank frame counts; no audio is decoded)\n"
            "on the model device of every configuration in the sweep and prints busy cycles, utilisation,\n"
            "link bytes, compute and link time, the real-time factor at each link, the link-bound layers,\n"
            "and with --synth the Yosys area and which FPGAs it fits (docs/explore.md).\n"
            "Writes DIR/explore.txt, DIR/explore.json and DIR/pareto.dat (scripts/explore_pareto.gp).\n"
            "  -m, --model FILE     packed model (.spq)\n"
            "  -d, --data FILE      JSONL manifest of the utterances to plan\n"
            "  -o, --out DIR        output directory\n"
            "  -a, --array LIST     array sizes RxC (default 4x4,8x8,16x16,32x32)\n"
            "  -L, --lanes LIST     MAC lanes per PE, 1 or 4 (default 4)\n"
            "      --wdepth LIST    weight entries per column per bank (default 1024)\n"
            "      --xdepth LIST    activation words per row per bank (default 4096)\n"
            "      --rdepth LIST    result frames (default 256; at least the rows)\n"
            "      --xbanks LIST    activation banks (default 4)\n"
            "      --rbufs LIST     result buffers, 1 or 2 (default 2)\n"
            "      --wstore LIST    weight-store entries per column, 0 = weights streamed (default 262144)\n"
            "      --qdepth N       requant parameter entries (default 16384)\n"
            "      --luts N         epilogue tables, 0 = no on-device epilogue (default 16; 0 with 1 lane)\n"
            "                       (defaults: sparq_device_default_config, the simulated array)\n"
            "  -c, --clock LIST     device clock in MHz (default 100)\n"
            "  -l, --link NAME=MBPS a link (repeatable; default FX2=40 FT601=200 UART3M=0.3)\n"
            "  -b, --batch N        utterances per decoding batch (default 1)\n"
            "  -r, --readout R      q8 or i32: how results leave the device (default: the model's, as eval)\n"
            "  -F, --frontend P     where the subsampling matmuls run, as sparq eval: device (default: every\n"
            "                       matmul planned on each configuration), host (the host's cpu kernel: not\n"
            "                       in the device numbers) or auto (per layer the faster on the default hardware)\n"
            "  -s, --synth FLOWS    Yosys flows for the area: generic,ice40,ecp5 (default none); cached\n"
            "      --cache DIR      area cache (default DIR/area)\n"
            "  -j, --jobs N         Yosys runs at once (default 2)\n"
            "      --script FILE    the synthesis script (default scripts/explore_synth.sh)\n"
            "LIST is comma-separated. Configurations the RTL cannot elaborate (rows not a power of two,\n"
            "rdepth < rows, ...) are refused with the reason.\n");
}

// "4,8,16" -> values; a one-line error naming the flag.
static int parse_list(const char *flag, const char *text, long long lo, long long hi, int *v, int *n)
{
    char buf[512];
    if (strlen(text) >= sizeof buf)
        return sparq_fail(SPARQ_EINVAL, "%s: list too long", flag);
    strcpy(buf, text);
    *n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (*n >= MAX_VALUES)
            return sparq_fail(SPARQ_EINVAL, "%s: at most %d values", flag, MAX_VALUES);
        if (sparq_parse_int(flag, t, lo, hi, &v[*n]))
            return SPARQ_EINVAL;
        (*n)++;
    }
    return *n ? SPARQ_OK : sparq_fail(SPARQ_EINVAL, "%s: empty list", flag);
}

static int parse_arrays(const char *text, int *rows, int *cols, int *n)
{
    char buf[512];
    if (strlen(text) >= sizeof buf)
        return sparq_fail(SPARQ_EINVAL, "--array: list too long");
    strcpy(buf, text);
    *n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *x = strchr(t, 'x');
        if (!x || *n >= MAX_VALUES)
            return sparq_fail(SPARQ_EINVAL, "--array: '%s' is not RxC (at most %d sizes)", t, MAX_VALUES);
        *x = 0;
        if (sparq_parse_int("--array rows", t, 2, 4096, &rows[*n]) ||
            sparq_parse_int("--array cols", x + 1, 2, 4096, &cols[*n]))
            return SPARQ_EINVAL;
        (*n)++;
    }
    return *n ? SPARQ_OK : sparq_fail(SPARQ_EINVAL, "--array: empty list");
}

static int parse_flows(const char *text, const char **flows, int *n)
{
    static const char *known[] = { "generic", "ice40", "ecp5" };
    *n = 0;
    if (!strcmp(text, "none"))
        return SPARQ_OK;
    char buf[128];
    if (strlen(text) >= sizeof buf)
        return sparq_fail(SPARQ_EINVAL, "--synth: list too long");
    strcpy(buf, text);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int k = 0;
        while (k < 3 && strcmp(t, known[k]))
            k++;
        if (k == 3)
            return sparq_fail(SPARQ_EINVAL, "--synth: unknown flow '%s' (generic, ice40, ecp5, none)", t);
        for (int j = 0; j < *n; j++)
            if (flows[j] == known[k])
                return sparq_fail(SPARQ_EINVAL, "--synth: flow '%s' given twice", t);
        flows[(*n)++] = known[k];
    }
    return SPARQ_OK;
}

struct args {
    const char *model, *data, *out, *cache, *script, *readout;
    int rows[MAX_VALUES], cols[MAX_VALUES], n_arr;
    int lanes[MAX_VALUES], n_lanes, wd[MAX_VALUES], n_wd, xd[MAX_VALUES], n_xd, rd[MAX_VALUES], n_rd;
    int clk[MAX_VALUES], n_clk;
    int xb[MAX_VALUES], n_xb, rb[MAX_VALUES], n_rb, ws[MAX_VALUES], n_ws, qdepth, luts;
    struct sparq_explore_link links[SPARQ_EXPLORE_MAX_LINKS];
    int n_links, batch, jobs;
    const char *flows[3];
    int n_flows;
    enum sparq_frontend frontend;
};

// 0 = go on; else the exit status.
static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        { "model", required_argument, NULL, 'm' }, { "data", required_argument, NULL, 'd' },
        { "out", required_argument, NULL, 'o' },   { "array", required_argument, NULL, 'a' },
        { "lanes", required_argument, NULL, 'L' }, { "wdepth", required_argument, NULL, 'W' },
        { "xdepth", required_argument, NULL, 'X' }, { "rdepth", required_argument, NULL, 'R' },
        { "clock", required_argument, NULL, 'c' }, { "link", required_argument, NULL, 'l' },
        { "batch", required_argument, NULL, 'b' }, { "synth", required_argument, NULL, 's' },
        { "cache", required_argument, NULL, 'C' }, { "jobs", required_argument, NULL, 'j' },
        { "script", required_argument, NULL, 'S' }, { "readout", required_argument, NULL, 'r' },
        { "xbanks", required_argument, NULL, 'x' }, { "rbufs", required_argument, NULL, 'y' },
        { "wstore", required_argument, NULL, 'w' }, { "qdepth", required_argument, NULL, 'q' },
        { "luts", required_argument, NULL, 't' }, { "frontend", required_argument, NULL, 'F' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(a, 0, sizeof *a);
    a->script = "scripts/explore_synth.sh";
    a->batch = 1;
    a->jobs = 2;
    a->frontend = SPARQ_FRONTEND_DEVICE;
    static const int def_sizes[] = { 4, 8, 16, 32 };
    for (int i = 0; i < 4; i++)
        a->rows[i] = a->cols[i] = def_sizes[i];
    a->n_arr = 4;
    a->lanes[0] = 4, a->n_lanes = 1;
    a->wd[0] = 1024, a->n_wd = 1;
    a->xd[0] = 4096, a->n_xd = 1;
    a->rd[0] = 256, a->n_rd = 1;
    a->clk[0] = 100, a->n_clk = 1;
    const struct sparq_device_config *d = &sparq_device_default_config;
    a->xb[0] = d->xbanks, a->n_xb = 1;
    a->rb[0] = d->rbufs, a->n_rb = 1;
    a->ws[0] = d->wstore, a->n_ws = 1;
    a->qdepth = d->qdepth, a->luts = d->luts;
    int c, rc = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:d:o:a:L:c:l:b:s:j:r:x:y:w:q:t:F:h", opts, NULL)) != -1 && !rc) {
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'd': a->data = optarg; break;
        case 'o': a->out = optarg; break;
        case 'C': a->cache = optarg; break;
        case 'S': a->script = optarg; break;
        case 'r':
            a->readout = optarg;
            if (strcmp(optarg, "q8") && strcmp(optarg, "i32"))
                rc = sparq_fail(SPARQ_EINVAL, "--readout: '%s' is not q8 or i32", optarg);
            break;
        case 'a': rc = parse_arrays(optarg, a->rows, a->cols, &a->n_arr); break;
        case 'L': rc = parse_list("--lanes", optarg, 1, 4, a->lanes, &a->n_lanes); break;
        case 'W': rc = parse_list("--wdepth", optarg, 1, 262144, a->wd, &a->n_wd); break;
        case 'X': rc = parse_list("--xdepth", optarg, 1, 262144, a->xd, &a->n_xd); break;
        case 'R': rc = parse_list("--rdepth", optarg, 1, 32768, a->rd, &a->n_rd); break;
        case 'c': rc = parse_list("--clock", optarg, 1, 2000, a->clk, &a->n_clk); break;
        case 'x': rc = parse_list("--xbanks", optarg, 2, 16, a->xb, &a->n_xb); break;
        case 'y': rc = parse_list("--rbufs", optarg, 1, 2, a->rb, &a->n_rb); break;
        case 'w': rc = parse_list("--wstore", optarg, 0, 16777216, a->ws, &a->n_ws); break;
        case 'q': rc = sparq_parse_int("--qdepth", optarg, 0, 32768, &a->qdepth); break;
        case 't': rc = sparq_parse_int("--luts", optarg, 0, 255, &a->luts); break;
        case 'b': rc = sparq_parse_int("--batch", optarg, 1, 4096, &a->batch); break;
        case 'F': rc = sparq_runtime_parse_frontend("--frontend", optarg, &a->frontend); break;
        case 'j': rc = sparq_parse_int("--jobs", optarg, 1, 64, &a->jobs); break;
        case 's': rc = parse_flows(optarg, a->flows, &a->n_flows); break;
        case 'l':
            if (a->n_links >= SPARQ_EXPLORE_MAX_LINKS)
                rc = sparq_fail(SPARQ_EINVAL, "--link: at most %d links", SPARQ_EXPLORE_MAX_LINKS);
            else
                rc = sparq_explore_parse_link(optarg, &a->links[a->n_links++]);
            break;
        case 'h': usage(stdout); return -1; // exit 0
        default: usage(stderr); return 2;
        }
    }
    if (rc) {
        fprintf(stderr, "sparq explore: %s\n", sparq_last_error());
        return 2;
    }
    if (!a->model || !a->data || !a->out || optind != argc) {
        fprintf(stderr, "sparq explore: --model, --data and --out are required (and no other arguments)\n");
        return 2;
    }
    if (!a->n_links)
        a->n_links = sparq_explore_default_links(a->links);
    return 0;
}

int cmd_explore(int argc, char **argv)
{
    struct args a;
    int prc = parse_args(argc, argv, &a);
    if (prc)
        return prc < 0 ? 0 : prc;
    char cache[4096], txt[4096], json[4096], dat[4096];
    if (!a.cache) {
        snprintf(cache, sizeof cache, "%s/area", a.out);
        a.cache = cache;
    }
    snprintf(txt, sizeof txt, "%s/explore.txt", a.out);
    snprintf(json, sizeof json, "%s/explore.json", a.out);
    snprintf(dat, sizeof dat, "%s/pareto.dat", a.out);
    const struct sparq_path_arg ins[] = { { "--model", a.model }, { "--data", a.data } };
    static const char *const files[] = { "explore.txt", "explore.json", "pareto.dat" };
    struct stat sb;
    if (stat(a.out, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "sparq explore: --out: %s exists and is not a directory\n", a.out);
        return 2;
    }
    if (sparq_check_out_dir(ins, 2, "--out", a.out, files, 3)) {
        fprintf(stderr, "sparq explore: %s\n", sparq_last_error());
        return 2;
    }
    // The configurations: every combination, each checked against the RTL's rules.
    long long n_all = (long long)a.n_arr * a.n_lanes * a.n_wd * a.n_xd * a.n_rd * a.n_xb * a.n_rb * a.n_ws;
    int n = n_all > MAX_CFGS ? MAX_CFGS + 1 : (int)n_all;
    if (n > MAX_CFGS) {
        fprintf(stderr, "sparq explore: %d configurations; at most %d\n", n, MAX_CFGS);
        return 2;
    }
    struct sparq_device_config *cfgs = calloc((size_t)n, sizeof *cfgs);
    double clocks[MAX_VALUES];
    if (!cfgs) {
        fprintf(stderr, "sparq explore: out of memory\n");
        return 1;
    }
    int k = 0;
    for (int ia = 0; ia < a.n_arr; ia++)
        for (int il = 0; il < a.n_lanes; il++)
            for (int iw = 0; iw < a.n_wd; iw++)
                for (int ix = 0; ix < a.n_xd; ix++)
                    for (int ir = 0; ir < a.n_rd; ir++)
                        for (int v = 0; v < a.n_xb * a.n_rb * a.n_ws; v++) {
                        struct sparq_device_config c = sparq_device_default_config;
                        c.rows = a.rows[ia], c.cols = a.cols[ia], c.lanes = a.lanes[il];
                        c.wdepth = a.wd[iw], c.xdepth = a.xd[ix], c.rdepth = a.rd[ir];
                        c.xbanks = a.xb[v % a.n_xb], c.rbufs = a.rb[v / a.n_xb % a.n_rb];
                        c.wstore = a.ws[v / (a.n_xb * a.n_rb)], c.qdepth = a.qdepth, c.luts = a.luts;
                        if (c.lanes == 1) // the RTL's epilogue needs the 4 word banks of LANES = 4
                            c.luts = 0;
                        if (sparq_explore_config_check(&c)) {
                            char label[96];
                            sparq_explore_config_label(&c, label, sizeof label);
                            fprintf(stderr, "sparq explore: configuration %s: %s\n", label, sparq_last_error());
                            free(cfgs);
                            return 2;
                        }
                        cfgs[k++] = c;
                    }
    for (int i = 0; i < a.n_clk; i++)
        clocks[i] = a.clk[i];
    struct sparq_runtime *rt = NULL;
    struct sparq_dataset ds;
    memset(&ds, 0, sizeof ds);
    char backend[16];
    snprintf(backend, sizeof backend, "cpu%s%s", a.readout ? ":" : "", a.readout ? a.readout : "");
    // By default every matmul on the device (the front-end too): explore
    // compares the hardware's times, and a host-placed layer has none
    // (docs/runtime.md); --frontend host|auto leaves it to the host.
    const struct sparq_runtime_options ro = { a.frontend };
    int rc = sparq_runtime_open_ex(&rt, a.model, backend, &ro);
    if (!rc)
        rc = sparq_dataset_load(&ds, a.data, 0);
    if (!rc && !ds.n)
        rc = sparq_fail(SPARQ_EINVAL, "%s: no usable utterances", a.data);
    if (!rc)
        rc = sparq_mkdir_p(a.out);
    struct sparq_explore_options o = {
        .cfgs = cfgs, .n_cfgs = n, .clocks = clocks, .n_clocks = a.n_clk, .n_links = a.n_links,
        .batch = a.batch, .frames = ds.frames, .n_utts = ds.n, .audio_seconds = ds.seconds,
        .n_flows = a.n_flows, .cache_dir = a.cache, .synth_script = a.script, .jobs = a.jobs,
    };
    memcpy(o.links, a.links, sizeof o.links);
    memcpy(o.flows, a.flows, sizeof o.flows);
    struct sparq_explore_result r = { 0 };
    if (!rc && a.n_flows && !sparq_file_exists(a.script))
        rc = sparq_fail(SPARQ_EINVAL, "--script: %s does not exist (run from the repository root)", a.script);
    if (!rc)
        rc = sparq_explore_run(rt, &o, &r);
    if (!rc) {
        sparq_explore_print(&o, &r, stdout);
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
            rc = sparq_fail(SPARQ_ENOMEM, "out of memory for the table");
        else {
            sparq_explore_print(&o, &r, f);
            fclose(f);
            rc = sparq_write_file_atomic(txt, text, len);
        }
        free(text);
    }
    if (!rc)
        rc = sparq_explore_write_json(&o, &r, a.model, a.data, json);
    if (!rc)
        rc = sparq_explore_write_dat(&o, &r, dat);
    if (!rc)
        printf("wrote %s, %s, %s\n", txt, json, dat);
    else
        fprintf(stderr, "sparq explore: %s\n", sparq_last_error());
    sparq_explore_result_free(&r);
    sparq_dataset_free(&ds);
    if (rt)
        sparq_runtime_close(rt);
    free(cfgs);
    return rc ? 1 : 0;
}
