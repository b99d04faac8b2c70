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
#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <omp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sparq_compress.h"
#include "sparq_dist.h"
#include "sparq_error.h"
#include "sparq_finetune.h"
#include "sparq_runtime.h"
#include "sparq_search.h"
#include "sparq_train.h"
#include "sparq_wer.h"

extern char **environ;

#define MARK_BEGIN "<!-- ablate:begin -->"
#define MARK_END "<!-- ablate:end -->"
#define MAX_SETTINGS 64
#define MAX_ROWS 256 // rows.json keeps the rows of every setting run into OUT with the same options
#define DECODE_FRAMES 20000 // padded input frames per decoding batch (as sparq eval)

// The paper's grid in order; mixed@B settings (one per --budgets value) and
// the post-training ones follow. "base" (the untouched model) always runs first.
static const char *const GRID[] = { "float",     "int8",      "int4",     "int2",     "int2/full",
                                    "float-2:4", "float-1:4", "int4-2:4", "int2-2:4", "int4-1:4" };
static const char *const PTQ_GRID[] = { "ptq-int4", "ptq-int4-2:4" };

enum kind { K_BASE, K_FINETUNE, K_PTQ, K_MIXED };
static const char *const KIND_NAME[] = { "base", "finetune", "ptq", "mixed" };

struct setting {
    char name[64];   // as in --settings: "int4-2:4", "ptq-int4", "mixed@9.4", "base"
    char dir[80];    // its folder under OUT
    enum kind kind;
    char spec[128];  // compression before --keep is appended ("" for mixed: the search decides)
    double budget;   // mixed: % of fp32
};

struct row {
    char name[64];
    enum kind kind;
    char *spec;              // the full spec exported
    char formats[256];       // matmul formats and counts, e.g. "int4-2:4 x36, int8 x1"
    int64_t steps;           // fine-tuning steps done (0: none)
    int resumed;             // the fine-tune continued from an interrupted run
    double wer;              // test WER (fraction)
    int64_t word_errors, ref_words;
    size_t file_bytes, param_bytes, fp32_bytes, matmul_params, matmul_bytes;
    double ft_seconds, eval_seconds, search_seconds;
    double budget;           // mixed
    size_t search_bytes;     // mixed: exported size the search predicted
};

