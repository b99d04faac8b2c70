// Decoding a whole dataset: eval-mode forward in length-sorted batches.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_ctc.h"
#include "sparq_decode.h"
#include "sparq_dist.h"
#include "sparq_error.h"
#include "sparq_train.h"

// Decodes batches rank, rank + size, ... of the length-sorted batches.
static int decode_share(struct sparq_model *m, const struct sparq_dataset *ds, int max_frames,
                        const struct sparq_ctc_beam_options *dec, char **hyps,
                        int rank, int size)
{
    const struct sparq_config *c = &m->cfg;
    struct sparq_fbank_options fo;
    sparq_fbank_default_options(&fo);
    fo.num_mel_bins = c->n_mels;
    struct sparq_fbank_plan *plan = NULL;
    struct sparq_batches bt;
    int rc = sparq_fbank_plan_create(&plan, &fo);
    if (rc)
        return rc;
    if ((rc = sparq_batches_make(&bt, ds, max_frames, 0))) {
        sparq_fbank_plan_free(plan);
        return rc;
    }
    // Decode-only activations, reserved up front for this share's largest
    // batch: length-sorted batches grow, and growing per batch would hand the
    // forward fresh (page-faulting) memory again and again.
    struct sparq_acts *a = sparq_acts_create_eval(c, 1, 64);
    float *feats = NULL;
    size_t feats_cap = 0;
    int *lens = malloc(sizeof(int) * (ds->n + 1));
    if (!a || !lens) {
        rc = SPARQ_ENOMEM;
        goto out;
    }
    for (size_t bi = (size_t)rank; bi < bt.n && rc == SPARQ_OK; bi += (size_t)size) {
        size_t s0 = bt.start[bi], B = bt.start[bi + 1] - s0;
        int T = 0;
        for (size_t k = 0; k < B; k++)
            T = ds->frames[bt.order[s0 + k]] > T ? ds->frames[bt.order[s0 + k]] : T;
        rc = sparq_acts_reserve(a, (int)B, T);
        feats_cap = B * (size_t)T * c->n_mels > feats_cap ? B * (size_t)T * c->n_mels : feats_cap;
    }
    if (rc == SPARQ_OK && feats_cap && !(feats = sparq_malloc(sizeof(float) * feats_cap, "features")))
        rc = SPARQ_ENOMEM;
    for (size_t bi = (size_t)rank; bi < bt.n && rc == SPARQ_OK; bi += (size_t)size) {
        size_t s0 = bt.start[bi], B = bt.start[bi + 1] - s0;
        int T = 0;
        for (size_t k = 0; k < B; k++) {
            lens[k] = ds->frames[bt.order[s0 + k]];
            T = lens[k] > T ? lens[k] : T;
        }
        size_t need = B * (size_t)T * c->n_mels;
        if (need > feats_cap) {
            free(feats);
            feats = sparq_malloc(sizeof(float) * need, "features");
            feats_cap = feats ? need : 0;
            if (!feats) {
                rc = SPARQ_ENOMEM;
                break;
            }
        }
        memset(feats, 0, sizeof(float) * need);
        int frc = SPARQ_OK;
#pragma omp parallel for schedule(dynamic)
        for (size_t k = 0; k < B; k++) {
            int r = sparq_dataset_features(ds, bt.order[s0 + k], plan, 0, m, feats + k * (size_t)T * c->n_mels);
            if (r) {
#pragma omp critical
                frc = r;
            }
        }
        if ((rc = frc))
            break;
        int T2 = sparq_forward(m, a, feats, lens, (int)B, T, 0);
        if (T2 < 0) {
            rc = T2;
            break;
        }
        const float *lg = sparq_acts_logits(a);
        const int *ol = sparq_acts_out_lens(a);
#pragma omp parallel for schedule(dynamic)
        for (size_t k = 0; k < B; k++) {
            size_t cap = (size_t)ol[k] + 2;
            char *h = malloc(cap);
            const float *x = lg + k * (size_t)T2 * c->vocab;
            if (h) {
                if (dec && dec->beam > 1)
                    sparq_ctc_beam_ex(x, ol[k], c->vocab, dec, h, cap);
                else
                    sparq_ctc_greedy(x, ol[k], c->vocab, h, cap);
            }
            hyps[bt.order[s0 + k]] = h;
        }
        for (size_t k = 0; k < B; k++)
            if (!hyps[bt.order[s0 + k]])
                rc = sparq_fail(SPARQ_ENOMEM, "out of memory for hypotheses");
    }
out:
    free(lens);
    free(feats);
    sparq_acts_free(a);
    sparq_batches_free(&bt);
    sparq_fbank_plan_free(plan);
    return rc;
}

