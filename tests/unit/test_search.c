// Budgeted mixed-precision search: the chosen spec's exported file fits the
// budget and its size is reported exactly; with room to spare every layer
// takes its least harmful candidate; an impossible budget is refused; the
// model is left unchanged; a second search at another budget reuses the
// measurement and only re-solves.
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_runtime.h"
#include "sparq_search.h"
#include "tiny_model.h"
#include "sparq_rng.h"

static uint64_t rng_state;
static float rndf(void)
{
    return (float)(2.0 * sparq_rng_uniform(&rng_state) - 1.0);
}

enum { UTTS = 6 };

// Utterances of noise with random transcripts, built in memory.
static void make_dev(struct sparq_dataset *ds, int n_mels)
{
    memset(ds, 0, sizeof *ds);
    ds->n = UTTS;
    ds->ids = calloc(UTTS, sizeof(char *));
    ds->texts = calloc(UTTS, sizeof(char *));
    ds->labels = calloc(UTTS, sizeof(int *));
    ds->n_labels = calloc(UTTS, sizeof(int));
    ds->samples = calloc(UTTS, sizeof(float *));
    ds->n_samples = calloc(UTTS, sizeof(size_t));
    ds->frames = calloc(UTTS, sizeof(int));
    struct sparq_fbank_options fo;
    sparq_fbank_default_options(&fo);
    fo.num_mel_bins = n_mels;
    for (int i = 0; i < UTTS; i++) {
        size_t n = 8000 + 1600 * (size_t)i;
        ds->ids[i] = malloc(16);
        snprintf(ds->ids[i], 16, "u%d", i);
        ds->texts[i] = strdup("abc");
        ds->n_labels[i] = 3 + i % 3;
        ds->labels[i] = malloc(sizeof(int) * 8);
        for (int k = 0; k < ds->n_labels[i]; k++)
            ds->labels[i][k] = 3 + (i * 5 + k * 7) % 26;
        ds->samples[i] = malloc(sizeof(float) * n);
        for (size_t k = 0; k < n; k++)
            ds->samples[i][k] = 3000.0f * rndf() * sinf(0.01f * (float)k * (float)(i + 1));
        ds->n_samples[i] = n;
        ds->frames[i] = sparq_fbank_num_frames(n, &fo);
        ds->seconds += (double)n / 16000.0;
    }
}

static size_t export_bytes(const struct sparq_model *m, const char *text)
{
    struct sparq_compress_spec spec;
    struct sparq_export_report rep;
    char path[] = "/tmp/sparq_search_test_XXXXXX";
    close(mkstemp(path));
    int rc = sparq_compress_spec_parse(&spec, text);
    rc = rc ? rc : sparq_export(m, &spec, NULL, SPARQ_SCALE_MSE, path, &rep);
    unlink(path);
    return rc ? 0 : rep.file_bytes;
}

int main(void)
{
    rng_state = check_seed(77);
    struct sparq_config cfg;
    tiny_model_config(&cfg);
    cfg.n_layers = 1; // one block is enough for the search
    struct sparq_model m;
    sparq_model_create(&m, &cfg);
    sparq_model_init(&m, 5);
    struct sparq_dataset dev;
    make_dev(&dev, cfg.n_mels);
    float *before = malloc(sizeof(float) * m.n_params);
    memcpy(before, m.param_mem, sizeof(float) * m.n_params);

    struct sparq_search_options o;
    sparq_search_default_options(&o);
    o.progress = 0;
    sparq_search_parse_options(&o, "int8,int4-2:4,int2-1:4");
    sparq_compress_spec_parse(&o.fixed, "sub1_w=int8");
    o.budget_percent = 100.0;
    struct sparq_search_result r;
    int rc = sparq_search_run(&m, &dev, &o, &r);
    CHECK(rc == 0, "search at a 100%% budget runs (%s)", rc ? sparq_last_error() : "ok");
    if (rc)
        return check_done();
    int argmin_ok = 1, fixed_searched = 0;
    for (int i = 0; i < r.n_layers; i++) {
        const struct sparq_search_layer *L = &r.layers[i];
        for (int j = 0; j < o.n_options; j++)
            argmin_ok &= L->cost[L->choice] <= L->cost[j];
        fixed_searched |= !strcmp(L->name, "sub1_w");
    }
    CHECK(argmin_ok, "with room to spare each of the %d layers takes its least harmful candidate", r.n_layers);
    CHECK(!fixed_searched, "layers of --keep (sub1_w) are not searched");
    CHECK(memcmp(before, m.param_mem, sizeof(float) * m.n_params) == 0, "the model is left unchanged");
    double sum1 = 0, sum8 = 0;
    for (int i = 0; i < r.n_layers; i++) {
        sum8 += r.layers[i].cost[0];
        sum1 += r.layers[i].cost[2];
    }
    CHECK(sum1 > sum8, "int2 1:4 hurts more than int8 summed over layers (%.4f > %.4f)", sum1, sum8);
    double first_cost = r.layers[0].cost[2];
    sparq_search_result_free(&r);

    // A tight budget halfway between all-int2-1:4 and all-int8: the exported
    // file of the chosen spec fits it, exactly as reported.
    size_t lo = export_bytes(&m, "int2-1:4,sub1_w=int8"), hi = export_bytes(&m, "int8");
    o.budget_percent = 100.0 * (double)(lo + hi) / 2.0 / (4.0 * (double)m.n_params);
    rc = sparq_search_run(&m, &dev, &o, &r);
    CHECK(rc == 0, "search at a %.2f%% budget runs (%s)", o.budget_percent, rc ? sparq_last_error() : "ok");
    if (rc == 0) {
        CHECK(r.layers[0].cost[2] == first_cost, "second search reuses the per-layer measurement");
        struct sparq_compress_spec spec;
        struct sparq_export_report rep;
        char path[] = "/tmp/sparq_search_test_XXXXXX";
        close(mkstemp(path));
        rc = sparq_compress_spec_parse(&spec, r.spec);
        rc = rc ? rc : sparq_export(&m, &spec, NULL, o.scale_method, path, &rep);
        unlink(path);
        CHECK(rc == 0 && rep.file_bytes == r.file_bytes && r.file_bytes <= r.budget_bytes,
              "chosen spec exports to %zu bytes = reported %zu <= budget %zu", rc ? 0 : rep.file_bytes, r.file_bytes,
              r.budget_bytes);
        int cheaper = 0;
        for (int i = 0; i < r.n_layers; i++)
            cheaper += r.layers[i].choice != 0;
        CHECK(cheaper > 0, "the tight budget moves %d layers off int8", cheaper);
        double pred = r.base_loss;
        for (int i = 0; i < r.n_layers; i++)
            pred += r.layers[i].cost[r.layers[i].choice];
        CHECK(fabs(pred - r.predicted_loss) < 1e-9, "predicted loss = base + chosen costs");
        sparq_search_result_free(&r);
    }
    o.budget_percent = 1.0;
    rc = sparq_search_run(&m, &dev, &o, &r);
    CHECK(rc == SPARQ_EINVAL && strstr(sparq_last_error(), "budget"), "an impossible 1%% budget is refused: %s",
          sparq_last_error());
    free(before);
    sparq_dataset_free(&dev);
    sparq_model_free(&m);
    return check_done();
}
