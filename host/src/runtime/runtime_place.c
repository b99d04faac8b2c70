// Where each matmul runs (issue 16): the front-end (subsampling) on the
// device or on the host. On the host it is the cpu backend's integer path
// (sparq_gemm_fast, then the device's requantization), so the integers and
// the logits are the same whatever the placement (test_frontend_runtime).
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime_internal.h"
#include "sparq_clock.h"
#include "sparq_error.h"
#include "sparq_gemm_act.h"

// Rows of the calibration GEMM and the board auto plans against: the
// fastest link the report models (FT601 200 MB/s, device port one byte per
// clock at 100 MHz).
#define PLACE_ROWS 256
#define PLACE_CLOCK_HZ 100e6
#define PLACE_LINK_BPS 200e6

int sparq_runtime_parse_frontend(const char *flag, const char *text, enum sparq_frontend *f)
{
    if (!strcmp(text, "auto"))
        *f = SPARQ_FRONTEND_AUTO;
    else if (!strcmp(text, "device"))
        *f = SPARQ_FRONTEND_DEVICE;
    else if (!strcmp(text, "host"))
        *f = SPARQ_FRONTEND_HOST;
    else
        return sparq_fail(SPARQ_EINVAL, "%s: '%s' is not one of device, host, auto", flag, text);
    return SPARQ_OK;
}

const char *sparq_frontend_name(enum sparq_frontend f)
{
    return f == SPARQ_FRONTEND_HOST ? "host" : f == SPARQ_FRONTEND_DEVICE ? "device" : "auto";
}

// The subsampling matmuls (sub2_pw_w: the dwsep4 front-end's pointwise conv).
int rt_is_frontend(const char *name)
{
    return !strcmp(name, "sub1_w") || !strcmp(name, "sub2_w") || !strcmp(name, "sub2_pw_w") ||
           !strcmp(name, "sub_lin_w");
}

// CPU seconds of the calling thread; of the process when the call may fan
// out over OpenMP threads itself (outside a parallel region, several threads).
double rt_cpu_seconds(void)
{
    struct timespec ts;
    clockid_t id = omp_in_parallel() || omp_get_max_threads() == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// The host's integer GEMM of layer rw on N rows: the cpu backend's steps.
int rt_host_gemm(const struct sparq_runtime *rt, const struct rt_weight *rw, int32_t *acc, int8_t *y8, const int8_t *xq,
                 int N)
{
    // The device's read-out, step for step (sparq_requant, docs/format.md §5),
    // fused into the GEMM's tiles: the int32 sums never reach memory.
    if (rt->readout == SPARQ_READOUT_Q8)
        return sparq_gemm_fast_requant(y8, rw->out, xq, rw->in, rw->prep, N, rw->rq, NULL);
    return sparq_gemm_fast(acc, rw->out, xq, rw->in, rw->prep, N, 0);
}

// Board seconds of PLACE_ROWS rows of matrix i on a model device of the
// runtime's hardware: the longer of compute and transfer, as the report.
static int device_seconds(const struct sparq_runtime *rt, int i, double *sec)
{
    struct sparq_device *dev = NULL;
    struct sparq_device_matrix m = { 0 };
    int rc = sparq_device_open_model(&dev, &rt->cfg, 1);
    if (!rc) {
        m.w = &rt->weights[i].p;
        m.q = rt_matrix_params(rt, i);
        rc = sparq_device_matrix_load(dev, &m);
    }
    struct sparq_device_counters c0, c1;
    uint64_t o0 = 0, i0 = 0, o1 = 0, i1 = 0;
    if (!rc) {
        sparq_device_counters(dev, &c0);
        sparq_device_wire(dev, &o0, &i0);
        const struct rt_weight *rw = &rt->weights[i];
        rc = rt->readout == SPARQ_READOUT_Q8 ? sparq_device_gemm_q8_m(dev, NULL, rw->out, NULL, rw->in, &m, PLACE_ROWS)
                                             : sparq_device_gemm_m(dev, NULL, rw->out, NULL, rw->in, &m, PLACE_ROWS, 0);
        sparq_device_wire(dev, &o1, &i1);
        sparq_device_counters(dev, &c1);
    }
    if (!rc) {
        double to = (double)(o1 - o0), from = (double)(i1 - i0), comp = (double)(c1.busy - c0.busy) / PLACE_CLOCK_HZ;
        double link = (to + from) / PLACE_LINK_BPS, port = (to > from ? to : from) / PLACE_CLOCK_HZ;
        link = link > port ? link : port;
        *sec = comp > link ? comp : link;
    }
    sparq_device_matrix_release(&m);
    sparq_device_close(dev);
    return rc;
}

// Wall seconds of PLACE_ROWS rows of layer i on the host (best of 3).
static int host_seconds(const struct sparq_runtime *rt, const struct rt_weight *rw, double *sec)
{
    int8_t *x = malloc((size_t)PLACE_ROWS * (size_t)rw->in), *y8 = malloc((size_t)PLACE_ROWS * (size_t)rw->out);
    int32_t *acc = malloc(sizeof(int32_t) * (size_t)PLACE_ROWS * (size_t)rw->out);
    int rc = x && y8 && acc ? SPARQ_OK : sparq_fail(SPARQ_ENOMEM, "runtime: out of memory for placement");
    for (size_t k = 0; !rc && k < (size_t)PLACE_ROWS * (size_t)rw->in; k++)
        x[k] = (int8_t)((int)((k * 37u) % 255u) - 127); // the kernel's time does not depend on the values
    *sec = 1e30;
    for (int r = 0; r < 3 && !rc; r++) {
        double t0 = sparq_clock_s();
        rc = rt_host_gemm(rt, rw, acc, y8, x, PLACE_ROWS);
        double dt = sparq_clock_s() - t0;
        *sec = dt < *sec ? dt : *sec;
    }
    free(x);
    free(y8);
    free(acc);
    return rc;
}

// Sets weights[i].host for the packed front-end matmuls by `mode`. rt->cfg
// is the hardware; read-out parameters are ready. Host layers get the cpu
// kernel's prepared weights.
int rt_place_frontend(struct sparq_runtime *rt, enum sparq_frontend mode)
{
    rt->frontend = mode;
    rt->n_host = 0;
    if (rt->kind == BACKEND_FLOAT)
        return SPARQ_OK; // nothing runs in integer there
    int rc = SPARQ_OK;
    for (int i = 0; !rc && i < rt->n_weights; i++) {
        struct rt_weight *rw = &rt->weights[i];
        rw->host = 0;
        if (!rw->packed || !rt_is_frontend(rt->stats[i].name) || mode == SPARQ_FRONTEND_DEVICE ||
            (rt->use_chain && rw->chain >= 0))
            continue;
        int had = rw->prep != NULL;
        if (!had && (rc = sparq_gemm_prepare(&rw->prep, &rw->p)))
            break;
        double th = 0, td = 0;
        if (mode == SPARQ_FRONTEND_AUTO) {
            rc = host_seconds(rt, rw, &th);
            rc = rc ? rc : device_seconds(rt, i, &td);
        }
        rw->host = !rc && (mode == SPARQ_FRONTEND_HOST || th < td);
        rt->n_host += rw->host;
        if (!rw->host && !had && rt->kind != BACKEND_CPU) { // only the cpu backend needs it then
            sparq_gemm_prepared_free(rw->prep);
            rw->prep = NULL;
        }
    }
    return rc;
}

int sparq_runtime_host_layers(const struct sparq_runtime *rt)
{
    return rt->n_host;
}
