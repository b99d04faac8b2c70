// `sparq ablate`: one setting - search, fine-tune, export, test WER - with
// stamps so --resume continues only what the same options started.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ablate.h"
#include "sparq_clock.h"
#include "sparq_decode.h"
#include "sparq_error.h"
#include "sparq_file.h"
#include "sparq_finetune.h"
#include "sparq_runtime.h"
#include "sparq_search.h"
#include "sparq_wer.h"

// Lines in train_log.tsv = optimizer steps done (the trainer truncates it on resume).
static int64_t count_steps(const char *dir)
{
    char path[4096];
    if (sparq_path_join(path, sizeof path, dir, "train_log.tsv"))
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int64_t n = 0;
    int c, last = '\n';
    while ((c = fgetc(f)) != EOF) {
        if (c == '\n')
            n++;
        last = c;
    }
    if (last != '\n')
        n++;
    fclose(f);
    return n;
}

// Decodes the test split through rt's model (dec NULL: greedy) and scores it.
static int decode_score(struct ablate *a, struct sparq_runtime *rt, const struct sparq_ctc_beam_options *dec,
                        struct sparq_score *sc)
{
    char **hyps = calloc(a->test.n, sizeof(char *));
    if (!hyps)
        return sparq_fail(SPARQ_ENOMEM, "out of memory");
    sparq_runtime_activate(rt);
    int rc = sparq_decode_dataset_dist_ex(sparq_runtime_model(rt), &a->test, DECODE_FRAMES, dec, hyps);
    sparq_runtime_deactivate(rt);
    if (rc == SPARQ_OK && sparq_runtime_error(rt))
        rc = sparq_fail(sparq_runtime_error(rt), "%s", sparq_last_error());
    memset(sc, 0, sizeof *sc);
    if (rc == SPARQ_OK)
        rc = sparq_score_pairs((const char *const *)a->test.ids, (const char *const *)a->test.texts,
                               (const char *const *)hyps, a->test.n, sc);
    for (size_t i = 0; i < a->test.n; i++)
        free(hyps[i]);
    free(hyps);
    return rc;
}

// The beam decodings (--beam, --lm) of an opened export: without the LM
// (no weight, no word bonus: a plain beam search) and with it.
static int decode_beams(struct ablate *a, struct sparq_runtime *rt, struct row *r)
{
    struct sparq_ctc_beam_options d;
    sparq_ctc_beam_options_default(&d);
    d.beam = a->beam;
    d.alpha = d.beta = 0.0;
    struct sparq_score sc;
    r->wer_beam = r->wer_lm = -1;
    int rc = decode_score(a, rt, &d, &sc);
    if (rc)
        return rc;
    r->wer_beam = sparq_error_rate(&sc.words);
    sparq_score_free(&sc);
    if (a->lm) {
        d.lm = a->lm;
        d.alpha = a->lm_weight;
        d.beta = a->word_bonus;
        if ((rc = decode_score(a, rt, &d, &sc)))
            return rc;
        r->wer_lm = sparq_error_rate(&sc.words);
        sparq_score_free(&sc);
    }
    snprintf(r->dec_key, sizeof r->dec_key, "%s", a->dec_key);
    return SPARQ_OK;
}

// Formats of the matmuls that ran, with counts, in order of first use.
static void note_formats(struct sparq_runtime *rt, struct row *r)
{
    int count;
    const struct sparq_runtime_layer_stats *st = sparq_runtime_stats(rt, &count);
    char names[16][24];
    int counts[16], k = 0;
    for (int i = 0; i < count; i++) {
        int j = 0;
        while (j < k && strcmp(names[j], st[i].format))
            j++;
        if (j == k && k < 16) {
            snprintf(names[k], sizeof names[k], "%s", st[i].format);
            counts[k++] = 0;
        }
        if (j < k)
            counts[j]++;
    }
    size_t n = 0;
    r->formats[0] = 0;
    for (int j = 0; j < k && n < sizeof r->formats; j++)
        n += (size_t)snprintf(r->formats + n, sizeof r->formats - n, "%s%s x%d", j ? ", " : "", names[j], counts[j]);
}

// Runs the packed model on the cpu backend over the test split and scores
// it: greedy, then the beam decodings if asked for.
static int evaluate(struct ablate *a, const char *model_path, struct row *r)
{
    double t0 = sparq_clock_s();
    struct sparq_runtime *rt;
    int rc = sparq_runtime_open(&rt, model_path, "cpu");
    if (rc)
        return rc;
    struct sparq_score sc;
    rc = decode_score(a, rt, NULL, &sc);
    if (rc == SPARQ_OK) {
        note_formats(rt, r);
        r->wer = sparq_error_rate(&sc.words);
        r->word_errors = sc.words.sub + sc.words.del + sc.words.ins;
        r->ref_words = sc.words.ref;
        sparq_score_free(&sc);
    }
    if (rc == SPARQ_OK && a->dec_key[0])
        rc = decode_beams(a, rt, r);
    if (rc)
        rc = sparq_fail(rc, "%s: %s", model_path, sparq_last_error());
    sparq_runtime_close(rt);
    r->eval_seconds = sparq_clock_s() - t0;
    return rc;
}

