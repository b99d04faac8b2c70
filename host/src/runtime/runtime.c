// Integer inference runtime and the compressed model file of the Conformer
// (see sparq_runtime.h for the activation quantization contract).
#include "sparq_runtime.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"
#include "scratch.h"
#include "sparq_backend.h"
#include "sparq_chain.h"
#include "sparq_clock.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_export.h"
#include "sparq_gemm.h"
#include "sparq_gemm_act.h"
#include "sparq_layers.h"
#include "sparq_modelfile.h"
#include "sparq_readout.h"
#include "sparq_spq_check.h"

static int load_model(struct sparq_runtime *rt, const char *path)
{
    struct sparq_mfile f;
    int rc = sparq_mfile_read(&f, path);
    if (rc)
        return rc;
    const struct sparq_mf_section *kind = sparq_mfile_find(&f, "kind", SPARQ_MF_TEXT);
    const struct sparq_mf_section *cfgs = sparq_mfile_find(&f, "config", SPARQ_MF_I32);
    if (!kind || strcmp(kind->data, "sparq conformer-ctc") != 0 || !cfgs || cfgs->count != SPARQ_SPQ_CONFIG_INTS) {
        sparq_mfile_free(&f);
        return sparq_fail(SPARQ_EFORMAT, "%s: not a sparq conformer-ctc model (section 'kind' or 'config')", path);
    }
    struct sparq_config c;
    sparq_spq_ints_to_config(&c, cfgs->data);
    if ((rc = sparq_config_validate(&c)) || (rc = sparq_model_create(&rt->m, &c))) {
        sparq_mfile_free(&f);
        return sparq_fail(rc, "%s: section 'config': %s", path, sparq_last_error());
    }
    rt->model_ok = 1;
    struct sparq_model *m = &rt->m;
    const float *v;
    char name[48];
    rc = sparq_mfile_get_f32(&f, path, "cmvn_mean", (size_t)c.n_mels, &v);
    if (!rc)
        memcpy(m->buf.cmvn_mean, v, sizeof(float) * (size_t)c.n_mels);
    rc = rc ? rc : sparq_mfile_get_f32(&f, path, "cmvn_istd", (size_t)c.n_mels, &v);
    if (!rc)
        memcpy(m->buf.cmvn_istd, v, sizeof(float) * (size_t)c.n_mels);
    for (int l = 0; !rc && l < c.n_layers; l++) {
        snprintf(name, sizeof name, "layer%d.bn_mean", l);
        rc = sparq_mfile_get_f32(&f, path, name, (size_t)c.d_model, &v);
        if (!rc)
            memcpy(m->buf.bn_mean[l], v, sizeof(float) * (size_t)c.d_model);
        snprintf(name, sizeof name, "layer%d.bn_var", l);
        rc = rc ? rc : sparq_mfile_get_f32(&f, path, name, (size_t)c.d_model, &v);
        if (!rc)
            memcpy(m->buf.bn_var[l], v, sizeof(float) * (size_t)c.d_model);
    }
    rt->weights = sparq_calloc((size_t)m->n_tensors, sizeof *rt->weights, "runtime weights");
    rt->stats = sparq_calloc((size_t)m->n_tensors, sizeof *rt->stats, "runtime statistics");
    if (!rc && (!rt->weights || !rt->stats))
        rc = SPARQ_ENOMEM;
    for (int i = 0; !rc && i < m->n_tensors; i++) {
        const struct sparq_tensor_info *t = &m->tensors[i];
        float *dst = m->param_mem + t->offset;
        const struct sparq_mf_section *ps = sparq_mfile_find(&f, t->name, SPARQ_MF_PACKED);
        int out = 0, in = 0, matmul = sparq_tensor_is_matmul(t, &out, &in);
        if (ps) {
            if (!matmul || ps->packed.out != out || ps->packed.in != in) {
                rc = sparq_fail(SPARQ_EFORMAT, "%s: section '%s': packed %d x %d, the model needs %s%d x %d", path,
                                t->name, ps->packed.out, ps->packed.in, matmul ? "" : "float ", out,
                                matmul ? in : (int)t->size);
                break;
            }
            struct rt_weight *rw = &rt->weights[rt->n_weights];
            if ((rc = sparq_packed_init(&rw->p, ps->packed.type->width, ps->packed.type->kept, out, in)))
                break;
            memcpy(rw->p.bytes, ps->packed.bytes, ps->packed.size);
            memcpy(rw->p.scales, ps->packed.scales, sizeof(float) * (size_t)out);
            rw->packed = 1;
            if ((rc = sparq_unpack(&rw->p,
                                   dst))) // dequantized weights for the host / float backend
                break;
            const float *clip;
            if ((rc = sparq_readout_get(&f, path, t->name, out, &clip)))
                break;
            if (clip && !(rw->clip = sparq_malloc(sizeof(float) * (size_t)out, "read-out clip levels"))) {
                rc = SPARQ_ENOMEM;
                break;
            }
            if (clip)
                memcpy(rw->clip, clip, sizeof(float) * (size_t)out);
        } else {
            rc = sparq_mfile_get_f32(&f, path, t->name, t->size, &v);
            if (rc)
                break;
            memcpy(dst, v, sizeof(float) * t->size);
            if (!matmul)
                continue;
        }
        struct rt_weight *rw = &rt->weights[rt->n_weights];
        struct sparq_runtime_layer_stats *st = &rt->stats[rt->n_weights];
        rw->w = dst;
        rw->out = out;
        rw->in = in;
        snprintf(st->name, sizeof st->name, "%s", t->name);
        if (rw->packed)
            snprintf(st->format, sizeof st->format, "%s", rw->p.type->name);
        else
            snprintf(st->format, sizeof st->format, "float");
        st->out = out;
        st->in = in;
        rt->n_weights++;
    }
    rc = rc ? rc : sparq_spq_check(&f, path, &rt->m);
    rc = rc ? rc : sparq_readout_present(&f, path, &rt->calibrated);
    rc = rc ? rc : rt_load_chains(rt, &f, path);
    sparq_mfile_free(&f);
    return rc;
}

