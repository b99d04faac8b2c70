// Word n-gram LM: Kneser-Ney probabilities computed by hand on a tiny text,
// normalisation over the vocabulary, ARPA round trip, backoff queries on a
// hand-written ARPA file, and malformed ARPA files rejected by line.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_lm.h"
#include "sparq_rng.h"

static double P(const struct sparq_lm *lm, const char *h1, const char *h2, const char *w)
{
    int hist[2], n = 0;
    if (h1)
        hist[n++] = sparq_lm_word(lm, h1, strlen(h1));
    if (h2)
        hist[n++] = sparq_lm_word(lm, h2, strlen(h2));
    return pow(10.0, sparq_lm_logp(lm, hist, n, sparq_lm_word(lm, w, strlen(w))));
}

static const char *VALID = "\\data\\\n"          // 1
                           "ngram 1=4\n"         // 2
                           "ngram 2=2\n"         // 3
                           "\n"                  // 4
                           "\\1-grams:\n"        // 5
                           "-99\t<s>\t-0.3\n"    // 6
                           "-0.5\t</s>\n"        // 7
                           "-1.0\t<unk>\n"       // 8
                           "-0.4\ta\t-0.2\n"     // 9
                           "\n"                  // 10
                           "\\2-grams:\n"        // 11
                           "-0.1\t<s> a\n"       // 12
                           "-0.2\ta </s>\n"      // 13
                           "\n"                  // 14
                           "\\end\\\n";          // 15

// VALID with line `line` (1-based) replaced by `with` (NULL: removed).
static char *edit(int line, const char *with)
{
    char *out = malloc(strlen(VALID) + 256);
    const char *p = VALID;
    out[0] = 0;
    for (int n = 1; *p; n++) {
        const char *e = strchr(p, '\n') + 1;
        if (n != line)
            strncat(out, p, (size_t)(e - p));
        else if (with)
            strcat(strcat(out, with), "\n");
        p = e;
    }
    return out;
}