int ablate_decode_row(struct ablate *a, const struct setting *s, struct row *r)
{
    char dir[4096], model[4096];
    int rc = sparq_path_join(dir, sizeof dir, a->out, s->dir);
    if (!rc)
        rc = sparq_path_join(model, sizeof model, dir, "model.spq");
    if (rc)
        return rc;
    if (!sparq_file_exists(model))
        return sparq_fail(SPARQ_EIO, "%s: no such file: the export of a finished setting is needed to decode it "
                                     "with --beam/--lm", model);
    struct sparq_runtime *rt;
    if ((rc = sparq_runtime_open(&rt, model, "cpu")))
        return rc;
    if ((rc = decode_beams(a, rt, r)))
        rc = sparq_fail(rc, "%s: %s", model, sparq_last_error());
    sparq_runtime_close(rt);
    return rc;
}

static int write_text_file(const char *path, const char *text)
{
    return sparq_write_file_atomic(path, text, strlen(text));
}

// DIR/ablate.stamp: the options and spec a fine-tune in DIR was started
// with. --resume continues DIR/last.ckpt only when they match, so a
// checkpoint left by a run with other options is never continued.
static void stamp_line(const struct ablate *a, const struct setting *s, char *buf, size_t size)
{
    snprintf(buf, size, "%s setting=%s", a->fingerprint, s->name);
}

// Returns 1 (and the spec, malloc'd) if DIR holds a resumable fine-tune of
// this setting with these options, else 0.
static int resumable(const struct ablate *a, const struct setting *s, const char *dir, char **spec)
{
    char path[4096], line[2200];
    char *text;
    size_t len;
    int missing;
    *spec = NULL;
    if (!a->resume || sparq_path_join(path, sizeof path, dir, "last.ckpt") || !sparq_file_exists(path) ||
        sparq_path_join(path, sizeof path, dir, "ablate.stamp") || ablate_read_text(path, &text, &len, &missing) || missing)
        return 0;
    stamp_line(a, s, line, sizeof line);
    size_t n = strlen(line);
    if (len > n + 1 && !strncmp(text, line, n) && text[n] == '\n') {
        char *sp = text + n + 1;
        sp[strcspn(sp, "\n")] = 0;
        *spec = strdup(sp);
    }
    free(text);
    return *spec != NULL;
}

static int write_stamp(const struct ablate *a, const struct setting *s, const char *dir, const char *spec)
{
    char path[4096], line[2200];
    int rc = sparq_path_join(path, sizeof path, dir, "ablate.stamp");
    if (rc)
        return rc;
    stamp_line(a, s, line, sizeof line);
    size_t n = strlen(line) + strlen(spec) + 3;
    char *text = malloc(n);
    if (!text)
        return sparq_fail(SPARQ_ENOMEM, "out of memory");
    snprintf(text, n, "%s\n%s\n", line, spec);
    rc = sparq_write_file_atomic(path, text, strlen(text));
    free(text);
    return rc;
}

// The budgeted search for mixed@B on dev, from the base model; its table
// goes to DIR/search.json.
static int run_search(struct ablate *a, const struct setting *s, const char *dir, struct row *r, char **spec_out)
{
    char json_path[4096];
    int rc = sparq_path_join(json_path, sizeof json_path, dir, "search.json");
    if (rc)
        return rc;
    if (!a->have_dev) {
        char dev_path[4096];
        if ((rc = sparq_path_join(dev_path, sizeof dev_path, a->corpus, "dev.jsonl")) ||
            (rc = sparq_dataset_load(&a->dev, dev_path, 0)))
            return rc;
        a->have_dev = 1;
    }
    struct sparq_search_options so;
    sparq_search_default_options(&so);
    so.budget_percent = s->budget;
    if (a->search_utts > 0)
        so.max_utts = a->search_utts;
    so.progress = !a->quiet;
    so.fixed.count = 0;
    if (a->keep[0] && (rc = sparq_compress_spec_parse(&so.fixed, a->keep)))
        return sparq_fail(rc, "--keep: %s", sparq_last_error());
    struct sparq_model m;
    if ((rc = sparq_checkpoint_load(a->from, &m, NULL, NULL)))
        return rc;
    struct sparq_search_result res;
    memset(&res, 0, sizeof res);
    rc = sparq_search_run(&m, &a->dev, &so, &res);
    sparq_model_free(&m);
    if (rc)
        return rc;
    r->search_seconds = res.seconds;
    r->search_bytes = res.file_bytes;
    char *json = sparq_search_json(&res, &so);
    if (!a->quiet)
        sparq_search_print(&res, &so, stderr);
    rc = json ? write_text_file(json_path, json) : sparq_fail(SPARQ_ENOMEM, "out of memory");
    free(json);
    if (!rc && !(*spec_out = strdup(res.spec)))
        rc = sparq_fail(SPARQ_ENOMEM, "out of memory");
    sparq_search_result_free(&res);
    return rc;
}

