// Fault injection (sparq_link.h): a transport wrapper that damages whole
// packets the way a bad link would. Commands are reassembled from the
// framing before a fault is chosen, replies are read packet by packet from
// the device; each packet independently may be dropped, duplicated, hit by
// one flipped bit, or (replies) held back until the reader next times out,
// i.e. it arrives after the host gave up on it.
#include <stdlib.h>
#include <string.h>

#include "sparq_bytequeue.h"
#include "sparq_error.h"
#include "sparq_link.h"
#include "sparq_protocol.h"
#include "sparq_rng.h"
#include "sparq_wire.h"

struct fault {
    struct sparq_transport inner;
    struct sparq_transport_ops ops;
    struct sparq_fault_options o;
    struct sparq_fault_counts n;
    uint64_t rng;
    struct sparq_bytequeue tx;   // command bytes being reassembled
    struct sparq_bytequeue q;    // reply bytes ready for the reader
    struct sparq_bytequeue held; // delayed reply packets
    uint8_t *pkt;  // reply packet being read
    size_t pkt_cap;
    int reset_done, swallow_seq;
    uint8_t last_seq;
};


static uint64_t next(struct fault *f) { return sparq_rng_next(&f->rng); }
static double uniform(struct fault *f) { return sparq_rng_uniform(&f->rng); }

static void flip_bit(struct fault *f, uint8_t *p, size_t n)
{
    uint64_t r = next(f);
    p[(r >> 3) % n] ^= (uint8_t)(1u << (r & 7));
}

static int do_reset(struct fault *f)
{
    f->reset_done = 1;
    f->n.resets++;
    if (f->o.hard_reset)
        return f->o.hard_reset(f->o.hard_reset_arg);
    // Slip a RESET in between two packets and hide its reply: to the host
    // the device simply lost its state.
    uint8_t p[SPARQ_HEADER_BYTES + SPARQ_CRC_BYTES];
    memset(p, 0, sizeof p);
    p[SPARQ_HDR_MAGIC] = SPARQ_MAGIC_CMD;
    p[SPARQ_HDR_OPCODE] = SPARQ_OP_RESET;
    p[SPARQ_HDR_SEQ] = (uint8_t)(f->last_seq ^ 0x80); // far from every sequence number in flight
    uint16_t hc = sparq_crc16(SPARQ_CRC16_INIT, p, 8);
    p[SPARQ_HDR_CRC] = (uint8_t)hc;
    p[SPARQ_HDR_CRC + 1] = (uint8_t)(hc >> 8);
    p[SPARQ_HEADER_BYTES] = 0xFF; // crc of the empty body
    p[SPARQ_HEADER_BYTES + 1] = 0xFF;
    f->swallow_seq = p[SPARQ_HDR_SEQ];
    return f->inner.ops->send(f->inner.ctx, p, sizeof p);
}

static int forward_cmd(struct fault *f, const uint8_t *pkt, size_t n)
{
    f->n.commands++;
    f->last_seq = pkt[SPARQ_HDR_SEQ];
    int rc = SPARQ_OK;
    if (uniform(f) < f->o.drop_cmd) {
        f->n.dropped_cmd++;
    } else {
        uint8_t *c = malloc(n);
        if (!c)
            return sparq_fail(SPARQ_ENOMEM, "fault injector: out of memory");
        memcpy(c, pkt, n);
        if (uniform(f) < f->o.corrupt_cmd) {
            flip_bit(f, c, n);
            f->n.corrupted_cmd++;
        }
        rc = f->inner.ops->send(f->inner.ctx, c, n);
        if (!rc && uniform(f) < f->o.dup_cmd) {
            f->n.duped_cmd++;
            rc = f->inner.ops->send(f->inner.ctx, c, n);
        }
        free(c);
    }
    if (!rc && f->o.reset_after && !f->reset_done && f->n.commands >= f->o.reset_after)
        rc = do_reset(f);
    return rc;
}

static int fault_send(void *ctx, const uint8_t *data, size_t n)
{
    struct fault *f = ctx;
    int rc = sparq_bytequeue_push(&f->tx, data, n);
    while (!rc && sparq_bytequeue_size(&f->tx) >= SPARQ_HEADER_BYTES) {
        const uint8_t *h = sparq_bytequeue_data(&f->tx);
        if (h[0] != SPARQ_MAGIC_CMD) { // not framed: pass bytes through untouched
            rc = f->inner.ops->send(f->inner.ctx, h, sparq_bytequeue_size(&f->tx));
            sparq_bytequeue_clear(&f->tx);
            break;
        }
        size_t total = SPARQ_HEADER_BYTES + (size_t)sparq_rd32(h + SPARQ_HDR_LEN) + SPARQ_CRC_BYTES;
        if (sparq_bytequeue_size(&f->tx) < total)
            break;
        rc = forward_cmd(f, h, total);
        sparq_bytequeue_drop(&f->tx, total);
    }
    return rc;
}

