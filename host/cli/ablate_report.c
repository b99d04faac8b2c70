// `sparq ablate`: the report - table on stdout, OUT/ablate.json, the gnuplot
// figure and the table between the markers of the results file.
#include <omp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ablate.h"
#include "sparq_error.h"
#include "sparq_file.h"

extern char **environ;

// "61.73%" and "+0.0%" cells of a decoder's WER and its change against
// float ("-" where not measured).
static void wer_cells(const struct ablate *a, const struct row *r, int decoder, char *w, char *rel, size_t size)
{
    int ok;
    double x = ablate_row_rel_by(a, r, decoder, &ok), v = ablate_row_wer(r, decoder);
    if (v >= 0)
        snprintf(w, size, "%.2f%%", 100 * v);
    else
        snprintf(w, size, "-");
    if (ok)
        snprintf(rel, size, "%+.1f%%", 100 * x);
    else
        snprintf(rel, size, "-");
}

// Decoders with numbers in some row: 1 greedy only, 2 + beam, 3 + beam + LM.
static int n_decoders(const struct ablate *a)
{
    int n = 1;
    for (int i = 0; i < a->n_rows; i++) {
        if (a->rows[i].wer_beam >= 0 && n < 2)
            n = 2;
        if (a->rows[i].wer_lm >= 0)
            n = 3;
    }
    return n;
}

static void print_table(const struct ablate *a, FILE *out)
{
    int nd = n_decoders(a);
    static const char *const head[3][2] = { { "test WER", "vs float" }, { "beam WER", "vs float" },
                                            { "+LM WER", "vs float" } };
    fprintf(out, "\n%-14s %-9s %6s", "setting", "kind", "steps");
    for (int d = 0; d < nd; d++)
        fprintf(out, " %9s %10s", head[d][0], "rel. WER");
    fprintf(out, " %11s %9s %8s  %s\n", "size %fp32", "matmul %", "time s", "spec");
    fprintf(out, "%-14s %-9s %6s", "", "", "");
    for (int d = 0; d < nd; d++)
        fprintf(out, " %9s %10s", "", head[d][1]);
    fprintf(out, " %11s %9s %8s\n", "(file B)", "", "(tune)");
    for (int i = 0; i < a->n_rows; i++) {
        const struct row *r = &a->rows[i];
        char tb[32] = "-";
        if (r->kind == K_FINETUNE || r->kind == K_MIXED)
            snprintf(tb, sizeof tb, "%.0f%s", r->ft_seconds, r->resumed ? "*" : "");
        fprintf(out, "%-14s %-9s %6lld", r->name, KIND_NAME[r->kind], (long long)r->steps);
        for (int d = 0; d < nd; d++) {
            char w[32], rel[32];
            wer_cells(a, r, d, w, rel, sizeof w);
            fprintf(out, " %9s %10s", w, rel);
        }
        fprintf(out, " %11.2f %9.2f %8s  %s%s\n", ablate_row_pct(r), ablate_row_matmul_pct(r), tb,
                strlen(r->spec) <= 40 ? r->spec : "per layer: ", strlen(r->spec) <= 40 ? "" : r->formats);
    }
}

// Markdown cell for a spec: long (searched) specs are summarised by their formats.
static void md_spec(const struct row *r, char *buf, size_t size)
{
    if (strlen(r->spec) <= 40)
        snprintf(buf, size, "`%s`", r->spec);
    else
        snprintf(buf, size, "per layer: %s", r->formats);
}

struct goal {
    const char *text;
    int state; // 1 met, 0 not met, -1 not measured
    char detail[512];
};

