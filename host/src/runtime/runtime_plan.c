// The batch-size model: what decoding utterances of given lengths costs on a
// model device of some hardware, as the calls sparq_forward makes.
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"
#include "sparq_error.h"
#include "sparq_layers.h"

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

// One planned GEMM of `rows` rows on layer i (a chain's W1: the whole
// chain; its W2: only counted), with the matrices m loaded on dev.
static int plan_call(struct sparq_runtime *rt, struct sparq_device *dev, const struct sparq_device_matrix *m, int i,
                     int rows, struct sparq_runtime_layer_stats *st)
{
    struct rt_weight *rw = &rt->weights[i];
    if (!rw->packed || rows <= 0)
        return SPARQ_OK;
    rt_count_call(rw, st, rows);
    if ((rt->use_chain && rw->chain >= 0 && rt->chains[rw->chain].w2 == i) || rw->host)
        return SPARQ_OK; // on W1's row / on the host: nothing on the device
    struct sparq_device_counters c0, c1;
    struct sparq_wire_kinds k0, k1;
    uint64_t o0, i0, o1, i1;
    sparq_device_counters(dev, &c0);
    sparq_device_wire(dev, &o0, &i0);
    sparq_device_wire_kinds(dev, &k0);
    int rc = rt_run_matrix(rt, dev, m, sizeof *m, i, rows);
    sparq_device_wire_kinds(dev, &k1);
    sparq_device_wire(dev, &o1, &i1);
    sparq_device_counters(dev, &c1);
    for (int k = 0; k < SPARQ_WIRE_KINDS; k++)
        st->model_kind[k] += k1.kind[k] - k0.kind[k];
    st->model_busy += c1.busy - c0.busy;
    st->model_macs += c1.macs - c0.macs;
    st->model_bytes += (o1 - o0) + (i1 - i0);
    st->model_to_dev += o1 - o0;
    st->model_from_dev += i1 - i0;
    return rc;
}

int sparq_runtime_plan(struct sparq_runtime *rt, const int *frames, size_t n, int batch,
                       struct sparq_runtime_layer_stats *stats)
{
    return sparq_runtime_plan_on(rt, &rt->cfg, frames, n, batch, stats);
}

int sparq_runtime_plan_on(struct sparq_runtime *rt, const struct sparq_device_config *cfg, const int *frames, size_t n,
                          int batch, struct sparq_runtime_layer_stats *stats)
{
    return sparq_runtime_plan_rows(rt, cfg, frames, n, batch, SPARQ_PLAN_PADDED, stats);
}

int sparq_runtime_plan_rows(struct sparq_runtime *rt, const struct sparq_device_config *cfg, const int *frames,
                            size_t n, int batch, enum sparq_plan_rows rows_of, struct sparq_runtime_layer_stats *stats)
{
    if (batch < 1 || !n)
        return sparq_fail(SPARQ_EINVAL, "runtime plan: batch %d of %zu utterances", batch, n);
    if (!cfg)
        cfg = &rt->cfg;
    int *len = sparq_malloc(sizeof(int) * n, "plan lengths");
    struct sparq_device_matrix *m = sparq_calloc((size_t)rt->n_weights + 1, sizeof *m, "plan matrices");
    struct sparq_device *dev = NULL;
    int rc = len && m ? sparq_device_open_model(&dev, cfg, 1) : SPARQ_ENOMEM;
    // What the runtime does at open on that hardware: every matrix resident
    // if its store has room (the loading is not in the statistics).
    if (!rc && (rc = rt_load_matrices(rt, dev, m, sizeof *m)))
        rt_release_matrices(rt, m, sizeof *m);
    if (rc) {
        sparq_device_close(dev);
        free(len);
        free(m);
        return rc;
    }
    memcpy(len, frames, sizeof(int) * n);
    qsort(len, n, sizeof(int),
          cmp_int); // decoding batches length-sorted utterances
    const struct sparq_config *c = &rt->m.cfg;
    int F1 = sparq_sub_f1(c), F2 = sparq_sub_f2(c);
    for (int i = 0; i < rt->n_weights; i++) {
        memset(&stats[i], 0, sizeof stats[i]);
        stats[i] = (struct sparq_runtime_layer_stats){ .out = rt->stats[i].out,
                                                       .in = rt->stats[i].in,
                                                       .resident = rt->weights[i].packed && m[i].resident,
                                                       .chain = rt->stats[i].chain,
                                                       .host = rt->weights[i].host };
        memcpy(stats[i].name, rt->stats[i].name, sizeof stats[i].name);
        memcpy(stats[i].format, rt->stats[i].format, sizeof stats[i].format);
    }
    // The calls sparq_forward makes: the two subsampling convs per utterance
    // (unpadded im2col rows), every other matmul once per batch on B * T2
    // rows (padded to the batch's longest utterance), or on the utterances'
    // own rows (sparq_runtime_decode).
    for (size_t s0 = 0; s0 < n && !rc; s0 += (size_t)batch) {
        size_t B = n - s0 < (size_t)batch ? n - s0 : (size_t)batch;
        int T = len[s0 + B - 1], frame_rows = (int)B * sparq_sub_frames(T);
        if (rows_of == SPARQ_PLAN_VALID) {
            frame_rows = 0;
            for (size_t k = 0; k < B; k++)
                frame_rows += sparq_sub_frames(len[s0 + k]);
        }
        for (int i = 0; i < rt->n_weights && !rc; i++) {
            const char *nm = rt->stats[i].name;
            if (!strcmp(nm, "sub1_w") || !strcmp(nm, "sub2_w")) {
                int first = !strcmp(nm, "sub1_w");
                for (size_t k = 0; k < B && !rc; k++) {
                    int rows = first ? sparq_sub_len1(len[s0 + k]) * F1 : sparq_sub_frames(len[s0 + k]) * F2;
                    rc = plan_call(rt, dev, m, i, rows, &stats[i]);
                }
            } else
                rc = plan_call(rt, dev, m, i, frame_rows, &stats[i]);
        }
    }
    rt_release_matrices(rt, m, sizeof *m);
    sparq_device_close(dev);
    free(len);
    free(m);
    return rc;
}
