// WER/CER alignment against hand-worked examples, plus invariants on random
// strings and `id text` / manifest file scoring.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_rng.h"
#include "sparq_wer.h"

static void words(const char *ref, const char *hyp, int s, int d, int i, int n)
{
    struct sparq_edit_counts c;
    int rc = sparq_align_words(ref, hyp, &c);
    CHECK(rc == 0 && c.sub == s && c.del == d && c.ins == i && c.ref == n,
          "words \"%s\" / \"%s\": S%d D%d I%d N%d (got S%lld D%lld I%lld N%lld)", ref, hyp, s, d, i, n,
          (long long)c.sub, (long long)c.del, (long long)c.ins, (long long)c.ref);
}

static void chars(const char *ref, const char *hyp, int s, int d, int i, int n)
{
    struct sparq_edit_counts c;
    int rc = sparq_align_chars(ref, hyp, &c);
    CHECK(rc == 0 && c.sub == s && c.del == d && c.ins == i && c.ref == n,
          "chars \"%s\" / \"%s\": S%d D%d I%d N%d (got S%lld D%lld I%lld N%lld)", ref, hyp, s, d, i, n,
          (long long)c.sub, (long long)c.del, (long long)c.ins, (long long)c.ref);
}

// Plain two-row Levenshtein distance, written independently of wer.c.
static int distance(const char *const *a, int n, const char *const *b, int m)
{
    int prev[64], cur[64];
    for (int j = 0; j <= m; j++)
        prev[j] = j;
    for (int i = 1; i <= n; i++) {
        cur[0] = i;
        for (int j = 1; j <= m; j++) {
            int best = prev[j - 1] + (strcmp(a[i - 1], b[j - 1]) != 0);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            cur[j] = best;
        }
        memcpy(prev, cur, sizeof cur);
    }
    return prev[m];
}

