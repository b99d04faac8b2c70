// The reliability layer (host/src/link.c) under injected faults
// (host/src/link_fault.c): dropped, duplicated, corrupted and delayed packets
// in both directions and a device reset in the middle of a GEMM. Every GEMM
// must either return the bit-exact sparq_gemm_ref result or an error: a
// silently wrong result fails the test. Over the ref transport (C device
// model, small buffers so GEMMs need many tiles and accumulate COMPUTEs) and
// briefly over the sim transport (Verilator RTL).
// Negative control: with the MAC-counter checks switched off, duplicated and
// lost accumulate COMPUTEs DO produce wrong results, so the checks are what
// keeps the other cases clean.
// Protocol version 3: two matrices kept in the weight store and chained on
// the device (STORE_W, COMPUTE_S, WRITE_LUT, EPILOGUE, both result buffers)
// under the same faults and device resets: exact or reported, never wrong,
// and after a reset the driver reloads the store by itself.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sparq_backend.h"
#include "sparq_device.h"
#include "sparq_device_wire.h"
#include "sparq_error.h"
#include "sparq_gemm.h"
#include "sparq_gemm_case.h"
#include "sparq_link.h"
#include "sparq_protocol.h"
#include "sparq_wire.h"
#include "sparq_rng.h"

static uint64_t rng;
static uint32_t rnd(void)
{
    return (uint32_t)(sparq_rng_next(&rng) >> 32);
}
static int rnd_in(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

// Small buffers: a GEMM of a few dozen frames and channels needs many tiles.
static const struct sparq_device_config small_cfg = {
    .rows = 4, .cols = 4, .wdepth = 64, .xdepth = 64, .rdepth = 16, .timeout = 4096,
};

struct tally {
    int ok, wrong, reported;
    char first_error[200];
};

// One random GEMM on dev, checked against sparq_gemm_ref.
static void one_gemm(struct sparq_device *dev, struct tally *t, int tmax, int inmax)
{
    static const int widths[3] = { 8, 4, 2 }, kepts[3] = { 4, 2, 1 };
    int width = widths[rnd() % 3], kept = kepts[rnd() % 3];
    int T = rnd_in(1, tmax), out = rnd_in(1, 10), in = rnd_in(1, inmax);
    int acc = rnd() % 2, q8 = rnd() % 4 == 0;
    struct sparq_gemm_case c;
    if (sparq_gemm_case_make(&c, T, out, in, width, kept, &rng)) {
        t->reported++;
        snprintf(t->first_error, sizeof t->first_error, "gemm case: %s", sparq_last_error());
        return;
    }
    sparq_device_set_kchunk(dev, rnd_in(1, 2)); // forces accumulate COMPUTEs on the device
    int rc = q8 ? sparq_device_gemm_q8(dev, c.y8, out, c.x, in, &c.w, T, c.qp)
                : sparq_device_gemm(dev, c.y, out, c.x, in, &c.w, T, acc);
    if (rc) {
        if (!t->reported)
            snprintf(t->first_error, sizeof t->first_error, "%s", sparq_last_error());
        t->reported++;
    } else if (sparq_gemm_case_mismatches(&c, q8 ? NULL : c.y, acc, q8 ? c.y8 : NULL)) {
        t->wrong++;
    } else {
        t->ok++;
    }
    sparq_gemm_case_free(&c);
}

struct session {
    struct sparq_device *dev;
    struct sparq_transport fault, link;
    int use_link;
};

// raw transport -> fault injector (quiet) -> link (optional) -> device.
static int open_session(struct session *s, int sim, int use_link, const struct sparq_link_options *lo, uint64_t seed)
{
    memset(s, 0, sizeof s[0]);
    struct sparq_transport raw;
    int rc = sim ? sparq_transport_sim(&raw) : sparq_transport_ref(&raw, &small_cfg);
    if (rc)
        return rc;
    struct sparq_fault_options fo;
    memset(&fo, 0, sizeof fo);
    fo.seed = seed;
    if ((rc = sparq_fault_wrap(&s->fault, raw, &fo)))
        return rc;
    struct sparq_transport top = s->fault;
    s->use_link = use_link;
    if (use_link) {
        if ((rc = sparq_link_wrap(&s->link, s->fault, lo)))
            return rc;
        top = s->link;
    }
    return sparq_device_open_transport(&s->dev, top);
}

static void set_faults(struct session *s, const struct sparq_fault_options *fo)
{
    sparq_fault_set(&s->fault, fo);
}

static void print_counts(struct session *s, const char *what)
{
    const struct sparq_fault_counts *f = sparq_fault_counts(&s->fault);
    printf("#   %s: injected drop %llu/%llu dup %llu/%llu corrupt %llu/%llu delay %llu reset %llu (cmd/reply)\n", what,
           (unsigned long long)f->dropped_cmd, (unsigned long long)f->dropped_reply,
           (unsigned long long)f->duped_cmd, (unsigned long long)f->duped_reply,
           (unsigned long long)f->corrupted_cmd, (unsigned long long)f->corrupted_reply,
           (unsigned long long)f->delayed_reply, (unsigned long long)f->resets);
    const struct sparq_link_counts *l = s->use_link ? sparq_link_counts(&s->link) : NULL;
    if (l)
        printf("#   link: commands %llu retries %llu timeouts %llu nacks %llu bad %llu stale %llu skipped %llu "
               "resolved %llu verified %llu failures %llu\n",
               (unsigned long long)l->commands, (unsigned long long)l->retries, (unsigned long long)l->timeouts,
               (unsigned long long)l->nacks, (unsigned long long)l->bad_replies, (unsigned long long)l->stale,
               (unsigned long long)l->skipped, (unsigned long long)l->resolved, (unsigned long long)l->verified,
               (unsigned long long)l->failures);
}

static uint64_t injected(const struct sparq_fault_counts *f)
{
    return f->dropped_cmd + f->dropped_reply + f->duped_cmd + f->duped_reply + f->corrupted_cmd +
           f->corrupted_reply + f->delayed_reply + f->resets;
}

enum { F_DROP_CMD, F_DROP_REPLY, F_DUP_CMD, F_DUP_REPLY, F_CORRUPT_CMD, F_CORRUPT_REPLY, F_DELAY_REPLY, F_COUNT };
static const char *fault_names[F_COUNT] = { "dropped commands", "dropped replies", "duplicated commands",
                                            "duplicated replies", "corrupted commands", "corrupted replies",
                                            "delayed replies" };

static struct sparq_fault_options one_fault(int which, double p)
{
    struct sparq_fault_options fo;
    memset(&fo, 0, sizeof fo);
    double *slot[F_COUNT] = { &fo.drop_cmd, &fo.drop_reply, &fo.dup_cmd, &fo.dup_reply,
                              &fo.corrupt_cmd, &fo.corrupt_reply, &fo.delay_reply };
    *slot[which] = p;
    return fo;
}

// --- protocol version 3 -----------------------------------------------------------
// Small version-3 buffers: chains need many tiles, K chunks and EPILOGUE blocks.
static const struct sparq_device_config v3_cfg = {
    .rows = 4, .cols = 16, .wdepth = 64, .xdepth = 256, .rdepth = 16, .timeout = 4096, .lanes = 4,
    .xbanks = 3, .rbufs = 2, .wstore = 8192, .qdepth = 256, .luts = 4,
};

// Two matrices loaded once (resident) and chained many times.
struct chain_fix {
    struct sparq_gemm_case c1, c2;
    struct sparq_device_matrix m1, m2;
    int8_t lut[256];
    int8_t *h, *y, *want; // h, acc: scratch of clean_checks
    int32_t *acc;
};

// Sizes in, hid, out (0: random); the formats are random.
static int chain_fix_sized(struct chain_fix *k, struct sparq_device *dev, int tmax, int in, int hid, int out)
{
    memset(k, 0, sizeof *k);
    in = in ? in : rnd_in(20, 90);
    hid = hid ? hid : rnd_in(20, 70);
    out = out ? out : rnd_in(1, 30);
    int f1 = rnd_in(0, 8), f2 = rnd_in(0, 8);
    static const int widths[3] = { 8, 4, 2 }, kepts[3] = { 4, 2, 1 };
    if (sparq_gemm_case_make(&k->c1, tmax, hid, in, widths[f1 / 3], kepts[f1 % 3], &rng) ||
        sparq_gemm_case_make(&k->c2, tmax, out, hid, widths[f2 / 3], kepts[f2 % 3], &rng))
        return SPARQ_ENOMEM;
    for (int i = 0; i < 256; i++)
        k->lut[i] = (int8_t)(rnd() & 0xFF);
    k->h = malloc((size_t)tmax * (size_t)hid);
    k->y = malloc((size_t)tmax * (size_t)out);
    k->want = malloc((size_t)tmax * (size_t)out);
    k->acc = malloc(sizeof(int32_t) * (size_t)tmax * (size_t)(hid > out ? hid : out));
    if (!k->h || !k->y || !k->want || !k->acc)
        return SPARQ_ENOMEM;
    k->m1.w = &k->c1.w;
    k->m1.q = k->c1.qp;
    k->m2.w = &k->c2.w;
    k->m2.q = k->c2.qp;
    int rc = sparq_device_matrix_load(dev, &k->m1);
    return rc ? rc : sparq_device_matrix_load(dev, &k->m2);
}

static int chain_fix_make(struct chain_fix *k, struct sparq_device *dev, int tmax)
{
    return chain_fix_sized(k, dev, tmax, 0, 0, 0);
}

static void chain_fix_free(struct chain_fix *k)
{
    sparq_device_matrix_release(&k->m1);
    sparq_device_matrix_release(&k->m2);
    sparq_gemm_case_free(&k->c1);
    sparq_gemm_case_free(&k->c2);
    free(k->h);
    free(k->y);
    free(k->want);
    free(k->acc);
}

// One chain on new random input, checked against the reference.
static void one_chain(struct sparq_device *dev, struct chain_fix *k, struct tally *t, int tmax)
{
    int T = rnd_in(1, tmax), in = k->c1.in, out = k->c2.out;
    for (int i = 0; i < T * in; i++)
        k->c1.x[i] = (int8_t)(rnd() & 0xFF);
    if (sparq_gemm_case_chain_ref(k->want, &k->c1, &k->c2, k->lut, T)) {
        t->wrong++; // no reference (out of memory): never counted as a pass
        return;
    }
    int rc = sparq_device_chain2(dev, k->y, out, k->c1.x, in, &k->m1, k->lut, &k->m2, T);
    if (rc) {
        if (!t->reported)
            snprintf(t->first_error, sizeof t->first_error, "%s", sparq_last_error());
        t->reported++;
    } else if (memcmp(k->y, k->want, (size_t)T * (size_t)out)) {
        t->wrong++;
    } else {
        t->ok++;
    }
}

static void v3_faults(uint64_t seed)
{
    for (int which = -1; which <= F_COUNT + 1; which++) { // -1: none; F_COUNT: mixed; F_COUNT + 1: resets
        const char *name = which < 0 ? "v3 no faults" : which == F_COUNT ? "v3 mixed" : which == F_COUNT + 1
                                                                             ? "v3 resets mid-chain"
                                                                             : fault_names[which];
        struct session s;
        memset(&s, 0, sizeof s);
        struct sparq_transport raw;
        struct sparq_fault_options fo;
        memset(&fo, 0, sizeof fo);
        fo.seed = seed + 1000 + (uint64_t)(which + 1);
        int rc = sparq_transport_ref(&raw, &v3_cfg);
        if (!rc)
            rc = sparq_fault_wrap(&s.fault, raw, &fo);
        if (!rc)
            rc = sparq_link_wrap(&s.link, s.fault, NULL);
        s.use_link = 1;
        if (!rc)
            rc = sparq_device_open_transport(&s.dev, s.link);
        struct chain_fix k;
        if (!rc) {
            sparq_device_set_kchunk(s.dev, 2); // K in chunks: accumulate COMPUTE_S jobs the link must settle
            rc = chain_fix_make(&k, s.dev, 40);
        }
        if (rc) {
            CHECK(0, "%s: open / load: %s", name, sparq_last_error());
            return;
        }
        CHECK(k.m1.resident && k.m2.resident && k.m1.q_resident, "%s: both matrices resident", name);
        if (which >= 0 && which < F_COUNT) {
            fo = one_fault(which, 0.08);
        } else if (which == F_COUNT) {
            fo = (struct sparq_fault_options){ .drop_cmd = 0.02, .dup_cmd = 0.02, .corrupt_cmd = 0.02,
                                               .drop_reply = 0.02, .dup_reply = 0.02, .corrupt_reply = 0.02,
                                               .delay_reply = 0.02 };
        }
        set_faults(&s, &fo);
        struct tally t = { 0 }, mid = { 0 }, after = { 0 };
        int n = which == F_COUNT ? 60 : 25;
        for (int i = 0; i < n; i++) {
            if (which == F_COUNT + 1) {
                memset(&fo, 0, sizeof fo);
                fo.reset_after = sparq_fault_counts(&s.fault)->commands + (uint64_t)rnd_in(1, 40);
                set_faults(&s, &fo);
            }
            one_chain(s.dev, &k, &t, 40);
            if (which == F_COUNT + 1) {
                // A reset after the chain's last command is seen by the next
                // one (reported); the chain after that must be exact: the
                // driver reloads the store, tables and params by itself.
                memset(&fo, 0, sizeof fo);
                set_faults(&s, &fo);
                one_chain(s.dev, &k, &mid, 40);
                one_chain(s.dev, &k, &after, 40);
            }
        }
        print_counts(&s, name);
        if (t.reported)
            printf("#   first reported error: %s\n", t.first_error);
        const struct sparq_link_counts *l = sparq_link_counts(&s.link);
        if (which == F_DUP_CMD || which >= F_COUNT) // (a chain longer than 40 commands meets every reset)
            CHECK(t.wrong == 0 && (t.ok > 0 || which == F_COUNT + 1), "%s: %d chains exact, %d reported, 0 silently wrong (got %d)", name, t.ok,
                  t.reported, t.wrong);
        else
            CHECK(t.wrong == 0 && t.reported == 0 && t.ok == n && (which < 0 || l->retries + l->resolved + l->stale > 0),
                  "%s: all %d chains recovered (%d exact, %d reported, %d wrong; retries %llu, resolved %llu)", name, n,
                  t.ok, t.reported, t.wrong, (unsigned long long)l->retries, (unsigned long long)l->resolved);
        if (which == F_COUNT + 1)
            CHECK(after.ok == n && mid.wrong == 0 && t.reported + mid.reported > 0,
                  "%s: %d chains reported a reset, the %d after each exact (%d)", name, t.reported + mid.reported, n,
                  after.ok);
        chain_fix_free(&k);
        sparq_device_close(s.dev);
    }
}

// --- scripted faults -----------------------------------------------------------------
// One fault class aimed at one kind of command, deterministically: every
// `every`-th command of that kind (resends included: the link sends each
// packet in one call), at most `shots` times (-1: no limit).
enum { K_JOB_OVR, K_JOB_ACC, K_EPI_LATER }; // overwriting / accumulate COMPUTE(_S), EPILOGUE with dblock > 0
enum { A_DUP_CMD, A_DROP_CMD, A_DROP_REPLY, A_DROP_REPLY_RESET };

struct script {
    struct sparq_transport inner;
    struct sparq_transport_ops ops;
    int kind, action, every, shots, seen, fired;
};

static int cmd_kind(const uint8_t *p, size_t n)
{
    int op = p[SPARQ_HDR_OPCODE];
    const uint8_t *a = p + SPARQ_HEADER_BYTES;
    if ((op == SPARQ_OP_COMPUTE && n >= SPARQ_HEADER_BYTES + SPARQ_ARGS_COMPUTE) ||
        (op == SPARQ_OP_COMPUTE_S && n >= SPARQ_HEADER_BYTES + SPARQ_ARGS_COMPUTE_S))
        return (a[op == SPARQ_OP_COMPUTE ? 2 : 5] & SPARQ_COMPUTE_ACCUMULATE) ? K_JOB_ACC : K_JOB_OVR;
    if (op == SPARQ_OP_EPILOGUE && n >= SPARQ_HEADER_BYTES + SPARQ_ARGS_EPILOGUE && sparq_rd16(a + 10) > 0)
        return K_EPI_LATER;
    return -1;
}

// Reads one whole reply packet from the device and throws it away.
static int swallow_reply(struct script *s)
{
    uint8_t h[SPARQ_HEADER_BYTES], b[256];
    int rc = s->inner.ops->recv(s->inner.ctx, h, sizeof h);
    for (size_t left = rc ? 0 : sparq_rd32(h + SPARQ_HDR_LEN) + SPARQ_CRC_BYTES; left && !rc;) {
        size_t k = left < sizeof b ? left : sizeof b;
        rc = s->inner.ops->recv(s->inner.ctx, b, k);
        left -= k;
    }
    return rc;
}

static int script_send(void *ctx, const uint8_t *p, size_t n)
{
    struct script *s = ctx;
    if (n < SPARQ_HEADER_BYTES || cmd_kind(p, n) != s->kind || ++s->seen % s->every || !s->shots)
        return s->inner.ops->send(s->inner.ctx, p, n);
    s->fired++;
    s->shots--;
    if (s->action == A_DROP_CMD)
        return SPARQ_OK;
    int rc = s->inner.ops->send(s->inner.ctx, p, n);
    if (!rc && s->action == A_DUP_CMD)
        rc = s->inner.ops->send(s->inner.ctx, p, n);
    if (!rc && s->action >= A_DROP_REPLY)
        rc = swallow_reply(s);
    if (!rc && s->action == A_DROP_REPLY_RESET) { // the device resets before the host resends
        uint8_t r[SPARQ_HEADER_BYTES + SPARQ_CRC_BYTES] = { SPARQ_MAGIC_CMD, SPARQ_OP_RESET, 0x55 };
        sparq_wr16(r + SPARQ_HDR_CRC, sparq_crc16(SPARQ_CRC16_INIT, r, 8));
        sparq_wr16(r + SPARQ_HEADER_BYTES, SPARQ_CRC16_INIT);
        rc = s->inner.ops->send(s->inner.ctx, r, sizeof r);
        if (!rc)
            rc = swallow_reply(s);
    }
    return rc;
}

static int script_recv(void *ctx, uint8_t *p, size_t n)
{
    struct script *s = ctx;
    return s->inner.ops->recv(s->inner.ctx, p, n);
}

static int script_idle(void *ctx)
{
    struct script *s = ctx;
    return s->inner.ops->idle(s->inner.ctx);
}

static void script_close(void *ctx)
{
    struct script *s = ctx;
    s->inner.ops->close(s->inner.ctx);
    free(s);
}

// ref (cfg; NULL: the Verilator RTL) -> script -> link -> device; the script starts quiet.
static int open_scripted(struct sparq_device **dev, struct script **sc, struct sparq_transport *link,
                         const struct sparq_device_config *cfg)
{
    struct sparq_transport raw, top;
    int rc = cfg ? sparq_transport_ref(&raw, cfg) : sparq_transport_sim(&raw);
    struct script *s = rc ? NULL : calloc(1, sizeof *s);
    if (!s)
        return rc ? rc : SPARQ_ENOMEM;
    s->inner = raw;
    s->kind = -1; // no command has kind -1 here: quiet
    s->every = 1;
    s->ops = (struct sparq_transport_ops){
        .name = "script", .send = script_send, .recv = script_recv, .idle = script_idle, .close = script_close
    };
    top.ops = &s->ops;
    top.ctx = s;
    *sc = s;
    if ((rc = sparq_link_wrap(link, top, NULL)))
        return rc;
    return sparq_device_open_transport(dev, *link);
}

struct scripted_case {
    const char *name;
    int kind, action, every;
    int expect; // 0: every chain exact; 1: one fault per chain, each reported (never a wrong result), the next
                // chain exact
};

// Chains of fixed shape (W1 of 4 blocks and W2 of 3 in K chunks of 2: each
// 16-channel tile is an overwriting job and an accumulate, and the W2 tiles
// alternate result buffers) under one scripted fault class.
static void scripted_chains(const struct scripted_case *c, int sim)
{
    struct sparq_device *dev = NULL;
    struct script *sc = NULL;
    struct sparq_transport link;
    struct chain_fix k;
    const char *on = sim ? " (sim)" : "";
    int rc = open_scripted(&dev, &sc, &link, sim ? NULL : &v3_cfg);
    if (!rc) {
        sparq_device_set_kchunk(dev, 2);
        rc = chain_fix_sized(&k, dev, 40, 64, 48, 40);
    }
    if (rc) {
        CHECK(0, "scripted %s%s: open / load: %s", c->name, on, sparq_last_error());
        sparq_device_close(dev);
        return;
    }
    sc->kind = c->kind;
    sc->action = c->action;
    sc->every = c->every;
    sc->shots = -1;
    struct tally t = { 0 }, after = { 0 };
    enum { N = 6 };
    for (int i = 0; i < N; i++) {
        if (c->expect)
            sc->shots = 1;
        one_chain(dev, &k, &t, 40);
        if (c->expect) // quiet: the next chain must be exact again
            one_chain(dev, &k, &after, 40);
    }
    const struct sparq_link_counts *l = sparq_link_counts(&link);
    printf("#   scripted %s%s: %d injected; link: retries %llu resolved %llu verified %llu failures %llu\n", c->name,
           on, sc->fired, (unsigned long long)l->retries, (unsigned long long)l->resolved, (unsigned long long)l->verified,
           (unsigned long long)l->failures);
    if (t.reported)
        printf("#   first reported error: %s\n", t.first_error);
    if (c->expect == 0)
        CHECK(sc->fired > 0 && t.ok == N && t.reported == 0 && t.wrong == 0,
              "scripted %s%s: %d injected, all %d chains exact (%d exact, %d reported, %d wrong)", c->name, on,
              sc->fired, N, t.ok, t.reported, t.wrong);
    else
        CHECK(sc->fired > 0 && t.reported == N && t.wrong == 0 && after.ok == N,
              "scripted %s%s: each of %d chains reported (%d), 0 wrong (%d), the chain after each exact (%d)", c->name,
              on, N, t.reported, t.wrong, after.ok);
    chain_fix_free(&k);
    sparq_device_close(dev);
}

// Counter-read bytes on a clean link, measured (ref behind the link) and as
// the model device counts them: equal, for chains and GEMMs with and without
// accumulate jobs; 0 when every job overwrites.
static uint64_t clean_checks(struct sparq_device *dev, int kchunk)
{
    static const int ts[3] = { 40, 17, 33 };
    struct chain_fix k;
    uint64_t seed = rng;
    rng = 77; // the same shapes and formats on both devices
    int rc = chain_fix_sized(&k, dev, 40, 64, 48, 40);
    sparq_device_set_kchunk(dev, kchunk);
    for (int i = 0; i < 3 && !rc; i++) {
        int32_t *y32 = k.acc;
        rc = sparq_device_chain2(dev, k.y, k.c2.out, k.c1.x, k.c1.in, &k.m1, k.lut, &k.m2, ts[i]);
        if (!rc)
            rc = sparq_device_gemm(dev, y32, k.c1.out, k.c1.x, k.c1.in, &k.c1.w, ts[i], 0);
        if (!rc)
            rc = sparq_device_gemm_q8_m(dev, k.y, k.c2.out, k.h, k.c2.in, &k.m2, ts[i]);
    }
    chain_fix_free(&k);
    rng = seed;
    struct sparq_wire_kinds w;
    sparq_device_wire_kinds(dev, &w);
    if (rc)
        printf("#   clean run: %s\n", sparq_last_error());
    return rc ? UINT64_MAX : w.checks;
}

static void clean_counter_reads(void)
{
    for (int kchunk = 0; kchunk <= 2; kchunk += 2) {
        struct sparq_device *dev = NULL, *md = NULL;
        struct script *sc = NULL;
        struct sparq_transport link;
        uint64_t measured = UINT64_MAX, modelled = UINT64_MAX - 1;
        if (!open_scripted(&dev, &sc, &link, &v3_cfg))
            measured = clean_checks(dev, kchunk);
        if (!sparq_device_open_model(&md, &v3_cfg, 1))
            modelled = clean_checks(md, kchunk);
        CHECK(measured == modelled && (kchunk ? measured > 0 : measured == 0),
              "clean link, K chunks of %d blocks (%s): counter reads %llu bytes measured, %llu by the model device",
              kchunk, kchunk ? "accumulate jobs" : "every job overwrites", (unsigned long long)measured,
              (unsigned long long)modelled);
        sparq_device_close(dev);
        sparq_device_close(md);
    }
}

static void scripted(void)
{
    clean_counter_reads();
    static const struct scripted_case cases[] = {
        // Overwriting jobs are resent when their outcome is unknown and may run twice: exact.
        // (every 2: a resend of a hit command gets through)
        { "overwriting job duplicated", K_JOB_OVR, A_DUP_CMD, 1, 0 },
        { "overwriting job's reply lost", K_JOB_OVR, A_DROP_REPLY, 2, 0 },
        { "overwriting job dropped", K_JOB_OVR, A_DROP_CMD, 2, 0 },
        // Accumulates: settled by the MAC counter read before each; a duplicate is reported.
        { "accumulate's reply lost", K_JOB_ACC, A_DROP_REPLY, 2, 0 },
        { "accumulate dropped", K_JOB_ACC, A_DROP_CMD, 2, 0 },
        { "accumulate duplicated", K_JOB_ACC, A_DUP_CMD, 1, 1 },
        // A later EPILOGUE block: resent; STATE then means it ran, or the device lost the bank.
        // A second one changes nothing (what that rests on; also on the RTL below).
        { "later EPILOGUE duplicated", K_EPI_LATER, A_DUP_CMD, 1, 0 },
        { "later EPILOGUE's reply lost", K_EPI_LATER, A_DROP_REPLY, 2, 0 },
        { "later EPILOGUE dropped", K_EPI_LATER, A_DROP_CMD, 2, 0 },
        { "later EPILOGUE's reply lost, then a reset", K_EPI_LATER, A_DROP_REPLY_RESET, 1, 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        scripted_chains(&cases[i], 0);
    // The duplicates on the Verilator RTL (no reply timeouts: the sim transport waits long).
    for (size_t i = 0; !getenv("SPARQ_SKIP_SIM") && i < sizeof cases / sizeof cases[0]; i++)
        if (cases[i].action == A_DUP_CMD)
            scripted_chains(&cases[i], 1);
}

int main(void)
{
    uint64_t seed = check_seed(20261126);
    rng = seed;
    const int gemms = 40;

    // --- clean link: no retries, every result exact
    {
        struct session s;
        int rc = open_session(&s, 0, 1, NULL, seed);
        CHECK(rc == SPARQ_OK, "ref + fault injector (quiet) + link opens: %s", rc ? sparq_last_error() : "ok");
        if (rc)
            return check_done();
        struct tally t = { 0 };
        for (int i = 0; i < gemms; i++)
            one_gemm(s.dev, &t, 20, 70);
        const struct sparq_link_counts *l = sparq_link_counts(&s.link);
        CHECK(t.ok == gemms && l->retries == 0 && l->commands > (uint64_t)gemms * 4,
              "no faults: %d/%d GEMMs exact, %llu commands, %llu retries", t.ok, gemms,
              (unsigned long long)l->commands, (unsigned long long)l->retries);
        sparq_device_close(s.dev);
    }

    // --- one fault class at a time
    for (int which = 0; which < F_COUNT; which++) {
        struct session s;
        int rc = open_session(&s, 0, 1, NULL, seed + (uint64_t)which);
        if (rc) {
            CHECK(0, "%s: open: %s", fault_names[which], sparq_last_error());
            continue;
        }
        struct sparq_fault_options fo = one_fault(which, 0.08);
        set_faults(&s, &fo);
        struct tally t = { 0 };
        for (int i = 0; i < gemms; i++)
            one_gemm(s.dev, &t, 20, 70);
        const struct sparq_fault_counts *f = sparq_fault_counts(&s.fault);
        const struct sparq_link_counts *l = sparq_link_counts(&s.link);
        print_counts(&s, fault_names[which]);
        if (t.reported)
            printf("#   first reported error: %s\n", t.first_error);
        CHECK(t.wrong == 0 && injected(f) > 0,
              "%s (p=0.08): %llu injected, %d exact, %d reported, 0 silently wrong (got %d)", fault_names[which],
              (unsigned long long)injected(f), t.ok, t.reported, t.wrong);
        if (which == F_DUP_CMD) {
            // A duplicated accumulate COMPUTE cannot be undone by the link:
            // it must be reported (MAC counter check before READ).
            CHECK(t.reported == 0 || l->failures > 0, "%s: every loss is reported by the MAC-counter check",
                  fault_names[which]);
        } else {
            // Everything else is recovered by retries.
            CHECK(t.reported == 0 && t.ok == gemms && (which == F_DUP_REPLY ? l->stale > 0 : l->retries + l->resolved > 0),
                  "%s: all %d GEMMs recovered (retries %llu, resolved by MAC counter %llu, stale %llu)",
                  fault_names[which], gemms, (unsigned long long)l->retries, (unsigned long long)l->resolved,
                  (unsigned long long)l->stale);
        }
        sparq_device_close(s.dev);
    }

    // --- everything at once, longer
    {
        struct session s;
        int rc = open_session(&s, 0, 1, NULL, seed ^ 0xABCDEF);
        CHECK(rc == SPARQ_OK, "mixed faults: open");
        if (!rc) {
            struct sparq_fault_options fo = { .drop_cmd = 0.02, .dup_cmd = 0.02, .corrupt_cmd = 0.02, .drop_reply = 0.02,
                                              .dup_reply = 0.02, .corrupt_reply = 0.02, .delay_reply = 0.02 };
            set_faults(&s, &fo);
            struct tally t = { 0 };
            for (int i = 0; i < 150; i++)
                one_gemm(s.dev, &t, 24, 90);
            print_counts(&s, "mixed");
            if (t.reported)
                printf("#   first reported error: %s\n", t.first_error);
            CHECK(t.wrong == 0 && t.ok > 100, "mixed faults (2%% each), 150 GEMMs: %d exact, %d reported, %d wrong",
                  t.ok, t.reported, t.wrong);
            sparq_device_close(s.dev);
        }
    }

    // --- device reset in the middle of a GEMM, at many points
    {
        struct session s;
        int rc = open_session(&s, 0, 1, NULL, seed + 99);
        CHECK(rc == SPARQ_OK, "reset mid-GEMM: open");
        if (!rc) {
            struct tally t = { 0 }, after = { 0 };
            int resets = 0;
            for (int k = 1; k <= 30; k++) {
                const struct sparq_fault_counts *f = sparq_fault_counts(&s.fault);
                struct sparq_fault_options fo;
                memset(&fo, 0, sizeof fo);
                fo.reset_after = f->commands + (uint64_t)rnd_in(1, 12);
                set_faults(&s, &fo);
                one_gemm(s.dev, &t, 24, 90);
                resets = (int)f->resets;
                memset(&fo, 0, sizeof fo);
                set_faults(&s, &fo);
                one_gemm(s.dev, &after, 24, 90); // the device works again afterwards
            }
            print_counts(&s, "reset mid-GEMM");
            if (t.reported)
                printf("#   first reported error: %s\n", t.first_error);
            CHECK(t.wrong == 0 && t.reported > 0 && resets > 0,
                  "%d device resets mid-GEMM: %d GEMMs unaffected and exact, %d reported, 0 silently wrong (got %d)",
                  resets, t.ok, t.reported, t.wrong);
            CHECK(after.ok == 30, "the GEMM after each reset is exact (%d/30)", after.ok);
            sparq_device_close(s.dev);
        }
    }

    // --- negative control: without the MAC-counter checks, lost or
    // duplicated accumulate COMPUTEs corrupt results silently.
    {
        struct sparq_link_options lo = { .max_attempts = 8, .verify_accumulate = 0 };
        struct session s;
        int rc = open_session(&s, 0, 1, &lo, seed + 7);
        if (!rc) {
            struct sparq_fault_options fo = { .dup_cmd = 0.1, .drop_reply = 0.1 };
            set_faults(&s, &fo);
            struct tally t = { 0 };
            for (int i = 0; i < gemms; i++)
                one_gemm(s.dev, &t, 20, 70);
            print_counts(&s, "control, checks off");
            CHECK(t.wrong > 0, "control: with verify_accumulate=0 the same faults give %d silently wrong GEMMs "
                               "(the checks are necessary)", t.wrong);
            sparq_device_close(s.dev);
        } else {
            CHECK(0, "control: open: %s", sparq_last_error());
        }
    }

    v3_faults(seed);
    scripted();

    // --- the same layer over the Verilator RTL (faults that need no reply
    // timeout: the sim transport waits 50M cycles before giving up)
    if (!getenv("SPARQ_SKIP_SIM")) {
        struct session s;
        int rc = open_session(&s, 1, 1, NULL, seed + 5);
        CHECK(rc == SPARQ_OK, "sim + fault injector + link opens: %s", rc ? sparq_last_error() : "ok");
        if (!rc) {
            struct sparq_fault_options fo = { .dup_cmd = 0.05, .dup_reply = 0.1 };
            set_faults(&s, &fo);
            struct tally t = { 0 };
            for (int i = 0; i < 12; i++)
                one_gemm(s.dev, &t, 20, 70);
            struct sparq_fault_options quiet;
            memset(&quiet, 0, sizeof quiet);
            for (int k = 0; k < 4; k++) {
                quiet.reset_after = sparq_fault_counts(&s.fault)->commands + (uint64_t)rnd_in(1, 6);
                set_faults(&s, &quiet);
                one_gemm(s.dev, &t, 20, 70);
            }
            print_counts(&s, "sim");
            if (t.reported)
                printf("#   first reported error: %s\n", t.first_error);
            const struct sparq_fault_counts *f = sparq_fault_counts(&s.fault);
            CHECK(t.wrong == 0 && injected(f) > 0 && t.ok > 0,
                  "sim: duplicated packets and %llu resets mid-GEMM: %d exact, %d reported, 0 silently wrong (got %d)",
                  (unsigned long long)f->resets, t.ok, t.reported, t.wrong);
            sparq_device_close(s.dev);
        }
    }
    return check_done();
}