// Clip level of channel o's int8 read-out, in accumulator units: the level
// fine-tuning calibrated (stored in the model file), else KAPPA times
// the accumulator of a row at its int8 maximum (127) along the weight
// code's direction, 127 * ||code_o||_2. See docs/runtime.md ("Read-out").
// 4: on the demo model under 0.1% of outputs clip in every layer (2 clips
// 1.1% of the FFNs' second matmul, fed by SiLU); rounding costs 1.5-4% rms.
#define READOUT_Q8_KAPPA 4.0

double rt_channel_clip(const struct rt_weight *rw, int o)
{
    double ss = 0, sw = rw->p.scales[o];
    for (int k = 0; !rw->clip && k < rw->in; k++) {
        double c = rw->w[(size_t)o * rw->in + k] / sw; // the integer code (dequantized weights are code * s_w)
        ss += c * c;
    }
    double clip = rw->clip ? rw->clip[o] : READOUT_Q8_KAPPA * 127.0 * sqrt(ss);
    return clip > 0 ? clip : 127.0; // an all-zero channel: any scale reads back 0
}

static int make_requant(struct rt_weight *rw)
{
    int out = rw->out;
    rw->rq = sparq_calloc((size_t)out, sizeof *rw->rq, "requant params");
    rw->rq_scale = sparq_calloc((size_t)out, sizeof *rw->rq_scale, "requant scales");
    if (!rw->rq || !rw->rq_scale)
        return SPARQ_ENOMEM;
    for (int o = 0; o < out; o++) {
        int rc = sparq_readout_channel(rt_channel_clip(rw, o), rw->p.scales[o], &rw->rq[o], &rw->rq_scale[o]);
        if (rc)
            return rc;
    }
    return SPARQ_OK;
}

// The requant parameters a matrix runs with: the chain's (bias folded in)
// when it is part of a running chain, else the read-out's (q8) or none (i32).
const struct sparq_requant_params *rt_matrix_params(const struct sparq_runtime *rt, int i)
{
    const struct rt_weight *rw = &rt->weights[i];
    if (rt->use_chain && rw->chain >= 0) {
        const struct rt_chain *ch = &rt->chains[rw->chain];
        return ch->w1 == i ? ch->p.q1 : ch->p.q2;
    }
    return rt->readout == SPARQ_READOUT_Q8 ? rw->rq : NULL;
}

// Every packed matrix of the model into `dev`'s weight store (resident) or
// left streamed when it has no room; m (n_weights) receives the handles.
int rt_load_matrices(const struct sparq_runtime *rt, struct sparq_device *dev, struct sparq_device_matrix *m,
                     size_t stride)
{
    int rc = SPARQ_OK;
    for (int i = 0; !rc && i < rt->n_weights; i++) {
        struct sparq_device_matrix *dm = (struct sparq_device_matrix *)((char *)m + stride * (size_t)i);
        if (!rt->weights[i].packed || rt->weights[i].host) // the host runs it: no store space
            continue;
        memset(dm, 0, sizeof *dm);
        dm->w = &rt->weights[i].p;
        dm->q = rt_matrix_params(rt, i);
        rc = sparq_device_matrix_load(dev, dm);
        if (rc)
            rc = sparq_fail(rc, "runtime: loading %s: %s", rt->stats[i].name, sparq_last_error());
    }
    return rc;
}

void rt_release_matrices(const struct sparq_runtime *rt, struct sparq_device_matrix *m, size_t stride)
{
    for (int i = 0; i < rt->n_weights; i++)
        if (rt->weights[i].packed && !rt->weights[i].host)
            sparq_device_matrix_release((struct sparq_device_matrix *)((char *)m + stride * (size_t)i));
}

int sparq_runtime_open(struct sparq_runtime **dst, const char *model_path, const char *backend_spec)
{
    return sparq_runtime_open_ex(dst, model_path, backend_spec, NULL);
}

