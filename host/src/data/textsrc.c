// Open-vocabulary corpus text (sparq_textsrc.h): fortune databases and
// WordNet usage examples from Debian main, split into sentences, normalised
// by the text layer, filtered and de-duplicated.
#include "sparq_textsrc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_text.h"

enum family { FORTUNE, WORDNET };

struct known {
    int family;
    const char *file;    // fortune database name or WordNet part of speech
    const char *package; // Debian package that ships it
    int heldout;
};

// Every English prose-like fortune database of fortunes-min and fortunes
// (code, IRC logs, ascii art and the ethnic / men-women jokes are left out),
// and WordNet's usage examples. Held-out sources (test-text only) are whole
// databases, so their topics and many of their words never reach training.
static const struct known known[] = {
    { FORTUNE, "fortunes", "fortunes-min", 0 },    { FORTUNE, "riddles", "fortunes-min", 0 },
    { FORTUNE, "art", "fortunes", 0 },             { FORTUNE, "computers", "fortunes", 0 },
    { FORTUNE, "cookie", "fortunes", 0 },          { FORTUNE, "definitions", "fortunes", 0 },
    { FORTUNE, "education", "fortunes", 0 },       { FORTUNE, "food", "fortunes", 0 },
    { FORTUNE, "goedel", "fortunes", 0 },          { FORTUNE, "humorists", "fortunes", 0 },
    { FORTUNE, "kids", "fortunes", 0 },            { FORTUNE, "law", "fortunes", 0 },
    { FORTUNE, "love", "fortunes", 0 },            { FORTUNE, "magic", "fortunes", 0 },
    { FORTUNE, "medicine", "fortunes", 0 },        { FORTUNE, "miscellaneous", "fortunes", 0 },
    { FORTUNE, "news", "fortunes", 0 },            { FORTUNE, "paradoxum", "fortunes", 0 },
    { FORTUNE, "people", "fortunes", 0 },          { FORTUNE, "platitudes", "fortunes", 0 },
    { FORTUNE, "politics", "fortunes", 0 },        { FORTUNE, "pratchett", "fortunes", 0 },
    { FORTUNE, "startrek", "fortunes", 0 },        { FORTUNE, "tao", "fortunes", 0 },
    { FORTUNE, "wisdom", "fortunes", 0 },          { FORTUNE, "work", "fortunes", 0 },
    { FORTUNE, "zippy", "fortunes", 0 },           { WORDNET, "noun", "wordnet-base", 0 },
    { WORDNET, "verb", "wordnet-base", 0 },        { WORDNET, "adj", "wordnet-base", 0 },
    // held out for test-text
    { FORTUNE, "literature", "fortunes-min", 1 },  { FORTUNE, "science", "fortunes", 1 },
    { FORTUNE, "sports", "fortunes", 1 },          { FORTUNE, "pets", "fortunes", 1 },
    { FORTUNE, "songs-poems", "fortunes", 1 },     { WORDNET, "adv", "wordnet-base", 1 },
};
#define NKNOWN ((int)(sizeof known / sizeof known[0]))
static const char *const family_names[] = { "fortune", "wordnet" };

// ---- filter -----------------------------------------------------------------

static int is_vowel(int c) { return strchr("aeiouy", c) != NULL; }

char *sparq_textsrc_clean(const char *raw)
{
    // Symbols the TTS would read aloud but the normaliser drops (or code,
    // markup, ascii art): the transcript would not match the audio.
    if (strpbrk(raw, "$+=/@#*<>{}[]|\\^~_`"))
        return NULL;
    char *t = sparq_text_normalize(raw);
    if (!t)
        return NULL;
    int words = 0, single = 0, ok = 1;
    for (const char *p = t; *p && ok;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        const char *w = p;
        int vowels = 0;
        for (; *p && *p != ' '; p++) {
            if (sparq_vocab_index((unsigned char)*p) < 0)
                ok = 0;
            vowels += is_vowel(*p);
        }
        size_t len = (size_t)(p - w);
        words++;
        if (len > 20 || (len >= 4 && !vowels))
            ok = 0;
        if (len == 1 && *w != 'a' && *w != 'i')
            single++;
    }
    // Many stray letters: initials lists, spelled-out noise, ascii art.
    if (!ok || words < SPARQ_TEXTSRC_MIN_WORDS || words > SPARQ_TEXTSRC_MAX_WORDS || single * 3 > words) {
        free(t);
        return NULL;
    }
    return t;
}

// ---- reading ----------------------------------------------------------------

struct cand {
    char *text;
    int source;
    int heldout;
    size_t order;
};

