// Levenshtein alignment for WER/CER and `sparq score` file handling.
#include "sparq_wer.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_manifest.h"
#include "sparq_text.h"

// A token is a byte range; two tokens match if their bytes are equal.
struct tok {
    const char *p;
    int len;
};

static int tokens_words(const char *s, struct tok **out, int64_t *n)
{
    size_t cap = 16, k = 0;
    struct tok *t = sparq_malloc(cap * sizeof *t, "word list");
    if (!t)
        return SPARQ_ENOMEM;
    while (*s) {
        while (*s && isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        const char *start = s;
        while (*s && !isspace((unsigned char)*s))
            s++;
        if (k == cap) {
            cap *= 2;
            struct tok *nt = realloc(t, cap * sizeof *t);
            if (!nt) {
                free(t);
                return sparq_fail(SPARQ_ENOMEM, "out of memory splitting words");
            }
            t = nt;
        }
        t[k].p = start;
        t[k].len = (int)(s - start);
        k++;
    }
    *out = t;
    *n = (int64_t)k;
    return SPARQ_OK;
}

// Characters (UTF-8 code points) of the words joined by single spaces.
static int tokens_chars(const char *s, struct tok **out, int64_t *n)
{
    struct tok *w;
    int64_t nw;
    int rc = tokens_words(s, &w, &nw);
    if (rc)
        return rc;
    size_t total = 0;
    for (int64_t i = 0; i < nw; i++)
        total += (size_t)w[i].len + 1;
    struct tok *t = sparq_malloc((total + 1) * sizeof *t, "character list");
    if (!t) {
        free(w);
        return SPARQ_ENOMEM;
    }
    static const char space = ' ';
    size_t k = 0;
    for (int64_t i = 0; i < nw; i++) {
        if (i) {
            t[k].p = &space;
            t[k++].len = 1;
        }
        for (int j = 0; j < w[i].len;) {
            unsigned char c = (unsigned char)w[i].p[j];
            int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            if (j + len > w[i].len)
                len = w[i].len - j;
            t[k].p = w[i].p + j;
            t[k++].len = len;
            j += len;
        }
    }
    free(w);
    *out = t;
    *n = (int64_t)k;
    return SPARQ_OK;
}

static int same(const struct tok *a, const struct tok *b)
{
    return a->len == b->len && !memcmp(a->p, b->p, (size_t)a->len);
}

// Minimum-cost alignment: unit costs (Levenshtein, as jiwer) or sclite's
// weights (substitution 4, deletion 3, insertion 3). The backtrace prefers
// the diagonal (hit or substitution), then deletion, then insertion.
static int align(const struct tok *r, int64_t n, const struct tok *h, int64_t m, int mode,
                 struct sparq_edit_counts *out)
{
    const int32_t cs = mode == SPARQ_ALIGN_SCLITE ? 4 : 1, cd = mode == SPARQ_ALIGN_SCLITE ? 3 : 1,
                  ci = mode == SPARQ_ALIGN_SCLITE ? 3 : 1;
    memset(out, 0, sizeof *out);
    out->ref = n;
    out->hyp = m;
    // 1e8 cells = 400 MB: far beyond any utterance (a 10 000-character pair).
    if ((double)(n + 1) * (double)(m + 1) > 1e8)
        return sparq_fail(SPARQ_EINVAL, "alignment too large (%lld x %lld tokens)", (long long)n, (long long)m);
    size_t W = (size_t)m + 1;
    int32_t *cost = sparq_malloc((size_t)(n + 1) * W * sizeof(int32_t), "alignment matrix");
    if (!cost)
        return SPARQ_ENOMEM;
    for (int64_t j = 0; j <= m; j++)
        cost[j] = (int32_t)j * ci;
    for (int64_t i = 1; i <= n; i++) {
        int32_t *row = cost + (size_t)i * W, *up = row - W;
        row[0] = (int32_t)i * cd;
        for (int64_t j = 1; j <= m; j++) {
            int32_t diag = up[j - 1] + (same(&r[i - 1], &h[j - 1]) ? 0 : cs);
            int32_t del = up[j] + cd, ins = row[j - 1] + ci;
            int32_t best = diag < del ? diag : del;
            row[j] = best < ins ? best : ins;
        }
    }
    int64_t i = n, j = m;
    while (i > 0 || j > 0) {
        int32_t c = cost[(size_t)i * W + (size_t)j];
        if (i > 0 && j > 0) {
            int hit = same(&r[i - 1], &h[j - 1]);
            if (cost[(size_t)(i - 1) * W + (size_t)(j - 1)] + (hit ? 0 : cs) == c) {
                if (hit)
                    out->hits++;
                else
                    out->sub++;
                i--;
                j--;
                continue;
            }
        }
        if (i > 0 && cost[(size_t)(i - 1) * W + (size_t)j] + cd == c) {
            out->del++;
            i--;
        } else {
            out->ins++;
            j--;
        }
    }
    free(cost);
    return SPARQ_OK;
}

typedef int (*tokenizer)(const char *, struct tok **, int64_t *);

static int align_with(tokenizer tk, const char *ref, const char *hyp, int mode, struct sparq_edit_counts *out)
{
    struct tok *r, *h;
    int64_t n, m;
    int rc = tk(ref, &r, &n);
    if (rc)
        return rc;
    rc = tk(hyp, &h, &m);
    if (rc) {
        free(r);
        return rc;
    }
    rc = align(r, n, h, m, mode, out);
    free(r);
    free(h);
    return rc;
}

int sparq_align_words_ex(const char *ref, const char *hyp, int mode, struct sparq_edit_counts *out)
{
    return align_with(tokens_words, ref, hyp, mode, out);
}

int sparq_align_chars_ex(const char *ref, const char *hyp, int mode, struct sparq_edit_counts *out)
{
    return align_with(tokens_chars, ref, hyp, mode, out);
}

int sparq_align_words(const char *ref, const char *hyp, struct sparq_edit_counts *out)
{
    return align_with(tokens_words, ref, hyp, SPARQ_ALIGN_LEVENSHTEIN, out);
}

int sparq_align_chars(const char *ref, const char *hyp, struct sparq_edit_counts *out)
{
    return align_with(tokens_chars, ref, hyp, SPARQ_ALIGN_LEVENSHTEIN, out);
}

void sparq_edit_counts_add(struct sparq_edit_counts *t, const struct sparq_edit_counts *c)
{
    t->hits += c->hits;
    t->sub += c->sub;
    t->del += c->del;
    t->ins += c->ins;
    t->ref += c->ref;
    t->hyp += c->hyp;
}

double sparq_error_rate(const struct sparq_edit_counts *c)
{
    double errors = (double)(c->sub + c->del + c->ins);
    return errors / (double)(c->ref > 0 ? c->ref : 1);
}

// ---- files ---------------------------------------------------------------

struct idtext {
    char **ids, **texts;
    size_t n;
};

static void idtext_free(struct idtext *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->ids[i]);
        free(t->texts[i]);
    }
    free(t->ids);
    free(t->texts);
    memset(t, 0, sizeof *t);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int read_idtext(const char *path, struct idtext *out)
{
    memset(out, 0, sizeof *out);
    if (ends_with(path, ".jsonl") || ends_with(path, ".json")) {
        struct sparq_manifest m;
        int rc = sparq_manifest_load(path, &m);
        if (rc)
            return rc;
        out->ids = calloc(m.count + 1, sizeof(char *));
        out->texts = calloc(m.count + 1, sizeof(char *));
        if (!out->ids || !out->texts) {
            sparq_manifest_free(&m);
            idtext_free(out);
            return sparq_fail(SPARQ_ENOMEM, "%s: out of memory", path);
        }
        for (size_t i = 0; i < m.count; i++) {
            out->ids[i] = m.utts[i].id;
            out->texts[i] = m.utts[i].text;
            m.utts[i].id = m.utts[i].text = NULL;
        }
        out->n = m.count;
        sparq_manifest_free(&m);
        return SPARQ_OK;
    }
    FILE *f = sparq_fopen(path, "r");
    if (!f)
        return SPARQ_EIO;
    char *line = NULL;
    size_t lcap = 0, cap = 0;
    ssize_t len;
    int lineno = 0, rc = SPARQ_OK;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        if ((rc = sparq_manifest_line_check(path, lineno, line, (size_t)len)))
            break;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        char *p = line;
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            continue; // blank line
        char *id = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (*p)
            *p++ = 0;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 256;
            char **ni = realloc(out->ids, cap * sizeof(char *));
            if (ni)
                out->ids = ni;
            char **nt = realloc(out->texts, cap * sizeof(char *));
            if (nt)
                out->texts = nt;
            if (!ni || !nt) {
                rc = sparq_fail(SPARQ_ENOMEM, "%s: out of memory", path);
                break;
            }
        }
        out->ids[out->n] = strdup(id);
        out->texts[out->n] = strdup(p);
        out->n++;
        if (!out->ids[out->n - 1] || !out->texts[out->n - 1]) {
            rc = sparq_fail(SPARQ_ENOMEM, "%s: out of memory", path);
            break;
        }
    }
    free(line);
    fclose(f);
    if (rc)
        idtext_free(out);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct keyed {
    const char *id;
    size_t index;
};

