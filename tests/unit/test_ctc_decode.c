// CTC decoding: greedy collapse rules, prefix beam search against an
// exhaustive search over all paths, and a case where the beam beats greedy.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sparq_ctc.h"
#include "sparq_fbank.h"
#include "sparq_rng.h"

// Symbols 0 blank, 1 space, 2 apostrophe, 3 'a', 4 'b', 5 'c'.
#define V 6

static void onehot(float *x, const int *best, int T)
{
    for (int t = 0; t < T; t++)
        for (int k = 0; k < V; k++)
            x[t * V + k] = k == best[t] ? 5.0f : 0.0f;
}

// Most probable label sequence by enumerating every path (V^T).
static void brute_best(const float *x, int T, char *out)
{
    double lp[8][V];
    for (int t = 0; t < T; t++) {
        double z = 0;
        for (int k = 0; k < V; k++)
            z += exp(x[t * V + k]);
        for (int k = 0; k < V; k++)
            lp[t][k] = x[t * V + k] - log(z);
    }
    int npaths = 1;
    for (int t = 0; t < T; t++)
        npaths *= V;
    // label sequences as strings -> probability (linear list, small)
    static char seqs[4096][8];
    static double prob[4096];
    int nseq = 0;
    for (int p = 0; p < npaths; p++) {
        int q = p, prev = -1, n = 0;
        char s[8];
        double l = 0;
        for (int t = 0; t < T; t++) {
            int k = q % V;
            q /= V;
            l += lp[t][k];
            if (k && k != prev)
                s[n++] = " 'abc"[k - 1];
            prev = k;
        }
        s[n] = 0;
        int j = 0;
        while (j < nseq && strcmp(seqs[j], s))
            j++;
        if (j == nseq) {
            strcpy(seqs[nseq], s);
            prob[nseq++] = 0;
        }
        prob[j] += exp(l);
    }
    int best = 0;
    for (int j = 1; j < nseq; j++)
        if (prob[j] > prob[best])
            best = j;
    strcpy(out, seqs[best]);
}

int main(void)
{
    uint64_t rng = check_seed(99);
    char out[64];
    float x[8 * V];

    int path1[8] = { 3, 3, 0, 3, 4, 4, 0, 1 };
    onehot(x, path1, 8);
    sparq_ctc_greedy(x, 8, V, out, sizeof out);
    CHECK(!strcmp(out, "aab "), "greedy merges repeats, keeps blank-separated repeats: '%s'", out);
    int path2[5] = { 0, 5, 2, 2, 0 };
    onehot(x, path2, 5);
    sparq_ctc_greedy(x, 5, V, out, sizeof out);
    CHECK(!strcmp(out, "c'"), "greedy drops blanks: '%s'", out);
    sparq_ctc_greedy(x, 5, V, out, 2);
    CHECK(!strcmp(out, "c"), "greedy truncates to the buffer: '%s'", out);

    // P(blank)=0.6, P(a)=0.4 in both frames: greedy says "", but P("a") = 0.64
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < V; k++)
            x[t * V + k] = k == 0 ? logf(0.6f) : k == 3 ? logf(0.4f) : -30.0f;
    sparq_ctc_greedy(x, 2, V, out, sizeof out);
    CHECK(!strcmp(out, ""), "greedy picks the best path ('%s')", out);
    sparq_ctc_beam(x, 2, V, 4, out, sizeof out);
    CHECK(!strcmp(out, "a"), "prefix beam sums paths and finds 'a' ('%s')", out);

    // random small problems: a wide beam is exact
    int agree = 0, trials = 30;
    for (int i = 0; i < trials; i++) {
        int T = 2 + (int)(sparq_rng_next(&rng) % 4);
        for (int j = 0; j < T * V; j++)
            x[j] = (float)(3.0 * sparq_rng_normal(&rng));
        char ref[16];
        brute_best(x, T, ref);
        sparq_ctc_beam(x, T, V, 2000, out, sizeof out);
        agree += !strcmp(ref, out);
        if (strcmp(ref, out)) {
            int la[16], lb[16], na = 0, nb = 0;
            for (char *q = out; *q; q++)
                la[na++] = *q == ' ' ? 1 : *q == '\'' ? 2 : *q - 'a' + 3;
            for (char *q = ref; *q; q++)
                lb[nb++] = *q == ' ' ? 1 : *q == '\'' ? 2 : *q - 'a' + 3;
            printf("# trial %d (T=%d): beam '%s' (nll %.4f) exhaustive '%s' (nll %.4f)\n", i, T, out,
                   sparq_ctc_loss(x, T, V, la, na, 1.0f, NULL), ref, sparq_ctc_loss(x, T, V, lb, nb, 1.0f, NULL));
        }
    }
    CHECK(agree == trials, "wide prefix beam equals exhaustive search (%d/%d)", agree, trials);
    // beam 1 equals... at least returns a valid string; beam monotone sanity on one-hot input
    onehot(x, path1, 8);
    sparq_ctc_beam(x, 8, V, 8, out, sizeof out);
    CHECK(!strcmp(out, "aab "), "beam on confident input equals greedy: '%s'", out);
    return check_done();
}