static void eval_goals(const struct ablate *a, struct goal g[3])
{
    int ok;
    const struct row *f = ablate_find_row(a, "float");
    g[0].text = "int4-2:4 at <= 9.4% of fp32 with <= 5% relative WER regression";
    const struct row *r = ablate_find_row(a, "int4-2:4");
    if (!r || !f) {
        g[0].state = -1;
        snprintf(g[0].detail, sizeof g[0].detail, "not measured (needs the float and int4-2:4 settings)");
    } else {
        double rel = ablate_row_rel(a, r, &ok);
        g[0].state = ok && ablate_row_pct(r) <= 9.4 && rel <= 0.05;
        snprintf(g[0].detail, sizeof g[0].detail, "%s: int4-2:4 is %.2f%% of fp32 (%s 9.4%%), %+.1f%% relative WER (%s 5%%)",
                 g[0].state ? "met" : "not met", ablate_row_pct(r), ablate_row_pct(r) <= 9.4 ? "<=" : ">", 100 * rel,
                 rel <= 0.05 ? "<=" : ">");
    }
    g[1].text = "a setting at <= 6.25% of fp32 with <= 10% relative WER regression";
    if (!f) {
        g[1].state = -1;
        snprintf(g[1].detail, sizeof g[1].detail, "not measured (needs the float setting)");
    } else {
        // Every row at or under 6.25%, best first is not needed: list them all.
        size_t n = 0;
        int found = 0, any = 0;
        char list[400] = "";
        for (int i = 0; i < a->n_rows; i++) {
            const struct row *x = &a->rows[i];
            if (ablate_row_pct(x) > 6.25)
                continue;
            double rel = ablate_row_rel(a, x, &ok);
            any = 1;
            found |= rel <= 0.10;
            if (n < sizeof list)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s %.2f%% of fp32, %+.1f%%", n ? "; " : "",
                                      x->name, ablate_row_pct(x), 100 * rel);
        }
        g[1].state = found;
        if (!any)
            snprintf(g[1].detail, sizeof g[1].detail, "not met: no setting of this run is at or below 6.25%% of fp32");
        else
            snprintf(g[1].detail, sizeof g[1].detail, "%s: %s", found ? "met" : "not met", list);
    }
    g[2].text = "post-training compression (no fine-tuning) of int4 and int4-2:4, to show what fine-tuning buys";
    const struct row *p4 = ablate_find_row(a, "ptq-int4"), *p42 = ablate_find_row(a, "ptq-int4-2:4");
    const struct row *t4 = ablate_find_row(a, "int4"), *t42 = ablate_find_row(a, "int4-2:4");
    if (!f || (!p4 && !p42)) {
        g[2].state = -1;
        snprintf(g[2].detail, sizeof g[2].detail, "not measured (needs float and ptq-int4 or ptq-int4-2:4)");
    } else {
        size_t n = 0;
        const struct row *pairs[2][2] = { { p4, t4 }, { p42, t42 } };
        const char *names[2] = { "int4", "int4-2:4" };
        for (int k = 0; k < 2; k++) {
            if (!pairs[k][0])
                continue;
            double pr = ablate_row_rel(a, pairs[k][0], &ok);
            n += (size_t)snprintf(g[2].detail + n, sizeof g[2].detail - n, "%s%s %+.1f%% post-training", n ? "; " : "",
                                  names[k], 100 * pr);
            if (pairs[k][1])
                n += (size_t)snprintf(g[2].detail + n, sizeof g[2].detail - n, ", %+.1f%% fine-tuned",
                                      100 * ablate_row_rel(a, pairs[k][1], &ok));
        }
        g[2].state = 1;
    }
}

// Appends printf output to a growing buffer.
struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
};
__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)k;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

// Appends paragraph p (one line ending in \n) to b wrapped at 100 columns,
// continuation lines indented by `indent`, then an empty line; empties p.
static void sb_wrap(struct sbuf *b, struct sbuf *p, int indent)
{
    const char *s = p->p ? p->p : "";
    size_t len = strlen(s);
    while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
        len--;
    size_t i = 0;
    while (i < len) {
        size_t w = 100 - (size_t)(i ? indent : 0), end = i + w < len ? i + w : len, cut = end;
        if (end < len) {
            while (cut > i && s[cut] != ' ')
                cut--;
            if (cut == i) // one word longer than a line
                for (cut = end; cut < len && s[cut] != ' '; cut++)
                    ;
        }
        sb_printf(b, "%*s%.*s\n", i ? indent : 0, "", (int)(cut - i), s + i);
        i = cut;
        while (i < len && s[i] == ' ')
            i++;
    }
    sb_printf(b, "\n");
    p->n = 0;
    if (p->p)
        p->p[0] = 0;
}