struct cands {
    struct cand *c;
    size_t n, cap;
    int oom;
};

static void add_raw(struct cands *cs, const char *raw, int source, int heldout, size_t *raw_count)
{
    (*raw_count)++;
    char *t = sparq_textsrc_clean(raw);
    if (!t)
        return;
    if (cs->n == cs->cap) {
        size_t cap = cs->cap ? cs->cap * 2 : 4096;
        struct cand *c = realloc(cs->c, cap * sizeof *c);
        if (!c) {
            free(t);
            cs->oom = 1;
            return;
        }
        cs->c = c;
        cs->cap = cap;
    }
    cs->c[cs->n] = (struct cand){ t, source, heldout, cs->n };
    cs->n++;
}

// Abbreviations whose full stop does not end a sentence.
static int is_abbrev(const char *start, const char *dot)
{
    static const char *const ab[] = { "mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "etc", "prof", "mt", "no",
                                      "e.g", "i.e", "gen", "col", "capt", "rev", "sen", "gov", "inc", "co" };
    const char *w = dot;
    while (w > start && !isspace((unsigned char)w[-1]) && w[-1] != '(' && w[-1] != '"')
        w--;
    size_t len = (size_t)(dot - w);
    if (len == 1 && isupper((unsigned char)*w)) // an initial: "J. R. R. Tolkien"
        return 1;
    for (size_t k = 0; k < sizeof ab / sizeof ab[0]; k++)
        if (strlen(ab[k]) == len && !strncasecmp(w, ab[k], len))
            return 1;
    return 0;
}

// Splits a paragraph at . ! ? followed by white space (or a closing quote
// and white space) and adds each piece.
static void add_paragraph(struct cands *cs, char *para, int source, int heldout, size_t *raw_count)
{
    char *s = para;
    for (char *p = para; *p; p++) {
        if (*p != '.' && *p != '!' && *p != '?')
            continue;
        char *q = p + 1;
        while (*q == '"' || *q == '\'' || *q == ')' || *q == '!' || *q == '?' || *q == '.')
            q++;
        if (*q && !isspace((unsigned char)*q))
            continue;
        if (*p == '.' && is_abbrev(s, p))
            continue;
        char keep = *q;
        *q = 0;
        add_raw(cs, s, source, heldout, raw_count);
        *q = keep;
        s = q;
        p = q - 1 + (*q != 0);
        if (!*q)
            break;
    }
    while (*s && isspace((unsigned char)*s))
        s++;
    if (*s)
        add_raw(cs, s, source, heldout, raw_count);
}

// Appends `line` to a growing paragraph buffer with a space.
static int append(char **buf, size_t *len, size_t *cap, const char *line)
{
    size_t n = strlen(line);
    if (*len + n + 2 > *cap) {
        size_t c = (*len + n + 2) * 2;
        char *b = realloc(*buf, c);
        if (!b)
            return -1;
        *buf = b;
        *cap = c;
    }
    if (*len)
        (*buf)[(*len)++] = ' ';
    memcpy(*buf + *len, line, n + 1);
    *len += n;
    return 0;
}

// A fortune database: entries separated by lines "%"; an attribution line
// ("-- Mark Twain") ends the quotation.
static int read_fortune(FILE *f, struct cands *cs, int source, int heldout, size_t *raw_count)
{
    char line[4096];
    char *para = NULL;
    size_t len = 0, cap = 0;
    int attribution = 0, rc = 0;
    for (;;) {
        char *got = fgets(line, sizeof line, f);
        if (got)
            line[strcspn(line, "\r\n")] = 0;
        if (!got || !strcmp(line, "%")) {
            if (len)
                add_paragraph(cs, para, source, heldout, raw_count);
            len = 0;
            attribution = 0;
            if (!got)
                break;
            continue;
        }
        const char *t = line;
        while (isspace((unsigned char)*t))
            t++;
        if (!strncmp(t, "--", 2))
            attribution = 1;
        if (attribution)
            continue;
        if (append(&para, &len, &cap, line)) {
            rc = -1;
            break;
        }
    }
    free(para);
    return rc;
}

// WordNet data.POS: after the " | " of each synset line the gloss holds
// usage examples in double quotes. Licence lines start with two spaces.
static void read_wordnet(FILE *f, struct cands *cs, int source, int heldout, size_t *raw_count)
{
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == ' ')
            continue;
        char *g = strstr(line, " | ");
        if (!g)
            continue;
        for (char *p = strchr(g, '"'); p;) {
            char *e = strchr(p + 1, '"');
            if (!e)
                break;
            *e = 0;
            add_raw(cs, p + 1, source, heldout, raw_count);
            p = strchr(e + 1, '"');
        }
    }
    free(line);
}