// Reads one reply packet from the device and applies reply faults.
static int pull_reply(struct fault *f)
{
    uint8_t h[SPARQ_HEADER_BYTES];
    int rc = f->inner.ops->recv(f->inner.ctx, h, 1);
    if (rc)
        return rc;
    if (h[0] != SPARQ_MAGIC_REPLY)
        return sparq_bytequeue_push(&f->q, h, 1);
    if ((rc = f->inner.ops->recv(f->inner.ctx, h + 1, SPARQ_HEADER_BYTES - 1)))
        return rc;
    if (sparq_rd16(h + SPARQ_HDR_CRC) != sparq_crc16(SPARQ_CRC16_INIT, h, 8))
        return sparq_bytequeue_push(&f->q, h, sizeof h);
    size_t n = SPARQ_HEADER_BYTES + (size_t)sparq_rd32(h + SPARQ_HDR_LEN) + SPARQ_CRC_BYTES;
    if (n > f->pkt_cap) {
        uint8_t *p = realloc(f->pkt, n);
        if (!p)
            return sparq_fail(SPARQ_ENOMEM, "fault injector: out of memory");
        f->pkt = p;
        f->pkt_cap = n;
    }
    memcpy(f->pkt, h, sizeof h);
    if ((rc = f->inner.ops->recv(f->inner.ctx, f->pkt + sizeof h, n - sizeof h)))
        return rc;
    if (f->swallow_seq >= 0 && f->pkt[SPARQ_HDR_SEQ] == f->swallow_seq && f->pkt[SPARQ_HDR_ECHO] == SPARQ_OP_RESET) {
        f->swallow_seq = -1;
        return SPARQ_OK;
    }
    f->n.replies++;
    if (uniform(f) < f->o.drop_reply) {
        f->n.dropped_reply++;
        return SPARQ_OK;
    }
    if (uniform(f) < f->o.corrupt_reply) {
        flip_bit(f, f->pkt, n);
        f->n.corrupted_reply++;
    }
    if (uniform(f) < f->o.delay_reply) {
        f->n.delayed_reply++;
        return sparq_bytequeue_push(&f->held, f->pkt, n);
    }
    rc = sparq_bytequeue_push(&f->q, f->pkt, n);
    if (!rc && uniform(f) < f->o.dup_reply) {
        f->n.duped_reply++;
        rc = sparq_bytequeue_push(&f->q, f->pkt, n);
    }
    return rc;
}

static int fault_recv(void *ctx, uint8_t *data, size_t n)
{
    struct fault *f = ctx;
    while (sparq_bytequeue_size(&f->q) < n) {
        int rc = pull_reply(f);
        if (rc == SPARQ_ETIMEOUT && sparq_bytequeue_size(&f->held)) {
            // The reader gave up; the late packets arrive now.
            rc = sparq_bytequeue_push(&f->q, sparq_bytequeue_data(&f->held), sparq_bytequeue_size(&f->held));
            sparq_bytequeue_clear(&f->held);
            if (!rc)
                rc = sparq_fail(SPARQ_ETIMEOUT, "fault injector: reply delayed");
        }
        if (rc)
            return rc;
    }
    sparq_bytequeue_pop(&f->q, data, n);
    return SPARQ_OK;
}

static int fault_idle(void *ctx)
{
    struct fault *f = ctx;
    return f->inner.ops->idle(f->inner.ctx);
}

static uint64_t fault_cycles(void *ctx)
{
    struct fault *f = ctx;
    return f->inner.ops->cycles ? f->inner.ops->cycles(f->inner.ctx) : 0;
}

static void fault_close(void *ctx)
{
    struct fault *f = ctx;
    if (!f)
        return;
    f->inner.ops->close(f->inner.ctx);
    sparq_bytequeue_free(&f->tx);
    sparq_bytequeue_free(&f->q);
    sparq_bytequeue_free(&f->held);
    free(f->pkt);
    free(f);
}

int sparq_fault_wrap(struct sparq_transport *out, struct sparq_transport inner, const struct sparq_fault_options *opt)
{
    struct fault *f = sparq_calloc(1, sizeof *f, "fault injector");
    if (!f) {
        inner.ops->close(inner.ctx);
        return SPARQ_ENOMEM;
    }
    f->inner = inner;
    f->swallow_seq = -1;
    if (opt)
        f->o = *opt;
    f->rng = f->o.seed;
    f->ops.name = inner.ops->name;
    f->ops.send = fault_send;
    f->ops.recv = fault_recv;
    f->ops.idle = fault_idle;
    f->ops.cycles = fault_cycles;
    f->ops.close = fault_close;
    out->ops = &f->ops;
    out->ctx = f;
    return SPARQ_OK;
}

int sparq_fault_set(struct sparq_transport *tr, const struct sparq_fault_options *opt)
{
    if (!tr || !tr->ops || tr->ops->send != fault_send)
        return sparq_fail(SPARQ_EINVAL, "sparq_fault_set: not a fault-injecting transport");
    struct fault *f = tr->ctx;
    uint64_t seed = f->o.seed;
    f->o = *opt;
    f->o.seed = seed; // the random stream continues
    if (opt->reset_after)
        f->reset_done = 0;
    return SPARQ_OK;
}

const struct sparq_fault_counts *sparq_fault_counts(const struct sparq_transport *tr)
{
    if (!tr || !tr->ops || tr->ops->send != fault_send)
        return NULL;
    return &((const struct fault *)tr->ctx)->n;
}
