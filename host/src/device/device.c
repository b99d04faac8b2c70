// Device API: protocol framing (docs/protocol.md), the backends by name, and
// the driver that tiles an arbitrary GEMM onto the array and its buffers.
#include <stdlib.h>
#include <string.h>

#include "sparq_device.h"
#include "sparq_link.h"
#include "sparq_error.h"
#include "sparq_protocol.h"
#include "sparq_wire.h"

// Wire bytes of the COUNTERS exchange the reliability layer adds (sparq_link.h):
// a command without a body (header + crc) and a 40-byte reply.
#define LINK_CHECK_BYTES_OUT (SPARQ_HEADER_BYTES + SPARQ_CRC_BYTES)
#define LINK_CHECK_BYTES_IN (SPARQ_HEADER_BYTES + SPARQ_COUNTERS_BYTES + SPARQ_CRC_BYTES)

struct sparq_device {
    struct sparq_transport tr;
    struct sparq_device_info info;
    int lanes; // MAC lanes per PE (IDENTIFY version 2; 1 for version 1)
    struct sparq_link_stats link;
    int seq;
    int kchunk;
    int xmode;        // 0 auto, 1 stream activations, 2 keep them resident
    int xbanks;       // activation banks filled per weight tile (1 or 2)
    int wbank, xbank; // next bank to fill
    uint8_t *buf;     // scratch for payloads and replies
    size_t cap;
    // Model device (sparq_device_open_model): no transport; every command is
    // counted as sent and answered OK, COMPUTE jobs by the job-cycle model.
    int model;
    struct sparq_device_config cfg;
    struct sparq_device_counters mc;
    int model_link;      // also count the reliability layer's counter reads
    int model_unverified; // accumulate COMPUTEs since its last check
    uint64_t model_wire_out, model_wire_in; // those reads' bytes
    // Requant parameters the device holds (WRITE_Q payload), valid until a
    // RESET or a failed command.
    int q_valid;
    size_t q_len;
    uint8_t q_last[SPARQ_Q_ENTRY_BYTES * 256];
};


const char *sparq_status_name(int status)
{
    static const char *names[] = { "ok", "header crc", "crc", "unknown opcode", "length",
                                   "argument", "state", "positions", "truncated" };
    return status >= 0 && status <= SPARQ_ST_TRUNCATED ? names[status] : "unknown status";
}

static const char *op_name(int op)
{
    static const char *names[] = { "?", "identify", "reset", "write-w", "write-x",
                                   "write-q", "compute", "read", "counters" };
    return op >= 1 && op <= SPARQ_OP_COUNTERS ? names[op] : "raw";
}

static int ensure(struct sparq_device *d, size_t n)
{
    if (n <= d->cap)
        return SPARQ_OK;
    uint8_t *p = realloc(d->buf, n);
    if (!p)
        return sparq_fail(SPARQ_ENOMEM, "device: out of memory for a %zu-byte buffer", n);
    d->buf = p;
    d->cap = n;
    return SPARQ_OK;
}

static int send_bytes(struct sparq_device *d, const uint8_t *data, size_t n)
{
    d->link.bytes_out += n;
    return d->tr.ops->send(d->tr.ctx, data, n);
}

int sparq_device_send_raw(struct sparq_device *d, const uint8_t *data, size_t n)
{
    d->q_valid = 0; // raw bytes may hold anything, a WRITE_Q or a RESET
    return send_bytes(d, data, n);
}

int sparq_device_idle(struct sparq_device *d) { return d->tr.ops->idle(d->tr.ctx); }

int sparq_device_next_seq(const struct sparq_device *d) { return d->seq; }

static int send_command(struct sparq_device *d, int opcode, const uint8_t *args, size_t nargs,
                        const uint8_t *payload, size_t npayload);

int sparq_device_send(struct sparq_device *d, int opcode, const uint8_t *args, size_t nargs,
                      const uint8_t *payload, size_t npayload)
{
    d->q_valid = 0; // a command the driver does not track
    return send_command(d, opcode, args, nargs, payload, npayload);
}