// ---- de-duplication ---------------------------------------------------------

// Same text together; within it training sources first, then file order.
static int cmp_text(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    int c = strcmp(x->text, y->text);
    if (c)
        return c;
    if (x->heldout != y->heldout)
        return x->heldout - y->heldout;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_order(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    return x->order < y->order ? -1 : x->order > y->order;
}

// ---- loading ----------------------------------------------------------------

static int add_source(struct sparq_textsrc *t, const char *root, int k)
{
    char name[48];
    snprintf(name, sizeof name, "%s/%s", family_names[known[k].family], known[k].file);
    for (int i = 0; i < t->nsources; i++)
        if (!strcmp(t->sources[i].name, name))
            return SPARQ_OK; // named twice
    struct sparq_textsrc_source *s = realloc(t->sources, (size_t)(t->nsources + 1) * sizeof *s);
    if (!s)
        return sparq_fail(SPARQ_ENOMEM, "text sources: out of memory");
    t->sources = s;
    s += t->nsources++;
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    if (known[k].family == FORTUNE)
        snprintf(s->path, sizeof s->path, "%.900s/games/fortunes/%s", root, known[k].file);
    else
        snprintf(s->path, sizeof s->path, "%.900s/wordnet/data.%s", root, known[k].file);
    s->heldout = known[k].heldout;
    return SPARQ_OK;
}

// Resolves the comma-separated list into sources (in table order, so the
// result does not depend on how the list was written).
static int parse_list(struct sparq_textsrc *t, const char *root, const char *list)
{
    char want[NKNOWN];
    memset(want, 0, sizeof want);
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        char item[64];
        if (n == 0 || n >= sizeof item)
            return sparq_fail(SPARQ_EINVAL, "text sources: bad item '%.*s' in '%s'", (int)n, p, list);
        memcpy(item, p, n);
        item[n] = 0;
        int found = 0;
        for (int k = 0; k < NKNOWN; k++) {
            char name[48];
            snprintf(name, sizeof name, "%s/%s", family_names[known[k].family], known[k].file);
            int fam = (int)known[k].family;
            if (!strcmp(item, "default") || !strcmp(item, name) || (fam == FORTUNE && !strcmp(item, "fortunes")) ||
                (fam == WORDNET && !strcmp(item, "wordnet"))) {
                want[k] = 1;
                found = 1;
            }
        }
        if (!found)
            return sparq_fail(SPARQ_EINVAL,
                              "text sources: unknown source '%s' (use default, fortunes, wordnet, fortune/NAME or "
                              "wordnet/noun|verb|adj|adv)",
                              item);
        p += n + (p[n] == ',');
    }
    for (int k = 0; k < NKNOWN; k++) {
        int rc;
        if (want[k] && (rc = add_source(t, root, k)))
            return rc;
    }
    return SPARQ_OK;
}

static int package_of(const struct sparq_textsrc_source *s)
{
    for (int k = 0; k < NKNOWN; k++) {
        char name[48];
        snprintf(name, sizeof name, "%s/%s", family_names[known[k].family], known[k].file);
        if (!strcmp(name, s->name))
            return k;
    }
    return 0;
}

