// ARPA text of a word n-gram model: writing (sorted, reproducible) and
// reading with validation (errors name the file and line).
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_lm.h"
#include "lm_internal.h"

// ---- ARPA text ----

struct strbuf {
    char *p;
    size_t n, cap;
    int failed;
};

static void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = 2 * b->cap + (size_t)k + 1;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

// Orders n-grams by their words' text (ctx: the model).
static int gram_cmp(const void *a, const void *b, void *ctx)
{
    const struct sparq_lm *lm = ctx;
    const struct gram *x = *(const struct gram *const *)a, *y = *(const struct gram *const *)b;
    for (int i = 0; i < MAXN && x->w[i] >= 0; i++) {
        int c = strcmp(lm->words[x->w[i]], lm->words[y->w[i]]);
        if (c)
            return c;
    }
    return 0;
}

char *sparq_lm_arpa(const struct sparq_lm *lm)
{
    struct strbuf b = { NULL, 0, 0, 0 };
    b.cap = 4096;
    if (!(b.p = malloc(b.cap)))
        return sparq_fail(SPARQ_ENOMEM, "out of memory writing the language model"), NULL;
    b.p[0] = 0;
    sb_printf(&b, "\\data\\\n");
    for (int n = 1; n <= lm->order; n++)
        sb_printf(&b, "ngram %d=%zu\n", n, lm->t[n - 1].n);
    for (int n = 1; n <= lm->order && !b.failed; n++) {
        const struct table *t = &lm->t[n - 1];
        const struct gram **idx = malloc(sizeof *idx * (t->n ? t->n : 1));
        if (!idx) {
            b.failed = 1;
            break;
        }
        for (size_t i = 0; i < t->n; i++)
            idx[i] = &t->g[i];
        // Sorted by word text so the output does not depend on hashing or input order.
        qsort_r(idx, t->n, sizeof *idx, gram_cmp, (void *)lm);
        sb_printf(&b, "\n\\%d-grams:\n", n);
        for (size_t i = 0; i < t->n; i++) {
            const struct gram *g = idx[i];
            sb_printf(&b, "%.6f\t", g->logp);
            for (int k = 0; k < n; k++)
                sb_printf(&b, k ? " %s" : "%s", lm->words[g->w[k]]);
            if (n < lm->order && g->bo != NO_BACKOFF)
                sb_printf(&b, "\t%.6f", g->bo);
            sb_printf(&b, "\n");
        }
        free(idx);
    }
    sb_printf(&b, "\n\\end\\\n");
    if (b.failed) {
        free(b.p);
        return sparq_fail(SPARQ_ENOMEM, "out of memory writing the language model"), NULL;
    }
    return b.p;
}

int sparq_lm_write(const struct sparq_lm *lm, const char *path)
{
    char *text = sparq_lm_arpa(lm);
    if (!text)
        return SPARQ_ENOMEM;
    int rc = sparq_write_file_atomic(path, text, strlen(text));
    free(text);
    return rc;
}