static int send_command(struct sparq_device *d, int opcode, const uint8_t *args, size_t nargs,
                        const uint8_t *payload, size_t npayload)
{
    uint8_t h[SPARQ_HEADER_BYTES], c[SPARQ_CRC_BYTES];
    size_t len = nargs + npayload;
    h[0] = SPARQ_MAGIC_CMD;
    h[1] = (uint8_t)opcode;
    h[2] = (uint8_t)d->seq;
    h[3] = 0;
    sparq_wr32(h + 4, (uint32_t)len);
    sparq_wr16(h + 8, sparq_crc16(SPARQ_CRC16_INIT, h, 8));
    uint16_t crc = sparq_crc16(SPARQ_CRC16_INIT, args, nargs);
    crc = sparq_crc16(crc, payload, npayload);
    sparq_wr16(c, crc);
    d->seq = (d->seq + 1) & 0xFF;
    d->link.commands++;
    int rc = send_bytes(d, h, sizeof h);
    if (!rc && nargs)
        rc = send_bytes(d, args, nargs);
    if (!rc && npayload)
        rc = send_bytes(d, payload, npayload);
    if (!rc)
        rc = send_bytes(d, c, sizeof c);
    return rc;
}

static int recv_exact(struct sparq_device *d, uint8_t *p, size_t n)
{
    int rc = d->tr.ops->recv(d->tr.ctx, p, n);
    if (!rc)
        d->link.bytes_in += n;
    return rc;
}

int sparq_device_recv(struct sparq_device *d, int *status, int *seq, int *opcode, uint8_t *body, size_t cap,
                      size_t *len)
{
    uint8_t h[SPARQ_HEADER_BYTES], c[SPARQ_CRC_BYTES];
    int rc = recv_exact(d, h, sizeof h);
    if (rc)
        return rc;
    if (h[0] != SPARQ_MAGIC_REPLY)
        return sparq_fail(SPARQ_EDEVICE, "device: reply magic 0x%02x, expected 0x%02x", h[0], SPARQ_MAGIC_REPLY);
    if (sparq_rd16(h + 8) != sparq_crc16(SPARQ_CRC16_INIT, h, 8))
        return sparq_fail(SPARQ_EDEVICE, "device: reply header crc mismatch");
    uint32_t n = sparq_rd32(h + 4);
    if (n > cap)
        return sparq_fail(SPARQ_EDEVICE, "device: reply body of %u bytes, expected at most %zu", n, cap);
    if (n && (rc = recv_exact(d, body, n)))
        return rc;
    if ((rc = recv_exact(d, c, sizeof c)))
        return rc;
    if (sparq_rd16(c) != sparq_crc16(SPARQ_CRC16_INIT, body, n))
        return sparq_fail(SPARQ_EDEVICE, "device: reply body crc mismatch");
    *status = h[1];
    *seq = h[2];
    *opcode = h[3];
    *len = n;
    return SPARQ_OK;
}

// A model device's command: counted, executed only in the counters. The
// reply body is as long as the caller expects (cap).
static int model_command(struct sparq_device *d, int op, const uint8_t *args, size_t nargs, size_t npayload,
                         size_t cap, size_t *len)
{
    d->seq = (d->seq + 1) & 0xFF;
    d->link.commands++;
    d->link.bytes_out += SPARQ_HEADER_BYTES + nargs + npayload + SPARQ_CRC_BYTES;
    d->link.bytes_in += SPARQ_HEADER_BYTES + cap + SPARQ_CRC_BYTES;
    if (op == SPARQ_OP_COMPUTE) {
        int acc = args[2] & SPARQ_COMPUTE_ACCUMULATE, width = args[3], kept = args[4];
        int t = (int)sparq_rd16(args + 6), ncols = (int)sparq_rd16(args + 8), kb = (int)sparq_rd16(args + 10);
        d->mc.busy += sparq_devmodel_format_cycles(&d->cfg, t, kb, kept, width);
        d->mc.macs += (uint64_t)t * (uint64_t)ncols * (uint64_t)kb * 4u * (uint64_t)kept;
        if (d->model_link) { // the link reads the MAC counter before every COMPUTE
            d->model_wire_out += LINK_CHECK_BYTES_OUT;
            d->model_wire_in += LINK_CHECK_BYTES_IN;
            d->model_unverified += acc != 0;
        }
    } else if (op == SPARQ_OP_READ && d->model_link && d->model_unverified) {
        d->model_wire_out += LINK_CHECK_BYTES_OUT; // ... and before a READ after accumulates
        d->model_wire_in += LINK_CHECK_BYTES_IN;
        d->model_unverified = 0;
    } else if (op == SPARQ_OP_RESET) {
        memset(&d->mc, 0, sizeof d->mc);
        d->model_unverified = 0;
    }
    if (len)
        *len = cap;
    return SPARQ_OK;
}

