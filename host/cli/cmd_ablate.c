// sparq-command: ablate: the paper's compression grid: fine-tune, export, test WER and exact size per setting
//
// For each setting, in one process and one after the other: fine-tune the
// float base model with simulated compression (sparq_finetune_run), export,
// transcribe the test split with the integer runtime (cpu backend) and score
// it; post-training settings export the base model directly; mixed@B first
// runs the budgeted search on dev. Each finished setting is appended to
// OUT/rows.json (atomically), so --resume after Ctrl-C skips what is done.
// At the end: a table on stdout, OUT/ablate.json, OUT/ablate.png (gnuplot)
// and the table between the ablate markers of docs/results.md.
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ablate.h"
#include "sparq_clock.h"
#include "sparq_compress.h"
#include "sparq_dist.h"
#include "sparq_error.h"
#include "sparq_file.h"
#include "sparq_parse.h"
#include "sparq_paths.h"
#include "sparq_search.h"
#include "sparq_train.h"

static void fmt_secs(char *buf, size_t size, double s)
{
    long v = (long)(s + 0.5);
    if (v >= 3600)
        snprintf(buf, size, "%ldh%02ldm", v / 3600, v / 60 % 60);
    else if (v >= 60)
        snprintf(buf, size, "%ldm%02lds", v / 60, v % 60);
    else
        snprintf(buf, size, "%lds", v);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sparq ablate [options]\n"
            "The paper's compression grid (docs/compression.md): for each setting, fine-tune the float\n"
            "base model with simulated compression, export it, transcribe the test split (held-out\n"
            "voices) with the integer runtime (cpu backend), and report test WER, relative WER change\n"
            "against the float control (fine-tuned the same way), exact size as %% of fp32 (the exported\n"
            "file's bytes) and fine-tuning time. Settings, in order: base (the untouched model), float,\n"
            "int8, int4, int2, int2/full, float-2:4, float-1:4, int4-2:4, int2-2:4, int4-1:4, mixed@B per\n"
            "budget (search on dev, then fine-tune), ptq-int4, ptq-int4-2:4 (post-training, no fine-tuning).\n"
            "Writes OUT/ablate.json, OUT/ablate.png and the table between the markers\n"
            "'" MARK_BEGIN "' and '" MARK_END "' of the results file. Ctrl-C stops\n"
            "(saving the running fine-tune); --resume continues.\n"
            "  --from MODEL         float base model (models/base.sparq)\n"
            "  --corpus DIR         train.jsonl, dev.jsonl, test.jsonl (build/base-corpus)\n"
            "  --steps N            fine-tuning steps per setting (160)\n"
            "  --lr X (2e-4)  --warmup N (10)  --batch-frames N (12000)  --epochs N (100: the cosine\n"
            "                       decay spans this many epochs, so over --steps the rate stays near --lr)\n"
            "  --distill W          distillation weight for every fine-tune, float control included (0)\n"
            "  --keep SPEC          rules appended to every compressed setting (sub1_w=int8; \"\" for none)\n"
            "  --settings LIST      run only these (names above; 'mixed' = every budget; any spec, or\n"
            "                       ptq-SPEC, is accepted); base always runs\n"
            "  --budgets LIST       mixed-precision budgets, %% of fp32 (9.4,6.25)\n"
            "  --search-utts N      dev utterances the search measures its losses on (0: sparq search's default)\n"
            "  --beam N             also decode each export by the CTC prefix beam search with N prefixes\n"
            "                       (default 1: greedy only)\n"
            "  --lm FILE            and with this word n-gram LM (ARPA, `sparq lm build`) fused into it\n"
            "                       (--beam defaults to 16 with an LM); --lm-weight A (0.5), --word-bonus B\n"
            "                       (1.0). Greedy, beam and beam + LM columns; changing them on --resume\n"
            "                       decodes the finished exports again, it does not fine-tune them again\n"
            "  --threads N          OpenMP threads\n"
            "  --out DIR            (build/ablate)\n"
            "  --results FILE       (docs/results.md)   --no-results  do not write it\n"
            "  --resume             skip settings already in OUT/rows.json; continue an interrupted fine-tune\n"
            "  --quiet              no progress lines of the searches\n"
            "  --verbose            also the trainer's per-step lines (their step total and ETA count the\n"
            "                       whole --epochs horizon, not --steps)\n");
}