static int cmp_keyed(const void *a, const void *b)
{
    return strcmp(((const struct keyed *)a)->id, ((const struct keyed *)b)->id);
}

static int check_unique(const char *path, struct idtext *t)
{
    char **copy = malloc((t->n + 1) * sizeof(char *));
    if (!copy)
        return sparq_fail(SPARQ_ENOMEM, "%s: out of memory", path);
    if (t->n) // an empty file has no id array (memcpy from NULL is undefined)
        memcpy(copy, t->ids, t->n * sizeof(char *));
    qsort(copy, t->n, sizeof(char *), cmp_str);
    for (size_t i = 1; i < t->n; i++)
        if (!strcmp(copy[i], copy[i - 1])) {
            int rc = sparq_fail(SPARQ_EFORMAT, "%s: utterance id '%s' appears twice", path, copy[i]);
            free(copy);
            return rc;
        }
    free(copy);
    return SPARQ_OK;
}

int sparq_score_files(const char *ref_path, const char *hyp_path, struct sparq_score *out)
{
    return sparq_score_files_ex(ref_path, hyp_path, SPARQ_ALIGN_LEVENSHTEIN, out);
}

int sparq_score_files_ex(const char *ref_path, const char *hyp_path, int mode, struct sparq_score *out)
{
    memset(out, 0, sizeof *out);
    struct idtext r, h;
    int rc = read_idtext(ref_path, &r);
    if (rc)
        return rc;
    rc = read_idtext(hyp_path, &h);
    if (rc) {
        idtext_free(&r);
        return rc;
    }
    if ((rc = check_unique(ref_path, &r)) || (rc = check_unique(hyp_path, &h))) {
        idtext_free(&r);
        idtext_free(&h);
        return rc;
    }
    if (r.n == 0) {
        idtext_free(&r);
        idtext_free(&h);
        return sparq_fail(SPARQ_EFORMAT, "%s: no utterances", ref_path);
    }
    struct keyed *hk = malloc((h.n + 1) * sizeof *hk);
    const char **hyps = calloc(r.n, sizeof(char *));
    if (!hk || !hyps) {
        free(hk);
        free(hyps);
        idtext_free(&r);
        idtext_free(&h);
        return sparq_fail(SPARQ_ENOMEM, "out of memory scoring %s", hyp_path);
    }
    for (size_t i = 0; i < h.n; i++)
        hk[i] = (struct keyed){ h.ids[i], i };
    qsort(hk, h.n, sizeof *hk, cmp_keyed);
    size_t found = 0, missing = 0;
    for (size_t i = 0; i < r.n; i++) {
        struct keyed key = { r.ids[i], 0 };
        struct keyed *k = h.n ? bsearch(&key, hk, h.n, sizeof *hk, cmp_keyed) : NULL;
        if (k) {
            hyps[i] = h.texts[k->index];
            found++;
        } else {
            hyps[i] = "";
            missing++;
        }
    }
    rc = sparq_score_pairs_ex((const char *const *)r.ids, (const char *const *)r.texts, hyps, r.n, mode, out);
    if (!rc) {
        out->missing_hyp = missing;
        out->extra_hyp = h.n - found;
    }
    free(hk);
    free(hyps);
    idtext_free(&r);
    idtext_free(&h);
    return rc;
}

