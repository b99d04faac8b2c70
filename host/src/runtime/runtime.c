// Integer inference runtime and the compressed model file of the Conformer
// (see sparq_runtime.h for the activation quantization contract).
#include "sparq_runtime.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_backend.h"
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
#include "scratch.h"

enum backend_kind { BACKEND_CPU, BACKEND_REF, BACKEND_SIM, BACKEND_USB, BACKEND_UART, BACKEND_FLOAT };

// --- runtime -------------------------------------------------------------------

struct rt_weight {
    const float *w;      // the tensor in the model's parameters (how the hook recognises it)
    int out, in;
    int packed;          // 0: stays float
    struct sparq_packed p;
    struct sparq_gemm_prepared *prep; // cpu backend
    struct sparq_requant_params *rq;  // (out) int8 read-out (readout q8)
    float *rq_scale;                  // (out) s_w[o] * 2^shift / mult: dequantizes a q8 result
    float *clip;                      // (out) calibrated read-out clip levels from the file, or NULL
};

struct sparq_runtime {
    struct sparq_model m;
    int model_ok;
    enum backend_kind kind;
    char backend[16];
    enum sparq_readout readout;
    int calibrated; // the file carries read-out clip levels (sparq_readout.h)
    struct sparq_device *dev;
    struct sparq_device *plan; // model device: what each call costs by the job-cycle and link model
    struct sparq_device_config cfg; // the hardware the model device stands for
    pthread_mutex_t lock; // the device and the statistics
    int n_weights;
    struct rt_weight *weights;
    struct sparq_runtime_layer_stats *stats;
    struct rt_scratch_pool scratch; // per-call buffers, kept between calls
    int error;
};

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
            if ((rc = sparq_unpack(&rw->p, dst))) // dequantized weights for the host / float backend
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

static int make_requant(struct rt_weight *rw)
{
    int out = rw->out, in = rw->in;
    rw->rq = sparq_calloc((size_t)out, sizeof *rw->rq, "requant params");
    rw->rq_scale = sparq_calloc((size_t)out, sizeof *rw->rq_scale, "requant scales");
    if (!rw->rq || !rw->rq_scale)
        return SPARQ_ENOMEM;
    for (int o = 0; o < out; o++) {
        double ss = 0, sw = rw->p.scales[o];
        for (int k = 0; !rw->clip && k < in; k++) {
            double c = rw->w[(size_t)o * in + k] / sw; // the integer code (dequantized weights are code * s_w)
            ss += c * c;
        }
        double clip = rw->clip ? rw->clip[o] : READOUT_Q8_KAPPA * 127.0 * sqrt(ss);
        if (!(clip > 0))
            clip = 127.0; // an all-zero channel: any scale reads back 0
        int rc = sparq_readout_channel(clip, rw->p.scales[o], &rw->rq[o], &rw->rq_scale[o]);
        if (rc)
            return rc;
    }
    return SPARQ_OK;
}

int sparq_runtime_open(struct sparq_runtime **dst, const char *model_path, const char *backend_spec)
{
    *dst = NULL;
    enum backend_kind kind;
    // "NAME", "NAME:q8" or "NAME:i32" (read-out: docs/runtime.md; without
    // one, q8 when the model carries calibrated clip levels, else i32); a
    // device spec "uart:PATH[@BAUD]" keeps its own colon ("uart:/dev/ttyUSB1:q8").
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
    if (!rc && rt->dev && !(rc = sparq_device_identify(rt->dev, &info))) {
        cfg.rows = info.rows;
        cfg.cols = info.cols;
        cfg.wdepth = info.wdepth;
        cfg.xdepth = info.xdepth;
        cfg.rdepth = info.rdepth;
        cfg.timeout = info.timeout;
        cfg.lanes = sparq_device_lanes(rt->dev); // a one-lane board runs int4/int2 at the int8 rate
    }
    rt->cfg = cfg;
    if (!rc)
        rc = sparq_device_open_model(&rt->plan, &cfg, 1);
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
    rt_scratch_pool_destroy(&rt->scratch);
    pthread_mutex_destroy(&rt->lock);
    free(rt);
}

struct sparq_model *sparq_runtime_model(struct sparq_runtime *rt) { return &rt->m; }
const char *sparq_runtime_backend(const struct sparq_runtime *rt) { return rt->backend; }
enum sparq_readout sparq_runtime_readout(const struct sparq_runtime *rt) { return rt->readout; }