static void random_invariants(uint64_t seed)
{
    static const char *const vocab[] = { "a", "b", "c", "d" };
    uint64_t s = seed;
    int bad = 0;
    for (int trial = 0; trial < 500; trial++) {
        const char *r[40], *h[40];
        uint64_t len_bits = sparq_rng_next(&s);
        int n = (int)((len_bits >> 33) % 12), m = (int)((len_bits >> 45) % 12);
        char rs[128] = "", hs[128] = "";
        for (int i = 0; i < n; i++) {
            r[i] = vocab[(sparq_rng_next(&s) >> 40) % 4];
            strcat(rs, r[i]);
            strcat(rs, " ");
        }
        for (int i = 0; i < m; i++) {
            h[i] = vocab[(sparq_rng_next(&s) >> 40) % 4];
            strcat(hs, "  ");
            strcat(hs, h[i]);
        }
        struct sparq_edit_counts c;
        if (sparq_align_words(rs, hs, &c) || c.sub + c.del + c.ins != distance(r, n, h, m) ||
            c.hits + c.sub + c.del != n || c.hits + c.sub + c.ins != m)
            bad++;
    }
    CHECK(bad == 0, "500 random pairs: S+D+I = Levenshtein distance, H+S+D = N, H+S+I = hyp length (%d bad)", bad);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void files(void)
{
    char dir[] = "/tmp/sparq_wer_XXXXXX";
    if (!mkdtemp(dir))
        return;
    char ref[256], hyp[256], man[256], dup[256];
    snprintf(ref, sizeof ref, "%s/ref.txt", dir);
    snprintf(hyp, sizeof hyp, "%s/hyp.txt", dir);
    snprintf(man, sizeof man, "%s/ref.jsonl", dir);
    snprintf(dup, sizeof dup, "%s/dup.txt", dir);
    write_file(ref, "u1 Set a timer for 10 minutes\nu2 call mom\n\nu3 what's the weather\n");
    write_file(hyp, "u3 what is the weather\nu1 set timer for ten minutes\nu9 extra words\n");
    struct sparq_score s;
    int rc = sparq_score_files(ref, hyp, &s);
    // u1: ref "set a timer for ten minutes" vs "set timer for ten minutes": D1, N6
    // u2: "call mom" vs missing -> "": D2, N2
    // u3: "what's the weather" vs "what is the weather": S1 I1, N3
    CHECK(rc == 0 && s.count == 3 && s.words.ref == 11 && s.words.sub == 1 && s.words.del == 3 && s.words.ins == 1 &&
              s.missing_hyp == 1 && s.extra_hyp == 1,
          "score files: N11 S1 D3 I1, 1 missing, 1 extra (got N%lld S%lld D%lld I%lld)", (long long)s.words.ref,
          (long long)s.words.sub, (long long)s.words.del, (long long)s.words.ins);
    char *json = rc ? NULL : sparq_score_json(&s, 1);
    CHECK(json && strstr(json, "\"per_utterance\"") && strstr(json, "\"rate\":\t0.454545"),
          "score JSON has per-utterance entries and WER 5/11");
    free(json);
    if (!rc)
        sparq_score_free(&s);
    write_file(man, "{\"audio_filepath\": \"a/u1.wav\", \"duration\": 1.5, \"text\": \"set a timer for ten minutes\"}\n"
                    "{\"id\": \"u3\", \"audio_filepath\": \"x.wav\", \"duration\": 1.0, \"text\": \"WHAT'S the weather?\"}\n");
    rc = sparq_score_files(man, hyp, &s);
    CHECK(rc == 0 && s.count == 2 && s.words.ref == 9 && s.words.del == 1 && s.words.sub == 1 && s.words.ins == 1,
          "manifest as reference: ids from id field or audio name");
    if (!rc)
        sparq_score_free(&s);
    write_file(dup, "u1 a\nu1 b\n");
    rc = sparq_score_files(dup, hyp, &s);
    CHECK(rc != 0 && strstr(sparq_last_error(), "dup.txt") && strstr(sparq_last_error(), "twice"),
          "duplicate id rejected: %s", sparq_last_error());
    rc = sparq_score_files("/nonexistent/ref.txt", hyp, &s);
    CHECK(rc != 0 && strstr(sparq_last_error(), "/nonexistent/ref.txt"), "missing file named: %s", sparq_last_error());
    unlink(ref);
    unlink(hyp);
    unlink(man);
    unlink(dup);
    rmdir(dir);
}

// Every utterance of tests/fixtures/wer against NIST sclite's own counts
// (tests/fixtures/make_wer_fixtures.py runs sclite from Debian's sctk).
static void sclite_fixture(void)
{
    struct sparq_score s, lev;
    int rc = sparq_score_files_ex("tests/fixtures/wer/ref.txt", "tests/fixtures/wer/hyp.txt", SPARQ_ALIGN_SCLITE, &s);
    int rc2 = sparq_score_files("tests/fixtures/wer/ref.txt", "tests/fixtures/wer/hyp.txt", &lev);
    FILE *f = fopen("tests/fixtures/wer/sclite.txt", "r");
    CHECK(rc == 0 && rc2 == 0 && f, "sclite fixture loads (%s)", rc || rc2 ? sparq_last_error() : "ok");
    if (rc || rc2 || !f) {
        if (f)
            fclose(f);
        return;
    }
    char id[64];
    long sub, del, ins;
    size_t rows = 0, same = 0, fewer_or_equal = 0;
    while (fscanf(f, "%63s %ld %ld %ld", id, &sub, &del, &ins) == 4) {
        rows++;
        for (size_t i = 0; i < s.count; i++) {
            if (strcmp(s.entries[i].id, id))
                continue;
            const struct sparq_edit_counts *c = &s.entries[i].words, *u = &lev.entries[i].words;
            if (c->sub == sub && c->del == del && c->ins == ins)
                same++;
            else
                printf("# %s: sparq S%lld D%lld I%lld, sclite S%ld D%ld I%ld\n", id, (long long)c->sub,
                       (long long)c->del, (long long)c->ins, sub, del, ins);
            // Unit costs minimise the error count, so never exceed sclite's.
            fewer_or_equal += u->sub + u->del + u->ins <= sub + del + ins;
        }
    }
    fclose(f);
    CHECK(rows == s.count && same == rows, "--sclite: S/D/I equal sclite's on %zu of %zu utterances", same, rows);
    CHECK(fewer_or_equal == rows, "Levenshtein error count <= sclite's on %zu of %zu utterances", fewer_or_equal, rows);
    sparq_score_free(&s);
    sparq_score_free(&lev);
}

int main(void)
{
    uint64_t seed = check_seed(4);
    words("the cat sat on the mat", "the cat sit on mat", 1, 1, 0, 6);
    words("a b c", "a x b c", 0, 0, 1, 3);
    words("a b c", "a b c", 0, 0, 0, 3);
    words("", "", 0, 0, 0, 0);
    words("", "hello world", 0, 0, 2, 0);
    words("hello world", "", 0, 2, 0, 2);
    words("a b", "b a", 2, 0, 0, 2);             // tie: diagonal preferred
    words("a b c d", "b c d e", 0, 1, 1, 4);      // shift: one deletion, one insertion
    words("  spaced   out  ", "spaced out", 0, 0, 0, 2);
    chars("abc", "abd", 1, 0, 0, 3);
    chars("ab cd", "abcd", 0, 1, 0, 5);           // the space counts as a character
    chars("caf\xC3\xA9", "cafe", 1, 0, 0, 4);     // one code point, not two bytes
    chars("", "ab", 0, 0, 2, 0);
    chars("a  b", "a b", 0, 0, 0, 3);

    struct sparq_edit_counts c = { .sub = 1, .del = 1, .ins = 1, .ref = 6 };
    CHECK(sparq_error_rate(&c) == 0.5, "rate = (S+D+I)/N");
    struct sparq_edit_counts e = { .ins = 2, .ref = 0 };
    struct sparq_edit_counts z = { 0 };
    CHECK(sparq_error_rate(&e) == 2.0 && sparq_error_rate(&z) == 0.0, "empty reference: errors/1, 0 if both empty");

    const char *ids[] = { "x", "y" };
    const char *refs[] = { "Hello, World!", "" };
    const char *hyps[] = { "hello world", "" };
    struct sparq_score s;
    int rc = sparq_score_pairs(ids, refs, hyps, 2, &s);
    CHECK(rc == 0 && s.words.ref == 2 && s.words.sub + s.words.del + s.words.ins == 0 && s.chars.ref == 11,
          "pairs are normalised before alignment");
    if (!rc)
        sparq_score_free(&s);
    struct sparq_edit_counts w;
    int rc2 = sparq_align_words_ex("a b", "b a", SPARQ_ALIGN_SCLITE, &w);
    CHECK(rc2 == 0 && w.sub == 0 && w.del == 1 && w.ins == 1 && w.hits == 1,
          "sclite weights: \"a b\" / \"b a\" is 1 hit, 1 deletion, 1 insertion");
    rc2 = sparq_align_words_ex("the cat sat on the mat", "the cat sit on mat", SPARQ_ALIGN_SCLITE, &w);
    CHECK(rc2 == 0 && w.sub == 1 && w.del == 1 && w.ins == 0, "sclite weights agree when nothing ties");
    random_invariants(seed);
    files();
    sclite_fixture();
    return check_done();
}