int sparq_runtime_open_ex(struct sparq_runtime **dst, const char *model_path, const char *backend_spec,
                          const struct sparq_runtime_options *opt)
{
    *dst = NULL;
    enum backend_kind kind;
    // "NAME", "NAME:q8" or "NAME:i32" (read-out: docs/runtime.md; without
    // one, q8 when the model carries calibrated clip levels, else i32); a
    // device spec "uart:PATH[@BAUD]" keeps its own colon
    // ("uart:/dev/ttyUSB1:q8").
    char backend[16];
    int readout = -1;
    int uart = !strncmp(backend_spec, "uart:", 5);
    const char *colon = strchr(backend_spec + (uart ? 5 : 0), ':');
    size_t blen = colon ? (size_t)(colon - backend_spec) : strlen(backend_spec);
    if (blen >= sizeof backend)
        blen = sizeof backend - 1;
    memcpy(backend, backend_spec, blen);
    backend[blen] = 0;
    if (colon && !strcmp(colon + 1, "q8"))
        readout = SPARQ_READOUT_Q8;
    else if (colon && !strcmp(colon + 1, "i32"))
        readout = SPARQ_READOUT_I32;
    else if (colon)
        return sparq_fail(SPARQ_EINVAL, "backend '%s': unknown read-out '%s' (expected i32 or q8)", backend_spec,
                          colon + 1);
    if (uart) {
        kind = BACKEND_UART;
        snprintf(backend, sizeof backend, "uart");
    } else if (!strcmp(backend, "cpu"))
        kind = BACKEND_CPU;
    else if (!strcmp(backend, "ref"))
        kind = BACKEND_REF;
    else if (!strcmp(backend, "sim"))
        kind = BACKEND_SIM;
    else if (!strcmp(backend, "usb"))
        kind = BACKEND_USB;
    else if (!strcmp(backend, "float"))
        kind = BACKEND_FLOAT;
    else
        return sparq_fail(SPARQ_EINVAL, "unknown backend '%s' (expected cpu, ref, sim, usb or float)", backend);
    struct sparq_runtime *rt = sparq_calloc(1, sizeof *rt, "runtime");
    if (!rt)
        return SPARQ_ENOMEM;
    rt->kind = kind;
    snprintf(rt->backend, sizeof rt->backend, "%s", backend);
    pthread_mutex_init(&rt->lock, NULL);
    rt_scratch_pool_init(&rt->scratch);
    int rc = load_model(rt, model_path);
    if (readout < 0)
        readout = rt->calibrated ? SPARQ_READOUT_Q8 : SPARQ_READOUT_I32;
    rt->readout = kind == BACKEND_FLOAT ? SPARQ_READOUT_I32 : (enum sparq_readout)readout;
    // A model with FFN chains runs them unless a read-out was asked for
    // (":q8" / ":i32": every matmul alone with per-row scales, as before).
    rt->use_chain = !rc && rt->n_chains > 0 && !colon;
    for (int k = 0; !rc && rt->use_chain && k < rt->n_chains; k++)
        rc = rt_make_chain(rt, &rt->chains[k]);
    for (int i = 0; !rc && kind == BACKEND_CPU && i < rt->n_weights; i++)
        if (rt->weights[i].packed)
            rc = sparq_gemm_prepare(&rt->weights[i].prep, &rt->weights[i].p);
    for (int i = 0; !rc && rt->readout == SPARQ_READOUT_Q8 && i < rt->n_weights; i++)
        if (rt->weights[i].packed)
            rc = make_requant(&rt->weights[i]);
    if (!rc && (kind == BACKEND_REF || kind == BACKEND_SIM || kind == BACKEND_USB))
        rc = sparq_device_open(&rt->dev, backend);
    if (!rc && kind == BACKEND_UART) { // the spec without its read-out suffix
        char spec[300];
        int n = (int)(colon ? (size_t)(colon - backend_spec) : strlen(backend_spec));
        snprintf(spec, sizeof spec, "%.*s", n, backend_spec);
        rc = sparq_device_open(&rt->dev, spec);
    }
    // The model device plans every call on the same hardware configuration
    // (the default one for cpu/float), behind the reliability layer.
    struct sparq_device_config cfg = sparq_device_default_config;
    struct sparq_device_info info;
    if (!rc && rt->dev && !(rc = sparq_device_identify(rt->dev, &info)))
        sparq_device_info_config(&info, sparq_device_lanes(rt->dev), &cfg);
    rt->cfg = cfg;
    // Placement before loading: a matrix the host runs takes no store space.
    if (!rc)
        rc = rt_place_frontend(rt, opt ? opt->frontend : SPARQ_FRONTEND_AUTO);
    if (!rc)
        rc = sparq_device_open_model(&rt->plan, &cfg, 1);
    // Weight residency: every matrix is loaded once, here (its bytes are not
    // in any layer's statistics; sparq_runtime_load_bytes has them).
    uint64_t w0o = 0, w0i = 0, w1o = 0, w1i = 0;
    if (!rc && rt->dev) {
        sparq_device_wire(rt->dev, &w0o, &w0i);
        rc = rt_load_matrices(rt, rt->dev, &rt->weights[0].dm, sizeof *rt->weights);
        sparq_device_wire(rt->dev, &w1o, &w1i);
        rt->load_wire = (w1o - w0o) + (w1i - w0i);
    }
    if (!rc)
        rc = rt_load_matrices(rt, rt->plan, &rt->weights[0].pm, sizeof *rt->weights);
    for (int i = 0; !rc && i < rt->n_weights; i++) {
        const struct rt_weight *rw = &rt->weights[i];
        rt->stats[i].resident = rw->packed && (rt->dev ? rw->dm.resident : rw->pm.resident);
        rt->stats[i].host = rw->host;
        rt->stats[i].chain = rt->use_chain && rw->chain >= 0 ? (rt->chains[rw->chain].w1 == i ? 1 : 2) : 0;
    }
    if (rc) {
        sparq_runtime_close(rt);
        return rc;
    }
    *dst = rt;
    return SPARQ_OK;
}