int sparq_runtime_lanes(const struct sparq_runtime *rt) { return rt->cfg.lanes > 1 ? rt->cfg.lanes : 1; }
int sparq_runtime_error(const struct sparq_runtime *rt) { return rt->error; }

const struct sparq_runtime_layer_stats *sparq_runtime_stats(const struct sparq_runtime *rt, int *count)
{
    *count = rt->n_weights;
    return rt->stats;
}

void sparq_runtime_reset_stats(struct sparq_runtime *rt)
{
    for (int i = 0; i < rt->n_weights; i++) {
        struct sparq_runtime_layer_stats *s = &rt->stats[i];
        s->calls = s->rows = s->macs = s->dense_macs = s->device_cycles = s->bytes_out = s->bytes_in = 0;
        s->busy_cycles = s->device_macs = 0;
        s->model_busy = s->model_macs = s->model_bytes = s->wire_bytes = 0;
        s->seconds = 0;
    }
}

// Device-side measurements of one call (ref/sim/usb; zero on cpu).
struct call_meas {
    uint64_t cycles, bout, bin, busy, dmacs, wire;
};

// The integer results of one call on a device backend, with what its
// counters and link saw. Serialised: one device, one call at a time.
static int device_call(struct sparq_runtime *rt, struct rt_weight *rw, int32_t *acc, int8_t *y8, const int8_t *xq,
                       int N, struct call_meas *cm)
{
    const int q8 = rt->readout == SPARQ_READOUT_Q8;
    pthread_mutex_lock(&rt->lock);
    struct sparq_device_counters k0, k1;
    int rc = sparq_device_counters(rt->dev, &k0);
    uint64_t c0 = sparq_device_cycles(rt->dev), w0o, w0i, w1o, w1i;
    struct sparq_link_stats l0 = *sparq_device_link(rt->dev);
    sparq_device_wire(rt->dev, &w0o, &w0i);
    if (!rc)
        rc = q8 ? sparq_device_gemm_q8(rt->dev, y8, rw->out, xq, rw->in, &rw->p, N, rw->rq)
                : sparq_device_gemm(rt->dev, acc, rw->out, xq, rw->in, &rw->p, N, 0);
    cm->cycles = sparq_device_cycles(rt->dev) - c0;
    cm->bout = sparq_device_link(rt->dev)->bytes_out - l0.bytes_out;
    cm->bin = sparq_device_link(rt->dev)->bytes_in - l0.bytes_in;
    sparq_device_wire(rt->dev, &w1o, &w1i);
    cm->wire = (w1o - w0o) + (w1i - w0i);
    rc = rc ? rc : sparq_device_counters(rt->dev, &k1);
    if (rc == SPARQ_OK) {
        cm->busy = k1.busy - k0.busy;
        cm->dmacs = k1.macs - k0.macs;
    }
    pthread_mutex_unlock(&rt->lock);
    return rc;
}

// The call's statistics, with what the job-cycle and link model says it
// costs (every backend).
static void account(struct sparq_runtime *rt, int idx, int N, const struct call_meas *cm, double seconds)
{
    struct rt_weight *rw = &rt->weights[idx];
    const int q8 = rt->readout == SPARQ_READOUT_Q8, IN = rw->in, OUT = rw->out;
    pthread_mutex_lock(&rt->lock);
    struct sparq_device_counters m0, m1;
    uint64_t p0o, p0i, p1o, p1i;
    sparq_device_counters(rt->plan, &m0);
    sparq_device_wire(rt->plan, &p0o, &p0i);
    int prc = q8 ? sparq_device_gemm_q8(rt->plan, NULL, OUT, NULL, IN, &rw->p, N, rw->rq)
                 : sparq_device_gemm(rt->plan, NULL, OUT, NULL, IN, &rw->p, N, 0);
    sparq_device_wire(rt->plan, &p1o, &p1i);
    sparq_device_counters(rt->plan, &m1);
    if (prc && !rt->error)
        rt->error = sparq_fail(prc, "runtime: %s: device model: %s", rt->stats[idx].name, sparq_last_error());
    struct sparq_runtime_layer_stats *s = &rt->stats[idx];
    s->calls++;
    s->rows += (uint64_t)N;
    s->macs += (uint64_t)N * OUT * (uint64_t)(((IN + 3) / 4) * rw->p.type->kept);
    s->dense_macs += (uint64_t)N * OUT * IN;
    s->device_cycles += cm->cycles;
    s->busy_cycles += cm->busy;
    s->device_macs += cm->dmacs;
    s->bytes_out += cm->bout;
    s->bytes_in += cm->bin;
    s->wire_bytes += cm->wire;
    s->model_busy += m1.busy - m0.busy;
    s->model_macs += m1.macs - m0.macs;
    s->model_bytes += (p1o - p0o) + (p1i - p0i);
    s->seconds += seconds;
    pthread_mutex_unlock(&rt->lock);
}

