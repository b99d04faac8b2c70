// The reliability layer (sparq_link.h): a transport wrapper that turns a
// lossy byte link into one that delivers each command's reply exactly once,
// or an error. The driver above it (device.c) still checks everything
// itself; this layer only adds sequence renumbering, resynchronisation,
// retries and the MAC-counter proofs for accumulate COMPUTEs.
#include <stdlib.h>
#include <string.h>

#include "sparq_bytequeue.h"
#include "sparq_device_wire.h"
#include "sparq_error.h"
#include "sparq_link.h"
#include "sparq_protocol.h"
#include "sparq_wire.h"

#define LINK_MAX_BODY (1u << 26) // larger replies are garbage that passed a header CRC by chance
#define PB_CAP 32

struct link {
    struct sparq_transport inner;
    struct sparq_transport_ops ops; // per instance: carries the inner backend's name
    struct sparq_link_options opt;
    struct sparq_link_counts n;

    struct sparq_bytequeue tx; // command bytes from the driver, not yet a whole packet
    struct sparq_bytequeue rx; // reply bytes for the driver
    uint8_t *body;           // body of the reply being read
    size_t body_cap;
    uint8_t pb[PB_CAP];      // bytes pushed back while resynchronising
    int pb_len;
    uint8_t wseq;            // next wire sequence number

    int tally_valid;         // the device's MAC counter is known to equal tally
    uint64_t tally;
    int unverified;          // accumulate COMPUTEs since the last counter check
    uint64_t check_bytes;    // wire bytes of the counter reads (sparq_link_check_bytes)
};


static int grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return SPARQ_OK;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    uint8_t *p = realloc(*buf, c);
    if (!p)
        return sparq_fail(SPARQ_ENOMEM, "link: out of memory for %zu bytes", need);
    *buf = p;
    *cap = c;
    return SPARQ_OK;
}

// --- reading replies ------------------------------------------------------------
static int inner_recv(struct link *l, uint8_t *p, size_t n)
{
    int rc = l->inner.ops->recv(l->inner.ctx, p, n);
    if (!rc)
        l->n.wire_in += n;
    return rc;
}

static int inner_send(struct link *l, const uint8_t *p, size_t n)
{
    l->n.wire_out += n;
    return l->inner.ops->send(l->inner.ctx, p, n);
}

static int get_byte(struct link *l, uint8_t *b)
{
    if (l->pb_len) {
        *b = l->pb[0];
        memmove(l->pb, l->pb + 1, (size_t)--l->pb_len);
        return SPARQ_OK;
    }
    return inner_recv(l, b, 1);
}

static int get_bytes(struct link *l, uint8_t *p, size_t n)
{
    while (n && l->pb_len) {
        int rc = get_byte(l, p);
        if (rc)
            return rc;
        p++;
        n--;
    }
    return n ? inner_recv(l, p, n) : SPARQ_OK;
}

// Puts bytes back in front of the stream (resynchronisation rescans them).
static void push_back(struct link *l, const uint8_t *p, int n)
{
    if (n + l->pb_len > PB_CAP)
        n = PB_CAP - l->pb_len; // cannot happen: each pushback is one byte shorter than what was read
    memmove(l->pb + n, l->pb, (size_t)l->pb_len);
    memcpy(l->pb, p, (size_t)n);
    l->pb_len += n;
}

enum { R_OK, R_TIMEOUT, R_CORRUPT };

struct reply {
    int status;
    uint32_t len;
    uint16_t crc; // the body CRC, checked
};