void sparq_runtime_close(struct sparq_runtime *rt)
{
    if (!rt)
        return;
    if (rt->weights && rt->dev)
        rt_release_matrices(rt, &rt->weights[0].dm, sizeof *rt->weights);
    if (rt->weights && rt->plan)
        rt_release_matrices(rt, &rt->weights[0].pm, sizeof *rt->weights);
    for (int k = 0; rt->chains && k < rt->n_chains; k++) {
        struct rt_chain *ch = &rt->chains[k];
        sparq_chain_free(&ch->p);
        free(ch->w1code);
        free(ch->w2code);
        free(ch->q1);
    }
    free(rt->chains);
    for (int i = 0; rt->weights && i < rt->n_weights; i++) {
        sparq_packed_free(&rt->weights[i].p);
        sparq_gemm_prepared_free(rt->weights[i].prep);
        free(rt->weights[i].rq);
        free(rt->weights[i].rq_scale);
        free(rt->weights[i].clip);
    }
    // A half-built entry (load failed while packing) may hold bytes too.
    if (rt->weights && rt->model_ok && rt->n_weights < rt->m.n_tensors)
        sparq_packed_free(&rt->weights[rt->n_weights].p);
    free(rt->weights);
    free(rt->stats);
    if (rt->dev)
        sparq_device_close(rt->dev);
    if (rt->plan)
        sparq_device_close(rt->plan);
    if (rt->model_ok)
        sparq_model_free(&rt->m);
    rt_pipe_free(rt->pipe, rt->n_weights);
    rt_scratch_pool_destroy(&rt->scratch);
    pthread_mutex_destroy(&rt->lock);
    free(rt);
}

void sparq_runtime_reset_stats(struct sparq_runtime *rt)
{
    for (int i = 0; i < rt->n_weights; i++) {
        struct sparq_runtime_layer_stats *s = &rt->stats[i];
        s->calls = s->rows = s->macs = s->dense_macs = s->device_cycles = s->bytes_out = s->bytes_in = 0;
        s->busy_cycles = s->device_macs = 0;
        s->model_busy = s->model_macs = s->model_bytes = s->wire_bytes = 0;
        s->wire_to_dev = s->wire_from_dev = s->model_to_dev = s->model_from_dev = 0;
        memset(s->wire_kind, 0, sizeof s->wire_kind);
        memset(s->model_kind, 0, sizeof s->model_kind);
        s->seconds = s->host_cpu_seconds = 0;
    }
    rt_pipe_free(rt->pipe, rt->n_weights);
    rt->pipe = NULL;
    rt->rows_valid = 0;
    rt->dev_cpu = 0;
}

// Device-side measurements of one call (ref/sim/usb; zero on cpu).
struct call_meas {
    uint64_t cycles, bout, bin, busy, dmacs, wire, wire_to, wire_from;
    uint64_t kind[SPARQ_WIRE_KINDS];
    // The same call on the planning model device (plan_meas).
    int planned, prc;
    uint64_t mbusy, mmacs, mto, mfrom;
    uint64_t mkind[SPARQ_WIRE_KINDS];
    double cpu; // host-placed: CPU seconds
};

// k1 - k0 into d, kind by kind.
static void kinds_delta(uint64_t *d, const struct sparq_wire_kinds *k0, const struct sparq_wire_kinds *k1)
{
    for (int i = 0; i < SPARQ_WIRE_KINDS; i++)
        d[i] = k1->kind[i] - k0->kind[i];
}