struct ablate {
    // options
    const char *from, *corpus, *out, *results, *keep;
    int64_t steps;
    int epochs, batch_frames, quiet, verbose, resume, threads;
    int search_utts;        // dev utterances for the mixed-precision search (0: its default)
    double lr, distill;
    int64_t warmup;
    char fingerprint[2048]; // options a resumed run must share with the rows it reuses
    char command[4096];
    char date[64];
    // state
    struct setting settings[MAX_SETTINGS];
    int n_settings;
    struct row rows[MAX_ROWS];
    int n_rows;
    struct sparq_dataset test, dev;
    int have_dev;
    int reused;             // rows taken from an earlier run's rows.json (--resume)
    volatile sig_atomic_t *stop;
    double t_start;
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

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

static int path_join(char *buf, size_t size, const char *a, const char *b)
{
    int n = snprintf(buf, size, "%s/%s", a, b);
    return n < 0 || (size_t)n >= size ? sparq_fail(SPARQ_EINVAL, "%s/%s: path too long", a, b) : SPARQ_OK;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int mkdir_p(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return sparq_fail(SPARQ_EINVAL, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return sparq_fail(SPARQ_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return sparq_fail(SPARQ_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
    return SPARQ_OK;
}

// Whole file into a NUL-terminated buffer; *missing is set (and SPARQ_OK
// returned with *out NULL) if it does not exist.
static int read_text(const char *path, char **out, size_t *len, int *missing)
{
    *out = NULL;
    *len = 0;
    *missing = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) {
            *missing = 1;
            return SPARQ_OK;
        }
        return sparq_fail(SPARQ_EIO, "%s: %s", path, strerror(errno));
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf)
        return sparq_fail(SPARQ_ENOMEM, "%s: out of memory", path);
    if (err) {
        free(buf);
        return sparq_fail(SPARQ_EIO, "%s: read error", path);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return SPARQ_OK;
}

// ---- settings ---------------------------------------------------------------

static int is_float_spec(const char *spec) { return !strcmp(spec, "float") || !strcmp(spec, "fp32"); }

static int add_setting(struct ablate *a, const char *name)
{
    if (a->n_settings == MAX_SETTINGS)
        return sparq_fail(SPARQ_EINVAL, "--settings: more than %d settings", MAX_SETTINGS);
    for (int i = 0; i < a->n_settings; i++)
        if (!strcmp(a->settings[i].name, name))
            return SPARQ_OK; // listed twice: run once
    struct setting *s = &a->settings[a->n_settings];
    memset(s, 0, sizeof *s);
    if (strlen(name) >= sizeof s->name)
        return sparq_fail(SPARQ_EINVAL, "--settings: '%s' is too long", name);
    snprintf(s->name, sizeof s->name, "%s", name);
    if (!strcmp(name, "base")) {
        s->kind = K_BASE;
        snprintf(s->spec, sizeof s->spec, "float");
    } else if (!strncmp(name, "mixed@", 6)) {
        char *end;
        s->kind = K_MIXED;
        s->budget = strtod(name + 6, &end);
        if (end == name + 6 || *end || !(s->budget > 0 && s->budget <= 100))
            return sparq_fail(SPARQ_EINVAL, "--settings: '%s': expected mixed@PERCENT (0 < PERCENT <= 100)", name);
    } else {
        const char *spec = name;
        s->kind = K_FINETUNE;
        if (!strncmp(name, "ptq-", 4)) {
            s->kind = K_PTQ;
            spec = name + 4;
        }
        struct sparq_compress_spec parsed;
        if (sparq_compress_spec_parse(&parsed, spec))
            return sparq_fail(SPARQ_EINVAL, "--settings: '%s': %s", name, sparq_last_error());
        snprintf(s->spec, sizeof s->spec, "%s", spec);
    }
    // A folder name without '/', ':' or '@'.
    size_t j = 0;
    for (const char *p = name; *p && j + 3 < sizeof s->dir; p++) {
        if (*p == '/' || *p == '@')
            s->dir[j++] = '-';
        else if (*p == ':')
            s->dir[j++] = 'o', s->dir[j++] = 'f';
        else
            s->dir[j++] = *p;
    }
    s->dir[j] = 0;
    a->n_settings++;
    return SPARQ_OK;
}

static int parse_budgets(const char *list, double *b, int *n)
{
    *n = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        double v = strtod(tok, &end);
        if (end == tok || *end || !(v > 0 && v <= 100) || *n == 16)
            return sparq_fail(SPARQ_EINVAL, "--budgets: '%s' (expected up to 16 percentages in (0, 100])", tok);
        b[(*n)++] = v;
    }
    return SPARQ_OK;
}

// --settings LIST (or the whole grid) into a->settings, "base" first.
static int make_settings(struct ablate *a, const char *list, const double *budgets, int n_budgets)
{
    int rc = add_setting(a, "base");
    char name[64];
    if (!list) {
        for (size_t i = 0; !rc && i < sizeof GRID / sizeof GRID[0]; i++)
            rc = add_setting(a, GRID[i]);
        for (int i = 0; !rc && i < n_budgets; i++) {
            snprintf(name, sizeof name, "mixed@%g", budgets[i]);
            rc = add_setting(a, name);
        }
        for (size_t i = 0; !rc && i < sizeof PTQ_GRID / sizeof PTQ_GRID[0]; i++)
            rc = add_setting(a, PTQ_GRID[i]);
        return rc;
    }
    char buf[2048];
    if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf)
        return sparq_fail(SPARQ_EINVAL, "--settings: list too long");
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); !rc && tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "mixed")) // every --budgets value
            for (int i = 0; !rc && i < n_budgets; i++) {
                snprintf(name, sizeof name, "mixed@%g", budgets[i]);
                rc = add_setting(a, name);
            }
        else
            rc = add_setting(a, tok);
    }
    return rc;
}

// The spec a setting exports: its own, then --keep (later rules win).
static char *full_spec(const struct ablate *a, const char *spec)
{
    size_t n = strlen(spec) + strlen(a->keep) + 2;
    char *s = malloc(n);
    if (!s)
        return NULL;
    if (a->keep[0] && !is_float_spec(spec))
        snprintf(s, n, "%s,%s", spec, a->keep);
    else
        snprintf(s, n, "%s", spec);
    return s;
}

// ---- rows and JSON ----------------------------------------------------------

static const struct row *find_row(const struct ablate *a, const char *name)
{
    for (int i = 0; i < a->n_rows; i++)
        if (!strcmp(a->rows[i].name, name))
            return &a->rows[i];
    return NULL;
}

static double row_pct(const struct row *r) { return 100.0 * (double)r->file_bytes / (double)r->fp32_bytes; }
static double row_matmul_pct(const struct row *r)
{
    return r->matmul_params ? 100.0 * (double)r->matmul_bytes / (4.0 * (double)r->matmul_params) : 100.0;
}

// Relative WER change against the float control; 0 (and *ok = 0) without one.
static double row_rel(const struct ablate *a, const struct row *r, int *ok)
{
    const struct row *f = find_row(a, "float");
    *ok = f && f->wer > 0;
    return *ok ? (r->wer - f->wer) / f->wer : 0;
}