// What an earlier search of this (resumed) mixed setting reported.
static void search_from_json(const char *dir, struct row *r)
{
    char path[4096], *text;
    size_t len;
    int missing;
    if (sparq_path_join(path, sizeof path, dir, "search.json") || ablate_read_text(path, &text, &len, &missing) || missing)
        return;
    cJSON *root = cJSON_Parse(text);
    double v;
    if (root && !ablate_json_num(root, "file_bytes", &v))
        r->search_bytes = (size_t)v;
    if (root && !ablate_json_num(root, "seconds", &v))
        r->search_seconds = v;
    cJSON_Delete(root);
    free(text);
}

// Returns SPARQ_OK, 1 if stopped by a signal (state saved), or an error.
int ablate_run_setting(struct ablate *a, const struct setting *s, struct row *r)
{
    memset(r, 0, sizeof *r);
    r->wer_beam = r->wer_lm = -1;
    snprintf(r->name, sizeof r->name, "%s", s->name);
    r->kind = s->kind;
    r->budget = s->budget;
    char dir[4096], model[4096];
    int rc;
    if ((rc = sparq_path_join(dir, sizeof dir, a->out, s->dir)) || (rc = sparq_mkdir_p(dir)))
        return rc;
    int tunes = s->kind == K_FINETUNE || s->kind == K_MIXED;
    if (tunes && resumable(a, s, dir, &r->spec)) {
        r->resumed = 1;
        if (s->kind == K_MIXED)
            search_from_json(dir, r);
    } else if (s->kind == K_MIXED) {
        // The search's spec holds the --keep rules too (they are its `fixed` layers).
        if ((rc = run_search(a, s, dir, r, &r->spec)))
            return rc;
        if (*a->stop)
            return 1;
    } else if (!(r->spec = ablate_full_spec(a, s->spec))) {
        return sparq_fail(SPARQ_ENOMEM, "out of memory");
    }
    struct sparq_compress_spec spec;
    if ((rc = sparq_compress_spec_parse(&spec, r->spec)))
        return sparq_fail(rc, "%s: spec '%s': %s", s->name, r->spec, sparq_last_error());
    if (s->kind == K_BASE || s->kind == K_PTQ) {
        struct sparq_model m;
        if ((rc = sparq_path_join(model, sizeof model, dir, "model.spq")) ||
            (rc = sparq_checkpoint_load(a->from, &m, NULL, NULL)))
            return rc;
        struct sparq_export_report rep;
        rc = sparq_export(&m, &spec, NULL, SPARQ_SCALE_MSE, model, &rep);
        sparq_model_free(&m);
        if (rc)
            return rc;
        r->file_bytes = rep.file_bytes;
        r->param_bytes = rep.param_bytes;
        r->fp32_bytes = rep.fp32_bytes;
        r->matmul_params = rep.matmul_params;
        r->matmul_bytes = rep.matmul_bytes;
    } else {
        char train[4096];
        if ((rc = sparq_path_join(train, sizeof train, a->corpus, "train.jsonl")) ||
            (!r->resumed && (rc = write_stamp(a, s, dir, r->spec))))
            return rc;
        struct sparq_train_options o;
        sparq_train_default_options(&o);
        o.init_from = a->from;
        o.train_manifest = train;
        o.out_dir = dir;
        o.epochs = a->epochs;
        o.max_steps = a->steps;
        o.lr = (float)a->lr;
        o.warmup = a->warmup;
        o.batch_frames = a->batch_frames;
        o.progress = a->verbose;
        o.stop = a->stop;
        o.resume = r->resumed;
        struct sparq_finetune_options fo;
        sparq_finetune_default_options(&fo);
        fo.spec = spec;
        fo.distill = (float)a->distill;
        struct sparq_finetune_result res;
        rc = sparq_finetune_run(&o, &fo, &res);
        if (rc == 1 && *a->stop)
            return 1;
        if (rc < 0)
            return rc;
        snprintf(model, sizeof model, "%s", res.model_path);
        r->file_bytes = res.export.file_bytes;
        r->param_bytes = res.export.param_bytes;
        r->fp32_bytes = res.export.fp32_bytes;
        r->matmul_params = res.export.matmul_params;
        r->matmul_bytes = res.export.matmul_bytes;
        r->ft_seconds = res.seconds;
        r->steps = count_steps(dir);
    }
    return evaluate(a, model, r);
}
