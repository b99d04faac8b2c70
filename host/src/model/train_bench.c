// `sparq train --bench`: training steps on a synthetic batch, timed.
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "sparq_clock.h"
#include "sparq_ctc.h"
#include "sparq_dist.h"
#include "sparq_error.h"
#include "sparq_layers.h"
#include "sparq_rng.h"
#include "train_internal.h"

void sparq_bench_batch(int B, int *lens, int *target_lens)
{
    for (int b = 0; b < B; b++) {
        lens[b] = 400 - 8 * (b % 25);
        target_lens[b] = lens[b] / 10;
    }
}

int sparq_train_bench(const struct sparq_config *c, int B, int steps, struct sparq_bench_result *r)
{
    int rc = sparq_dist_init();
    if (rc)
        return rc;
    const int rank = sparq_dist_rank(), nranks = sparq_dist_size();
    struct sparq_model m;
    if ((rc = sparq_model_create(&m, c)))
        return rc;
    sparq_model_init(&m, 1);
    struct sparq_adamw opt;
    int *lens = malloc(sizeof(int) * (size_t)B), *tl = malloc(sizeof(int) * (size_t)B);
    if (!lens || !tl || (rc = sparq_adamw_init(&opt, &m, 0.9f, 0.98f, 1e-9f, 0.01f))) {
        free(lens);
        free(tl);
        sparq_model_free(&m);
        return rc ? rc : SPARQ_ENOMEM;
    }
    sparq_bench_batch(B, lens, tl);
    int T = lens[0], nt = 0;
    for (int b = 0; b < B; b++)
        nt += tl[b];
    // The global batch is generated identically on every rank; each rank
    // trains on its contiguous share, padded to its own longest utterance.
    size_t lo, hi;
    sparq_dist_share((size_t)B, rank, nranks, &lo, &hi);
    int Bl = (int)(hi - lo), Tl = 0, to = 0;
    for (int b = 0; b < (int)lo; b++)
        to += tl[b];
    for (int b = (int)lo; b < (int)hi; b++)
        Tl = lens[b] > Tl ? lens[b] : Tl;
    float *x = malloc(sizeof(float) * (size_t)B * T * c->n_mels);
    float *xl = malloc(sizeof(float) * ((size_t)Bl * Tl * c->n_mels + 1));
    int *tg = malloc(sizeof(int) * (size_t)nt);
    float *dl = malloc(sizeof(float) * ((size_t)Bl * sparq_sub_frames(Tl > 7 ? Tl : 7) * c->vocab + 1));
    struct sparq_acts *a = sparq_acts_create(c, Bl > 0 ? Bl : 1, Tl > 7 ? Tl : 7);
    uint64_t rng = 42;
    for (size_t i = 0; x && i < (size_t)B * T * c->n_mels; i++)
        x[i] = (float)sparq_rng_normal(&rng);
    for (int i = 0; tg && i < nt; i++)
        tg[i] = 1 + (int)(sparq_rng_next(&rng) % (uint64_t)(c->vocab - 1));
    for (int k = 0; x && xl && k < Bl; k++)
        memcpy(xl + (size_t)k * Tl * c->n_mels, x + (lo + (size_t)k) * T * c->n_mels,
               sizeof(float) * (size_t)Tl * c->n_mels);
    memset(r, 0, sizeof *r);
    r->B = B;
    r->steps = steps;
    r->ranks = nranks;
    for (int b = 0; b < B; b++)
        r->audio_s += lens[b] * 0.01;
    if (nranks > 1)
        m.hooks.batch_sum = (struct sparq_batch_sum){ train_dist_batch_sum, NULL };
    double t0 = 0, c0 = 0;
    int ok = x && xl && tg && dl && a;
    for (int s = 0; ok && s <= steps; s++) {
        if (s == 1) {
            sparq_dist_barrier();
            t0 = sparq_clock_s();
            c0 = sparq_dist_comm_seconds();
        }
        double loss = 0.0;
        sparq_model_zero_grad(&m);
        if (Bl > 0) {
            int T2 = sparq_forward(&m, a, xl, lens + lo, Bl, Tl, 1);
            loss = sparq_ctc_batch(sparq_acts_logits(a), sparq_acts_out_lens(a), Bl, T2, c->vocab, tg + to,
                                   tl + lo, dl, NULL);
            if (Bl != B) {
                float w = (float)Bl / (float)B;
                for (size_t i = 0; i < (size_t)Bl * T2 * c->vocab; i++)
                    dl[i] *= w;
                loss *= (double)Bl / B;
            }
            sparq_backward(&m, a, dl);
        } else {
            for (int l = 0; l < c->n_layers; l++)
                batchnorm_forward_idle(&m.hooks.batch_sum, c->d_model);
            for (int l = 0; l < c->n_layers; l++)
                batchnorm_backward_idle(&m.hooks.batch_sum, c->d_model);
        }
        if (nranks > 1) {
            // Time waiting for the slower rank apart from the allreduce itself.
            double tw = sparq_clock_s();
            sparq_dist_barrier();
            if (s > 0)
                r->wait_s += sparq_clock_s() - tw;
            sparq_dist_allreduce_f32_buckets(m.grad_mem, m.n_params, GRAD_BUCKET);
            sparq_dist_allreduce_f64(&loss, 1);
        }
        sparq_clip_grad_norm(&m, 5.0);
        sparq_adamw_step(&opt, &m, 1e-3f);
        if (s == 0)
            r->loss_first = loss;
        r->loss_last = loss;
    }
    sparq_dist_barrier();
    r->step_s = (sparq_clock_s() - t0) / steps;
    // Means over the ranks (the slowest rank itself never waits).
    double times[2] = { (sparq_dist_comm_seconds() - c0) / steps, r->wait_s / steps };
    sparq_dist_allreduce_f64(times, 2);
    r->comm_s = times[0] / nranks;
    r->wait_s = times[1] / nranks;
    r->audio_per_s = r->audio_s / r->step_s;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r->peak_rss_mb = (double)ru.ru_maxrss / 1024.0;
    rc = ok ? SPARQ_OK : sparq_fail(SPARQ_ENOMEM, "out of memory for the benchmark batch");
    free(x);
    free(xl);
    free(tg);
    free(dl);
    free(lens);
    free(tl);
    sparq_acts_free(a);
    sparq_adamw_free(&opt);
    sparq_model_free(&m);
    return rc;
}