// The text between the markers: command, date, what was run, table, goals.
static void markdown(const struct ablate *a, struct sbuf *b)
{
    char distill[64] = "";
    if (a->distill > 0)
        snprintf(distill, sizeof distill, ", distillation weight %g", a->distill);
    struct sbuf p = { 0 };
    sb_printf(&p, "Generated by `%s` on %s.", a->command, a->date);
    if (a->reused)
        sb_printf(&p, " %d of the %d rows were computed by an earlier run with the same options (`--resume`).",
                  a->reused, a->n_rows);
    if (a->redecoded)
        sb_printf(&p, " This run decoded the exports of %d of them again with its beam search options.", a->redecoded);
    sb_printf(&p, "\n");
    sb_wrap(b, &p, 0);
    // The beam decodings, as the first row that has them ran them.
    char decs[800] = "";
    for (int i = 0; i < a->n_rows && !decs[0]; i++)
        if (a->rows[i].dec_key[0])
            snprintf(decs, sizeof decs,
                     "; each export is also decoded by the CTC prefix beam search, lexicon-free, without and (if an "
                     "LM is named) with a word n-gram LM fused into it: `%s`",
                     a->rows[i].dec_key);
    sb_printf(&p,
              "Each fine-tuned setting starts from `%s` and is fine-tuned for %lld steps (lr %g, %lld warm-up steps, "
              "batch %d frames, cosine horizon %d epochs%s) on `%s/train.jsonl` with simulated compression, "
              "exported, and the %zu test utterances (held-out voices, %.1f min) are transcribed with the integer "
              "runtime (cpu backend, greedy%s). ",
              a->from, (long long)a->steps, a->lr, (long long)a->warmup, a->batch_frames, a->epochs, distill,
              a->corpus, a->test.n, a->test.seconds / 60, decs);
    if (a->keep[0])
        sb_printf(&p, "Compressed settings keep `%s`. ", a->keep);
    sb_printf(&p,
              "Relative WER is against `float`, the base model fine-tuned the same way without compression; "
              "`base` is the untouched base model. `ptq-*` settings are exported from the base model without "
              "fine-tuning (magnitude masks, MSE scales); `mixed@B` is the budgeted mixed-precision search on dev "
              "(whole file at most B%% of fp32), then fine-tuned like the others. Size is the exported file's bytes "
              "(packed values, positions, scales, the float parameters and the file's headers) over the fp32 "
              "parameter bytes; matmul %% is the packed matmul weights alone over their fp32 bytes. Time is the "
              "fine-tuning wall time (training and export) with %d OpenMP threads on a machine shared with other "
              "jobs.\n",
              omp_get_max_threads());
    sb_wrap(b, &p, 0);
    static const char *const head[3] = { "test WER", "beam WER", "beam + LM WER" };
    int nd = n_decoders(a);
    sb_printf(b, "| setting | spec | fine-tuning steps |");
    for (int d = 0; d < nd; d++)
        sb_printf(b, " %s | rel. vs float |", head[d]);
    sb_printf(b, " size %% of fp32 (file bytes) | matmul %% | fine-tune s |\n|---|---|---:|");
    for (int d = 0; d < nd; d++)
        sb_printf(b, "---:|---:|");
    sb_printf(b, "---:|---:|---:|\n");
    int any_resumed = 0;
    for (int i = 0; i < a->n_rows; i++) {
        const struct row *r = &a->rows[i];
        char spec[320];
        md_spec(r, spec, sizeof spec);
        char tb[32] = "-";
        if (r->kind == K_FINETUNE || r->kind == K_MIXED)
            snprintf(tb, sizeof tb, "%.0f%s", r->ft_seconds, r->resumed ? "*" : "");
        sb_printf(b, "| %s | %s | %lld |", r->name, spec, (long long)r->steps);
        for (int d = 0; d < nd; d++) {
            char w[32], rel[32];
            wer_cells(a, r, d, w, rel, sizeof w);
            sb_printf(b, " %s | %s |", w, rel);
        }
        sb_printf(b, " %.2f | %.2f | %s |\n", ablate_row_pct(r), ablate_row_matmul_pct(r), tb);
        any_resumed |= r->resumed;
    }
    if (any_resumed)
        sb_printf(b, "\n\\* resumed after an interruption: the time of the last part only.\n");
    p.n = 0;
    sb_printf(b, "\n");
    for (int i = 0; i < a->n_rows; i++) {
        const struct row *r = &a->rows[i];
        if (r->kind == K_MIXED) {
            sb_printf(&p, "`%s`: the search on dev took %.0f s and chose %s per layer (the spec is in "
                          "`%s/ablate.json`); it predicted %zu file bytes, the export has %zu.\n", r->name,
                      r->search_seconds, r->formats, a->out, r->search_bytes, r->file_bytes);
            sb_wrap(b, &p, 0);
        }
    }
    struct goal g[3];
    eval_goals(a, g);
    sb_printf(b, "Goals of issue 6, evaluated on this run:\n");
    for (int k = 0; k < 3; k++) {
        sb_printf(&p, "- %s: %s.\n", g[k].text, g[k].detail);
        sb_wrap(b, &p, 2);
        if (b->n && !b->oom) // a list: no empty line between items
            b->p[--b->n] = 0;
    }
    free(p.p);
}