// One command and its reply; a non-OK status becomes SPARQ_EDEVICE.
static int command(struct sparq_device *d, int op, const uint8_t *args, size_t nargs, const uint8_t *payload,
                   size_t npayload, uint8_t *body, size_t cap, size_t *len)
{
    if (op == SPARQ_OP_RESET)
        d->q_valid = 0;
    if (d->model)
        return model_command(d, op, args, nargs, npayload, cap, len);
    int seq = d->seq, st, rseq, rop;
    size_t n = 0;
    int rc = send_command(d, op, args, nargs, payload, npayload);
    if (!rc)
        rc = sparq_device_recv(d, &st, &rseq, &rop, body, cap, &n);
    if (rc || st != SPARQ_ST_OK)
        d->q_valid = 0; // the device may have reset or lost its state
    if (rc)
        return rc;
    if (rseq != seq || rop != op)
        return sparq_fail(SPARQ_EDEVICE, "device: %s: reply for seq %d op %d, expected seq %d", op_name(op), rseq,
                          rop, seq);
    if (st != SPARQ_ST_OK)
        return sparq_fail(SPARQ_EDEVICE, "device: %s: status %s", op_name(op), sparq_status_name(st));
    if (len)
        *len = n;
    return SPARQ_OK;
}

int sparq_device_identify(struct sparq_device *d, struct sparq_device_info *info)
{
    if (d->model) {
        *info = d->info;
        return model_command(d, SPARQ_OP_IDENTIFY, NULL, 0, 0,
                             d->lanes > 1 ? SPARQ_IDENTIFY_BYTES : SPARQ_IDENTIFY_BYTES_V1, NULL);
    }
    uint8_t b[SPARQ_IDENTIFY_BYTES];
    size_t n;
    int rc = command(d, SPARQ_OP_IDENTIFY, NULL, 0, NULL, 0, b, sizeof b, &n);
    if (rc)
        return rc;
    if (n < SPARQ_IDENTIFY_BYTES_V1)
        return sparq_fail(SPARQ_EDEVICE, "device: identify: %zu bytes, expected %d", n, SPARQ_IDENTIFY_BYTES);
    info->version = (int)sparq_rd16(b + SPARQ_ID_VERSION);
    info->rows = (int)sparq_rd16(b + SPARQ_ID_ROWS);
    info->cols = (int)sparq_rd16(b + SPARQ_ID_COLS);
    info->banks = (int)sparq_rd16(b + SPARQ_ID_BANKS);
    info->wdepth = (int)sparq_rd32(b + SPARQ_ID_WDEPTH);
    info->xdepth = (int)sparq_rd32(b + SPARQ_ID_XDEPTH);
    info->rdepth = (int)sparq_rd32(b + SPARQ_ID_RDEPTH);
    info->widths = b[SPARQ_ID_WIDTHS];
    info->sparsity = b[SPARQ_ID_SPARSITY];
    info->timeout = (int)sparq_rd16(b + SPARQ_ID_TIMEOUT) * 256;
    // Version 1 (24 bytes) has no lanes field: one lane. Version 2: 26 bytes.
    size_t want = info->version == SPARQ_PROTO_VERSION_MIN ? SPARQ_IDENTIFY_BYTES_V1 : SPARQ_IDENTIFY_BYTES;
    if (info->version < SPARQ_PROTO_VERSION_MIN || info->version > SPARQ_PROTO_VERSION)
        return sparq_fail(SPARQ_EDEVICE, "device: protocol version %d, host speaks %d..%d", info->version,
                          SPARQ_PROTO_VERSION_MIN, SPARQ_PROTO_VERSION);
    if (n != want)
        return sparq_fail(SPARQ_EDEVICE, "device: identify: %zu bytes, expected %zu for version %d", n, want,
                          info->version);
    int lanes = want == SPARQ_IDENTIFY_BYTES ? (int)sparq_rd16(b + SPARQ_ID_LANES) : 1;
    if (info->rows < 1 || info->cols < 1 || info->wdepth < 16 || info->xdepth < 4 || info->rdepth < info->rows ||
        (lanes != 1 && lanes != 4))
        return sparq_fail(SPARQ_EDEVICE, "device: identify: implausible sizes");
    d->lanes = lanes;
    return SPARQ_OK;
}

int sparq_device_lanes(const struct sparq_device *d) { return d->lanes; }