// Reads until the reply to (wseq, op) arrives. Stale and broken replies are
// discarded. Returns R_OK, R_TIMEOUT, R_CORRUPT (our reply, body CRC bad) or
// a negative error from the transport.
static int await_reply(struct link *l, uint8_t wseq, int op, struct reply *r)
{
    for (;;) {
        uint8_t h[SPARQ_HEADER_BYTES], c[SPARQ_CRC_BYTES];
        int rc = get_byte(l, &h[0]);
        if (rc)
            return rc == SPARQ_ETIMEOUT ? R_TIMEOUT : rc;
        if (h[0] != SPARQ_MAGIC_REPLY) {
            l->n.skipped++;
            continue;
        }
        rc = get_bytes(l, h + 1, SPARQ_HEADER_BYTES - 1);
        if (rc)
            return rc == SPARQ_ETIMEOUT ? R_TIMEOUT : rc;
        uint32_t len = sparq_rd32(h + SPARQ_HDR_LEN);
        if (sparq_rd16(h + SPARQ_HDR_CRC) != sparq_crc16(SPARQ_CRC16_INIT, h, 8) || len > LINK_MAX_BODY) {
            l->n.skipped++;
            push_back(l, h + 1, SPARQ_HEADER_BYTES - 1);
            continue;
        }
        if ((rc = grow(&l->body, &l->body_cap, len ? len : 1)))
            return rc;
        rc = get_bytes(l, l->body, len);
        if (!rc)
            rc = get_bytes(l, c, sizeof c);
        if (rc)
            return rc == SPARQ_ETIMEOUT ? R_TIMEOUT : rc;
        int ours = h[SPARQ_HDR_SEQ] == wseq && h[SPARQ_HDR_ECHO] == op;
        if (sparq_rd16(c) != sparq_crc16(SPARQ_CRC16_INIT, l->body, len)) {
            l->n.bad_replies++;
            if (ours)
                return R_CORRUPT;
            continue;
        }
        if (!ours) {
            l->n.stale++;
            continue;
        }
        r->status = h[SPARQ_HDR_OPCODE];
        r->len = len;
        r->crc = (uint16_t)sparq_rd16(c);
        return R_OK;
    }
}

// Reads and discards until the transport times out.
static int drain(struct link *l)
{
    l->pb_len = 0;
    for (;;) {
        uint8_t b;
        int rc = inner_recv(l, &b, 1);
        if (rc == SPARQ_ETIMEOUT)
            return SPARQ_OK;
        if (rc)
            return rc;
        l->n.skipped++;
    }
}

// --- one command with retries -------------------------------------------------------
// MACs of a COMPUTE / COMPUTE_S job from its arguments (layouts differ).
static uint64_t compute_macs(int op, const uint8_t *a)
{
    int s = op == SPARQ_OP_COMPUTE_S ? 2 : 0; // COMPUTE_S: kept at 7, t at 8, ...
    uint64_t kept = a[4 + 3 * (s / 2)], t = sparq_rd16(a + 6 + s), ncols = sparq_rd16(a + 8 + s),
             kb = sparq_rd16(a + 10 + s);
    return t * ncols * kb * 4u * kept;
}

static int exchange(struct link *l, uint8_t *pkt, size_t n, struct reply *r);

static int read_macs(struct link *l, uint64_t *macs)
{
    uint8_t pkt[SPARQ_HEADER_BYTES + SPARQ_CRC_BYTES];
    memset(pkt, 0, sizeof pkt);
    pkt[SPARQ_HDR_MAGIC] = SPARQ_MAGIC_CMD;
    pkt[SPARQ_HDR_OPCODE] = SPARQ_OP_COUNTERS;
    sparq_wr16(pkt + SPARQ_HEADER_BYTES, SPARQ_CRC16_INIT); // crc of the empty body
    struct reply r;
    uint64_t w0 = l->n.wire_out + l->n.wire_in;
    int rc = exchange(l, pkt, sizeof pkt, &r);
    l->check_bytes += l->n.wire_out + l->n.wire_in - w0; // the read is overhead, retries and all
    if (rc)
        return rc;
    if (r.status != SPARQ_ST_OK || r.len != SPARQ_COUNTERS_BYTES)
        return sparq_fail(SPARQ_EDEVICE, "link: counters: status %s, %u bytes", sparq_status_name(r.status), r.len);
    *macs = sparq_rd64(l->body + SPARQ_CNT_MACS);
    return SPARQ_OK;
}