static int write_results(const struct ablate *a)
{
    struct sbuf md = { 0 };
    markdown(a, &md);
    if (md.oom) {
        free(md.p);
        return sparq_fail(SPARQ_ENOMEM, "out of memory");
    }
    char *old;
    size_t len;
    int missing;
    int rc = ablate_read_text(a->results, &old, &len, &missing);
    if (rc) {
        free(md.p);
        return rc;
    }
    struct sbuf b = { 0 };
    const char *begin = old ? strstr(old, MARK_BEGIN) : NULL;
    const char *end = begin ? strstr(begin, MARK_END) : NULL;
    if (begin && end) {
        size_t head = (size_t)(begin - old) + strlen(MARK_BEGIN);
        sb_printf(&b, "%.*s\n%s%s", (int)head, old, md.p, end);
    } else if (begin) {
        rc = sparq_fail(SPARQ_EFORMAT, "%s: '%s' without '%s' after it", a->results, MARK_BEGIN, MARK_END);
    } else {
        sb_printf(&b, "%s%s\n## Compression ablation (sparq ablate)\n\n%s\n%s%s\n", old ? old : "",
                  old && len && old[len - 1] != '\n' ? "\n" : "", MARK_BEGIN, md.p, MARK_END);
    }
    if (!rc && b.oom)
        rc = sparq_fail(SPARQ_ENOMEM, "out of memory");
    if (!rc)
        rc = sparq_write_file_atomic(a->results, b.p, b.n);
    free(b.p);
    free(md.p);
    free(old);
    return rc;
}

static int write_ablate_json(const struct ablate *a, const char *path)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "command", a->command);
    cJSON_AddStringToObject(root, "date", a->date);
    cJSON *o = cJSON_AddObjectToObject(root, "options");
    cJSON_AddStringToObject(o, "from", a->from);
    cJSON_AddStringToObject(o, "corpus", a->corpus);
    cJSON_AddNumberToObject(o, "steps", (double)a->steps);
    cJSON_AddNumberToObject(o, "lr", a->lr);
    cJSON_AddNumberToObject(o, "warmup", (double)a->warmup);
    cJSON_AddNumberToObject(o, "batch_frames", a->batch_frames);
    cJSON_AddNumberToObject(o, "epochs", a->epochs);
    cJSON_AddNumberToObject(o, "distill", a->distill);
    cJSON_AddNumberToObject(o, "search_utts", a->search_utts);
    cJSON_AddStringToObject(o, "keep", a->keep);
    cJSON_AddNumberToObject(o, "beam", a->beam > 1 ? a->beam : 1);
    if (a->lm_path) {
        cJSON_AddStringToObject(o, "lm", a->lm_path);
        cJSON_AddNumberToObject(o, "lm_weight", a->lm_weight);
        cJSON_AddNumberToObject(o, "word_bonus", a->word_bonus);
    }
    cJSON_AddNumberToObject(root, "threads", omp_get_max_threads());
    cJSON_AddNumberToObject(root, "rows_from_earlier_run", a->reused);
    cJSON_AddNumberToObject(root, "test_utterances", (double)a->test.n);
    cJSON_AddNumberToObject(root, "test_audio_seconds", a->test.seconds);
    cJSON *rows = cJSON_AddArrayToObject(root, "rows");
    for (int i = 0; i < a->n_rows; i++)
        cJSON_AddItemToArray(rows, ablate_row_json(a, &a->rows[i], 1));
    struct goal g[3];
    eval_goals(a, g);
    cJSON *goals = cJSON_AddArrayToObject(root, "goals");
    for (int k = 0; k < 3; k++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "goal", g[k].text);
        if (g[k].state < 0)
            cJSON_AddNullToObject(x, "met");
        else
            cJSON_AddBoolToObject(x, "met", g[k].state);
        cJSON_AddStringToObject(x, "detail", g[k].detail);
        cJSON_AddItemToArray(goals, x);
    }
    int rc = ablate_write_json_file(path, root);
    cJSON_Delete(root);
    return rc;
}