int sparq_textsrc_load(struct sparq_textsrc *t, const char *root, const char *list)
{
    memset(t, 0, sizeof *t);
    if (!root)
        root = "/usr/share";
    if (!list)
        list = "default";
    int rc = parse_list(t, root, list);
    struct cands cs = { 0 };
    for (int i = 0; rc == SPARQ_OK && i < t->nsources; i++) {
        struct sparq_textsrc_source *s = &t->sources[i];
        FILE *f = fopen(s->path, "r");
        if (!f) {
            const struct known *k = &known[package_of(s)];
            rc = sparq_fail(SPARQ_EIO, "%s: cannot read text source %s: %s (install the Debian package %s, "
                            "or choose sources with --text-sources)",
                            s->path, s->name, strerror(errno), k->package);
            break;
        }
        if (known[package_of(s)].family == FORTUNE) {
            if (read_fortune(f, &cs, i, s->heldout, &s->raw))
                cs.oom = 1;
        } else
            read_wordnet(f, &cs, i, s->heldout, &s->raw);
        if (ferror(f))
            rc = sparq_fail(SPARQ_EIO, "%s: read error", s->path);
        fclose(f);
        if (cs.oom && rc == SPARQ_OK)
            rc = sparq_fail(SPARQ_ENOMEM, "%s: out of memory reading text", s->path);
    }
    if (rc == SPARQ_OK && cs.n) {
        qsort(cs.c, cs.n, sizeof *cs.c, cmp_text);
        size_t u = 0;
        for (size_t i = 0; i < cs.n; i++) {
            if (u && !strcmp(cs.c[u - 1].text, cs.c[i].text)) {
                free(cs.c[i].text);
                continue;
            }
            cs.c[u++] = cs.c[i];
        }
        cs.n = u;
        qsort(cs.c, cs.n, sizeof *cs.c, cmp_order);
        t->sent = malloc(cs.n * sizeof *t->sent);
        if (!t->sent)
            rc = sparq_fail(SPARQ_ENOMEM, "text sources: out of memory");
        for (size_t i = 0; rc == SPARQ_OK && i < cs.n; i++) {
            t->sent[i] = (struct sparq_textsrc_sentence){ cs.c[i].text, cs.c[i].source };
            t->sources[cs.c[i].source].kept++;
            cs.c[i].text = NULL;
        }
        if (rc == SPARQ_OK)
            t->count = cs.n;
    }
    for (size_t i = 0; i < cs.n; i++)
        free(cs.c[i].text);
    free(cs.c);
    if (rc)
        sparq_textsrc_free(t);
    return rc;
}

void sparq_textsrc_free(struct sparq_textsrc *t)
{
    for (size_t i = 0; i < t->count; i++)
        free(t->sent[i].text);
    free(t->sent);
    free(t->sources);
    memset(t, 0, sizeof *t);
}

// ---- word sets --------------------------------------------------------------

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int sparq_wordset_add(struct sparq_wordset *ws, const char *const *texts, size_t n)
{
    size_t cap = ws->count + 64, len = ws->count;
    char **w = malloc(cap * sizeof *w);
    if (!w)
        return sparq_fail(SPARQ_ENOMEM, "word set: out of memory");
    if (ws->count)
        memcpy(w, ws->words, ws->count * sizeof *w);
    for (size_t i = 0; i < n; i++)
        for (const char *p = texts[i]; *p;) {
            if (*p == ' ') {
                p++;
                continue;
            }
            size_t k = strcspn(p, " ");
            if (!sparq_wordset_has(ws, p, k)) {
                if (len == cap) {
                    char **g = realloc(w, cap * 2 * sizeof *w);
                    if (!g)
                        goto oom;
                    w = g;
                    cap *= 2;
                }
                if (!(w[len] = strndup(p, k)))
                    goto oom;
                len++;
            }
            p += k;
        }
    qsort(w, len, sizeof *w, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < len; i++) {
        if (u && !strcmp(w[u - 1], w[i])) {
            free(w[i]);
            continue;
        }
        w[u++] = w[i];
    }
    free(ws->words);
    ws->words = w;
    ws->count = u;
    return SPARQ_OK;
oom:
    for (size_t i = ws->count; i < len; i++)
        free(w[i]);
    free(w);
    return sparq_fail(SPARQ_ENOMEM, "word set: out of memory");
}

int sparq_wordset_has(const struct sparq_wordset *ws, const char *word, size_t len)
{
    size_t lo = 0, hi = ws->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strncmp(ws->words[mid], word, len);
        if (c == 0)
            c = ws->words[mid][len] ? 1 : 0;
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

void sparq_wordset_oov(const struct sparq_wordset *ws, const char *const *texts, size_t n, double *token_rate,
                       double *type_rate)
{
    size_t tokens = 0, oov = 0;
    struct sparq_wordset seen = { 0 };
    for (size_t i = 0; i < n; i++)
        for (const char *p = texts[i]; *p;) {
            if (*p == ' ') {
                p++;
                continue;
            }
            size_t k = strcspn(p, " ");
            tokens++;
            oov += !sparq_wordset_has(ws, p, k);
            p += k;
        }
    *token_rate = tokens ? (double)oov / (double)tokens : 0;
    *type_rate = 0;
    if (sparq_wordset_add(&seen, texts, n) == SPARQ_OK && seen.count) {
        size_t miss = 0;
        for (size_t i = 0; i < seen.count; i++)
            miss += !sparq_wordset_has(ws, seen.words[i], strlen(seen.words[i]));
        *type_rate = (double)miss / (double)seen.count;
    }
    sparq_wordset_free(&seen);
}

void sparq_wordset_free(struct sparq_wordset *ws)
{
    for (size_t i = 0; i < ws->count; i++)
        free(ws->words[i]);
    free(ws->words);
    ws->words = NULL;
    ws->count = 0;
}