int main(void)
{
    uint64_t rng = check_seed(15);
    struct sparq_lm *lm = NULL, *lm2 = NULL;

    // Hand computation (order 2) on "a b" / "a c". Counts of counts are too
    // sparse to estimate discounts, so D1, D2, D3+ = 0.5, 1, 1.5.
    // Unigram continuation counts: a 1 (<s>), b 1, c 1, </s> 2 (b, c); sum 5,
    // gamma = (0.5*3 + 1*1)/5 = 0.5 spread over 5 words (a b c </s> <unk>):
    // P(a) = 0.5/5 + 0.1 = 0.2, P(</s>) = 1/5 + 0.1 = 0.3, P(<unk>) = 0.1.
    // Bigrams: <s> a (2), gamma(<s>) = 1*1/2: P(a|<s>) = 1/2 + 0.5*0.2 = 0.6;
    // a b, a c (1 each), gamma(a) = 0.5*2/2: P(b|a) = 0.5/2 + 0.5*0.2 = 0.35,
    // P(</s>|a) = 0.5*0.3 = 0.15, P(zz|a) = 0.5*0.1 = 0.05; P(</s>|b) = 0.5 + 0.5*0.3.
    int rc = sparq_lm_build_text(&lm, "a b\nA C!\n\n", 2);
    CHECK(rc == 0, "built the tiny model (%s)", rc ? sparq_last_error() : "ok");
    if (rc)
        return check_done();
    struct {
        const char *h, *w;
        double p;
    } hand[] = { { NULL, "a", 0.2 },   { NULL, "</s>", 0.3 }, { NULL, "zz", 0.1 },  { "<s>", "a", 0.6 },
                 { "<s>", "b", 0.1 }, { "a", "b", 0.35 },    { "a", "c", 0.35 },   { "a", "</s>", 0.15 },
                 { "a", "zz", 0.05 }, { "b", "</s>", 0.65 },  { "b", "a", 0.1 } };
    int good = 0;
    for (size_t i = 0; i < sizeof hand / sizeof *hand; i++) {
        double p = P(lm, hand[i].h, NULL, hand[i].w);
        good += fabs(p - hand[i].p) < 1e-9;
        if (fabs(p - hand[i].p) >= 1e-9)
            printf("# P(%s | %s) = %.9f, by hand %.9f\n", hand[i].w, hand[i].h ? hand[i].h : "", p, hand[i].p);
    }
    CHECK(good == (int)(sizeof hand / sizeof *hand), "Kneser-Ney probabilities equal the hand computation (%d/%zu)",
          good, sizeof hand / sizeof *hand);
    CHECK(sparq_lm_count(lm, 1) == 6 && sparq_lm_count(lm, 2) == 5, "n-gram counts: %zu 1-grams, %zu 2-grams",
          sparq_lm_count(lm, 1), sparq_lm_count(lm, 2));
    sparq_lm_free(lm);

    // Modified KN discounts (order 2): sentences a x1, b x2, c x3, d x4 give
    // 2-gram counts of counts n1..n4 = 2, so Y = 2/(2+2*2) = 1/3, D1 = 1 - 2Y = 1/3,
    // D2 = 2 - 3Y = 1, D3+ = 3 - 4Y = 5/3. History <s>: sum 10, gamma = (D1 + D2 + 2 D3)/10.
    // Unigrams: continuation counts a..d 1, </s> 4 (sum 8; counts of counts
    // too sparse: 0.5, 1, 1.5), gamma1 = (4*0.5 + 1.5)/8 over 6 words.
    rc = sparq_lm_build_text(&lm, "a\nb\nb\nc\nc\nc\nd\nd\nd\nd\n", 2);
    if (rc == 0) {
        double D1 = 1.0 / 3, D2 = 1, D3 = 5.0 / 3, g = (D1 + D2 + 2 * D3) / 10, pu = 0.5 / 8 + 3.5 / 8 / 6;
        double pa = P(lm, "<s>", NULL, "a"), pb = P(lm, "<s>", NULL, "b"), pd = P(lm, "<s>", NULL, "d");
        CHECK(fabs(pa - ((1 - D1) / 10 + g * pu)) < 1e-9 && fabs(pb - ((2 - D2) / 10 + g * pu)) < 1e-9 &&
                  fabs(pd - ((4 - D3) / 10 + g * pu)) < 1e-9 && fabs(P(lm, "d", NULL, "</s>") - (4 - D3) / 4 -
                                                                     (D3 / 4) * (2.5 / 8 + 3.5 / 8 / 6)) < 1e-9,
              "three discounts from the counts of counts: P(a|<s>) %.6f, P(b|<s>) %.6f, P(d|<s>) %.6f", pa, pb, pd);
        sparq_lm_free(lm);
    }

    // A random text, order 3 with real discounts: every history's distribution sums to 1.
    size_t cap = 1 << 16, n = 0;
    char *text = malloc(cap);
    const char *words[] = { "go", "to", "the", "park", "now", "set", "a", "timer", "for", "five", "minutes", "call",
                            "mom", "play", "music", "stop" };
    for (int s = 0; s < 400; s++) {
        int len = 1 + (int)(sparq_rng_next(&rng) % 7), w = (int)(sparq_rng_next(&rng) % 16);
        for (int i = 0; i < len; i++) {
            w = sparq_rng_next(&rng) % 3 ? (w + 1) % 16 : (int)(sparq_rng_next(&rng) % 16); // some structure
            n += (size_t)snprintf(text + n, cap - n, "%s%s", i ? " " : "", words[w]);
        }
        text[n++] = '\n';
    }
    text[n] = 0;
    rc = sparq_lm_build_text(&lm, text, 3);
    CHECK(rc == 0, "built an order-3 model from 400 random sentences (%zu/%zu/%zu n-grams)", sparq_lm_count(lm, 1),
          sparq_lm_count(lm, 2), sparq_lm_count(lm, 3));
    double worst = 0;
    for (int trial = 0; trial < 200; trial++) {
        int hist[2] = { (int)(sparq_rng_next(&rng) % sparq_lm_vocab_size(lm)),
                        (int)(sparq_rng_next(&rng) % sparq_lm_vocab_size(lm)) };
        if (trial % 3 == 0)
            hist[0] = sparq_lm_bos(lm);
        double sum = 0;
        for (int w = 0; w < (int)sparq_lm_vocab_size(lm); w++)
            if (w != sparq_lm_bos(lm))
                sum += pow(10.0, sparq_lm_logp(lm, hist, 2 - (trial % 5 == 0), w));
        worst = fmax(worst, fabs(sum - 1.0));
    }
    CHECK(worst < 1e-9, "P(. | history) sums to 1 over the vocabulary for 200 histories (worst error %.2g)", worst);

    // ARPA round trip: write, read, same probabilities and the same text again.
    char *arpa = sparq_lm_arpa(lm);
    rc = arpa ? sparq_lm_parse(&lm2, arpa, strlen(arpa), "roundtrip.arpa") : -1;
    CHECK(rc == 0, "the written ARPA text reads back (%s)", rc ? sparq_last_error() : "ok");
    if (rc == 0) {
        double diff = 0;
        for (int trial = 0; trial < 2000; trial++) {
            int hist[3], nh = (int)(sparq_rng_next(&rng) % 4);
            for (int i = 0; i < nh; i++)
                hist[i] = (int)(sparq_rng_next(&rng) % sparq_lm_vocab_size(lm));
            int w = (int)(sparq_rng_next(&rng) % sparq_lm_vocab_size(lm));
            // ids may differ between the two models: go through the words
            int hist2[3];
            for (int i = 0; i < nh; i++) {
                const char *s = sparq_lm_word_text(lm, hist[i]);
                hist2[i] = sparq_lm_word(lm2, s, strlen(s));
            }
            const char *ws = sparq_lm_word_text(lm, w);
            diff = fmax(diff, fabs(sparq_lm_logp(lm, hist, nh, w) -
                                   sparq_lm_logp(lm2, hist2, nh, sparq_lm_word(lm2, ws, strlen(ws)))));
        }
        char *arpa2 = sparq_lm_arpa(lm2);
        // ARPA keeps 6 decimals: a query sums at most 3 rounded terms (two backoffs, one probability)
        CHECK(diff <= 3 * 5e-7 + 1e-12 && arpa2 && !strcmp(arpa, arpa2),
              "round trip keeps probabilities (max log10 difference %.2g <= 1.5e-6) and the text", diff);
        free(arpa2);
        sparq_lm_free(lm2);
    }
    free(arpa);
    free(text);
    sparq_lm_free(lm);

    // Backoff on a hand-written file: P(</s>|<s>) = bo(<s>) P(</s>) = -0.3 - 0.5;
    // unknown words are <unk>: P(zz|a) = bo(a) + P(<unk>) = -0.2 - 1.0.
    rc = sparq_lm_parse(&lm, VALID, strlen(VALID), "t.arpa");
    CHECK(rc == 0, "a hand-written ARPA file reads (%s)", rc ? sparq_last_error() : "ok");
    if (rc == 0) {
        double a = log10(P(lm, "<s>", NULL, "a")), b = log10(P(lm, "<s>", NULL, "</s>")), c = log10(P(lm, "a", NULL, "zz"));
        CHECK(fabs(a + 0.1) < 1e-9 && fabs(b + 0.8) < 1e-9 && fabs(c + 1.2) < 1e-9,
              "ARPA backoff queries: %.3f %.3f %.3f (by hand -0.1 -0.8 -1.2)", a, b, c);
        sparq_lm_free(lm);
    }

    struct {
        int line;
        const char *with, *want;
    } bad[] = {
        { 1, "data", "t.arpa:1:" },                   // no \data\ header
        { 2, "ngram 1=5", "t.arpa:11:" },             // count mismatch, found at the next section
        { 3, "ngram 3=2", "t.arpa:3:" },              // orders not consecutive
        { 7, "nan\t</s>", "t.arpa:7:" },              // not finite
        { 7, "0.5\t</s>", "t.arpa:7:" },              // probability above 1
        { 9, "-0.4\ta\tinf", "t.arpa:9:" },           // backoff not finite
        { 9, "-0.4x\ta", "t.arpa:9:" },               // junk number
        { 12, "-0.1\t<s> b", "t.arpa:12:" },          // word not a 1-gram
        { 13, "-0.1\t<s> a", "t.arpa:13:" },          // duplicate
        { 13, "-0.2\ta </s>\t-0.1", "t.arpa:13:" },   // backoff at the top order
        { 13, "-0.2\ta", "t.arpa:13:" },              // too few fields
        { 5, "\\2-grams:", "t.arpa:5:" },             // sections out of order
        { 15, NULL, "missing \\end\\" },              // no end
        { 15, "\\end\\\nmore", "t.arpa:16:" },        // text after the end
        { 6, "-99\t<s2>\t-0.3", "t.arpa:12:" },       // <s> missing: the bigram's word is unknown
    };
    int refused = 0;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *t = edit(bad[i].line, bad[i].with);
        lm = NULL;
        rc = sparq_lm_parse(&lm, t, strlen(t), "t.arpa");
        int ok = rc != 0 && !lm && strstr(sparq_last_error(), bad[i].want) && !strchr(sparq_last_error(), '\n');
        refused += ok;
        printf("# case %zu: %s\n", i, rc ? sparq_last_error() : "accepted");
        sparq_lm_free(lm);
        free(t);
    }
    CHECK(refused == (int)(sizeof bad / sizeof *bad), "malformed ARPA files are refused naming the line (%d/%zu)",
          refused, sizeof bad / sizeof *bad);
    rc = sparq_lm_read(&lm, "/nonexistent/lm.arpa");
    CHECK(rc != 0 && strstr(sparq_last_error(), "/nonexistent/lm.arpa"), "a missing file is named: %s",
          sparq_last_error());
    rc = sparq_lm_build_text(&lm, "a b\n", 5);
    CHECK(rc != 0 && !lm, "order 5 is refused: %s", sparq_last_error());
    return check_done();
}