static void shell_quote_append(char *buf, size_t size, const char *arg)
{
    size_t n = strlen(buf);
    int plain = *arg != 0;
    for (const char *p = arg; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%", *p))
            plain = 0;
    if (plain) {
        snprintf(buf + n, size - n, " %s", arg);
        return;
    }
    n += (size_t)snprintf(buf + n, n < size ? size - n : 0, " '");
    for (const char *p = arg; *p && n + 5 < size; p++) {
        if (*p == '\'')
            n += (size_t)snprintf(buf + n, size - n, "'\\''");
        else
            buf[n++] = *p, buf[n] = 0;
    }
    if (n + 1 < size)
        snprintf(buf + n, size - n, "'");
}

static int check_corpus_file(const char *corpus, const char *name)
{
    char path[4096];
    int rc = sparq_path_join(path, sizeof path, corpus, name);
    if (rc)
        return rc;
    if (sparq_file_exists(path))
        return SPARQ_OK;
    if (!strcmp(corpus, "build/base-corpus"))
        return sparq_fail(SPARQ_EIO,
                          "%s: no such file: create the corpus first (`make build/base-corpus/train.jsonl`, the "
                          "corpus step of `make base-model`, or `sparq data gen --out build/base-corpus`)",
                          path);
    return sparq_fail(SPARQ_EIO, "%s: no such file: create the corpus first (`sparq data gen --out %s`) or pass "
                                 "--corpus DIR with train.jsonl, dev.jsonl and test.jsonl", path, corpus);
}

// Options into *a (and its settings); -1 to go on, else the exit code
// (0 after --help, 2 for bad usage).
static int parse_options(struct ablate *a, int argc, char **argv)
{
    enum { O_FROM = 256, O_CORPUS, O_STEPS, O_LR, O_WARMUP, O_BATCH, O_EPOCHS, O_DISTILL, O_KEEP, O_SETTINGS,
           O_BUDGETS, O_THREADS, O_OUT, O_RESULTS, O_NORESULTS, O_RESUME, O_QUIET, O_VERBOSE, O_SEARCH_UTTS,
           O_BEAM, O_LM, O_LM_WEIGHT, O_WORD_BONUS };
    static const struct option opts[] = {
        { "from", required_argument, NULL, O_FROM },       { "corpus", required_argument, NULL, O_CORPUS },
        { "steps", required_argument, NULL, O_STEPS },     { "lr", required_argument, NULL, O_LR },
        { "warmup", required_argument, NULL, O_WARMUP },   { "batch-frames", required_argument, NULL, O_BATCH },
        { "epochs", required_argument, NULL, O_EPOCHS },   { "distill", required_argument, NULL, O_DISTILL },
        { "keep", required_argument, NULL, O_KEEP },       { "settings", required_argument, NULL, O_SETTINGS },
        { "budgets", required_argument, NULL, O_BUDGETS }, { "threads", required_argument, NULL, O_THREADS },
        { "out", required_argument, NULL, O_OUT },         { "results", required_argument, NULL, O_RESULTS },
        { "no-results", no_argument, NULL, O_NORESULTS },  { "resume", no_argument, NULL, O_RESUME },
        { "quiet", no_argument, NULL, O_QUIET },           { "verbose", no_argument, NULL, O_VERBOSE },
        { "search-utts", required_argument, NULL, O_SEARCH_UTTS }, { "beam", required_argument, NULL, O_BEAM },
        { "lm", required_argument, NULL, O_LM },           { "lm-weight", required_argument, NULL, O_LM_WEIGHT },
        { "word-bonus", required_argument, NULL, O_WORD_BONUS },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    a->from = "models/base.sparq";
    a->corpus = "build/base-corpus";
    a->out = "build/ablate";
    a->results = "docs/results.md";
    a->keep = "sub1_w=int8";
    a->steps = 160;
    a->epochs = 100;
    a->batch_frames = 12000;
    a->lr = 2e-4;
    a->warmup = 10;
    a->lm_weight = 0.5;
    a->word_bonus = 1.0;
    const char *settings = NULL, *budgets_text = "9.4,6.25";
    int c, bad = 0;
    while (!bad && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_FROM: a->from = optarg; break;
        case O_CORPUS: a->corpus = optarg; break;
        case O_STEPS: bad = sparq_parse_i64("--steps", optarg, 1, INT64_MAX, &a->steps); break;
        case O_LR: bad = sparq_parse_double("--lr", optarg, 1e-12, 10, &a->lr); break;
        case O_WARMUP: bad = sparq_parse_i64("--warmup", optarg, 0, INT64_MAX, &a->warmup); break;
        case O_BATCH: bad = sparq_parse_int("--batch-frames", optarg, 100, 100000000, &a->batch_frames); break;
        case O_EPOCHS: bad = sparq_parse_int("--epochs", optarg, 1, 1000000, &a->epochs); break;
        case O_DISTILL: bad = sparq_parse_double("--distill", optarg, 0, 1e6, &a->distill); break;
        case O_KEEP: a->keep = optarg; break;
        case O_SETTINGS: settings = optarg; break;
        case O_BUDGETS: budgets_text = optarg; break;
        case O_THREADS: bad = sparq_parse_int("--threads", optarg, 0, SPARQ_THREADS_MAX, &a->threads); break;
        case O_OUT: a->out = optarg; break;
        case O_RESULTS: a->results = optarg; break;
        case O_NORESULTS: a->results = NULL; break;
        case O_RESUME: a->resume = 1; break;
        case O_QUIET: a->quiet = 1; break;
        case O_VERBOSE: a->verbose = 1; break;
        case O_SEARCH_UTTS: bad = sparq_parse_int("--search-utts", optarg, 0, INT32_MAX, &a->search_utts); break;
        case O_BEAM: bad = sparq_parse_int("--beam", optarg, 1, 1024, &a->beam); break;
        case O_LM: a->lm_path = optarg; break;
        case O_LM_WEIGHT: bad = sparq_parse_double("--lm-weight", optarg, 0, 100, &a->lm_weight); break;
        case O_WORD_BONUS: bad = sparq_parse_double("--word-bonus", optarg, -100, 100, &a->word_bonus); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    const struct sparq_path_arg ins[] = { { "--from", a->from }, { "--lm", a->lm_path } };
    const struct sparq_path_arg outs[] = { { "--results", a->results } };
    if (bad || sparq_check_outputs(ins, 2, outs, 1)) {
        fprintf(stderr, "sparq ablate: %s\n", sparq_last_error());
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "sparq ablate: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (a->lm_path && a->beam == 1) {
        fprintf(stderr, "sparq ablate: --lm needs the beam search: --beam >= 2 (default 16 with an LM)\n");
        return 2;
    }
    if (a->lm_path && !a->beam)
        a->beam = 16;
    if (a->beam > 1 && a->lm_path)
        snprintf(a->dec_key, sizeof a->dec_key, "beam=%d lm=%s lm_weight=%g word_bonus=%g", a->beam, a->lm_path,
                 a->lm_weight, a->word_bonus);
    else if (a->beam > 1)
        snprintf(a->dec_key, sizeof a->dec_key, "beam=%d", a->beam);
    double budgets[16];
    int n_budgets;
    struct sparq_compress_spec keep_spec;
    if (ablate_parse_budgets(budgets_text, budgets, &n_budgets) || ablate_make_settings(a, settings, budgets, n_budgets)) {
        fprintf(stderr, "sparq ablate: %s\n", sparq_last_error());
        return 2;
    }
    if (a->keep[0] && sparq_compress_spec_parse(&keep_spec, a->keep)) {
        fprintf(stderr, "sparq ablate: --keep '%s': %s\n", a->keep, sparq_last_error());
        return 2;
    }
    snprintf(a->command, sizeof a->command, "sparq ablate");
    for (int i = 1; i < argc; i++)
        shell_quote_append(a->command, sizeof a->command, argv[i]);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(a->date, sizeof a->date, "%Y-%m-%d %H:%M UTC", &tm);
    snprintf(a->fingerprint, sizeof a->fingerprint,
             "from=%s corpus=%s steps=%lld lr=%g warmup=%lld batch_frames=%d epochs=%d distill=%g keep=%s "
             "search_utts=%d",
             a->from, a->corpus, (long long)a->steps, a->lr, (long long)a->warmup, a->batch_frames, a->epochs, a->distill,
             a->keep, a->search_utts);
    return -1;
}

// Checks the corpus, the model and OUT, loads rows.json (--resume) and the
// test split.
static int prepare(struct ablate *a)
{
    // Everything a late setting needs is checked before the first one starts.
    int need_dev = 0;
    for (int i = 0; i < a->n_settings; i++)
        need_dev |= a->settings[i].kind == K_MIXED;
    int rc = check_corpus_file(a->corpus, "train.jsonl");
    if (!rc)
        rc = check_corpus_file(a->corpus, "test.jsonl");
    if (!rc && need_dev)
        rc = check_corpus_file(a->corpus, "dev.jsonl");
    if (!rc && !sparq_file_exists(a->from))
        rc = sparq_fail(SPARQ_EIO, "%s: no such model file (--from; `make base-model` trains one)", a->from);
    if (!rc)
        rc = sparq_mkdir_p(a->out);
    if (!rc && a->resume)
        rc = ablate_load_rows(a);
    if (!rc && a->lm_path)
        rc = sparq_lm_read(&a->lm, a->lm_path);
    if (rc)
        return rc;
    if (a->threads > 0)
        omp_set_num_threads(a->threads);
    sparq_threads_init();
    char test_path[4096];
    snprintf(test_path, sizeof test_path, "%s/test.jsonl", a->corpus);
    if ((rc = sparq_dataset_load(&a->test, test_path, 0)))
        return rc;
    a->stop = sparq_train_stop_on_signals();
    a->t_start = sparq_clock_s();
    return SPARQ_OK;
}

// Rows an earlier run finished, decoded again when this run's --beam / --lm
// differ from theirs (each saved at once). Returns 0 or 1 on an error.
static int redecode_reused(struct ablate *a)
{
    if (!a->dec_key[0])
        return 0;
    for (int i = 0; i < a->n_settings && !*a->stop; i++) {
        int j = ablate_row_index(a, a->settings[i].name);
        if (j < 0 || !strcmp(a->rows[j].dec_key, a->dec_key))
            continue;
        struct row *r = &a->rows[j];
        double t0 = sparq_clock_s();
        if (ablate_decode_row(a, &a->settings[i], r) || ablate_save_rows(a)) {
            fprintf(stderr, "sparq ablate: %s: %s\n", r->name, sparq_last_error());
            return 1;
        }
        a->redecoded++;
        fprintf(stderr, "ablate [%d/%d] %s: decoded again (%s): beam WER %.2f%%", i + 1, a->n_settings, r->name,
                a->dec_key, 100 * r->wer_beam);
        if (r->wer_lm >= 0)
            fprintf(stderr, ", beam + LM %.2f%%", 100 * r->wer_lm);
        fprintf(stderr, " (%.0f s)\n", sparq_clock_s() - t0);
    }
    return 0;
}

// Runs every selected setting not yet in rows.json, saving each row at once.
// Returns 0, 1 on an error or 130 when stopped by a signal.
static int run_all(struct ablate *a)
{
    int rc;
    // Rows reused from rows.json: only the selected settings' (the others are
    // kept in rows.json for a later run that selects them).
    int remaining_tune = 0, remaining_other = 0, reused = 0;
    for (int i = 0; i < a->n_settings; i++) {
        if (ablate_find_row(a, a->settings[i].name)) {
            reused++;
            continue;
        }
        int tunes = a->settings[i].kind == K_FINETUNE || a->settings[i].kind == K_MIXED;
        remaining_tune += tunes;
        remaining_other += !tunes;
    }
    a->reused = reused;
    if (a->resume)
        fprintf(stderr, "ablate: %d of %d settings already done in %s/rows.json (--resume)\n", reused, a->n_settings,
                a->out);
    int done_tune = 0, done_other = 0, exit_code = redecode_reused(a);
    double tune_time = 0, other_time = 0;
    for (int i = 0; i < a->n_settings && !exit_code; i++) {
        const struct setting *s = &a->settings[i];
        if (ablate_find_row(a, s->name))
            continue;
        int tunes = s->kind == K_FINETUNE || s->kind == K_MIXED;
        fprintf(stderr, "ablate [%d/%d] %s: %s\n", i + 1, a->n_settings, s->name,
                s->kind == K_MIXED ? "mixed-precision search on dev, then fine-tuning"
                : tunes           ? "fine-tuning"
                                  : "export without fine-tuning");
        double t0 = sparq_clock_s();
        struct row r;
        rc = ablate_run_setting(a, s, &r);
        if (rc == 1) {
            fprintf(stderr, "ablate: stopped during %s; rerun with --resume to continue\n", s->name);
            free(r.spec);
            exit_code = 130;
            break;
        }
        if (rc) {
            fprintf(stderr, "sparq ablate: %s: %s\n", s->name, sparq_last_error());
            free(r.spec);
            exit_code = 1;
            break;
        }
        double took = sparq_clock_s() - t0;
        if (tunes) {
            tune_time += took;
            done_tune++;
            remaining_tune--;
        } else {
            other_time += took;
            done_other++;
            remaining_other--;
        }
        // Saved at once: a finished setting is never computed twice.
        a->rows[a->n_rows++] = r;
        if ((rc = ablate_save_rows(a))) {
            fprintf(stderr, "sparq ablate: %s\n", sparq_last_error());
            exit_code = 1;
            break;
        }
        char el[32], eta[96];
        fmt_secs(el, sizeof el, sparq_clock_s() - a->t_start);
        if (remaining_tune && !done_tune) {
            snprintf(eta, sizeof eta, "ETA after the first fine-tune");
        } else if (!remaining_tune && !remaining_other) {
            snprintf(eta, sizeof eta, "last setting");
        } else {
            char l[32], per[32];
            double mean = done_tune ? tune_time / done_tune : 0;
            fmt_secs(l, sizeof l, mean * remaining_tune + (done_other ? other_time / done_other * remaining_other : 0));
            fmt_secs(per, sizeof per, mean);
            snprintf(eta, sizeof eta, "ETA %s (%d fine-tunes left at %s each)", l, remaining_tune, per);
        }
        char beams[96] = "";
        if (r.wer_lm >= 0)
            snprintf(beams, sizeof beams, " (beam %.2f%%, beam + LM %.2f%%)", 100 * r.wer_beam, 100 * r.wer_lm);
        else if (r.wer_beam >= 0)
            snprintf(beams, sizeof beams, " (beam %.2f%%)", 100 * r.wer_beam);
        fprintf(stderr, "ablate [%d/%d] %s: test WER %.2f%%%s, %.2f%% of fp32, %lld steps, %.0f s; elapsed %s, %s\n",
                i + 1, a->n_settings, s->name, 100 * r.wer, beams, ablate_row_pct(&r), (long long)r.steps, took, el,
                eta);
        if (*a->stop) {
            fprintf(stderr, "ablate: stopped after %s; rerun with --resume to continue\n", s->name);
            exit_code = 130;
        }
    }
    return exit_code;
}

// The report shows the selected settings, in their order.
static int report_selected(const struct ablate *a)
{
    struct row *sel = calloc(MAX_ROWS, sizeof *sel);
    int n = 0;
    for (int i = 0; sel && i < a->n_settings; i++)
        for (int j = 0; j < a->n_rows; j++)
            if (!strcmp(a->rows[j].name, a->settings[i].name))
                sel[n++] = a->rows[j];
    struct ablate *view = sel ? malloc(sizeof *view) : NULL;
    if (!view) {
        fprintf(stderr, "sparq ablate: out of memory\n");
        free(sel);
        return 1;
    }
    *view = *a;
    memcpy(view->rows, sel, sizeof(struct row) * (size_t)n);
    view->n_rows = n;
    int exit_code = ablate_report(view);
    free(view);
    free(sel);
    return exit_code;
}

int cmd_ablate(int argc, char **argv)
{
    if (sparq_dist_require_single("ablate")) // every rank would write the same files
        return 2;
    static struct ablate a; // large: rows and datasets
    memset(&a, 0, sizeof a);
    int exit_code = parse_options(&a, argc, argv);
    if (exit_code >= 0)
        return exit_code;
    if (prepare(&a)) {
        fprintf(stderr, "sparq ablate: %s\n", sparq_last_error());
        return 1;
    }
    exit_code = run_all(&a);
    if (!exit_code)
        exit_code = report_selected(&a);
    for (int j = 0; j < a.n_rows; j++)
        free(a.rows[j].spec);
    sparq_dataset_free(&a.test);
    sparq_lm_free(a.lm);
    if (a.have_dev)
        sparq_dataset_free(&a.dev);
    return exit_code;
}