// The call on the model device, with the lock held. A device call plans in
// the same locked section, so the model device sees the calls in the
// device's order (the driver skips re-sending requant parameters that did
// not change: the order of concurrent subsampling calls matters).
static void plan_meas(struct sparq_runtime *rt, int idx, int N, struct call_meas *cm)
{
    struct sparq_device_counters m0, m1;
    struct sparq_wire_kinds k0, k1;
    uint64_t p0o, p0i, p1o, p1i;
    sparq_device_counters(rt->plan, &m0);
    sparq_device_wire(rt->plan, &p0o, &p0i);
    sparq_device_wire_kinds(rt->plan, &k0);
    cm->prc = rt_run_matrix(rt, rt->plan, &rt->weights[0].pm, sizeof *rt->weights, idx, N);
    sparq_device_wire_kinds(rt->plan, &k1);
    sparq_device_wire(rt->plan, &p1o, &p1i);
    sparq_device_counters(rt->plan, &m1);
    kinds_delta(cm->mkind, &k0, &k1);
    cm->mbusy = m1.busy - m0.busy;
    cm->mmacs = m1.macs - m0.macs;
    cm->mto = p1o - p0o;
    cm->mfrom = p1i - p0i;
    cm->planned = 1;
}

// The integer results of one call on a device backend, with what its
// counters and link saw. Serialised: one device, one call at a time.
static int device_call(struct sparq_runtime *rt, struct rt_weight *rw, int32_t *acc, int8_t *y8, const int8_t *xq,
                       int N, struct call_meas *cm)
{
    const int q8 = rt->readout == SPARQ_READOUT_Q8;
    const struct rt_chain *ch = rt->use_chain && rw->chain >= 0 ? &rt->chains[rw->chain] : NULL;
    pthread_mutex_lock(&rt->lock);
    struct sparq_device_counters k0, k1;
    int rc = sparq_device_counters(rt->dev, &k0);
    uint64_t c0 = sparq_device_cycles(rt->dev), w0o, w0i, w1o, w1i;
    struct sparq_link_stats l0 = *sparq_device_link(rt->dev);
    struct sparq_wire_kinds wk0, wk1;
    sparq_device_wire(rt->dev, &w0o, &w0i);
    sparq_device_wire_kinds(rt->dev, &wk0);
    if (!rc && ch) // the whole feed-forward module: y8 (N, d) from x (N, d)
        rc = sparq_device_chain2(rt->dev, y8, rw->in, xq, rw->in, &rw->dm, ch->p.lut, &rt->weights[ch->w2].dm, N);
    else if (!rc)
        rc = q8 ? sparq_device_gemm_q8_m(rt->dev, y8, rw->out, xq, rw->in, &rw->dm, N)
                : sparq_device_gemm_m(rt->dev, acc, rw->out, xq, rw->in, &rw->dm, N, 0);
    cm->cycles = sparq_device_cycles(rt->dev) - c0;
    cm->bout = sparq_device_link(rt->dev)->bytes_out - l0.bytes_out;
    cm->bin = sparq_device_link(rt->dev)->bytes_in - l0.bytes_in;
    sparq_device_wire(rt->dev, &w1o, &w1i);
    sparq_device_wire_kinds(rt->dev, &wk1);
    kinds_delta(cm->kind, &wk0, &wk1);
    cm->wire = (w1o - w0o) + (w1i - w0i);
    cm->wire_to = w1o - w0o;
    cm->wire_from = w1i - w0i;
    rc = rc ? rc : sparq_device_counters(rt->dev, &k1);
    if (rc == SPARQ_OK) {
        cm->busy = k1.busy - k0.busy;
        cm->dmacs = k1.macs - k0.macs;
    }
    plan_meas(rt, (int)(rw - rt->weights), N, cm);
    pthread_mutex_unlock(&rt->lock);
    return rc;
}

// The call's statistics, with what the job-cycle and link model says it
// costs (every backend).
// One call of matrix i (or, for a chain's W1, the whole chain) on a device
// with the matrices m (stride apart); NULL buffers for a model device.
int rt_run_matrix(const struct sparq_runtime *rt, struct sparq_device *dev, const struct sparq_device_matrix *m,
                  size_t stride, int i, int N)
{
    const struct rt_weight *rw = &rt->weights[i];
    const struct sparq_device_matrix *mi = (const void *)((const char *)m + stride * (size_t)i);
    if (rt->use_chain && rw->chain >= 0) {
        const struct rt_chain *ch = &rt->chains[rw->chain];
        const struct sparq_device_matrix *m2 = (const void *)((const char *)m + stride * (size_t)ch->w2);
        return sparq_device_chain2(dev, NULL, rw->in, NULL, rw->in, mi, ch->p.lut, m2, N);
    }
    return rt->readout == SPARQ_READOUT_Q8 ? sparq_device_gemm_q8_m(dev, NULL, rw->out, NULL, rw->in, mi, N)
                                           : sparq_device_gemm_m(dev, NULL, rw->out, NULL, rw->in, mi, N, 0);
}

// The work of a call on layer idx (its kept-weight and dense MACs).
void rt_count_call(const struct rt_weight *rw, struct sparq_runtime_layer_stats *s, int N)
{
    s->calls++;
    s->rows += (uint64_t)N;
    s->macs += (uint64_t)N * rw->out * (uint64_t)(((rw->in + 3) / 4) * rw->p.type->kept);
    s->dense_macs += (uint64_t)N * rw->out * rw->in;
}