int sparq_device_reset(struct sparq_device *d)
{
    return command(d, SPARQ_OP_RESET, NULL, 0, NULL, 0, NULL, 0, NULL);
}

int sparq_device_counters(struct sparq_device *d, struct sparq_device_counters *c)
{
    if (d->model) {
        *c = d->mc;
        return model_command(d, SPARQ_OP_COUNTERS, NULL, 0, 0, SPARQ_COUNTERS_BYTES, NULL);
    }
    uint8_t b[SPARQ_COUNTERS_BYTES];
    size_t n;
    int rc = command(d, SPARQ_OP_COUNTERS, NULL, 0, NULL, 0, b, sizeof b, &n);
    if (rc)
        return rc;
    if (n != SPARQ_COUNTERS_BYTES)
        return sparq_fail(SPARQ_EDEVICE, "device: counters: %zu bytes, expected %d", n, SPARQ_COUNTERS_BYTES);
    c->total = sparq_rd64(b + SPARQ_CNT_TOTAL);
    c->busy = sparq_rd64(b + SPARQ_CNT_BUSY);
    c->stall_in = sparq_rd64(b + SPARQ_CNT_STALL_IN);
    c->stall_out = sparq_rd64(b + SPARQ_CNT_STALL_OUT);
    c->macs = sparq_rd64(b + SPARQ_CNT_MACS);
    return SPARQ_OK;
}

const struct sparq_link_stats *sparq_device_link(const struct sparq_device *d) { return &d->link; }

void sparq_device_wire(const struct sparq_device *d, uint64_t *out, uint64_t *in)
{
    const struct sparq_link_counts *lc = d->model ? NULL : sparq_link_counts(&d->tr);
    if (lc) {
        *out = lc->wire_out;
        *in = lc->wire_in;
    } else {
        *out = d->link.bytes_out + d->model_wire_out;
        *in = d->link.bytes_in + d->model_wire_in;
    }
}

uint64_t sparq_device_cycles(const struct sparq_device *d)
{
    return !d->model && d->tr.ops->cycles ? d->tr.ops->cycles(d->tr.ctx) : 0;
}

const char *sparq_device_backend(const struct sparq_device *d) { return d->model ? "model" : d->tr.ops->name; }

void sparq_device_set_kchunk(struct sparq_device *d, int kblocks) { d->kchunk = kblocks > 0 ? kblocks : 0; }

void sparq_device_set_xmode(struct sparq_device *d, int mode) { d->xmode = mode >= 0 && mode <= 2 ? mode : 0; }

void sparq_device_set_xbanks(struct sparq_device *d, int banks) { d->xbanks = banks == 1 ? 1 : 2; }

int sparq_device_open_transport(struct sparq_device **dst, struct sparq_transport tr)
{
    struct sparq_device *d = sparq_calloc(1, sizeof *d, "device");
    if (!d) {
        tr.ops->close(tr.ctx);
        return SPARQ_ENOMEM;
    }
    d->tr = tr;
    d->xbanks = 2;
    int rc = sparq_device_identify(d, &d->info);
    if (!rc)
        rc = sparq_device_reset(d);
    if (rc) {
        sparq_device_close(d);
        return rc;
    }
    *dst = d;
    return SPARQ_OK;
}

int sparq_device_open_model(struct sparq_device **dst, const struct sparq_device_config *cfg, int link)
{
    struct sparq_device *d = sparq_calloc(1, sizeof *d, "model device");
    if (!d)
        return SPARQ_ENOMEM;
    d->model = 1;
    d->model_link = link;
    d->xbanks = 2;
    d->cfg = cfg ? *cfg : sparq_device_default_config;
    d->lanes = d->cfg.lanes > 1 ? d->cfg.lanes : 1;
    d->info = (struct sparq_device_info){ d->lanes > 1 ? SPARQ_PROTO_VERSION : SPARQ_PROTO_VERSION_MIN,
                                          d->cfg.rows, d->cfg.cols, 2, d->cfg.wdepth,
                                          d->cfg.xdepth, d->cfg.rdepth, 7, 7, d->cfg.timeout };
    *dst = d;
    return SPARQ_OK;
}

void sparq_device_close(struct sparq_device *d)
{
    if (!d)
        return;
    if (!d->model)
        d->tr.ops->close(d->tr.ctx);
    free(d->buf);
    free(d);
}

// --- GEMM driver ---------------------------------------------------------------

