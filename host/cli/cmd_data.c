// sparq-command: data: generate, import, check corpora; compute feature statistics
#include <float.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sparq_audio.h"
#include "sparq_corpus.h"
#include "sparq_error.h"
#include "sparq_fbank.h"
#include "sparq_manifest.h"
#include "sparq_parse.h"
#include "sparq_paths.h"
#include "sparq_clock.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sparq data gen --out DIR [--hours H] [--dev-hours H] [--test-hours H] [--seed S]\n"
            "                      [--test-text-hours H] [--open-fraction F] [--text-sources LIST] [--text-root DIR]\n"
            "                      [--workers N] [--augment F] [--quiet] [--force]\n"
            "       sparq data import (--kaldi DIR | --librispeech DIR) --out MANIFEST.jsonl\n"
            "       sparq data check MANIFEST.jsonl [--out CLEAN.jsonl]\n"
            "       sparq data features MANIFEST.jsonl [--dither D] [--seed S] [--cmvn-out CMVN.json] [--limit N]\n"
            "       sparq data text --split SPLIT --out FILE [--text-sources LIST] [--text-root DIR]\n"
            "gen       speak voice-search queries and open-vocabulary sentences (fortunes, WordNet examples)\n"
            "          with espeak-ng, flite and festival; writes DIR/{train,dev,test-voices,test-text}.jsonl\n"
            "          (test.jsonl = test-voices), DIR/wav/ and DIR/corpus.json (defaults: 1 h train, 0.1 h\n"
            "          dev, 0.1 h each test split, seed 1, 2 workers, 50%% open text, 50%% of train augmented;\n"
            "          --text-sources default|none|fortunes,wordnet,fortune/NAME,wordnet/POS); refuses a\n"
            "          folder that already holds a corpus unless --force\n"
            "import    make a JSONL manifest from a Kaldi data dir (wav.scp + text) or a LibriSpeech tree;\n"
            "          bad audio is reported and skipped, other rates/channels are kept (converted on load)\n"
            "check     decode every file of a manifest; report bad entries; --out writes the good ones\n"
            "features  80-bin fbank of every utterance: frame count, min/max/mean/std, share of values at\n"
            "          the log floor; --cmvn-out writes global CMVN statistics (docs/data.md)\n"
            "text      the open-vocabulary sentences `gen` draws SPLIT's text from (train, dev, test-voices,\n"
            "          test-text), one per line: text-only data for `sparq lm build` (the train pool holds\n"
            "          no dev or test sentence)\n"
            "  -h, --help  this text\n");
}