static cJSON *row_json(const struct ablate *a, const struct row *r, int with_derived)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddStringToObject(o, "kind", KIND_NAME[r->kind]);
    cJSON_AddStringToObject(o, "spec", r->spec);
    cJSON_AddStringToObject(o, "formats", r->formats);
    cJSON_AddBoolToObject(o, "finetuned", r->kind == K_FINETUNE || r->kind == K_MIXED);
    cJSON_AddNumberToObject(o, "steps", (double)r->steps);
    cJSON_AddBoolToObject(o, "resumed", r->resumed);
    cJSON_AddNumberToObject(o, "test_wer", r->wer);
    cJSON_AddNumberToObject(o, "word_errors", (double)r->word_errors);
    cJSON_AddNumberToObject(o, "ref_words", (double)r->ref_words);
    cJSON_AddNumberToObject(o, "file_bytes", (double)r->file_bytes);
    cJSON_AddNumberToObject(o, "param_bytes", (double)r->param_bytes);
    cJSON_AddNumberToObject(o, "fp32_bytes", (double)r->fp32_bytes);
    cJSON_AddNumberToObject(o, "matmul_params", (double)r->matmul_params);
    cJSON_AddNumberToObject(o, "matmul_bytes", (double)r->matmul_bytes);
    cJSON_AddNumberToObject(o, "finetune_seconds", r->ft_seconds);
    cJSON_AddNumberToObject(o, "eval_seconds", r->eval_seconds);
    if (r->kind == K_MIXED) {
        cJSON_AddNumberToObject(o, "budget_pct_fp32", r->budget);
        cJSON_AddNumberToObject(o, "search_seconds", r->search_seconds);
        cJSON_AddNumberToObject(o, "search_file_bytes", (double)r->search_bytes);
    }
    if (with_derived) {
        int ok;
        double rel = row_rel(a, r, &ok);
        cJSON_AddNumberToObject(o, "size_pct_fp32", row_pct(r));
        cJSON_AddNumberToObject(o, "matmul_pct_fp32", row_matmul_pct(r));
        if (ok)
            cJSON_AddNumberToObject(o, "rel_wer_vs_float", rel);
        else
            cJSON_AddNullToObject(o, "rel_wer_vs_float");
    }
    return o;
}

static int json_num(const cJSON *o, const char *key, double *v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(it))
        return -1;
    *v = it->valuedouble;
    return 0;
}

static int row_from_json(struct row *r, const cJSON *o)
{
    memset(r, 0, sizeof *r);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(o, "spec");
    const cJSON *formats = cJSON_GetObjectItemCaseSensitive(o, "formats");
    if (!cJSON_IsString(name) || !cJSON_IsString(kind) || !cJSON_IsString(spec) || !cJSON_IsString(formats))
        return -1;
    snprintf(r->name, sizeof r->name, "%s", name->valuestring);
    snprintf(r->formats, sizeof r->formats, "%s", formats->valuestring);
    int k = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(kind->valuestring, KIND_NAME[i]))
            k = i;
    if (k < 0)
        return -1;
    r->kind = (enum kind)k;
    double steps, file, param, fp32, mp, mb, werr, refw, ft, ev;
    if (json_num(o, "steps", &steps) || json_num(o, "test_wer", &r->wer) || json_num(o, "file_bytes", &file) ||
        json_num(o, "param_bytes", &param) || json_num(o, "fp32_bytes", &fp32) || json_num(o, "matmul_params", &mp) ||
        json_num(o, "matmul_bytes", &mb) || json_num(o, "word_errors", &werr) || json_num(o, "ref_words", &refw) ||
        json_num(o, "finetune_seconds", &ft) || json_num(o, "eval_seconds", &ev) || !(fp32 > 0))
        return -1;
    r->steps = (int64_t)steps;
    r->file_bytes = (size_t)file;
    r->param_bytes = (size_t)param;
    r->fp32_bytes = (size_t)fp32;
    r->matmul_params = (size_t)mp;
    r->matmul_bytes = (size_t)mb;
    r->word_errors = (int64_t)werr;
    r->ref_words = (int64_t)refw;
    r->ft_seconds = ft;
    r->eval_seconds = ev;
    r->resumed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "resumed"));
    if (r->kind == K_MIXED) {
        double sb;
        if (json_num(o, "budget_pct_fp32", &r->budget) || json_num(o, "search_seconds", &r->search_seconds) ||
            json_num(o, "search_file_bytes", &sb))
            return -1;
        r->search_bytes = (size_t)sb;
    }
    r->spec = strdup(spec->valuestring);
    return r->spec ? 0 : -1;
}

static int write_json_file(const char *path, cJSON *root)
{
    char *text = cJSON_Print(root);
    if (!text)
        return sparq_fail(SPARQ_ENOMEM, "%s: cannot format JSON", path);
    size_t n = strlen(text);
    char *t2 = realloc(text, n + 2);
    if (!t2) {
        free(text);
        return sparq_fail(SPARQ_ENOMEM, "%s: out of memory", path);
    }
    t2[n] = '\n';
    int rc = sparq_write_file_atomic(path, t2, n + 1);
    free(t2);
    return rc;
}

// OUT/rows.json: the options fingerprint and every finished row.
static int save_rows(const struct ablate *a)
{
    char path[4096];
    int rc = path_join(path, sizeof path, a->out, "rows.json");
    if (rc)
        return rc;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "sparq-ablate-rows");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "options", a->fingerprint);
    cJSON *rows = cJSON_AddArrayToObject(root, "rows");
    for (int i = 0; i < a->n_rows; i++)
        cJSON_AddItemToArray(rows, row_json(a, &a->rows[i], 0));
    rc = write_json_file(path, root);
    cJSON_Delete(root);
    return rc;
}