struct pending_read {
    int valid, t0, tn, o0, on;
};

static int upload_x(struct sparq_device *d, int bank, const int8_t *x, int x_stride, int in, int t0, int tn,
                    int k0, int kn)
{
    size_t row = (size_t)kn * SPARQ_BLOCK, n = (size_t)tn * row;
    int rc = d->model ? SPARQ_OK : ensure(d, n);
    if (rc)
        return rc;
    if (!d->model)
        memset(d->buf, 0, n);
    for (int r = 0; !d->model && r < tn; r++) {
        int c0 = k0 * SPARQ_BLOCK, c1 = (k0 + kn) * SPARQ_BLOCK;
        if (c1 > in)
            c1 = in;
        if (c1 > c0)
            memcpy(d->buf + (size_t)r * row, x + (size_t)(t0 + r) * (size_t)x_stride + c0, (size_t)(c1 - c0));
    }
    uint8_t a[SPARQ_ARGS_WRITE_X] = { 0 };
    a[0] = (uint8_t)bank;
    sparq_wr16(a + 2, (unsigned)tn);
    sparq_wr16(a + 4, (unsigned)kn);
    return command(d, SPARQ_OP_WRITE_X, a, sizeof a, d->buf, n, NULL, 0, NULL);
}

static int upload_w(struct sparq_device *d, int bank, const struct sparq_packed *w, int o0, int on, int k0, int kn)
{
    size_t bb = (size_t)w->type->block_bytes, row = (size_t)kn * bb, n = (size_t)on * row;
    int rc = d->model ? SPARQ_OK : ensure(d, n);
    if (rc)
        return rc;
    for (int o = 0; !d->model && o < on; o++)
        memcpy(d->buf + (size_t)o * row, w->bytes + (size_t)(o0 + o) * w->row_bytes + (size_t)k0 * bb, row);
    uint8_t a[SPARQ_ARGS_WRITE_W] = { 0 };
    a[0] = (uint8_t)bank;
    a[1] = (uint8_t)w->type->width;
    a[2] = (uint8_t)w->type->kept;
    sparq_wr16(a + 4, (unsigned)on);
    sparq_wr16(a + 6, (unsigned)kn);
    return command(d, SPARQ_OP_WRITE_W, a, sizeof a, d->buf, n, NULL, 0, NULL);
}

static int compute(struct sparq_device *d, int wb, int xb, int acc, const struct sparq_packed *w, int tn, int on,
                   int kn, int xoff)
{
    uint8_t a[SPARQ_ARGS_COMPUTE] = { 0 };
    a[0] = (uint8_t)wb;
    a[1] = (uint8_t)xb;
    a[2] = acc ? SPARQ_COMPUTE_ACCUMULATE : 0;
    a[3] = (uint8_t)w->type->width;
    a[4] = (uint8_t)w->type->kept;
    sparq_wr16(a + 6, (unsigned)tn);
    sparq_wr16(a + 8, (unsigned)on);
    sparq_wr16(a + 10, (unsigned)kn);
    sparq_wr16(a + 12, (unsigned)xoff);
    return command(d, SPARQ_OP_COMPUTE, a, sizeof a, NULL, 0, NULL, 0, NULL);
}

