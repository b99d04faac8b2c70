// Open-vocabulary text pipeline (sparq_textsrc.h) on the tiny fixture tree
// tests/fixtures/textsrc, whose expected sentences are worked out by hand
// in the comments below, plus a seeded property test of the filter.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_rng.h"
#include "sparq_text.h"
#include "sparq_textsrc.h"

#define ROOT "tests/fixtures/textsrc"
#define LIST "fortune/fortunes,fortune/literature,wordnet/noun,wordnet/adv"

static void clean(const char *in, const char *want)
{
    char *got = sparq_textsrc_clean(in);
    int ok = want ? got && !strcmp(got, want) : got == NULL;
    CHECK(ok, "clean \"%s\" -> %s%s%s (got %s%s%s)", in, want ? "\"" : "", want ? want : "rejected", want ? "\"" : "",
          got ? "\"" : "", got ? got : "rejected", got ? "\"" : "");
    free(got);
}

static int has(const struct sparq_textsrc *t, const char *text, const char *source)
{
    for (size_t i = 0; i < t->count; i++)
        if (!strcmp(t->sent[i].text, text))
            return !strcmp(t->sources[t->sent[i].source].name, source);
    return 0;
}

static const struct sparq_textsrc_source *src(const struct sparq_textsrc *t, const char *name)
{
    for (int i = 0; i < t->nsources; i++)
        if (!strcmp(t->sources[i].name, name))
            return &t->sources[i];
    return NULL;
}

// Invariants of any accepted sentence: 3-25 words, vocabulary only, single
// spaces, and cleaning it again gives itself.
static int speakable(const char *s)
{
    int words = 0;
    if (!*s || s[0] == ' ' || s[strlen(s) - 1] == ' ' || strstr(s, "  "))
        return 0;
    for (const char *p = s; *p; p++) {
        if (sparq_vocab_index((unsigned char)*p) < 0)
            return 0;
        words += p == s || p[-1] == ' ';
    }
    char *again = sparq_textsrc_clean(s);
    int same = again && !strcmp(again, s);
    free(again);
    return same && words >= SPARQ_TEXTSRC_MIN_WORDS && words <= SPARQ_TEXTSRC_MAX_WORDS;
}