// Splits a line into whitespace-separated fields (modifies it).
static int split_fields(char *line, char **f, int max)
{
    int n = 0;
    for (char *p = line;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (!*p)
            return n;
        if (n == max)
            return max + 1;
        f[n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r')
            p++;
        if (*p)
            *p++ = 0;
    }
}

static int parse_real(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return end != s && !*end && errno == 0 && isfinite(*v);
}

static int is_blank(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    return !*s;
}

#define ARPA_FAIL(...) (rc = sparq_fail(SPARQ_EFORMAT, __VA_ARGS__)) // nonzero

// One line "log10p w1 .. wn [backoff]" of the \\N-grams: section N = cur.
static int parse_ngram(struct sparq_lm *lm, char *line, int cur, const size_t *counts, const char *name, int lineno)
{
    char *f[MAXN + 3];
    int rc = SPARQ_OK, nf = split_fields(line, f, MAXN + 2);
    double lp, bo = NO_BACKOFF;
    if (nf != cur + 1 && !(nf == cur + 2 && cur < lm->order)) {
        ARPA_FAIL("%s:%d: a %d-gram line needs %d fields%s, found %d", name, lineno, cur, cur + 1,
                  cur < lm->order ? " (or one more: the backoff)" : "", nf);
        return rc;
    }
    if (!parse_real(f[0], &lp) || lp > 0) {
        ARPA_FAIL("%s:%d: log10 probability '%s' is not a finite number <= 0", name, lineno, f[0]);
        return rc;
    }
    if (nf == cur + 2 && !parse_real(f[cur + 1], &bo)) {
        ARPA_FAIL("%s:%d: backoff '%s' is not a finite number", name, lineno, f[cur + 1]);
        return rc;
    }
    if (lm->t[cur - 1].n >= counts[cur - 1]) {
        ARPA_FAIL("%s:%d: more %d-grams than the header's %zu", name, lineno, cur, counts[cur - 1]);
        return rc;
    }
    int ids[MAXN], added;
    for (int k = 0; k < cur && rc == SPARQ_OK; k++) {
        ids[k] = cur == 1 ? lm_vocab_add(lm, f[1], strlen(f[1])) : lm_vocab_find(lm, f[k + 1], strlen(f[k + 1]));
        if (ids[k] < 0 && (cur == 1 || ARPA_FAIL("%s:%d: word '%s' is not a 1-gram", name, lineno, f[k + 1])))
            rc = rc ? rc : ids[k];
    }
    if (rc)
        return rc;
    if (cur > 1 && !lm_table_find(&lm->t[cur - 2], ids, cur - 1)) {
        ARPA_FAIL("%s:%d: the context of this %d-gram is not a %d-gram", name, lineno, cur, cur - 1);
        return rc;
    }
    struct gram *g = lm_table_add(&lm->t[cur - 1], ids, cur, &added);
    if (!g)
        return SPARQ_ENOMEM;
    if (!added) {
        ARPA_FAIL("%s:%d: duplicate %d-gram", name, lineno, cur);
        return rc;
    }
    g->logp = lp;
    g->bo = bo;
    return SPARQ_OK;
}

int sparq_lm_parse(struct sparq_lm **out, const char *text, size_t len, const char *name)
{
    *out = NULL;
    char *buf = sparq_malloc(len + 1, "language model text");
    if (!buf)
        return SPARQ_ENOMEM;
    memcpy(buf, text, len);
    buf[len] = 0;
    struct sparq_lm *lm = lm_new(0);
    if (!lm) {
        free(buf);
        return SPARQ_ENOMEM;
    }
    size_t counts[MAXN] = { 0 };
    int rc = SPARQ_OK, state = 0; // 0 before \data\, 1 counts, 2+n in section n, 9 after \end\ .
    int lineno = 0, cur = 0;
    char *p = buf;
    char *const end = buf + len;
    while (rc == SPARQ_OK && p) {
        char *line = p, *e = memchr(p, '\n', (size_t)(end - p));
        char *stop = e ? e : end;
        *stop = 0;
        p = e ? e + 1 : NULL;
        if (!e && line == end)
            break;
        lineno++;
        if (strlen(line) != (size_t)(stop - line)) {
            ARPA_FAIL("%s:%d: NUL byte in the line", name, lineno);
            break;
        }
        if (stop > line && stop[-1] == '\r')
            stop[-1] = 0;
        if (is_blank(line))
            continue;
        if (state == 0) {
            if (strcmp(line, "\\data\\") && ARPA_FAIL("%s:%d: expected \\data\\", name, lineno))
                break;
            state = 1;
        } else if (state == 1 && !strncmp(line, "ngram ", 6)) {
            int n;
            char *end, *eq = strchr(line + 6, '=');
            long c;
            if (!eq || (n = (int)strtol(line + 6, &end, 10), end != eq) || n != lm->order + 1 || n > MAXN ||
                (errno = 0, c = strtol(eq + 1, &end, 10), *end || errno || c < 1 || eq[1] == '-')) {
                ARPA_FAIL("%s:%d: bad count line '%s' (expected 'ngram %d=COUNT', COUNT >= 1, order <= %d)", name,
                          lineno, line, lm->order + 1, MAXN);
                break;
            }
            lm->order = n;
            counts[n - 1] = (size_t)c;
        } else if (line[0] == '\\') {
            int n = 0;
            char tail[16] = "";
            if (state >= 2 && lm->t[cur - 1].n != counts[cur - 1] &&
                ARPA_FAIL("%s:%d: \\%d-grams: has %zu entries, the header says %zu", name, lineno, cur,
                          lm->t[cur - 1].n, counts[cur - 1]))
                break;
            if (!strcmp(line, "\\end\\")) {
                if (cur != lm->order || lm->order == 0) {
                    ARPA_FAIL("%s:%d: \\end\\ before the \\%d-grams: section", name, lineno, cur + 1);
                    break;
                }
                state = 9;
                break;
            }
            if (cur == 0 && lm->order == 0) {
                ARPA_FAIL("%s:%d: no 'ngram N=COUNT' lines after \\data\\", name, lineno);
                break;
            }
            if (sscanf(line, "\\%d-grams%15s", &n, tail) != 2 || strcmp(tail, ":") || n != cur + 1 ||
                n > lm->order) {
                ARPA_FAIL("%s:%d: expected '\\%d-grams:' or '\\end\\', found '%s'", name, lineno, cur + 1, line);
                break;
            }
            cur = n;
            state = 2;
        } else if (state == 2) {
            if ((rc = parse_ngram(lm, line, cur, counts, name, lineno)))
                break;
        } else {
            ARPA_FAIL("%s:%d: unexpected line '%.40s'", name, lineno, line);
            break;
        }
    }
    if (rc == SPARQ_OK && state != 9)
        ARPA_FAIL("%s:%d: missing %s", name, lineno, state == 0 ? "\\data\\" : "\\end\\");
    for (; rc == SPARQ_OK && p; lineno++) {
        char *e = memchr(p, '\n', (size_t)(end - p));
        *(e ? e : end) = 0;
        if (!is_blank(p) && ARPA_FAIL("%s:%d: text after \\end\\", name, lineno + 1))
            break;
        p = e ? e + 1 : NULL;
    }
    if (rc == SPARQ_OK) {
        lm->bos = lm_vocab_find(lm, "<s>", 3);
        lm->eos = lm_vocab_find(lm, "</s>", 4);
        lm->unk = lm_vocab_find(lm, "<unk>", 5);
        if (lm->bos < 0 || lm->eos < 0)
            ARPA_FAIL("%s: the 1-grams lack %s", name, lm->bos < 0 ? "<s>" : "</s>");
    }
    if (rc == SPARQ_OK && lm->unk < 0) {
        // Models built without <unk> (SRILM without -unk): unknown words get log10 P = -99.
        int added;
        struct gram *g;
        if ((lm->unk = lm_vocab_add(lm, "<unk>", 5)) < 0 || !(g = lm_table_add(&lm->t[0], &lm->unk, 1, &added)))
            rc = SPARQ_ENOMEM;
        else
            g->logp = -99.0;
    }
    free(buf);
    if (rc) {
        sparq_lm_free(lm);
        return rc;
    }
    *out = lm;
    return SPARQ_OK;
}

int sparq_lm_read(struct sparq_lm **out, const char *path)
{
    char *text;
    size_t len;
    *out = NULL;
    int rc = lm_read_file(path, &text, &len);
    if (rc)
        return rc;
    rc = sparq_lm_parse(out, text, len, path);
    free(text);
    return rc;
}