int sparq_score_pairs(const char *const *ids, const char *const *refs, const char *const *hyps, size_t n,
                      struct sparq_score *out)
{
    return sparq_score_pairs_ex(ids, refs, hyps, n, SPARQ_ALIGN_LEVENSHTEIN, out);
}

int sparq_score_pairs_ex(const char *const *ids, const char *const *refs, const char *const *hyps, size_t n, int mode,
                         struct sparq_score *out)
{
    if (mode != SPARQ_ALIGN_LEVENSHTEIN && mode != SPARQ_ALIGN_SCLITE)
        return sparq_fail(SPARQ_EINVAL, "score: unknown alignment mode %d", mode);
    memset(out, 0, sizeof *out);
    out->entries = sparq_calloc(n, sizeof *out->entries, "score entries");
    if (!out->entries)
        return SPARQ_ENOMEM;
    out->count = n;
    out->mode = mode;
    for (size_t i = 0; i < n; i++) {
        struct sparq_score_entry *e = &out->entries[i];
        char idbuf[32];
        snprintf(idbuf, sizeof idbuf, "utt%zu", i);
        e->id = strdup(ids && ids[i] ? ids[i] : idbuf);
        e->ref = sparq_text_normalize(refs[i] ? refs[i] : "");
        e->hyp = sparq_text_normalize(hyps[i] ? hyps[i] : "");
        if (!e->id || !e->ref || !e->hyp) {
            sparq_score_free(out);
            return sparq_fail(SPARQ_ENOMEM, "out of memory normalising utterance %zu", i);
        }
        int rc = sparq_align_words_ex(e->ref, e->hyp, mode, &e->words);
        if (!rc)
            rc = sparq_align_chars_ex(e->ref, e->hyp, mode, &e->chars);
        if (rc) {
            sparq_score_free(out);
            return rc;
        }
        sparq_edit_counts_add(&out->words, &e->words);
        sparq_edit_counts_add(&out->chars, &e->chars);
    }
    return SPARQ_OK;
}