// Greedy (beam <= 1) or plain prefix beam search: no LM, no word bonus.
static const struct sparq_ctc_beam_options *plain_beam(struct sparq_ctc_beam_options *o, int beam)
{
    *o = (struct sparq_ctc_beam_options){ beam, NULL, 0.0, 0.0 };
    return o;
}

int sparq_decode_dataset(struct sparq_model *m, const struct sparq_dataset *ds, int max_frames, int beam,
                         char **hyps)
{
    struct sparq_ctc_beam_options o;
    return decode_share(m, ds, max_frames, plain_beam(&o, beam), hyps, 0, 1);
}

int sparq_decode_dataset_dist(struct sparq_model *m, const struct sparq_dataset *ds, int max_frames, int beam,
                              char **hyps)
{
    struct sparq_ctc_beam_options o;
    return sparq_decode_dataset_dist_ex(m, ds, max_frames, plain_beam(&o, beam), hyps);
}

// Rank 0 collects every rank's hypotheses (records "index (u64) text NUL"):
// each rank sends the ones it decoded, rank 0 fills its empty slots and
// refuses a set with an utterance no rank decoded (named by ids[i] if given).
int sparq_decode_gather_hyps(char **hyps, size_t n_utts, const char *const *ids)
{
    size_t n = 0, off = 0;
    for (size_t i = 0; i < n_utts; i++)
        n += hyps[i] ? sizeof(uint64_t) + strlen(hyps[i]) + 1 : 0;
    char *buf = sparq_malloc(n + 1, "hypotheses to gather"), *all = NULL;
    if (!buf) { // the other ranks wait in the gather
        fprintf(stderr, "sparq: rank %d of %d: %s\n", sparq_dist_rank(), sparq_dist_size(), sparq_last_error());
        sparq_dist_abort(1);
        return SPARQ_ENOMEM;
    }
    for (size_t i = 0; i < n_utts; i++)
        if (hyps[i]) {
            uint64_t idx = i;
            size_t l = strlen(hyps[i]) + 1;
            memcpy(buf + off, &idx, sizeof idx);
            memcpy(buf + off + sizeof idx, hyps[i], l);
            off += sizeof idx + l;
        }
    size_t *counts = NULL, total = 0;
    int rc = sparq_dist_gather_bytes(buf, n, &all, &counts);
    free(buf);
    for (int r = 0; rc == SPARQ_OK && sparq_dist_is_root() && r < sparq_dist_size(); r++)
        total += counts[r];
    for (size_t p = 0; rc == SPARQ_OK && p < total;) {
        uint64_t idx;
        memcpy(&idx, all + p, sizeof idx);
        p += sizeof idx;
        size_t l = strnlen(all + p, total - p);
        if (idx >= n_utts || p + l >= total)
            rc = sparq_fail(SPARQ_EFORMAT, "gathered hypotheses are malformed");
        else if (!hyps[idx] && !(hyps[idx] = strdup(all + p)))
            rc = sparq_fail(SPARQ_ENOMEM, "out of memory for hypotheses");
        p += l + 1;
    }
    for (size_t i = 0; rc == SPARQ_OK && sparq_dist_is_root() && i < n_utts; i++)
        if (!hyps[i])
            rc = ids ? sparq_fail(SPARQ_EINVAL, "no rank decoded utterance %s", ids[i])
                     : sparq_fail(SPARQ_EINVAL, "no rank decoded utterance %zu", i);
    free(all);
    free(counts);
    return rc;
}

int sparq_decode_dataset_dist_ex(struct sparq_model *m, const struct sparq_dataset *ds, int max_frames,
                                 const struct sparq_ctc_beam_options *dec, char **hyps)
{
    int rc = sparq_dist_init();
    const int rank = sparq_dist_rank(), size = sparq_dist_size();
    if (rc || size == 1)
        return rc ? rc : decode_share(m, ds, max_frames, dec, hyps, 0, 1);
    if ((rc = decode_share(m, ds, max_frames, dec, hyps, rank, size))) {
        fprintf(stderr, "sparq: rank %d of %d: %s\n", rank, size, sparq_last_error());
        sparq_dist_abort(1);
        return rc;
    }
    return sparq_decode_gather_hyps(hyps, ds->n, (const char *const *)ds->ids);
}