static int read_results(struct sparq_device *d, const struct pending_read *p, int32_t *y32, int y32_stride,
                        int accumulate, int8_t *y8, int y8_stride, const struct sparq_requant_params *params)
{
    int rc, q8 = params != NULL; // y8 is NULL on a model device
    if (q8) {
        uint8_t q[SPARQ_Q_ENTRY_BYTES * 256];
        uint8_t a[SPARQ_ARGS_WRITE_Q] = { 0 };
        if (p->on > 256)
            return sparq_fail(SPARQ_EINVAL, "device: more than 256 columns per tile");
        sparq_wr16(a, (unsigned)p->on);
        for (int c = 0; c < p->on; c++) {
            const struct sparq_requant_params *r = &params[p->o0 + c];
            sparq_wr32(q + c * SPARQ_Q_ENTRY_BYTES, (uint32_t)r->bias);
            sparq_wr32(q + c * SPARQ_Q_ENTRY_BYTES + 4, (uint32_t)r->mult);
            q[c * SPARQ_Q_ENTRY_BYTES + 8] = (uint8_t)r->shift;
        }
        // The device keeps its parameters until the next WRITE_Q or RESET:
        // both chunks of a pair read with the same ones.
        size_t qn = (size_t)p->on * SPARQ_Q_ENTRY_BYTES;
        if (!d->q_valid || d->q_len != qn || memcmp(d->q_last, q, qn)) {
            d->q_valid = 0;
            rc = command(d, SPARQ_OP_WRITE_Q, a, sizeof a, q, qn, NULL, 0, NULL);
            if (rc)
                return rc;
            memcpy(d->q_last, q, qn);
            d->q_len = qn;
            d->q_valid = 1;
        }
    }
    size_t each = q8 ? 1 : 4, n = (size_t)p->tn * (size_t)p->on * each, got;
    if (!d->model && (rc = ensure(d, n)))
        return rc;
    uint8_t a[SPARQ_ARGS_READ] = { 0 };
    a[0] = q8 ? SPARQ_READ_REQUANT : SPARQ_READ_RAW;
    sparq_wr16(a + 2, (unsigned)p->tn);
    sparq_wr16(a + 4, (unsigned)p->on);
    if ((rc = command(d, SPARQ_OP_READ, a, sizeof a, NULL, 0, d->buf, n, &got)))
        return rc;
    if (got != n)
        return sparq_fail(SPARQ_EDEVICE, "device: read: %zu bytes, expected %zu", got, n);
    for (int r = 0; !d->model && r < p->tn; r++)
        for (int c = 0; c < p->on; c++) {
            const uint8_t *b = d->buf + ((size_t)r * (size_t)p->on + (size_t)c) * each;
            if (q8) {
                y8[(size_t)(p->t0 + r) * (size_t)y8_stride + (size_t)(p->o0 + c)] = (int8_t)b[0];
            } else {
                int32_t *o = &y32[(size_t)(p->t0 + r) * (size_t)y32_stride + (size_t)(p->o0 + c)];
                uint32_t v = sparq_rd32(b);
                *o = (int32_t)(accumulate ? (uint32_t)*o + v : v);
            }
        }
    return SPARQ_OK;
}

// Largest frame chunk whose activations (kb blocks per frame) fit a bank.
static int frames_fitting(const struct sparq_device_info *I, int t, int kb)
{
    int tiles = I->xdepth / (4 * kb);
    long tc = (long)tiles * I->rows;
    if (tc > I->rdepth)
        tc = I->rdepth;
    return tc < t ? (int)tc : t;
}