// Sends pkt (a whole command; its seq byte is rewritten) until a reply that
// is known to answer it arrives. On success r and l->body hold that reply.
static int exchange(struct link *l, uint8_t *pkt, size_t n, struct reply *r)
{
    int op = pkt[SPARQ_HDR_OPCODE];
    const uint8_t *args = pkt + SPARQ_HEADER_BYTES;
    // COMPUTE and COMPUTE_S (weights from the store) are the same job.
    int is_job = (op == SPARQ_OP_COMPUTE && n >= SPARQ_HEADER_BYTES + SPARQ_ARGS_COMPUTE + SPARQ_CRC_BYTES) ||
                 (op == SPARQ_OP_COMPUTE_S && n >= SPARQ_HEADER_BYTES + SPARQ_ARGS_COMPUTE_S + SPARQ_CRC_BYTES);
    int acc = is_job && (args[op == SPARQ_OP_COMPUTE ? 2 : 5] & SPARQ_COMPUTE_ACCUMULATE);
    uint64_t job = is_job ? compute_macs(op, args) : 0;
    // An EPILOGUE that continues a bank (dblock > 0) cannot run twice: a
    // second one answers STATE and changes nothing. So a lost reply is
    // settled by resending it: OK means the first did not run, STATE that it
    // did (or that the device lost its state; then the bank it fills is
    // neither filling nor valid, and the next EPILOGUE or the COMPUTE that
    // reads it answers STATE: never a wrong result).
    int epi = op == SPARQ_OP_EPILOGUE && n >= SPARQ_HEADER_BYTES + SPARQ_ARGS_EPILOGUE + SPARQ_CRC_BYTES &&
              sparq_rd16(args + 10) > 0 && l->opt.verify_accumulate;
    int uncertain = 0;
    // Every COMPUTE bumps the device's MAC counter, and the counter cannot
    // tell which command ran. An overwriting COMPUTE can run twice with the
    // same result (a lost reply is resent), so only accumulates need the
    // counter: it is read right before each one, and the tally restarts
    // there (what ran since the last read were overwriting jobs, which may
    // have run twice harmlessly). After that only this command can move it,
    // so an uncertain outcome is settled: ran once (accepted), did not run
    // (resent), anything else (error).
    int settle = is_job && acc && l->opt.verify_accumulate;
    int rc;
    // With two result buffers an overwriting job can start before the READ
    // of the other buffer's accumulated results: those are checked before it,
    // so that it (run once or twice) does not blur the check at that READ.
    if (is_job && l->opt.verify_accumulate && (acc || l->unverified)) {
        uint64_t macs;
        if ((rc = read_macs(l, &macs)))
            return rc;
        int check = l->unverified > 0;
        if (check && l->tally_valid && macs != l->tally) {
            l->n.failures++;
            l->tally_valid = 0;
            l->unverified = 0;
            return sparq_fail(SPARQ_EDEVICE,
                              "link: MAC counter %llu before a COMPUTE, expected %llu: an earlier accumulate COMPUTE "
                              "ran twice (duplicated on the wire) or the device reset; results discarded",
                              (unsigned long long)macs, (unsigned long long)l->tally);
        }
        if (check && l->tally_valid)
            l->n.verified++;
        l->unverified = 0;
        l->tally = macs;
        l->tally_valid = 1;
    }
    const char *last = "no reply";
    for (int attempt = 0; attempt < l->opt.max_attempts; attempt++) {
        if (attempt)
            l->n.retries++;
        uint8_t ws = l->wseq++;
        pkt[SPARQ_HDR_SEQ] = ws;
        sparq_wr16(pkt + SPARQ_HDR_CRC, sparq_crc16(SPARQ_CRC16_INIT, pkt, 8));
        if ((rc = inner_send(l, pkt, n)))
            return rc;
        int got = await_reply(l, ws, op, r);
        if (got < 0)
            return got;
        if (got == R_OK) {
            if (r->status == SPARQ_ST_HEADER || r->status == SPARQ_ST_CRC || r->status == SPARQ_ST_TRUNCATED) {
                l->n.nacks++; // the device saw a damaged packet and did not execute it
                last = sparq_status_name(r->status);
                continue;
            }
            if (uncertain && r->status == SPARQ_ST_STATE) {
                l->n.resolved++; // an earlier attempt ran (see above)
                r->status = SPARQ_ST_OK;
                r->len = 0;
                r->crc = SPARQ_CRC16_INIT;
                return SPARQ_OK;
            }
            if (op == SPARQ_OP_RESET && r->status == SPARQ_ST_OK) {
                l->tally = 0;
                l->tally_valid = 1;
                l->unverified = 0;
            } else if (is_job && r->status == SPARQ_ST_OK) {
                l->tally += job;
                l->unverified += acc;
            } else if (r->status == SPARQ_ST_STATE) {
                l->tally_valid = 0; // the device may have been reset behind our back
                l->unverified = 0;
            }
            return SPARQ_OK;
        }
        if (got == R_TIMEOUT) {
            l->n.timeouts++;
            last = "timeout";
            // A device holding part of a packet drops it now; then everything
            // still in the pipe (late replies) is read and thrown away, so no
            // reply older than this command can be mistaken for a newer one
            // when the 8-bit sequence number wraps.
            if ((rc = l->inner.ops->idle(l->inner.ctx)) || (rc = drain(l)))
                return rc;
        } else {
            last = "reply crc mismatch";
        }
        if (epi) {
            uncertain = 1; // resent: its reply says whether this one ran
            continue;
        }
        if (!settle)
            continue; // safe to resend (or verification disabled for a test)
        // Did the accumulate COMPUTE run? The MAC counter says.
        uint64_t macs;
        if ((rc = read_macs(l, &macs)))
            return rc;
        if (l->tally_valid && macs == l->tally + job) {
            l->n.resolved++;
            l->tally += job;
            l->unverified++;
            r->status = SPARQ_ST_OK;
            r->len = 0;
            r->crc = SPARQ_CRC16_INIT;
            return SPARQ_OK;
        }
        if (l->tally_valid && macs == l->tally) {
            l->n.resolved++;
            continue; // it did not run: resend
        }
        l->n.failures++;
        l->tally_valid = 0;
        return sparq_fail(SPARQ_EDEVICE,
                          "link: COMPUTE reply lost (%s) and the MAC counter (%llu) shows neither one run nor none "
                          "(expected %llu or %llu): result discarded",
                          last, (unsigned long long)macs, (unsigned long long)(l->tally + job),
                          (unsigned long long)l->tally);
    }
    l->n.failures++;
    return sparq_fail(SPARQ_ETIMEOUT, "link: opcode %d: no valid reply after %d attempts (last: %s)", op,
                      l->opt.max_attempts, last);
}