static void print_row(FILE *out, const char *id, const struct sparq_edit_counts *w, const struct sparq_edit_counts *c)
{
    fprintf(out, "%-28s %7lld %6lld %6lld %6lld %7.2f%% %8lld %7.2f%%\n", id, (long long)w->ref, (long long)w->sub,
            (long long)w->del, (long long)w->ins, 100.0 * sparq_error_rate(w), (long long)c->ref,
            100.0 * sparq_error_rate(c));
}

void sparq_score_print_table(const struct sparq_score *s, FILE *out, int per_utt)
{
    fprintf(out, "%-28s %7s %6s %6s %6s %8s %8s %8s\n", "utterance", "words", "sub", "del", "ins", "WER", "chars", "CER");
    if (per_utt)
        for (size_t i = 0; i < s->count; i++)
            print_row(out, s->entries[i].id, &s->entries[i].words, &s->entries[i].chars);
    char total[64];
    snprintf(total, sizeof total, "TOTAL (%zu utterances)", s->count);
    print_row(out, total, &s->words, &s->chars);
    if (s->missing_hyp || s->extra_hyp)
        fprintf(out, "note: %zu reference utterances had no hypothesis (scored as empty); %zu hypotheses had no "
                     "reference (ignored)\n",
                s->missing_hyp, s->extra_hyp);
}

static cJSON *counts_json(const struct sparq_edit_counts *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "ref", (double)c->ref);
    cJSON_AddNumberToObject(o, "hyp", (double)c->hyp);
    cJSON_AddNumberToObject(o, "hits", (double)c->hits);
    cJSON_AddNumberToObject(o, "sub", (double)c->sub);
    cJSON_AddNumberToObject(o, "del", (double)c->del);
    cJSON_AddNumberToObject(o, "ins", (double)c->ins);
    cJSON_AddNumberToObject(o, "rate", sparq_error_rate(c));
    return o;
}

char *sparq_score_json(const struct sparq_score *s, int per_utt)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "utterances", (double)s->count);
    cJSON_AddStringToObject(root, "alignment", s->mode == SPARQ_ALIGN_SCLITE ? "sclite" : "levenshtein");
    cJSON_AddItemToObject(root, "wer", counts_json(&s->words));
    cJSON_AddItemToObject(root, "cer", counts_json(&s->chars));
    cJSON_AddNumberToObject(root, "missing_hyp", (double)s->missing_hyp);
    cJSON_AddNumberToObject(root, "extra_hyp", (double)s->extra_hyp);
    if (per_utt) {
        cJSON *arr = cJSON_AddArrayToObject(root, "per_utterance");
        for (size_t i = 0; i < s->count; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "id", s->entries[i].id);
            cJSON_AddStringToObject(e, "ref", s->entries[i].ref);
            cJSON_AddStringToObject(e, "hyp", s->entries[i].hyp);
            cJSON_AddItemToObject(e, "wer", counts_json(&s->entries[i].words));
            cJSON_AddItemToObject(e, "cer", counts_json(&s->entries[i].chars));
            cJSON_AddItemToArray(arr, e);
        }
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

void sparq_score_free(struct sparq_score *s)
{
    for (size_t i = 0; i < s->count && s->entries; i++) {
        free(s->entries[i].id);
        free(s->entries[i].ref);
        free(s->entries[i].hyp);
    }
    free(s->entries);
    memset(s, 0, sizeof *s);
}
