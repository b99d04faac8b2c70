// Wire bytes by kind (sparq_device_wire.h): on ref and sim (behind the
// reliability layer) and on the model device, a streamed int32 GEMM, a q8
// GEMM and a resident matrix move exactly the weights, activations and
// results their shapes say; the kinds add up to the wire bytes; the model
// device's kinds equal the measured ones; on a lossy link the resends land in
// the overhead and the other kinds do not change.
#include <string.h>

#include "check.h"
#include "sparq_backend.h"
#include "sparq_device.h"
#include "sparq_device_wire.h"
#include "sparq_error.h"
#include "sparq_link.h"
#include "sparq_protocol.h"
#include "sparq_rng.h"

enum { OUT = 40, IN = 50, T = 37 };
static uint64_t rng;

static uint64_t wire_total(struct sparq_device *d)
{
    uint64_t o, i;
    sparq_device_wire(d, &o, &i);
    return o + i;
}

static uint64_t kinds_sum(const struct sparq_wire_kinds *k)
{
    uint64_t s = 0;
    for (int i = 0; i < SPARQ_WIRE_KINDS; i++)
        s += k->kind[i];
    return s;
}

// What one run of the three jobs moved, by kind.
struct run {
    uint64_t kind[3][SPARQ_WIRE_KINDS];
    int ok;
};

static void jobs(struct sparq_device *d, const struct sparq_packed *w, const struct sparq_requant_params *q,
                 const int8_t *x, struct run *r)
{
    static int32_t y32[T * OUT];
    static int8_t y8[T * OUT];
    struct sparq_device_matrix m = { 0 };
    m.w = w;
    m.q = q;
    struct sparq_wire_kinds k0, k1;
    r->ok = 1;
    for (int j = 0; j < 3 && r->ok; j++) {
        int rc = SPARQ_OK;
        if (j == 2) // loading is not part of the job
            rc = sparq_device_matrix_load(d, &m);
        sparq_device_wire_kinds(d, &k0);
        if (!rc)
            rc = j == 0   ? sparq_device_gemm(d, y32, OUT, x, IN, w, T, 0)
                 : j == 1 ? sparq_device_gemm_q8(d, y8, OUT, x, IN, w, T, q)
                          : sparq_device_gemm_q8_m(d, y8, OUT, x, IN, &m, T);
        sparq_device_wire_kinds(d, &k1);
        r->ok = rc == SPARQ_OK;
        for (int i = 0; i < SPARQ_WIRE_KINDS; i++)
            r->kind[j][i] = k1.kind[i] - k0.kind[i];
    }
    sparq_device_matrix_release(&m);
}

static void check_device(const char *name, struct sparq_device *d, const struct sparq_packed *w,
                         const struct sparq_requant_params *q, const int8_t *x, struct run *r)
{
    jobs(d, w, q, x, r);
    CHECK(r->ok, "%s: the three jobs ran (%s)", name, r->ok ? "ok" : sparq_last_error());
    struct sparq_wire_kinds k;
    sparq_device_wire_kinds(d, &k);
    uint64_t total = wire_total(d);
    CHECK(kinds_sum(&k) == total && k.kind[SPARQ_WIRE_OVERHEAD] == k.framing + k.checks + k.resends,
          "%s: weights %llu + act %llu + results %llu + overhead %llu == %llu wire bytes", name,
          (unsigned long long)k.kind[0], (unsigned long long)k.kind[1], (unsigned long long)k.kind[2],
          (unsigned long long)k.kind[3], (unsigned long long)total);
    // K fits one COMPUTE: every job overwrites, and the link reads no counters (test_link: with accumulates).
    CHECK(k.resends == 0 && k.checks == 0, "%s: clean link: no resends, no counter reads (%llu bytes)", name,
          (unsigned long long)k.checks);
    // T rows fit one frame chunk: every weight tile and every activation goes once.
    uint64_t act = (uint64_t)T * (uint64_t)w->in_pad, q_bytes = (uint64_t)OUT * SPARQ_Q_ENTRY_BYTES;
    CHECK(r->kind[0][0] == w->size && r->kind[0][1] == act && r->kind[0][2] == 4u * T * OUT,
          "%s: int32 GEMM: weights %llu (packed %zu), act %llu (%llu), results %llu (%d)", name,
          (unsigned long long)r->kind[0][0], w->size, (unsigned long long)r->kind[0][1], (unsigned long long)act,
          (unsigned long long)r->kind[0][2], 4 * T * OUT);
    CHECK(r->kind[1][0] == w->size + q_bytes && r->kind[1][1] == act && r->kind[1][2] == (uint64_t)T * OUT,
          "%s: q8 GEMM: weights + params %llu (%llu), results %llu (%d)", name, (unsigned long long)r->kind[1][0],
          (unsigned long long)(w->size + q_bytes), (unsigned long long)r->kind[1][2], T * OUT);
    CHECK(r->kind[2][0] == 0 && r->kind[2][1] == act && r->kind[2][2] == (uint64_t)T * OUT,
          "%s: resident matrix: no weights per call (%llu), act %llu, results %llu", name,
          (unsigned long long)r->kind[2][0], (unsigned long long)r->kind[2][1], (unsigned long long)r->kind[2][2]);
}