// Read-out: the integer results back to float, y = r * (s_row * s_col[o]) + b[o]
// with r the int32 accumulator (i32) or the device's int8 (q8, s_col then
// folds in the requantization: rq_scale).
static void read_out(const struct sparq_runtime *rt, const struct rt_weight *rw, float *out, const int32_t *acc,
                     const int8_t *y8, const float *rs, const float *b, int N)
{
    if (rt->readout == SPARQ_READOUT_Q8)
        sparq_gemm_readout_q8(out, rw->out, y8, rw->out, rs, rw->rq_scale, b, N, rw->out);
    else
        sparq_gemm_readout_i32(out, rw->out, acc, rw->out, rs, rw->p.scales, b, N, rw->out);
}

static int find_weight(const struct sparq_runtime *rt, const float *w)
{
    for (int i = 0; i < rt->n_weights; i++)
        if (rt->weights[i].w == w)
            return rt->weights[i].packed ? i : -1;
    return -1;
}

// The linear hook: quantize the input per row (sparq_gemm_act.h), run the
// integer GEMM on the backend, read the results out. Buffers come from the
// runtime's scratch pool, so a warm call allocates nothing.
static int runtime_linear(void *ctx, float *out, const float *inp, const float *w, const float *b, int N, int IN,
                          int OUT)
{
    struct sparq_runtime *rt = ctx;
    if (rt->kind == BACKEND_FLOAT || N <= 0)
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
    const int q8 = rt->readout == SPARQ_READOUT_Q8;
    struct rt_scratch *sc = rt_scratch_take(&rt->scratch);
    int8_t *xq = sc ? rt_scratch_get(sc, 0, (size_t)N * IN) : NULL;
    float *rs = sc ? rt_scratch_get(sc, 1, sizeof(float) * (size_t)N) : NULL;
    int32_t *acc = sc ? rt_scratch_get(sc, 2, sizeof(int32_t) * (size_t)N * OUT) : NULL;
    int8_t *y8 = sc && q8 ? rt_scratch_get(sc, 3, (size_t)N * OUT) : NULL;
    if (!xq || !rs || !acc || (q8 && !y8)) {
        rt_scratch_give(&rt->scratch, sc);
        rt->error = sparq_fail(SPARQ_ENOMEM, "runtime: out of memory for a %d x %d matmul", N, OUT);
        return 0;
    }
    sparq_act_quantize_rows(xq, IN, rs, inp, IN, N, IN);
    double t0 = sparq_clock_s();
    struct call_meas cm = { 0 };
    int rc;
    if (rt->kind == BACKEND_CPU) {
        rc = sparq_gemm_fast(acc, OUT, xq, IN, rw->prep, N, 0);
        // The device's read-out, step for step (sparq_requant, docs/format.md §5).
        if (q8 && rc == SPARQ_OK)
            sparq_requant_rows(y8, OUT, acc, OUT, rw->rq, N, OUT);
    } else
        rc = device_call(rt, rw, acc, y8, xq, N, &cm);
    double dt = sparq_clock_s() - t0;
    if (rc) {
        rt->error = sparq_fail(rc, "runtime: %s on %s: %s", rt->stats[idx].name, rt->backend, sparq_last_error());
        memset(out, 0, sizeof(float) * (size_t)N * OUT);
    } else
        read_out(rt, rw, out, acc, y8, rs, b, N);
    rt_scratch_give(&rt->scratch, sc);
    account(rt, idx, N, &cm, dt);
    return 1;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

// One planned GEMM of `rows` rows on layer i.
static int plan_call(struct sparq_runtime *rt, struct sparq_device *dev, int i, int rows,
                     struct sparq_runtime_layer_stats *st)
{
    struct rt_weight *rw = &rt->weights[i];
    if (!rw->packed || rows <= 0)
        return SPARQ_OK;
    struct sparq_device_counters c0, c1;
    uint64_t o0, i0, o1, i1;
    sparq_device_counters(dev, &c0);
    sparq_device_wire(dev, &o0, &i0);
    int rc = rt->readout == SPARQ_READOUT_Q8
                 ? sparq_device_gemm_q8(dev, NULL, rw->out, NULL, rw->in, &rw->p, rows, rw->rq)
                 : sparq_device_gemm(dev, NULL, rw->out, NULL, rw->in, &rw->p, rows, 0);
    sparq_device_wire(dev, &o1, &i1);
    sparq_device_counters(dev, &c1);
    st->calls++;
    st->rows += (uint64_t)rows;
    st->macs += (uint64_t)rows * rw->out * (uint64_t)(((rw->in + 3) / 4) * rw->p.type->kept);
    st->dense_macs += (uint64_t)rows * rw->out * rw->in;
    st->model_busy += c1.busy - c0.busy;
    st->model_macs += c1.macs - c0.macs;
    st->model_bytes += (o1 - o0) + (i1 - i0);
    return rc;
}

int sparq_runtime_plan(struct sparq_runtime *rt, const int *frames, size_t n, int batch,
                       struct sparq_runtime_layer_stats *stats)
{
    if (batch < 1 || !n)
        return sparq_fail(SPARQ_EINVAL, "runtime plan: batch %d of %zu utterances", batch, n);
    int *len = sparq_malloc(sizeof(int) * n, "plan lengths");
    struct sparq_device *dev = NULL;
    int rc = len ? sparq_device_open_model(&dev, &rt->cfg, 1) : SPARQ_ENOMEM;
    if (rc) {
        free(len);
        return rc;
    }
    memcpy(len, frames, sizeof(int) * n);
    qsort(len, n, sizeof(int), cmp_int); // decoding batches length-sorted utterances
    const struct sparq_config *c = &rt->m.cfg;
    int F1 = sparq_sub_f1(c), F2 = sparq_sub_f2(c);
    for (int i = 0; i < rt->n_weights; i++) {
        memset(&stats[i], 0, sizeof stats[i]);
        stats[i] = (struct sparq_runtime_layer_stats){ .out = rt->stats[i].out, .in = rt->stats[i].in };
        memcpy(stats[i].name, rt->stats[i].name, sizeof stats[i].name);
        memcpy(stats[i].format, rt->stats[i].format, sizeof stats[i].format);
    }
    // The calls sparq_forward makes: the two subsampling convs per utterance
    // (unpadded im2col rows), every other matmul once per batch on B * T2
    // rows (padded to the batch's longest utterance).
    for (size_t s0 = 0; s0 < n && !rc; s0 += (size_t)batch) {
        size_t B = n - s0 < (size_t)batch ? n - s0 : (size_t)batch;
        int T = len[s0 + B - 1];
        for (int i = 0; i < rt->n_weights && !rc; i++) {
            const char *nm = rt->stats[i].name;
            if (!strcmp(nm, "sub1_w") || !strcmp(nm, "sub2_w")) {
                int first = !strcmp(nm, "sub1_w");
                for (size_t k = 0; k < B && !rc; k++) {
                    int rows = first ? sparq_sub_len1(len[s0 + k]) * F1 : sparq_sub_frames(len[s0 + k]) * F2;
                    rc = plan_call(rt, dev, i, rows, &stats[i]);
                }
            } else
                rc = plan_call(rt, dev, i, (int)B * sparq_sub_frames(T), &stats[i]);
        }
    }
    sparq_device_close(dev);
    free(len);
    return rc;
}

int sparq_runtime_device_info(struct sparq_runtime *rt, struct sparq_device_info *info)
{
    if (!rt->dev)
        return sparq_fail(SPARQ_EINVAL, "backend %s has no device", rt->backend);
    pthread_mutex_lock(&rt->lock);
    int rc = sparq_device_identify(rt->dev, info);
    pthread_mutex_unlock(&rt->lock);
    return rc;
}

void sparq_runtime_activate(struct sparq_runtime *rt)
{
    rt->m.hooks.linear = (struct sparq_linear_hook){ runtime_linear, rt };
}

void sparq_runtime_deactivate(struct sparq_runtime *rt)
{
    rt->m.hooks.linear = (struct sparq_linear_hook){ NULL, NULL };
}