// OUT/ablate.png: test WER against size, one labelled point per setting.
// gnuplot missing or failing only costs the plot (a note on stderr).
static void write_plot(const struct ablate *a)
{
    char dat[4096], gp[4096], png[4096], tmp[4200];
    if (sparq_path_join(dat, sizeof dat, a->out, "ablate.dat") || sparq_path_join(gp, sizeof gp, a->out, "ablate.gp") ||
        sparq_path_join(png, sizeof png, a->out, "ablate.png"))
        return;
    snprintf(tmp, sizeof tmp, "%s.tmp", png);
    struct sbuf d = { 0 }, s = { 0 };
    int nd = n_decoders(a);
    sb_printf(&d, "# size_pct_fp32 test_wer_pct name kind(0 base, 1 fine-tuned, 2 post-training) "
                  "best_beam_wer_pct(-1: none)\n");
    for (int i = 0; i < a->n_rows; i++) {
        const struct row *r = &a->rows[i];
        int k = r->kind == K_BASE ? 0 : r->kind == K_PTQ ? 2 : 1;
        double beam = nd == 3 ? r->wer_lm : r->wer_beam;
        sb_printf(&d, "%.4f %.4f \"%s\" %d %.4f\n", ablate_row_pct(r), 100 * r->wer, r->name, k,
                  beam >= 0 ? 100 * beam : -1);
    }
    const struct row *f = ablate_find_row(a, "float");
    double xmin = 100;
    for (int i = 0; i < a->n_rows; i++)
        if (ablate_row_pct(&a->rows[i]) < xmin)
            xmin = ablate_row_pct(&a->rows[i]);
    sb_printf(&s,
              "# written by sparq ablate: gnuplot %s\n"
              "set terminal pngcairo noenhanced size 1000,650 font \"Liberation Sans,11\"\n"
              "set output '%s'\n"
              "set logscale x\n"
              "set xrange [%.3g:160]\n"
              "set offsets 0, 0, 2, 2\n"
              "set xlabel \"model size, %% of fp32 (exported file bytes / fp32 parameter bytes)\"\n"
              "set ylabel \"test WER, %% (held-out voices, integer runtime; greedy unless marked)\"\n"
              "set key below horizontal\n"
              "set grid\n"
              "set title \"sparq ablate: %lld fine-tuning steps per setting\"\n"
              "dat = '%s'\n",
              gp, tmp, 0.75 * xmin, (long long)a->steps, dat);
    sb_printf(&s, "plot dat using 1:($4 == 1 ? $2 : 1/0) title \"fine-tuned\" with points pt 7 ps 1.3 lc rgb \"#3050c0\", \\\n"
                  "     dat using 1:($4 == 2 ? $2 : 1/0) title \"post-training\" with points pt 5 ps 1.3 lc rgb \"#c03030\", \\\n"
                  "     dat using 1:($4 == 0 ? $2 : 1/0) title \"base model\" with points pt 9 ps 1.5 lc rgb \"#208020\", \\\n"
                  "     dat using 1:2:3 with labels offset char 0.8,0.7 left font \",9\" notitle");
    if (nd > 1)
        sb_printf(&s, ", \\\n     dat using 1:($5 >= 0 ? $5 : 1/0) title \"%s (same exports)\" with points pt 6 ps 1.3 "
                      "lc rgb \"#3050c0\"",
                  nd == 3 ? "beam + LM" : "beam");
    if (f)
        sb_printf(&s, ", \\\n     %.4f title \"float control\" with lines dt 2 lc rgb \"#606060\"", 100 * f->wer);
    sb_printf(&s, "\n");
    int ok = !d.oom && !s.oom && !sparq_write_file_atomic(dat, d.p, d.n) && !sparq_write_file_atomic(gp, s.p, s.n);
    free(d.p);
    free(s.p);
    if (!ok) {
        fprintf(stderr, "sparq ablate: note: cannot write %s: %s; no plot\n", gp, sparq_last_error());
        return;
    }
    pid_t pid;
    char *argv[] = { "gnuplot", gp, NULL };
    int status = 0;
    if (posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ) != 0) {
        fprintf(stderr, "sparq ablate: note: gnuplot not found (apt-get install gnuplot-nox); no %s\n", png);
        return;
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || rename(tmp, png) != 0) {
        fprintf(stderr, "sparq ablate: note: gnuplot %s failed; no %s\n", gp, png);
        unlink(tmp);
        return;
    }
    printf("wrote %s\n", png);
}

// Table and goals on stdout, OUT/ablate.json, the results file, the plot.
int ablate_report(const struct ablate *a)
{
    print_table(a, stdout);
    struct goal g[3];
    eval_goals(a, g);
    printf("\ngoals (issue 6):\n");
    for (int k = 0; k < 3; k++)
        printf("- %s: %s\n", g[k].text, g[k].detail);
    char json[4096];
    int rc = sparq_path_join(json, sizeof json, a->out, "ablate.json");
    if (!rc)
        rc = write_ablate_json(a, json);
    if (!rc)
        printf("wrote %s\n", json);
    if (!rc && a->results && !(rc = write_results(a)))
        printf("wrote the table into %s\n", a->results);
    if (rc) {
        fprintf(stderr, "sparq ablate: %s\n", sparq_last_error());
        return 1;
    }
    write_plot(a);
    return 0;
}