static int run_gemm(struct sparq_device *d, int32_t *y32, int y32_stride, int accumulate, int8_t *y8,
                    int y8_stride, const int8_t *x, int x_stride, const struct sparq_packed *w, int t,
                    const struct sparq_requant_params *params)
{
    const struct sparq_device_info *I = &d->info;
    if (t < 0 || !w || !w->type || !w->bytes)
        return sparq_fail(SPARQ_EINVAL, "device: gemm: bad arguments");
    if (t == 0)
        return SPARQ_OK;
    int kept = w->type->kept, kb_total = w->blocks_per_row;
    // Blocks per COMPUTE: what a weight bank holds (or the test's cap).
    int kbx = I->wdepth / (4 * kept);
    if (kbx > kb_total)
        kbx = kb_total;
    if (d->kchunk && kbx > d->kchunk)
        kbx = d->kchunk;
    int nk = (kb_total + kbx - 1) / kbx;
    // Two ways to cover the K chunks. Resident: a frame chunk's activations
    // for the whole K stay in one bank and each COMPUTE picks its blocks
    // (xoffset); costs a weight re-send per frame chunk. Streamed: the
    // activation chunk is re-sent for every output tile. Pick the cheaper.
    int tc_res = frames_fitting(I, t, kb_total), tc_str = frames_fitting(I, t, kbx);
    int otiles = (w->out + I->cols - 1) / I->cols;
    int resident = tc_res > 0;
    if (nk > 1 && resident && d->xmode != 2) {
        double wbytes = (double)w->size, xbytes = (double)t * kb_total * SPARQ_BLOCK;
        double cost_res = wbytes * ((t + tc_res - 1) / tc_res) + xbytes;
        double cost_str = wbytes * ((t + tc_str - 1) / tc_str) + xbytes * otiles;
        resident = d->xmode == 0 && cost_res <= cost_str;
    }
    int tc = resident ? tc_res : tc_str;
    if (tc < 1)
        return sparq_fail(SPARQ_EDEVICE, "device: buffers too small for %s with %d input channels", w->type->name,
                          w->in);
    struct pending_read pend = { 0, 0, 0, 0, 0 };
    int rc = SPARQ_OK;
    // With K in one COMPUTE and resident activations, two frame chunks (one
    // per activation bank) share every weight tile: weights are sent once
    // per 2*tc frames. The result buffer holds one chunk, so the first
    // chunk's results are read before the second chunk's COMPUTE.
    int pair = resident && nk == 1 && d->xbanks == 2;
    int group = pair ? 2 : 1; // frame chunks that share each weight tile
    for (int t0 = 0; t0 < t && !rc; t0 += group * tc) {
        int tn[2], xb[2] = { -1, -1 }; // frames and activation bank of each chunk
        tn[0] = t - t0 < tc ? t - t0 : tc;
        tn[1] = pair ? (t - t0 - tn[0] < tc ? t - t0 - tn[0] : tc) : 0;
        if (pair) {
            xb[0] = d->xbank;
            xb[1] = xb[0] ^ 1;
            rc = upload_x(d, xb[0], x, x_stride, w->in, t0, tn[0], 0, kb_total);
        }
        for (int o0 = 0; o0 < w->out && !rc; o0 += I->cols) {
            int on = w->out - o0 < I->cols ? w->out - o0 : I->cols;
            for (int kc = 0; kc < nk && !rc; kc++) {
                int k0 = kc * kbx, kn = kb_total - k0 < kbx ? kb_total - k0 : kbx, xoff = 0;
                if (pair) {
                    // both chunks' activations are already (or about to be) in their banks
                } else if (resident) {
                    xoff = k0;
                    if (xb[0] < 0) {
                        xb[0] = d->xbank;
                        d->xbank ^= 1;
                        rc = upload_x(d, xb[0], x, x_stride, w->in, t0, tn[0], 0, kb_total);
                    }
                } else if (nk > 1 || xb[0] < 0) {
                    xb[0] = d->xbank;
                    d->xbank ^= 1;
                    rc = upload_x(d, xb[0], x, x_stride, w->in, t0, tn[0], k0, kn);
                }
                int wb = d->wbank;
                d->wbank ^= 1;
                if (!rc)
                    rc = upload_w(d, wb, w, o0, on, k0, kn); // streams in while the last COMPUTE runs
                for (int c = 0; c < group && tn[c] > 0 && !rc; c++) {
                    // The previous tile's results are read now: its COMPUTE
                    // ran while the uploads above streamed in.
                    if (pend.valid) {
                        rc = read_results(d, &pend, y32, y32_stride, accumulate, y8, y8_stride, params);
                        pend.valid = 0;
                    }
                    if (!rc)
                        rc = compute(d, wb, xb[c], kc > 0, w, tn[c], on, kn, xoff);
                    if (pair)
                        pend = (struct pending_read){ 1, t0 + (c ? tn[0] : 0), tn[c], o0, on };
                    if (!rc && c == 0 && tn[1] > 0 && o0 == 0) // the second chunk streams in during the first COMPUTE
                        rc = upload_x(d, xb[1], x, x_stride, w->in, t0 + tn[0], tn[1], 0, kb_total);
                }
            }
            if (!pair)
                pend = (struct pending_read){ 1, t0, tn[0], o0, on };
        }
        if (pair && tn[1] == 0) // the last COMPUTE reads bank xb[0]: the next chunk goes to the other one
            d->xbank ^= 1;
    }
    if (!rc && pend.valid)
        rc = read_results(d, &pend, y32, y32_stride, accumulate, y8, y8_stride, params);
    return rc;
}

int sparq_device_gemm(struct sparq_device *d, int32_t *y, int y_stride, const int8_t *x, int x_stride,
                      const struct sparq_packed *w, int t, int accumulate)
{
    return run_gemm(d, y, y_stride, accumulate, NULL, 0, x, x_stride, w, t, NULL);
}

int sparq_device_gemm_q8(struct sparq_device *d, int8_t *y, int y_stride, const int8_t *x, int x_stride,
                         const struct sparq_packed *w, int t, const struct sparq_requant_params *params)
{
    for (int o = 0; w && o < w->out; o++)
        if (params[o].mult < 0 || params[o].shift < 0 || params[o].shift > 62)
            return sparq_fail(SPARQ_EINVAL, "device: requant params of channel %d out of range", o);
    return run_gemm(d, NULL, 0, 0, y, y_stride, x, x_stride, w, t, params);
}
