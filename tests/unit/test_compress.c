// Compression specs and the budgeted mixed-precision choice (against brute force).
#include <string.h>

#include "check.h"
#include "sparq_compress.h"
#include "sparq_rng.h"

static uint64_t rng_state;
static uint32_t rnd(void)
{
    return (uint32_t)(sparq_rng_next(&rng_state) >> 32);
}

static void test_spec(void)
{
    struct sparq_compress_spec spec;
    int rc = sparq_compress_spec_parse(&spec, "int4-2:4,subsample*=int8,output=float,block0.ffn*=int2-1:4/full");
    struct sparq_layer_setting a = sparq_compress_spec_lookup(&spec, "block3.attn.q");
    struct sparq_layer_setting b = sparq_compress_spec_lookup(&spec, "subsample.conv1");
    struct sparq_layer_setting c = sparq_compress_spec_lookup(&spec, "output");
    struct sparq_layer_setting d = sparq_compress_spec_lookup(&spec, "block0.ffn1.w1");
    CHECK(rc == 0 && spec.count == 4, "four-rule spec parses");
    CHECK(a.width == 4 && a.kept == 2 && a.grid == SPARQ_GRID_SYMMETRIC, "default rule gives int4 2:4");
    CHECK(b.width == 8 && b.kept == 4, "glob rule gives int8 dense");
    CHECK(c.width == 0, "float rule keeps a matrix float");
    CHECK(d.width == 2 && d.kept == 1 && d.grid == SPARQ_GRID_FULL, "later rule wins, /full grid");
    char name[32];
    sparq_layer_setting_name(&d, name, sizeof name);
    CHECK(strcmp(name, "int2-1:4/full") == 0, "setting name round-trips (%s)", name);
    CHECK(sparq_compress_spec_parse(&spec, "int3-2:4") != 0 && sparq_compress_spec_parse(&spec, "int4-3:4") != 0 &&
              sparq_compress_spec_parse(&spec, "int4-2:4x") != 0 && sparq_compress_spec_parse(&spec, "") != 0 &&
              sparq_compress_spec_parse(&spec, "=int4") != 0,
          "bad formats, trailing junk, empty spec and empty pattern are rejected");
    struct sparq_layer_setting s = { 4, 2, SPARQ_GRID_SYMMETRIC };
    CHECK(sparq_layer_bytes(&s, 576, 144) == 576 * (9 * 6 + 4), "int4 2:4 576x144 is 576*(9 blocks*6 + 4 scale) bytes");
}

static void test_budget(void)
{
    int all_ok = 1;
    for (int trial = 0; trial < 200; trial++) {
        int layers = 1 + (int)(rnd() % 5), count[5];
        size_t bytes_store[5][4], *bytes[5];
        double cost_store[5][4], *cost[5];
        size_t total_min = 0;
        for (int i = 0; i < layers; i++) {
            count[i] = 1 + (int)(rnd() % 4);
            size_t mn = (size_t)-1;
            for (int j = 0; j < count[i]; j++) {
                bytes_store[i][j] = 10 + rnd() % 200;
                cost_store[i][j] = (double)(rnd() % 1000) / 10.0;
                if (bytes_store[i][j] < mn)
                    mn = bytes_store[i][j];
            }
            bytes[i] = bytes_store[i];
            cost[i] = cost_store[i];
            total_min += mn;
        }
        size_t budget = total_min + rnd() % 300;
        // Brute force over all combinations.
        double best = 1e300;
        int combos = 1;
        for (int i = 0; i < layers; i++)
            combos *= count[i];
        for (int m = 0; m < combos; m++) {
            int r = m;
            size_t sz = 0;
            double cs = 0;
            for (int i = 0; i < layers; i++) {
                int j = r % count[i];
                r /= count[i];
                sz += bytes[i][j];
                cs += cost[i][j];
            }
            if (sz <= budget && cs < best)
                best = cs;
        }
        int choice[5];
        int rc = sparq_budget_choose(choice, layers, count, (const size_t *const *)bytes,
                                     (const double *const *)cost, budget, 1);
        size_t sz = 0;
        double cs = 0;
        for (int i = 0; rc == 0 && i < layers; i++) {
            sz += bytes[i][choice[i]];
            cs += cost[i][choice[i]];
        }
        all_ok &= rc == 0 && sz <= budget && cs == best;
    }
    CHECK(all_ok, "budget choice equals brute force on 200 random instances and meets the budget");
    size_t b0[1] = { 100 }, *bp[1] = { b0 };
    double c0[1] = { 1 }, *cp[1] = { c0 };
    int one = 1, choice;
    CHECK(sparq_budget_choose(&choice, 1, &one, (const size_t *const *)bp, (const double *const *)cp, 99, 1) != 0,
          "an impossible budget is reported");
}

int main(void)
{
    rng_state = check_seed(99);
    test_spec();
    test_budget();
    return check_done();
}