int main(void)
{
    // The filter.
    clean("He bought 3 apples at the market.", "he bought three apples at the market");
    clean("It's 7:30, time to go!", "it's seven thirty time to go");
    clean("Too short.", NULL);
    clean("It costs $5 to enter.", NULL);
    clean("She ordered a caf\xc3\xa9 latte today.", NULL);
    clean("x = y + 1 for all the values", NULL);
    clean("b c d e f g are letters", NULL);
    clean("zzzzz went the very tired man", NULL);
    clean("a b c d e f g h i j k l m n o p q r s t u v w x y", NULL); // 25 words but stray letters
    clean("one two three four five six seven eight nine ten one two three four five six seven eight nine ten "
          "one two three four five",
          "one two three four five six seven eight nine ten one two three four five six seven eight nine ten "
          "one two three four five");
    clean("one two three four five six seven eight nine ten one two three four five six seven eight nine ten "
          "one two three four five six",
          NULL);

    // Loading the fixture tree.
    struct sparq_textsrc t, u;
    int rc = sparq_textsrc_load(&t, ROOT, LIST);
    CHECK(rc == SPARQ_OK, "load the fixture sources (%s)", rc ? sparq_last_error() : "ok");
    if (rc)
        return check_done();
    CHECK(t.nsources == 4, "four sources (got %d)", t.nsources);
    // fortunes: 9 candidate sentences; kept: early bird, mr smith, bought,
    // rivers. Rejected: too short, $5, cafe, 32 words, and the shouted
    // duplicate of the early bird.
    const struct sparq_textsrc_source *f = src(&t, "fortune/fortunes"), *l = src(&t, "fortune/literature");
    const struct sparq_textsrc_source *n = src(&t, "wordnet/noun"), *a = src(&t, "wordnet/adv");
    CHECK(f && f->raw == 9 && f->kept == 4, "fortunes: 9 candidates, 4 kept (got %zu, %zu)", f ? f->raw : 0,
          f ? f->kept : 0);
    CHECK(has(&t, "the early bird gets the worm", "fortune/fortunes"), "sentence split at the full stop");
    CHECK(has(&t, "mr smith sleeps late anyway", "fortune/fortunes"), "no split after the abbreviation Mr.");
    CHECK(!has(&t, "anonymous proverb collector", "fortune/fortunes"), "attribution line dropped");
    CHECK(n && n->raw == 3 && n->kept == 3, "wordnet nouns: 3 quoted examples, licence lines skipped (got %zu, %zu)",
          n ? n->raw : 0, n ? n->kept : 0);
    CHECK(has(&t, "dogs chase cats", "wordnet/noun"), "second example of a gloss");
    // "Rivers remember ..." is in fortunes (training) and literature
    // (held out): it stays with training only.
    CHECK(l && l->heldout && l->raw == 2 && l->kept == 1, "literature is held out; its sentence shared with training is dropped (got %zu, %zu)",
          l ? l->raw : 0, l ? l->kept : 0);
    CHECK(has(&t, "rivers remember every stone they pass", "fortune/fortunes"), "shared sentence kept by training source");
    CHECK(a && a->heldout && a->kept == 1, "wordnet adverbs held out");
    CHECK(t.count == 9, "9 distinct sentences in all (got %zu)", t.count);
    int dup = 0;
    for (size_t i = 0; i < t.count; i++)
        for (size_t k = i + 1; k < t.count; k++)
            dup += !strcmp(t.sent[i].text, t.sent[k].text);
    CHECK(dup == 0, "no sentence twice (got %d)", dup);

    // Distinct words and OOV rate of the held-out text.
    const char *train[16], *held[16];
    size_t ntr = 0, nho = 0;
    for (size_t i = 0; i < t.count; i++) {
        if (t.sources[t.sent[i].source].heldout)
            held[nho++] = t.sent[i].text;
        else
            train[ntr++] = t.sent[i].text;
    }
    struct sparq_wordset ws = { 0 };
    CHECK(sparq_wordset_add(&ws, train, ntr) == SPARQ_OK && ws.count == 34, "34 distinct training words (got %zu)",
          ws.count);
    CHECK(sparq_wordset_has(&ws, "worm", 4) && !sparq_wordset_has(&ws, "wor", 3) && !sparq_wordset_has(&ws, "worms", 5),
          "word set lookup is exact");
    double tok, typ;
    sparq_wordset_oov(&ws, held, nho, &tok, &typ);
    // 16 held-out tokens, only "a" and "the" seen; 15 types, 13 unseen.
    CHECK(tok > 14.0 / 16 - 1e-9 && tok < 14.0 / 16 + 1e-9, "held-out OOV tokens 14/16 (got %.4f)", tok);
    CHECK(typ > 13.0 / 15 - 1e-9 && typ < 13.0 / 15 + 1e-9, "held-out OOV types 13/15 (got %.4f)", typ);
    sparq_wordset_free(&ws);

    // Determinism: the same files and list give the same sentences in the
    // same order, however the list is written.
    rc = sparq_textsrc_load(&u, ROOT, "wordnet/adv,wordnet/noun,fortune/literature,fortune/fortunes");
    int same = rc == SPARQ_OK && u.count == t.count;
    for (size_t i = 0; same && i < t.count; i++)
        same = !strcmp(t.sent[i].text, u.sent[i].text) && t.sent[i].source == u.sent[i].source;
    CHECK(same, "loading again (list in another order) gives the same sentences in the same order");
    if (rc == SPARQ_OK)
        sparq_textsrc_free(&u);
    sparq_textsrc_free(&t);

    // Errors name the file and the package, or the unknown source.
    rc = sparq_textsrc_load(&u, ROOT, "fortune/science");
    CHECK(rc != SPARQ_OK && strstr(sparq_last_error(), ROOT "/games/fortunes/science") &&
              strstr(sparq_last_error(), "package fortunes"),
          "missing source names file and package (%s)", sparq_last_error());
    rc = sparq_textsrc_load(&u, ROOT, "fortune/nosuch");
    CHECK(rc == SPARQ_EINVAL && strstr(sparq_last_error(), "fortune/nosuch"), "unknown source is an error (%s)",
          sparq_last_error());

    // Property: random mixtures of words, digits and symbols are either
    // rejected or speakable.
    uint64_t rng = check_seed(20261203);
    static const char *const pieces[] = { "the", "Cat", "3", "21st", "7:30", "don't", "'quoted'", "x", "$", "+",
                                          "caf\xc3\xa9", "--", "...", "rock-and-roll", "zzzz", "I", "a", "Q:", "\t",
                                          "100%", "AT&T", "\"hi\"", "(see)", "1,000", "brrrr", "e.g.", "won't" };
    int bad = 0, accepted = 0;
    for (int it = 0; it < 3000; it++) {
        char buf[512] = "";
        int k = 1 + (int)(sparq_rng_next(&rng) % 30);
        for (int w = 0; w < k; w++) {
            strcat(buf, pieces[sparq_rng_next(&rng) % (sizeof pieces / sizeof pieces[0])]);
            strcat(buf, sparq_rng_next(&rng) % 4 ? " " : "");
        }
        char *c = sparq_textsrc_clean(buf);
        if (c) {
            accepted++;
            if (!speakable(c)) {
                if (!bad)
                    printf("# not speakable: \"%s\" from \"%s\"\n", c, buf);
                bad++;
            }
        }
        free(c);
    }
    CHECK(bad == 0 && accepted > 100, "3000 random inputs: every accepted one speakable (%d accepted, %d bad)",
          accepted, bad);
    return check_done();
}