static int load_rows(struct ablate *a)
{
    char path[4096];
    int rc = path_join(path, sizeof path, a->out, "rows.json"), missing;
    char *text;
    size_t len;
    if (rc || (rc = read_text(path, &text, &len, &missing)))
        return rc;
    if (missing)
        return SPARQ_OK;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(root, "options");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(root, "rows");
    if (!root || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, "sparq-ablate-rows") || !cJSON_IsString(opts) ||
        !cJSON_IsArray(rows)) {
        cJSON_Delete(root);
        return sparq_fail(SPARQ_EFORMAT, "%s: not a sparq ablate rows file", path);
    }
    if (strcmp(opts->valuestring, a->fingerprint)) {
        rc = sparq_fail(SPARQ_EINVAL, "%s was written with other options (%s); --resume needs the same ones, or use another --out",
                        path, opts->valuestring);
        cJSON_Delete(root);
        return rc;
    }
    const cJSON *it;
    int idx = 0;
    cJSON_ArrayForEach(it, rows)
    {
        if (a->n_rows == MAX_ROWS - MAX_SETTINGS) {
            cJSON_Delete(root);
            return sparq_fail(SPARQ_EFORMAT, "%s: more than %d rows; use another --out", path, MAX_ROWS - MAX_SETTINGS);
        }
        if (row_from_json(&a->rows[a->n_rows], it)) {
            cJSON_Delete(root);
            return sparq_fail(SPARQ_EFORMAT, "%s: rows[%d]: missing or malformed field", path, idx);
        }
        a->n_rows++;
        idx++;
    }
    cJSON_Delete(root);
    return SPARQ_OK;
}

// ---- running one setting ----------------------------------------------------