// dev_cpu: CPU seconds the call spent standing in for the device (0 for a
// host-placed matmul); the model device's planning here is added to it.
static void account(struct sparq_runtime *rt, int idx, int N, const struct call_meas *cm, double seconds,
                    double dev_cpu)
{
    struct rt_weight *rw = &rt->weights[idx];
    pthread_mutex_lock(&rt->lock);
    struct call_meas pm = *cm;
    if (!pm.planned && !rw->host) { // cpu: the model device alone; a host-placed matmul is not on it
        double p0 = rt->timing ? rt_thread_cpu() : 0;
        plan_meas(rt, idx, N, &pm);
        dev_cpu += rt->timing ? rt_thread_cpu() - p0 : 0;
    }
    rt->dev_cpu += dev_cpu;
    if (pm.prc && !rt->error)
        rt->error = sparq_fail(pm.prc, "runtime: %s: device model: %s", rt->stats[idx].name, sparq_last_error());
    struct sparq_runtime_layer_stats *s = &rt->stats[idx];
    rt_count_call(rw, s, N);
    s->device_cycles += cm->cycles;
    s->busy_cycles += cm->busy;
    s->device_macs += cm->dmacs;
    s->bytes_out += cm->bout;
    s->bytes_in += cm->bin;
    s->wire_bytes += cm->wire;
    s->model_busy += pm.mbusy;
    s->model_macs += pm.mmacs;
    s->model_bytes += pm.mto + pm.mfrom;
    s->model_to_dev += pm.mto;
    s->model_from_dev += pm.mfrom;
    s->wire_to_dev += cm->wire_to;
    s->wire_from_dev += cm->wire_from;
    for (int k = 0; k < SPARQ_WIRE_KINDS; k++) {
        s->wire_kind[k] += cm->kind[k];
        s->model_kind[k] += pm.mkind[k];
    }
    s->seconds += seconds;
    s->host_cpu_seconds += cm->cpu;
    pthread_mutex_unlock(&rt->lock);
}

// Read-out: the integer results back to float, y = r * (s_row * s_col[o]) +
// b[o] with r the int32 accumulator (i32) or the device's int8 (q8, s_col then
// folds in the requantization: rq_scale); relu: then ReLU, in the same pass.
static void read_out(const struct sparq_runtime *rt, const struct rt_weight *rw, float *out, const int32_t *acc,
                     const int8_t *y8, const float *rs, const float *b, int N, int relu)
{
    if (rt->readout == SPARQ_READOUT_Q8)
        (relu ? sparq_gemm_readout_q8_relu : sparq_gemm_readout_q8)(out, rw->out, y8, rw->out, rs, rw->rq_scale, b,
                                                                     N, rw->out);
    else
        (relu ? sparq_gemm_readout_i32_relu : sparq_gemm_readout_i32)(out, rw->out, acc, rw->out, rs, rw->p.scales,
                                                                       b, N, rw->out);
}

static int find_weight(const struct sparq_runtime *rt, const float *w)
{
    for (int i = 0; i < rt->n_weights; i++)
        if (rt->weights[i].w == w)
            return rt->weights[i].packed ? i : -1;
    return -1;
}

// Buffer `*p` of at least n bytes (kept between calls).
static int grow(void **p, size_t *cap, size_t n)
{
    if (*cap >= n)
        return 1;
    void *q = realloc(*p, n);
    if (!q)
        return 0;
    *p = q;
    *cap = n;
    return 1;
}

// The float backend's FFN: fine-tuning's simulation of the chain
// (sparq_chain_sim_*), so "float" is the fake-quantized model it trained.
static int chain_float(struct sparq_runtime *rt, struct rt_chain *ch, int idx, float *out, const float *inp, int N)
{
    const struct rt_weight *r1 = &rt->weights[ch->w1];
    const int F = r1->out, d = r1->in;
    int rc = SPARQ_OK;
    if (idx == ch->w1) {
        float *acc = sparq_malloc(sizeof(float) * ((size_t)N * F + 1), "chain accumulators");
        if (!acc || !grow((void **)&ch->q1, &ch->cap_q1, (size_t)N * F + 1))
            rc = SPARQ_ENOMEM;
        rc = rc ? rc : sparq_chain_sim_acc1(acc, inp, N, d, ch->w1code, F, ch->p.s_in);
        if (!rc)
            sparq_chain_sim_q1(ch->q1, out, acc, &ch->p, N);
        ch->rows = rc ? -1 : N;
        free(acc);
        return rc;
    }
    if (ch->rows != N)
        return sparq_fail(SPARQ_EINVAL, "runtime: %s called without its W1 just before", rt->stats[idx].name);
    ch->rows = -1;
    return sparq_chain_sim_w2(out, NULL, ch->q1, &ch->p, ch->w2code, ch->b2, N);
}