static int deliver(struct link *l, uint8_t dseq, int op, const struct reply *r)
{
    uint8_t h[SPARQ_HEADER_BYTES], crc[SPARQ_CRC_BYTES];
    h[SPARQ_HDR_MAGIC] = SPARQ_MAGIC_REPLY;
    h[SPARQ_HDR_OPCODE] = (uint8_t)r->status;
    h[SPARQ_HDR_SEQ] = dseq;
    h[SPARQ_HDR_ECHO] = (uint8_t)op;
    sparq_wr32(h + SPARQ_HDR_LEN, r->len);
    sparq_wr16(h + SPARQ_HDR_CRC, sparq_crc16(SPARQ_CRC16_INIT, h, 8));
    sparq_wr16(crc, r->crc); // checked in await_reply: no second pass over the body
    int rc = sparq_bytequeue_push(&l->rx, h, sizeof h);
    if (!rc)
        rc = sparq_bytequeue_push(&l->rx, l->body, r->len);
    return rc ? rc : sparq_bytequeue_push(&l->rx, crc, sizeof crc);
}

static int transact(struct link *l, uint8_t *pkt, size_t n)
{
    int op = pkt[SPARQ_HDR_OPCODE], rc;
    uint8_t dseq = pkt[SPARQ_HDR_SEQ];
    l->n.commands++;
    // An EPILOGUE consumes results like a READ: a duplicated accumulate job
    // must be caught before either uses them.
    if ((op == SPARQ_OP_READ || op == SPARQ_OP_EPILOGUE) && l->opt.verify_accumulate && l->unverified &&
        l->tally_valid) {
        uint64_t macs;
        if ((rc = read_macs(l, &macs)))
            return rc;
        if (macs != l->tally) {
            l->n.failures++;
            l->tally_valid = 0;
            l->unverified = 0;
            return sparq_fail(SPARQ_EDEVICE,
                              "link: MAC counter %llu, expected %llu: an accumulate COMPUTE ran twice (duplicated on "
                              "the wire) or the device reset; results discarded",
                              (unsigned long long)macs, (unsigned long long)l->tally);
        }
        l->n.verified++;
        l->unverified = 0;
    }
    struct reply r;
    rc = exchange(l, pkt, n, &r);
    return rc ? rc : deliver(l, dseq, op, &r);
}