// Lines in train_log.tsv = optimizer steps done (the trainer truncates it on resume).
static int64_t count_steps(const char *dir)
{
    char path[4096];
    if (path_join(path, sizeof path, dir, "train_log.tsv"))
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

// Runs the packed model on the cpu backend over the test split and scores it.
static int evaluate(struct ablate *a, const char *model_path, struct row *r)
{
    double t0 = now_s();
    struct sparq_runtime *rt;
    int rc = sparq_runtime_open(&rt, model_path, "cpu");
    if (rc)
        return rc;
    char **hyps = calloc(a->test.n, sizeof(char *));
    if (!hyps) {
        sparq_runtime_close(rt);
        return sparq_fail(SPARQ_ENOMEM, "out of memory");
    }
    sparq_runtime_activate(rt);
    rc = sparq_decode_dataset(sparq_runtime_model(rt), &a->test, DECODE_FRAMES, 1, hyps);
    sparq_runtime_deactivate(rt);
    if (rc == SPARQ_OK && sparq_runtime_error(rt))
        rc = sparq_fail(sparq_runtime_error(rt), "%s: %s", model_path, sparq_last_error());
    // Formats of the matmuls that ran, with counts, in order of first use.
    if (rc == SPARQ_OK) {
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
            n += (size_t)snprintf(r->formats + n, sizeof r->formats - n, "%s%s x%d", j ? ", " : "", names[j],
                                  counts[j]);
    }
    struct sparq_score sc;
    memset(&sc, 0, sizeof sc);
    if (rc == SPARQ_OK)
        rc = sparq_score_pairs((const char *const *)a->test.ids, (const char *const *)a->test.texts,
                               (const char *const *)hyps, a->test.n, &sc);
    if (rc == SPARQ_OK) {
        r->wer = sparq_error_rate(&sc.words);
        r->word_errors = sc.words.sub + sc.words.del + sc.words.ins;
        r->ref_words = sc.words.ref;
        sparq_score_free(&sc);
    }
    for (size_t i = 0; i < a->test.n; i++)
        free(hyps[i]);
    free(hyps);
    sparq_runtime_close(rt);
    r->eval_seconds = now_s() - t0;
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
    if (!a->resume || path_join(path, sizeof path, dir, "last.ckpt") || !file_exists(path) ||
        path_join(path, sizeof path, dir, "ablate.stamp") || read_text(path, &text, &len, &missing) || missing)
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
    int rc = path_join(path, sizeof path, dir, "ablate.stamp");
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
    int rc = path_join(json_path, sizeof json_path, dir, "search.json");
    if (rc)
        return rc;
    if (!a->have_dev) {
        char dev_path[4096];
        if ((rc = path_join(dev_path, sizeof dev_path, a->corpus, "dev.jsonl")) ||
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
    if (path_join(path, sizeof path, dir, "search.json") || read_text(path, &text, &len, &missing) || missing)
        return;
    cJSON *root = cJSON_Parse(text);
    double v;
    if (root && !json_num(root, "file_bytes", &v))
        r->search_bytes = (size_t)v;
    if (root && !json_num(root, "seconds", &v))
        r->search_seconds = v;
    cJSON_Delete(root);
    free(text);
}

// Returns SPARQ_OK, 1 if stopped by a signal (state saved), or an error.
static int run_setting(struct ablate *a, const struct setting *s, struct row *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", s->name);
    r->kind = s->kind;
    r->budget = s->budget;
    char dir[4096], model[4096];
    int rc;
    if ((rc = path_join(dir, sizeof dir, a->out, s->dir)) || (rc = mkdir_p(dir)))
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
    } else if (!(r->spec = full_spec(a, s->spec))) {
        return sparq_fail(SPARQ_ENOMEM, "out of memory");
    }
    struct sparq_compress_spec spec;
    if ((rc = sparq_compress_spec_parse(&spec, r->spec)))
        return sparq_fail(rc, "%s: spec '%s': %s", s->name, r->spec, sparq_last_error());
    if (s->kind == K_BASE || s->kind == K_PTQ) {
        struct sparq_model m;
        if ((rc = path_join(model, sizeof model, dir, "model.spq")) ||
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
        if ((rc = path_join(train, sizeof train, a->corpus, "train.jsonl")) ||
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

// ---- output -----------------------------------------------------------------

static void print_table(const struct ablate *a, FILE *out)
{
    fprintf(out, "\n%-14s %-9s %6s %9s %10s %11s %9s %8s  %s\n", "setting", "kind", "steps", "test WER", "rel. WER",
            "size %fp32", "matmul %", "time s", "spec");
    fprintf(out, "%-14s %-9s %6s %9s %10s %11s %9s %8s\n", "", "", "", "", "vs float", "(file B)", "", "(tune)");
    for (int i = 0; i < a->n_rows; i++) {
        const struct row *r = &a->rows[i];
        int ok;
        double rel = row_rel(a, r, &ok);
        char relb[32];
        if (ok)
            snprintf(relb, sizeof relb, "%+.1f%%", 100 * rel);
        else
            snprintf(relb, sizeof relb, "-");
        char tb[32] = "-";
        if (r->kind == K_FINETUNE || r->kind == K_MIXED)
            snprintf(tb, sizeof tb, "%.0f%s", r->ft_seconds, r->resumed ? "*" : "");
        fprintf(out, "%-14s %-9s %6lld %8.2f%% %10s %11.2f %9.2f %8s  %s%s\n", r->name, KIND_NAME[r->kind],
                (long long)r->steps, 100 * r->wer, relb, row_pct(r), row_matmul_pct(r), tb,
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
    const struct row *f = find_row(a, "float");
    g[0].text = "int4-2:4 at <= 9.4% of fp32 with <= 5% relative WER regression";
    const struct row *r = find_row(a, "int4-2:4");
    if (!r || !f) {
        g[0].state = -1;
        snprintf(g[0].detail, sizeof g[0].detail, "not measured (needs the float and int4-2:4 settings)");
    } else {
        double rel = row_rel(a, r, &ok);
        g[0].state = ok && row_pct(r) <= 9.4 && rel <= 0.05;
        snprintf(g[0].detail, sizeof g[0].detail, "%s: int4-2:4 is %.2f%% of fp32 (%s 9.4%%), %+.1f%% relative WER (%s 5%%)",
                 g[0].state ? "met" : "not met", row_pct(r), row_pct(r) <= 9.4 ? "<=" : ">", 100 * rel,
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
            if (row_pct(x) > 6.25)
                continue;
            double rel = row_rel(a, x, &ok);
            any = 1;
            found |= rel <= 0.10;
            if (n < sizeof list)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s %.2f%% of fp32, %+.1f%%", n ? "; " : "",
                                      x->name, row_pct(x), 100 * rel);
        }
        g[1].state = found;
        if (!any)
            snprintf(g[1].detail, sizeof g[1].detail, "not met: no setting of this run is at or below 6.25%% of fp32");
        else
            snprintf(g[1].detail, sizeof g[1].detail, "%s: %s", found ? "met" : "not met", list);
    }
    g[2].text = "post-training compression (no fine-tuning) of int4 and int4-2:4, to show what fine-tuning buys";
    const struct row *p4 = find_row(a, "ptq-int4"), *p42 = find_row(a, "ptq-int4-2:4");
    const struct row *t4 = find_row(a, "int4"), *t42 = find_row(a, "int4-2:4");
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
            double pr = row_rel(a, pairs[k][0], &ok);
            n += (size_t)snprintf(g[2].detail + n, sizeof g[2].detail - n, "%s%s %+.1f%% post-training", n ? "; " : "",
                                  names[k], 100 * pr);
            if (pairs[k][1])
                n += (size_t)snprintf(g[2].detail + n, sizeof g[2].detail - n, ", %+.1f%% fine-tuned",
                                      100 * row_rel(a, pairs[k][1], &ok));
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
    sb_printf(&p, "\n");
    sb_wrap(b, &p, 0);
    sb_printf(&p,
              "Each fine-tuned setting starts from `%s` and is fine-tuned for %lld steps (lr %g, %lld warm-up steps, "
              "batch %d frames, cosine horizon %d epochs%s) on `%s/train.jsonl` with simulated compression, "
              "exported, and the %zu test utterances (held-out voices, %.1f min) are transcribed with the integer "
              "runtime (cpu backend, greedy). ",
              a->from, (long long)a->steps, a->lr, (long long)a->warmup, a->batch_frames, a->epochs, distill,
              a->corpus, a->test.n, a->test.seconds / 60);
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
    sb_printf(b, "| setting | spec | fine-tuning steps | test WER | rel. WER vs float | size %% of fp32 (file bytes) "
                 "| matmul %% | fine-tune s |\n");
    sb_printf(b, "|---|---|---:|---:|---:|---:|---:|---:|\n");
    int any_resumed = 0;
    for (int i = 0; i < a->n_rows; i++) {
        const struct row *r = &a->rows[i];
        int ok;
        double rel = row_rel(a, r, &ok);
        char spec[320], relb[32];
        md_spec(r, spec, sizeof spec);
        if (ok)
            snprintf(relb, sizeof relb, "%+.1f%%", 100 * rel);
        else
            snprintf(relb, sizeof relb, "-");
        char tb[32] = "-";
        if (r->kind == K_FINETUNE || r->kind == K_MIXED)
            snprintf(tb, sizeof tb, "%.0f%s", r->ft_seconds, r->resumed ? "*" : "");
        sb_printf(b, "| %s | %s | %lld | %.2f%% | %s | %.2f | %.2f | %s |\n", r->name, spec, (long long)r->steps,
                  100 * r->wer, relb, row_pct(r), row_matmul_pct(r), tb);
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
    int rc = read_text(a->results, &old, &len, &missing);
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
    cJSON_AddNumberToObject(root, "threads", omp_get_max_threads());
    cJSON_AddNumberToObject(root, "rows_from_earlier_run", a->reused);
    cJSON_AddNumberToObject(root, "test_utterances", (double)a->test.n);
    cJSON_AddNumberToObject(root, "test_audio_seconds", a->test.seconds);
    cJSON *rows = cJSON_AddArrayToObject(root, "rows");
    for (int i = 0; i < a->n_rows; i++)
        cJSON_AddItemToArray(rows, row_json(a, &a->rows[i], 1));
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
    int rc = write_json_file(path, root);
    cJSON_Delete(root);
    return rc;
}

// OUT/ablate.png: test WER against size, one labelled point per setting.
// gnuplot missing or failing only costs the plot (a note on stderr).
static void write_plot(const struct ablate *a)
{
    char dat[4096], gp[4096], png[4096], tmp[4200];
    if (path_join(dat, sizeof dat, a->out, "ablate.dat") || path_join(gp, sizeof gp, a->out, "ablate.gp") ||
        path_join(png, sizeof png, a->out, "ablate.png"))
        return;
    snprintf(tmp, sizeof tmp, "%s.tmp", png);
    struct sbuf d = { 0 }, s = { 0 };
    sb_printf(&d, "# size_pct_fp32 test_wer_pct name kind(0 base, 1 fine-tuned, 2 post-training)\n");
    for (int i = 0; i < a->n_rows; i++) {
        const struct row *r = &a->rows[i];
        int k = r->kind == K_BASE ? 0 : r->kind == K_PTQ ? 2 : 1;
        sb_printf(&d, "%.4f %.4f \"%s\" %d\n", row_pct(r), 100 * r->wer, r->name, k);
    }
    const struct row *f = find_row(a, "float");
    double xmin = 100;
    for (int i = 0; i < a->n_rows; i++)
        if (row_pct(&a->rows[i]) < xmin)
            xmin = row_pct(&a->rows[i]);
    sb_printf(&s,
              "# written by sparq ablate: gnuplot %s\n"
              "set terminal pngcairo noenhanced size 1000,650 font \"Liberation Sans,11\"\n"
              "set output '%s'\n"
              "set logscale x\n"
              "set xrange [%.3g:160]\n"
              "set offsets 0, 0, 2, 2\n"
              "set xlabel \"model size, %% of fp32 (exported file bytes / fp32 parameter bytes)\"\n"
              "set ylabel \"test WER, %% (held-out voices, integer runtime)\"\n"
              "set key below horizontal\n"
              "set grid\n"
              "set title \"sparq ablate: %lld fine-tuning steps per setting\"\n"
              "dat = '%s'\n",
              gp, tmp, 0.75 * xmin, (long long)a->steps, dat);
    sb_printf(&s, "plot dat using 1:($4 == 1 ? $2 : 1/0) title \"fine-tuned\" with points pt 7 ps 1.3 lc rgb \"#3050c0\", \\\n"
                  "     dat using 1:($4 == 2 ? $2 : 1/0) title \"post-training\" with points pt 5 ps 1.3 lc rgb \"#c03030\", \\\n"
                  "     dat using 1:($4 == 0 ? $2 : 1/0) title \"base model\" with points pt 9 ps 1.5 lc rgb \"#208020\", \\\n"
                  "     dat using 1:2:3 with labels offset char 0.8,0.7 left font \",9\" notitle");
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
static int report(const struct ablate *a)
{
    print_table(a, stdout);
    struct goal g[3];
    eval_goals(a, g);
    printf("\ngoals (issue 6):\n");
    for (int k = 0; k < 3; k++)
        printf("- %s: %s\n", g[k].text, g[k].detail);
    char json[4096];
    int rc = path_join(json, sizeof json, a->out, "ablate.json");
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

// ---- command ----------------------------------------------------------------

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
            "  --from MODEL         float base model (models/base-3h.sparq)\n"
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
    int rc = path_join(path, sizeof path, corpus, name);
    if (rc)
        return rc;
    if (file_exists(path))
        return SPARQ_OK;
    if (!strcmp(corpus, "build/base-corpus"))
        return sparq_fail(SPARQ_EIO,
                          "%s: no such file: create the corpus first (`make build/base-corpus/train.jsonl`, the "
                          "corpus step of `make base-model`, or `sparq data gen --out build/base-corpus`)",
                          path);
    return sparq_fail(SPARQ_EIO, "%s: no such file: create the corpus first (`sparq data gen --out %s`) or pass "
                                 "--corpus DIR with train.jsonl, dev.jsonl and test.jsonl", path, corpus);
}

int cmd_ablate(int argc, char **argv)
{
    if (sparq_dist_require_single("ablate")) // every rank would write the same files
        return 2;
    enum { O_FROM = 256, O_CORPUS, O_STEPS, O_LR, O_WARMUP, O_BATCH, O_EPOCHS, O_DISTILL, O_KEEP, O_SETTINGS,
           O_BUDGETS, O_THREADS, O_OUT, O_RESULTS, O_NORESULTS, O_RESUME, O_QUIET, O_VERBOSE, O_SEARCH_UTTS };
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
        { "search-utts", required_argument, NULL, O_SEARCH_UTTS },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static struct ablate a; // large: rows and datasets
    memset(&a, 0, sizeof a);
    a.from = "models/base-3h.sparq";
    a.corpus = "build/base-corpus";
    a.out = "build/ablate";
    a.results = "docs/results.md";
    a.keep = "sub1_w=int8";
    a.steps = 160;
    a.epochs = 100;
    a.batch_frames = 12000;
    a.lr = 2e-4;
    a.warmup = 10;
    const char *settings = NULL, *budgets_text = "9.4,6.25";
    char *end;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_FROM: a.from = optarg; break;
        case O_CORPUS: a.corpus = optarg; break;
        case O_STEPS: a.steps = strtoll(optarg, &end, 10); if (*end || a.steps < 1) goto bad; break;
        case O_LR: a.lr = strtod(optarg, &end); if (*end || !(a.lr > 0)) goto bad; break;
        case O_WARMUP: a.warmup = strtoll(optarg, &end, 10); if (*end || a.warmup < 0) goto bad; break;
        case O_BATCH: a.batch_frames = (int)strtol(optarg, &end, 10); if (*end || a.batch_frames < 100) goto bad; break;
        case O_EPOCHS: a.epochs = (int)strtol(optarg, &end, 10); if (*end || a.epochs < 1) goto bad; break;
        case O_DISTILL: a.distill = strtod(optarg, &end); if (*end || a.distill < 0) goto bad; break;
        case O_KEEP: a.keep = optarg; break;
        case O_SETTINGS: settings = optarg; break;
        case O_BUDGETS: budgets_text = optarg; break;
        case O_THREADS: a.threads = (int)strtol(optarg, &end, 10); if (*end || a.threads < 0) goto bad; break;
        case O_OUT: a.out = optarg; break;
        case O_RESULTS: a.results = optarg; break;
        case O_NORESULTS: a.results = NULL; break;
        case O_RESUME: a.resume = 1; break;
        case O_QUIET: a.quiet = 1; break;
        case O_VERBOSE: a.verbose = 1; break;
        case O_SEARCH_UTTS: a.search_utts = (int)strtol(optarg, &end, 10); if (*end || a.search_utts < 0) goto bad; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        bad:
            for (const struct option *op = opts; op->name; op++)
                if (op->val == c)
                    fprintf(stderr, "sparq ablate: --%s '%s': not a number in range (see --help)\n", op->name, optarg);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sparq ablate: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    double budgets[16];
    int n_budgets;
    struct sparq_compress_spec keep_spec;
    if (parse_budgets(budgets_text, budgets, &n_budgets) || make_settings(&a, settings, budgets, n_budgets)) {
        fprintf(stderr, "sparq ablate: %s\n", sparq_last_error());
        return 2;
    }
    if (a.keep[0] && sparq_compress_spec_parse(&keep_spec, a.keep)) {
        fprintf(stderr, "sparq ablate: --keep '%s': %s\n", a.keep, sparq_last_error());
        return 2;
    }
    snprintf(a.command, sizeof a.command, "sparq ablate");
    for (int i = 1; i < argc; i++)
        shell_quote_append(a.command, sizeof a.command, argv[i]);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(a.date, sizeof a.date, "%Y-%m-%d %H:%M UTC", &tm);
    snprintf(a.fingerprint, sizeof a.fingerprint,
             "from=%s corpus=%s steps=%lld lr=%g warmup=%lld batch_frames=%d epochs=%d distill=%g keep=%s "
             "search_utts=%d",
             a.from, a.corpus, (long long)a.steps, a.lr, (long long)a.warmup, a.batch_frames, a.epochs, a.distill,
             a.keep, a.search_utts);

    // Everything a late setting needs is checked before the first one starts.
    int need_dev = 0;
    for (int i = 0; i < a.n_settings; i++)
        need_dev |= a.settings[i].kind == K_MIXED;
    int rc = check_corpus_file(a.corpus, "train.jsonl");
    if (!rc)
        rc = check_corpus_file(a.corpus, "test.jsonl");
    if (!rc && need_dev)
        rc = check_corpus_file(a.corpus, "dev.jsonl");
    if (!rc && !file_exists(a.from))
        rc = sparq_fail(SPARQ_EIO, "%s: no such model file (--from; `make base-model` trains one)", a.from);
    if (!rc)
        rc = mkdir_p(a.out);
    if (!rc && a.resume)
        rc = load_rows(&a);
    if (rc) {
        fprintf(stderr, "sparq ablate: %s\n", sparq_last_error());
        return 1;
    }
    if (a.threads > 0)
        omp_set_num_threads(a.threads);
    sparq_threads_init();
    char test_path[4096];
    snprintf(test_path, sizeof test_path, "%s/test.jsonl", a.corpus);
    if ((rc = sparq_dataset_load(&a.test, test_path, 0))) {
        fprintf(stderr, "sparq ablate: %s\n", sparq_last_error());
        return 1;
    }
    a.stop = sparq_train_stop_on_signals();
    a.t_start = now_s();

    // Rows reused from rows.json: only the selected settings' (the others are
    // kept in rows.json for a later run that selects them).
    int remaining_tune = 0, remaining_other = 0, reused = 0;
    for (int i = 0; i < a.n_settings; i++) {
        if (find_row(&a, a.settings[i].name)) {
            reused++;
            continue;
        }
        int tunes = a.settings[i].kind == K_FINETUNE || a.settings[i].kind == K_MIXED;
        remaining_tune += tunes;
        remaining_other += !tunes;
    }
    a.reused = reused;
    if (a.resume)
        fprintf(stderr, "ablate: %d of %d settings already done in %s/rows.json (--resume)\n", reused, a.n_settings,
                a.out);
    int done_tune = 0, done_other = 0, exit_code = 0;
    double tune_time = 0, other_time = 0;
    for (int i = 0; i < a.n_settings && !exit_code; i++) {
        const struct setting *s = &a.settings[i];
        if (find_row(&a, s->name))
            continue;
        int tunes = s->kind == K_FINETUNE || s->kind == K_MIXED;
        fprintf(stderr, "ablate [%d/%d] %s: %s\n", i + 1, a.n_settings, s->name,
                s->kind == K_MIXED ? "mixed-precision search on dev, then fine-tuning"
                : tunes           ? "fine-tuning"
                                  : "export without fine-tuning");
        double t0 = now_s();
        struct row r;
        rc = run_setting(&a, s, &r);
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
        double took = now_s() - t0;
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
        a.rows[a.n_rows++] = r;
        if ((rc = save_rows(&a))) {
            fprintf(stderr, "sparq ablate: %s\n", sparq_last_error());
            exit_code = 1;
            break;
        }
        char el[32], eta[96];
        fmt_secs(el, sizeof el, now_s() - a.t_start);
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
        fprintf(stderr, "ablate [%d/%d] %s: test WER %.2f%%, %.2f%% of fp32, %lld steps, %.0f s; elapsed %s, %s\n",
                i + 1, a.n_settings, s->name, 100 * r.wer, row_pct(&r), (long long)r.steps, took, el, eta);
        if (*a.stop) {
            fprintf(stderr, "ablate: stopped after %s; rerun with --resume to continue\n", s->name);
            exit_code = 130;
        }
    }
    if (!exit_code) {
        // The report shows the selected settings, in their order.
        struct row *sel = calloc(MAX_ROWS, sizeof *sel);
        int n = 0;
        for (int i = 0; sel && i < a.n_settings; i++)
            for (int j = 0; j < a.n_rows; j++)
                if (!strcmp(a.rows[j].name, a.settings[i].name))
                    sel[n++] = a.rows[j];
        struct ablate *view = sel ? malloc(sizeof *view) : NULL;
        if (!view) {
            fprintf(stderr, "sparq ablate: out of memory\n");
            free(sel);
            exit_code = 1;
        } else {
            *view = a;
            memcpy(view->rows, sel, sizeof(struct row) * (size_t)n);
            view->n_rows = n;
            exit_code = report(view);
            free(view);
            free(sel);
        }
    }
    for (int j = 0; j < a.n_rows; j++)
        free(a.rows[j].spec);
    sparq_dataset_free(&a.test);
    if (a.have_dev)
        sparq_dataset_free(&a.dev);
    return exit_code;
}