static int cmd_gen(int argc, char **argv)
{
    static const struct option opts[] = {
        { "out", required_argument, NULL, 'o' },        { "hours", required_argument, NULL, 'H' },
        { "dev-hours", required_argument, NULL, 'd' },  { "test-hours", required_argument, NULL, 't' },
        { "seed", required_argument, NULL, 's' },       { "workers", required_argument, NULL, 'w' },
        { "augment", required_argument, NULL, 'a' },    { "quiet", no_argument, NULL, 'q' },
        { "force", no_argument, NULL, 'f' },            { "test-text-hours", required_argument, NULL, 'T' },
        { "open-fraction", required_argument, NULL, 'O' }, { "text-sources", required_argument, NULL, 'S' },
        { "text-root", required_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' },             { NULL, 0, NULL, 0 },
    };
    struct sparq_corpus_options o;
    sparq_corpus_default_options(&o);
    int c, bad = 0;
    int force = 0;
    while ((c = getopt_long(argc, argv, "o:H:d:t:s:w:a:qfhT:O:S:R:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out_dir = optarg; break;
        case 'H': bad = sparq_parse_double("--hours", optarg, 0, 100000, &o.train_hours); break;
        case 'd': bad = sparq_parse_double("--dev-hours", optarg, 0, 100000, &o.dev_hours); break;
        case 't': bad = sparq_parse_double("--test-hours", optarg, 0, 100000, &o.test_hours); break;
        case 's': bad = sparq_parse_u64("--seed", optarg, &o.seed); break;
        case 'w': bad = sparq_parse_int("--workers", optarg, 1, SPARQ_THREADS_MAX, &o.workers); break;
        case 'a': bad = sparq_parse_double("--augment", optarg, 0, 1, &o.augment_fraction); break;
        case 'T': bad = sparq_parse_double("--test-text-hours", optarg, -1, 100000, &o.test_text_hours); break;
        case 'O': bad = sparq_parse_double("--open-fraction", optarg, -1e300, 1e300, &o.open_fraction); break;
        case 'S': o.text_sources = optarg; continue;
        case 'R': o.text_root = optarg; continue;
        case 'q': o.progress = 0; continue;
        case 'f': force = 1; continue;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (bad) {
            fprintf(stderr, "sparq data gen: %s\n", sparq_last_error());
            return 2;
        }
    }
    if (!o.out_dir || optind != argc) {
        fprintf(stderr, "sparq data gen: --out DIR is required (and no other arguments)\n");
        return 2;
    }
    char existing[1024];
    snprintf(existing, sizeof existing, "%s/corpus.json", o.out_dir);
    if (!force && access(existing, F_OK) == 0) {
        fprintf(stderr, "sparq data gen: %s exists: a corpus is already there (use --force to overwrite it)\n",
                existing);
        return 1;
    }
    if (sparq_corpus_generate(&o)) {
        fprintf(stderr, "sparq data gen: %s\n", sparq_last_error());
        return 1;
    }
    printf("wrote %s/{train,dev,test-voices,test-text}.jsonl (test.jsonl = test-voices) and %s/corpus.json\n",
           o.out_dir, o.out_dir);
    return 0;
}

static void print_stats(const char *what, const struct sparq_import_stats *st)
{
    printf("%s: %zu utterances kept, %zu skipped, %zu to be converted to 16 kHz mono on load\n", what, st->imported,
           st->skipped, st->converted);
}

static int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {
        { "kaldi", required_argument, NULL, 'k' }, { "librispeech", required_argument, NULL, 'l' },
        { "out", required_argument, NULL, 'o' },   { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *kaldi = NULL, *libri = NULL, *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "k:l:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': kaldi = optarg; break;
        case 'l': libri = optarg; break;
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!out || !kaldi == !libri || optind != argc) {
        fprintf(stderr, "sparq data import: give exactly one of --kaldi DIR / --librispeech DIR, and --out FILE\n");
        return 2;
    }
    const struct sparq_path_arg imp_in[] = { { "--kaldi", kaldi }, { "--librispeech", libri } };
    const struct sparq_path_arg imp_out[] = { { "--out", out } };
    if (sparq_check_outputs(imp_in, 2, imp_out, 1)) {
        fprintf(stderr, "sparq data import: %s\n", sparq_last_error());
        return 2;
    }
    struct sparq_manifest m;
    struct sparq_import_stats st;
    int rc = kaldi ? sparq_import_kaldi(kaldi, &m, &st, stderr) : sparq_import_librispeech(libri, &m, &st, stderr);
    if (rc) {
        fprintf(stderr, "sparq data import: %s\n", sparq_last_error());
        return 1;
    }
    if (m.count == 0) {
        fprintf(stderr, "sparq data import: no usable utterances in %s (%zu skipped)\n", kaldi ? kaldi : libri,
                st.skipped);
        sparq_manifest_free(&m);
        return 1;
    }
    rc = sparq_manifest_write(&m, out);
    if (rc)
        fprintf(stderr, "sparq data import: %s\n", sparq_last_error());
    else {
        print_stats(out, &st);
        printf("%.3f hours of audio\n", sparq_manifest_hours(&m));
    }
    sparq_manifest_free(&m);
    return rc ? 1 : 0;
}

static int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        { "out", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "sparq data check: give one manifest\n");
        return 2;
    }
    const struct sparq_path_arg chk_in[] = { { "MANIFEST", argv[optind] } };
    const struct sparq_path_arg chk_out[] = { { "--out", out } };
    if (sparq_check_outputs(chk_in, 1, chk_out, 1)) {
        fprintf(stderr, "sparq data check: %s\n", sparq_last_error());
        return 2;
    }
    struct sparq_manifest m, keep;
    if (sparq_manifest_load(argv[optind], &m)) {
        fprintf(stderr, "sparq data check: %s\n", sparq_last_error());
        return 1;
    }
    struct sparq_import_stats st;
    int rc = sparq_manifest_check(&m, out ? &keep : NULL, &st, stderr);
    if (!rc && out) {
        // Keep the paths as the input manifest resolved them (absolute or
        // relative to the current folder).
        rc = sparq_manifest_write(&keep, out);
        sparq_manifest_free(&keep);
    }
    if (rc)
        fprintf(stderr, "sparq data check: %s\n", sparq_last_error());
    else
        print_stats(argv[optind], &st);
    sparq_manifest_free(&m);
    // Exit 1 if anything was bad, so scripts notice.
    return rc || st.skipped ? 1 : 0;
}

static int cmd_features(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dither", required_argument, NULL, 'd' }, { "seed", required_argument, NULL, 's' },
        { "cmvn-out", required_argument, NULL, 'c' }, { "limit", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
    };
    struct sparq_fbank_options fo;
    sparq_fbank_default_options(&fo);
    const char *cmvn_out = NULL;
    int64_t limit = -1;
    int c, bad_flag = 0;
    while ((c = getopt_long(argc, argv, "d:s:c:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': bad_flag = sparq_parse_float("--dither", optarg, 0, 32768, &fo.dither); break;
        case 's': bad_flag = sparq_parse_u64("--seed", optarg, &fo.seed); break;
        case 'c': cmvn_out = optarg; break;
        case 'n': bad_flag = sparq_parse_i64("--limit", optarg, 0, INT64_MAX, &limit); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (bad_flag) {
            fprintf(stderr, "sparq data features: %s\n", sparq_last_error());
            return 2;
        }
    }
    const struct sparq_path_arg ft_in[] = { { "MANIFEST", optind < argc ? argv[optind] : NULL } };
    const struct sparq_path_arg ft_out[] = { { "--cmvn-out", cmvn_out } };
    if (sparq_check_outputs(ft_in, 1, ft_out, 1)) {
        fprintf(stderr, "sparq data features: %s\n", sparq_last_error());
        return 2;
    }
    if (optind + 1 != argc || fo.dither < 0) {
        fprintf(stderr, "sparq data features: give one manifest (and dither >= 0)\n");
        return 2;
    }
    struct sparq_manifest m;
    if (sparq_manifest_load(argv[optind], &m)) {
        fprintf(stderr, "sparq data features: %s\n", sparq_last_error());
        return 1;
    }
    struct sparq_fbank_plan *plan;
    struct sparq_cmvn cmvn;
    if (sparq_fbank_plan_create(&plan, &fo) || sparq_cmvn_init(&cmvn, fo.num_mel_bins)) {
        fprintf(stderr, "sparq data features: %s\n", sparq_last_error());
        sparq_manifest_free(&m);
        return 1;
    }
    size_t n = limit >= 0 && (size_t)limit < m.count ? (size_t)limit : m.count;
    double lo = INFINITY, hi = -INFINITY, audio_s = 0;
    int64_t floor_count = 0;
    size_t bad = 0;
    const float floor_value = logf(FLT_EPSILON) + 1e-3f;
    double t0 = sparq_clock_s();
    for (size_t i = 0; i < n; i++) {
        float *x, *f;
        size_t count;
        int frames;
        if (sparq_audio_load(m.utts[i].audio_path, fo.sample_rate, &x, &count)) {
            fprintf(stderr, "skipped %s: %s\n", m.utts[i].id, sparq_last_error());
            bad++;
            continue;
        }
        audio_s += (double)count / fo.sample_rate;
        f = malloc((size_t)sparq_fbank_num_frames(count, &fo) * (size_t)fo.num_mel_bins * sizeof(float) + 1);
        // Each utterance gets its own dither seed, derived from the run seed.
        if (!f || sparq_fbank_plan_run(plan, x, count, fo.seed + i * 0x9E3779B97F4A7C15ull, f, &frames)) {
            fprintf(stderr, "sparq data features: %s: out of memory\n", m.utts[i].id);
            free(x);
            free(f);
            bad++;
            continue;
        }
        for (int k = 0; k < frames * fo.num_mel_bins; k++) {
            lo = fmin(lo, f[k]);
            hi = fmax(hi, f[k]);
            floor_count += f[k] <= floor_value;
        }
        sparq_cmvn_accumulate(&cmvn, f, frames);
        free(x);
        free(f);
    }
    double secs = sparq_clock_s() - t0;
    int rc = 0;
    if (sparq_cmvn_finalize(&cmvn)) {
        fprintf(stderr, "sparq data features: %s: no frames\n", argv[optind]);
        rc = 1;
    } else {
        double mean = 0, var = 0, sd_min = INFINITY, sd_max = 0;
        for (int d = 0; d < cmvn.dim; d++) {
            double md = cmvn.sum[d] / (double)cmvn.frames;
            double vd = cmvn.sumsq[d] / (double)cmvn.frames - md * md;
            mean += md;
            var += vd + md * md;
            sd_min = fmin(sd_min, sqrt(vd));
            sd_max = fmax(sd_max, sqrt(vd));
        }
        mean /= cmvn.dim;
        var = var / cmvn.dim - mean * mean;
        int64_t values = cmvn.frames * cmvn.dim;
        printf("manifest       %s (%zu utterances, %zu skipped)\n", argv[optind], n - bad, bad);
        printf("dither         %g\n", (double)fo.dither);
        printf("frames         %lld (%.3f h audio)\n", (long long)cmvn.frames, audio_s / 3600);
        printf("min / max      %.3f / %.3f\n", lo, hi);
        printf("mean / std     %.3f / %.3f (all bins pooled)\n", mean, sqrt(var));
        printf("per-bin std    %.3f .. %.3f\n", sd_min, sd_max);
        printf("at log floor   %.3f%% of values (log(FLT_EPSILON) = %.3f)\n", 100.0 * (double)floor_count / (double)values,
               (double)logf(FLT_EPSILON));
        printf("speed          %.0fx real time (%.2f s, one thread, including decoding)\n", audio_s / fmax(secs, 1e-9), secs);
        if (cmvn_out) {
            if (sparq_cmvn_save(&cmvn, cmvn_out)) {
                fprintf(stderr, "sparq data features: %s\n", sparq_last_error());
                rc = 1;
            } else
                printf("cmvn           %s\n", cmvn_out);
        }
    }
    sparq_cmvn_free(&cmvn);
    sparq_fbank_plan_free(plan);
    sparq_manifest_free(&m);
    return rc;
}

static int cmd_text(int argc, char **argv)
{
    static const struct option opts[] = {
        { "split", required_argument, NULL, 's' },        { "out", required_argument, NULL, 'o' },
        { "text-sources", required_argument, NULL, 'S' }, { "text-root", required_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' },               { NULL, 0, NULL, 0 },
    };
    const char *split = NULL, *out = NULL, *sources = NULL, *root = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "s:o:S:R:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': split = optarg; break;
        case 'o': out = optarg; break;
        case 'S': sources = optarg; break;
        case 'R': root = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || !split || !out) {
        fprintf(stderr, "sparq data text: --split and --out are required (see --help)\n");
        return 2;
    }
    char *text = NULL;
    size_t len = 0, n = 0;
    int rc = sparq_corpus_text_pool(split, root, sources, &text, &len, &n);
    rc = rc ? rc : sparq_write_file_atomic(out, text, len);
    free(text);
    if (rc) {
        fprintf(stderr, "sparq data text: %s\n", sparq_last_error());
        return rc == SPARQ_EINVAL ? 2 : 1;
    }
    printf("%s: %zu sentences of the %s pool\n", out, n, split);
    return 0;
}

int cmd_data(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        usage(stdout);
        return 0;
    }
    // getopt_long starts again at argv[1] = the subcommand name.
    optind = 1;
    if (!strcmp(sub, "gen"))
        return cmd_gen(argc - 1, argv + 1);
    if (!strcmp(sub, "import"))
        return cmd_import(argc - 1, argv + 1);
    if (!strcmp(sub, "check"))
        return cmd_check(argc - 1, argv + 1);
    if (!strcmp(sub, "features"))
        return cmd_features(argc - 1, argv + 1);
    if (!strcmp(sub, "text"))
        return cmd_text(argc - 1, argv + 1);
    fprintf(stderr, "sparq data: unknown subcommand '%s' (gen, import, check, features, text)\n", sub);
    return 2;
}