// --- transport ops ------------------------------------------------------------------
static int link_send(void *ctx, const uint8_t *data, size_t n)
{
    struct link *l = ctx;
    int rc = sparq_bytequeue_push(&l->tx, data, n);
    if (rc)
        return rc;
    while (sparq_bytequeue_size(&l->tx) >= SPARQ_HEADER_BYTES) {
        uint8_t *h = sparq_bytequeue_data(&l->tx);
        uint32_t len = sparq_rd32(h + SPARQ_HDR_LEN);
        if (h[0] != SPARQ_MAGIC_CMD || sparq_rd16(h + SPARQ_HDR_CRC) != sparq_crc16(SPARQ_CRC16_INIT, h, 8) ||
            len > LINK_MAX_BODY) {
            sparq_bytequeue_clear(&l->tx);
            return sparq_fail(SPARQ_EINVAL, "link: the driver sent a malformed command header (raw bytes cannot "
                                            "go through the reliability layer)");
        }
        size_t total = SPARQ_HEADER_BYTES + (size_t)len + SPARQ_CRC_BYTES;
        if (sparq_bytequeue_size(&l->tx) < total)
            break;
        rc = transact(l, h, total); // may rewrite the sequence number in place
        sparq_bytequeue_drop(&l->tx, total);
        if (rc)
            return rc;
    }
    return SPARQ_OK;
}

static int link_recv(void *ctx, uint8_t *data, size_t n)
{
    struct link *l = ctx;
    if (sparq_bytequeue_size(&l->rx) < n)
        return sparq_fail(SPARQ_ETIMEOUT, "link: %zu reply bytes asked for, %zu available", n,
                          sparq_bytequeue_size(&l->rx));
    sparq_bytequeue_pop(&l->rx, data, n);
    return SPARQ_OK;
}

static int link_idle(void *ctx)
{
    struct link *l = ctx;
    return l->inner.ops->idle(l->inner.ctx);
}

static uint64_t link_cycles(void *ctx)
{
    struct link *l = ctx;
    return l->inner.ops->cycles ? l->inner.ops->cycles(l->inner.ctx) : 0;
}

static void link_close(void *ctx)
{
    struct link *l = ctx;
    if (!l)
        return;
    l->inner.ops->close(l->inner.ctx);
    sparq_bytequeue_free(&l->tx);
    sparq_bytequeue_free(&l->rx);
    free(l->body);
    free(l);
}

int sparq_link_wrap(struct sparq_transport *out, struct sparq_transport inner, const struct sparq_link_options *opt)
{
    struct link *l = sparq_calloc(1, sizeof *l, "link");
    if (!l) {
        inner.ops->close(inner.ctx);
        return SPARQ_ENOMEM;
    }
    l->inner = inner;
    l->opt.max_attempts = 8;
    l->opt.verify_accumulate = 1;
    if (opt) {
        l->opt = *opt;
        if (l->opt.max_attempts < 1)
            l->opt.max_attempts = 1;
    }
    l->ops.name = inner.ops->name;
    l->ops.send = link_send;
    l->ops.recv = link_recv;
    l->ops.idle = link_idle;
    l->ops.cycles = link_cycles;
    l->ops.close = link_close;
    out->ops = &l->ops;
    out->ctx = l;
    return SPARQ_OK;
}

const struct sparq_link_counts *sparq_link_counts(const struct sparq_transport *tr)
{
    if (!tr || !tr->ops || tr->ops->send != link_send)
        return NULL;
    return &((const struct link *)tr->ctx)->n;
}

int sparq_link_check_bytes(const struct sparq_transport *tr, uint64_t *bytes)
{
    if (!tr || !tr->ops || tr->ops->send != link_send)
        return SPARQ_EINVAL;
    *bytes = ((const struct link *)tr->ctx)->check_bytes;
    return SPARQ_OK;
}