// A chained FFN on an integer backend. W1's call runs the whole module (one
// sparq_device_chain2 on ref/sim/usb; on cpu the same integer steps: GEMM,
// requant with the folded bias, table, GEMM) and keeps W2's codes; it leaves
// W1's output unwritten (runtime_linear returns SPARQ_LINEAR_NO_ACT). W2's
// call reads the kept codes out into its output.
static int chain_linear(struct sparq_runtime *rt, struct rt_chain *ch, int idx, float *out, const float *inp, int N)
{
    struct rt_weight *r1 = &rt->weights[ch->w1], *r2 = &rt->weights[ch->w2];
    const int F = r1->out, d = r1->in;
    if (idx == ch->w2) {
        if (ch->rows != N)
            return sparq_fail(SPARQ_EINVAL, "runtime: %s called without its W1 just before", rt->stats[idx].name);
        struct rt_scratch *sc = rt_scratch_take(&rt->scratch);
        float *rs = sc ? rt_scratch_get(sc, 1, sizeof(float) * (size_t)N) : NULL;
        if (!rs) {
            rt_scratch_give(&rt->scratch, sc);
            return sparq_fail(SPARQ_ENOMEM, "runtime: out of memory for a %d-row feed-forward chain", N);
        }
        for (int t = 0; t < N; t++)
            rs[t] = ch->p.s_2;
        sparq_gemm_readout_q8(out, d, ch->q1, d, rs, ch->p.deq2, ch->b2, N, d);
        rt_scratch_give(&rt->scratch, sc);
        ch->rows = -1;
        pthread_mutex_lock(&rt->lock);
        rt_count_call(r2, &rt->stats[idx], N); // its device work is on W1's row
        pthread_mutex_unlock(&rt->lock);
        return SPARQ_OK;
    }
    struct rt_scratch *sc = rt_scratch_take(&rt->scratch);
    int8_t *xq = sc ? rt_scratch_get(sc, 0, (size_t)N * d) : NULL;
    int cpu = rt->kind == BACKEND_CPU;
    int8_t *h = sc && cpu ? rt_scratch_get(sc, 5, (size_t)N * F) : NULL;
    int8_t *y8 = grow((void **)&ch->q1, &ch->cap_q1, (size_t)N * d) ? ch->q1 : NULL; // W2's codes, kept
    if (!xq || !y8 || (cpu && !h)) {
        rt_scratch_give(&rt->scratch, sc);
        return sparq_fail(SPARQ_ENOMEM, "runtime: out of memory for a %d-row feed-forward chain", N);
    }
    sparq_act_quantize(xq, inp, N * d,
                       ch->p.s_in); // one static scale: the rows are contiguous
    double t0 = sparq_clock_s(), d0 = rt->timing ? rt_thread_cpu() : 0;
    struct call_meas cm = { 0 };
    int rc;
    if (cpu) {
        // The chain's integer steps (sparq_chain_hidden / sparq_chain_out)
        // fused into the GEMMs: requant + table, then W2's requant.
        rc = sparq_gemm_fast_requant(h, F, xq, d, r1->prep, N, ch->p.q1, ch->p.lut);
        rc = rc ? rc : sparq_gemm_fast_requant(y8, d, h, F, r2->prep, N, ch->p.q2, NULL);
    } else
        rc = device_call(rt, r1, NULL, y8, xq, N, &cm);
    double dt = sparq_clock_s() - t0, dcpu = rt->timing ? rt_thread_cpu() - d0 : 0;
    if (!rc)
        ch->rows = N;
    rt_scratch_give(&rt->scratch, sc);
    account(rt, idx, N, &cm, dt, dcpu);
    return rc;
}

// Code bytes per host block of a conv: they stay in L2 between the quantizer
// and the GEMM (192 rows of the second subsampling conv's 1296 bytes; the
// first conv's 9-byte rows fit whole).
#define CONV_BLOCK_BYTES 262144