int main(void)
{
    rng = check_seed(4242);
    float wf[OUT * IN];
    for (int i = 0; i < OUT * IN; i++)
        wf[i] = (float)(2.0 * sparq_rng_uniform(&rng) - 1.0);
    struct sparq_packed w;
    int rc = sparq_pack(&w, wf, NULL, 4, 2, OUT, IN, NULL);
    CHECK(rc == 0, "packed a %dx%d int4 2:4 matrix", OUT, IN);
    struct sparq_requant_params q[OUT];
    for (int o = 0; o < OUT; o++)
        q[o] = (struct sparq_requant_params){ o - 20, 1 << 20, 24 };
    int8_t x[T * IN];
    for (int i = 0; i < T * IN; i++)
        x[i] = (int8_t)((int)(sparq_rng_next(&rng) % 255u) - 127);

    struct run rr[3];
    const char *names[2] = { "ref", "sim" };
    for (int b = 0; b < 2; b++) {
        struct sparq_device *d = NULL;
        if (sparq_device_open(&d, names[b])) {
            CHECK(0, "%s opens: %s", names[b], sparq_last_error());
            continue;
        }
        check_device(names[b], d, &w, q, x, &rr[b]);
        sparq_device_close(d);
    }
    struct sparq_device *md = NULL;
    rc = sparq_device_open_model(&md, NULL, 1);
    if (!rc) {
        check_device("model device", md, &w, q, x, &rr[2]);
        sparq_device_close(md);
    }
    CHECK(!memcmp(rr[0].kind, rr[2].kind, sizeof rr[0].kind) && !memcmp(rr[1].kind, rr[2].kind, sizeof rr[0].kind),
          "the model device's bytes by kind == ref's == sim's, job by job");

    // A lossy link: the link resends; only the overhead grows.
    struct sparq_transport raw, fault, link;
    struct sparq_fault_options fo;
    memset(&fo, 0, sizeof fo);
    fo.seed = rng;
    fo.drop_reply = fo.corrupt_cmd = 0.05;
    struct sparq_device *fd = NULL;
    rc = sparq_transport_ref(&raw, NULL);
    rc = rc ? rc : sparq_fault_wrap(&fault, raw, &fo);
    rc = rc ? rc : sparq_link_wrap(&link, fault, NULL);
    rc = rc ? rc : sparq_device_open_transport(&fd, link);
    struct run rf;
    memset(&rf, 0, sizeof rf);
    if (!rc)
        jobs(fd, &w, q, x, &rf);
    struct sparq_wire_kinds k;
    memset(&k, 0, sizeof k);
    if (fd)
        sparq_device_wire_kinds(fd, &k);
    CHECK(!rc && rf.ok && k.resends > 0 && kinds_sum(&k) == wire_total(fd),
          "lossy link: %llu bytes resent or discarded, kinds still sum to the wire bytes (%s)",
          (unsigned long long)k.resends, rc || !rf.ok ? sparq_last_error() : "ok");
    int same = 1;
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < SPARQ_WIRE_OVERHEAD; i++)
            same &= rf.kind[j][i] == rr[0].kind[j][i];
    CHECK(same, "lossy link: weights, activations and results unchanged; the resends are overhead");
    sparq_device_close(fd);
    sparq_packed_free(&w);
    return check_done();
}