// Matrix idx on N rows of inp: rows quantized per row, the integer GEMM on
// the backend, read out. Cin > 0: inp is a 3x3 stride-2 conv's input (Fin,
// Cin) read as im2col rows in place, ReLU in the read-out, and the host
// kernel runs blocks of CONV_BLOCK_BYTES of codes (a device all rows at once).
static int run_rows(struct sparq_runtime *rt, int idx, float *out, const float *inp, const float *b, int N, int Fin,
                    int Cin)
{
    struct rt_weight *rw = &rt->weights[idx];
    const int IN = rw->in, OUT = rw->out, q8 = rt->readout == SPARQ_READOUT_Q8;
    const int host = rt->kind == BACKEND_CPU || rw->host, rb = CONV_BLOCK_BYTES / IN / 16 * 16;
    const int R = Cin && host && N > rb && rb > 0 ? rb : N;
    struct rt_scratch *sc = rt_scratch_take(&rt->scratch);
    int8_t *xq = sc ? rt_scratch_get(sc, 0, (size_t)R * IN) : NULL;
    float *rs = sc ? rt_scratch_get(sc, 1, sizeof(float) * (size_t)R) : NULL;
    int32_t *acc = sc ? rt_scratch_get(sc, 2, sizeof(int32_t) * (size_t)R * OUT) : NULL;
    int8_t *y8 = sc && q8 ? rt_scratch_get(sc, 3, (size_t)R * OUT) : NULL;
    if (!xq || !rs || !acc || (q8 && !y8)) {
        rt_scratch_give(&rt->scratch, sc);
        rt->error = sparq_fail(SPARQ_ENOMEM, "runtime: out of memory for a %d x %d matmul", N, OUT);
        return 0;
    }
    struct call_meas cm = { 0 };
    double dt = 0, dcpu = 0;
    int rc = SPARQ_OK;
    for (int r0 = 0; r0 < N && !rc; r0 += R) {
        const int n = N - r0 < R ? N - r0 : R;
        if (Cin)
            sparq_act_quantize_conv_s2(xq, IN, rs, inp, Fin, Cin, r0, n);
        else
            sparq_act_quantize_rows(xq, IN, rs, inp, IN, N, IN);
        double t0 = sparq_clock_s(), d0 = rw->host || !rt->timing ? 0 : rt_thread_cpu();
        double c0 = rw->host ? rt_cpu_seconds() : 0;
        rc = host ? rt_host_gemm(rt, rw, acc, y8, xq, n) : device_call(rt, rw, acc, y8, xq, n, &cm);
        cm.cpu += rw->host ? rt_cpu_seconds() - c0 : 0;
        dt += sparq_clock_s() - t0;
        dcpu += rw->host || !rt->timing ? 0 : rt_thread_cpu() - d0;
        if (!rc)
            read_out(rt, rw, out + (size_t)r0 * OUT, acc, y8, rs, b, n, Cin > 0);
    }
    if (rc) {
        rt->error = sparq_fail(rc, "runtime: %s on %s: %s", rt->stats[idx].name, rt->backend, sparq_last_error());
        memset(out, 0, sizeof(float) * (size_t)N * OUT);
    }
    rt_scratch_give(&rt->scratch, sc);
    account(rt, idx, N, &cm, dt, dcpu);
    return 1;
}

// The linear hook: quantize the input per row (sparq_gemm_act.h), run the
// integer GEMM on the backend, read the results out. Buffers come from the
// runtime's scratch pool, so a warm call allocates nothing.
int rt_linear(void *ctx, float *out, const float *inp, const float *w, const float *b, int N, int IN, int OUT)
{
    struct sparq_runtime *rt = ctx;
    if ((rt->kind == BACKEND_FLOAT && !rt->use_chain) || N <= 0)
        return 0;
    const int idx = find_weight(rt, w);
    if (idx < 0)
        return 0; // not a compressed matmul: the float path computes it
    struct rt_weight *rw = &rt->weights[idx];
    if (rw->out != OUT || rw->in != IN) {
        rt->error = sparq_fail(SPARQ_EINVAL, "runtime: %s called as %d x %d, packed as %d x %d", rt->stats[idx].name,
                               OUT, IN, rw->out, rw->in);
        return 0;
    }
    if (rt->use_chain && rw->chain >= 0) {
        struct rt_chain *ch = &rt->chains[rw->chain];
        int rc =
            rt->kind == BACKEND_FLOAT ? chain_float(rt, ch, idx, out, inp, N) : chain_linear(rt, ch, idx, out, inp, N);
        if (rc) {
            if (!rt->error)
                rt->error =
                    sparq_fail(rc, "runtime: %s on %s: %s", rt->stats[idx].name, rt->backend, sparq_last_error());
            memset(out, 0, sizeof(float) * (size_t)N * OUT);
        }
        return !rc && rt->kind != BACKEND_FLOAT && idx == ch->w1 ? SPARQ_LINEAR_NO_ACT : 1;
    }
    return rt->kind == BACKEND_FLOAT ? 0 : run_rows(rt, idx, out, inp, b, N, 0, 0);
}

// The conv hook (struct sparq_conv_hook): relu(conv) of a packed 3x3 stride-2
// conv, its im2col rows quantized in place (sparq_act_quantize_conv_s2: the
// codes and scales rt_linear would give them) instead of copied.
int rt_conv(void *ctx, float *out, const float *inp, const float *w, const float *b, int tout, int Fin, int Cin,
            int Cout)
{
    struct sparq_runtime *rt = ctx;
    const int N = tout * ((Fin - 1) / 2), idx = rt->kind == BACKEND_FLOAT || N <= 0 ? -1 : find_weight(rt, w);
    if (idx < 0 || rt->weights[idx].out != Cout || rt->weights[idx].in != 9 * Cin ||
        (rt->use_chain && rt->weights[idx].chain >= 0))
        return 0; // the linear hook runs it (and reports a shape mismatch)
    return run_rows(rt, idx, out, inp, b, N, Fin, Cin);
}

void sparq_runtime_activate(struct sparq_runtime *rt)
{
    rt->m.hooks.linear = (struct sparq_linear_hook){ rt_linear, rt };
    rt->m.hooks.conv = (struct sparq_conv_hook){ rt_conv, rt };
}

void sparq_runtime_deactivate(struct sparq_runtime *rt)
{
    rt->m.hooks.linear = (struct sparq_linear_hook){ NULL, NULL };
    rt->m.hooks.conv = (struct sparq_conv_hook){ NULL, NULL };
}
