// The C functional model of the accelerator (the "ref" backend): it parses
// the same command bytes as rtl/sparq_ctrl.v, keeps the same buffers and
// state flags, and produces the same reply bytes. No cycles, except the
// busy counter, which is a closed formula of the job shape (the RTL engine's
// schedule does not depend on data). docs/protocol.md is the contract.
#include <stdlib.h>
#include <string.h>

#include "sparq_bytequeue.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_protocol.h"
#include "sparq_wire.h"

const struct sparq_device_config sparq_device_default_config = {
    .rows = 16, .cols = 16, .wdepth = 1024, .xdepth = 4096, .rdepth = 256, .timeout = 4096, .lanes = 4,
};

enum { PH_HEADER, PH_BODY, PH_CRC };

struct wbank {
    int valid, width, kept, ncols, kblocks;
    uint16_t *chan; // (cols, wdepth) absolute input channel of each kept entry
    int8_t *code;   // (cols, wdepth) sign-extended weight code
};

struct xbank {
    int valid, t, kblocks;
    int8_t *x; // (rdepth, xdepth * 4 / 1) frames, kblocks * 16 channels each
};

struct sparq_devmodel {
    struct sparq_device_config cfg;
    size_t xcap; // bytes of one activation bank

    // parser
    int phase;
    uint8_t hdr[SPARQ_HEADER_BYTES];
    int nhdr;
    uint32_t len, got;
    uint16_t crc;
    uint8_t crcb[2];
    int ncrc;
    int op, argsize, err, started;
    uint8_t args[16];
    uint8_t *payload;
    size_t npayload, pgot;

    // device state
    struct wbank w[2];
    struct xbank xb[2];
    int32_t *res; // (rdepth, cols)
    int r_valid, r_t, r_ncols;
    int32_t *qbias, *qmult;
    int8_t *qshift;
    int q_valid, q_ncols;
    uint64_t busy, macs;

    struct sparq_bytequeue out; // reply bytes not yet taken
};


static int args_of(int op)
{
    switch (op) {
    case SPARQ_OP_IDENTIFY: case SPARQ_OP_RESET: case SPARQ_OP_COUNTERS: return 0;
    case SPARQ_OP_WRITE_W: return SPARQ_ARGS_WRITE_W;
    case SPARQ_OP_WRITE_X: return SPARQ_ARGS_WRITE_X;
    case SPARQ_OP_WRITE_Q: return SPARQ_ARGS_WRITE_Q;
    case SPARQ_OP_COMPUTE: return SPARQ_ARGS_COMPUTE;
    case SPARQ_OP_READ: return SPARQ_ARGS_READ;
    default: return -1;
    }
}

uint64_t sparq_devmodel_format_cycles(const struct sparq_device_config *cfg, int t, int kblocks, int kept,
                                      int width)
{
    // A step carries L = min(lanes, 8/width) kept entries of a tile row (4
    // lanes: 1 int8, 2 int4 or 4 int2 weights a step); a tile lasts at least
    // 2*ROWS steps so the result shift chain of the previous tile has
    // drained; then the pipeline drains (rtl/sparq_engine.v, DRAIN_CYCLES).
    uint64_t per_step = width == 2 ? 4u : width == 4 ? 2u : 1u;
    uint64_t lanes = cfg->lanes > 1 ? (uint64_t)cfg->lanes : 1u;
    if (lanes > per_step)
        lanes = per_step;
    uint64_t tiles = (uint64_t)((t + cfg->rows - 1) / cfg->rows);
    uint64_t steps = (uint64_t)kblocks * 4u * (uint64_t)kept / lanes;
    uint64_t period = steps > (uint64_t)(2 * cfg->rows) ? steps : (uint64_t)(2 * cfg->rows);
    return tiles * period + (uint64_t)(2 * cfg->rows + cfg->cols + 4);
}

uint64_t sparq_devmodel_job_cycles(const struct sparq_device_config *cfg, int t, int kblocks, int kept)
{
    return sparq_devmodel_format_cycles(cfg, t, kblocks, kept, 8);
}

static int push_out(struct sparq_devmodel *m, const uint8_t *d, size_t n)
{
    return sparq_bytequeue_push(&m->out, d, n);
}

static void reply(struct sparq_devmodel *m, int status, const uint8_t *body, size_t n)
{
    uint8_t h[SPARQ_HEADER_BYTES];
    h[0] = SPARQ_MAGIC_REPLY;
    h[1] = (uint8_t)status;
    h[2] = m->nhdr > SPARQ_HDR_SEQ ? m->hdr[SPARQ_HDR_SEQ] : 0;
    h[3] = m->nhdr > SPARQ_HDR_OPCODE ? m->hdr[SPARQ_HDR_OPCODE] : 0;
    sparq_wr32(h + 4, (uint32_t)n);
    sparq_wr16(h + 8, sparq_crc16(SPARQ_CRC16_INIT, h, 8));
    uint8_t c[2];
    sparq_wr16(c, sparq_crc16(SPARQ_CRC16_INIT, body, n));
    push_out(m, h, sizeof h);
    if (n)
        push_out(m, body, n);
    push_out(m, c, 2);
}

static int block_bytes(int width, int kept)
{
    return kept * width / 2 + (kept == 4 ? 0 : kept);
}

static int format_ok(int width, int kept)
{
    return (width == 8 || width == 4 || width == 2) && (kept == 4 || kept == 2 || kept == 1);
}

// Argument checks once all arguments are in: ST_ARG, then ST_LENGTH.
// Returns the payload size through *payload.
static int check_args(struct sparq_devmodel *m, uint64_t *payload)
{
    const struct sparq_device_config *c = &m->cfg;
    const uint8_t *a = m->args;
    *payload = 0;
    switch (m->op) {
    case SPARQ_OP_WRITE_W: {
        int bank = a[0], width = a[1], kept = a[2], ncols = (int)sparq_rd16(a + 4), kb = (int)sparq_rd16(a + 6);
        if (bank > 1 || !format_ok(width, kept) || ncols < 1 || ncols > c->cols || kb < 1 ||
            (uint64_t)kb * 4u * (uint64_t)kept > (uint64_t)c->wdepth)
            return SPARQ_ST_ARG;
        *payload = (uint64_t)ncols * (uint64_t)kb * (uint64_t)block_bytes(width, kept);
        break;
    }
    case SPARQ_OP_WRITE_X: {
        int bank = a[0], t = (int)sparq_rd16(a + 2), kb = (int)sparq_rd16(a + 4);
        uint64_t tiles = (uint64_t)((t + c->rows - 1) / c->rows);
        if (bank > 1 || t < 1 || t > c->rdepth || kb < 1 || tiles * (uint64_t)kb * 4u > (uint64_t)c->xdepth)
            return SPARQ_ST_ARG;
        *payload = (uint64_t)t * (uint64_t)kb * 16u;
        break;
    }
    case SPARQ_OP_WRITE_Q: {
        int ncols = (int)sparq_rd16(a);
        if (ncols < 1 || ncols > c->cols)
            return SPARQ_ST_ARG;
        *payload = (uint64_t)ncols * SPARQ_Q_ENTRY_BYTES;
        break;
    }
    case SPARQ_OP_COMPUTE: {
        int wb = a[0], xb = a[1], width = a[3], kept = a[4];
        int t = (int)sparq_rd16(a + 6), ncols = (int)sparq_rd16(a + 8), kb = (int)sparq_rd16(a + 10);
        if (wb > 1 || xb > 1 || !format_ok(width, kept) || t < 1 || t > c->rdepth || ncols < 1 ||
            ncols > c->cols || kb < 1)
            return SPARQ_ST_ARG;
        break;
    }
    case SPARQ_OP_READ: {
        int mode = a[0], t = (int)sparq_rd16(a + 2), ncols = (int)sparq_rd16(a + 4);
        if (mode > 1 || t < 1 || t > c->rdepth || ncols < 1 || ncols > c->cols)
            return SPARQ_ST_ARG;
        break;
    }
    default:
        break;
    }
    if ((uint64_t)m->len != (uint64_t)m->argsize + *payload)
        return SPARQ_ST_LENGTH;
    return SPARQ_ST_OK;
}

static void args_done(struct sparq_devmodel *m)
{
    uint64_t payload;
    m->err = check_args(m, &payload);
    if (m->err)
        return;
    m->npayload = (size_t)payload;
    m->pgot = 0;
    if (payload) {
        uint8_t *p = realloc(m->payload, (size_t)payload);
        if (!p) { // cannot happen within the configured capacities
            m->err = SPARQ_ST_ARG;
            return;
        }
        m->payload = p;
    }
    // A write starts overwriting its buffer now: it is invalid until the
    // whole packet has arrived with a good CRC.
    if (m->op == SPARQ_OP_WRITE_W)
        m->w[m->args[0]].valid = 0;
    else if (m->op == SPARQ_OP_WRITE_X)
        m->xb[m->args[0]].valid = 0;
    else if (m->op == SPARQ_OP_WRITE_Q)
        m->q_valid = 0;
    m->started = 1;
}

static int exec_write_w(struct sparq_devmodel *m)
{
    const uint8_t *a = m->args;
    struct wbank *b = &m->w[a[0]];
    int width = a[1], kept = a[2], ncols = (int)sparq_rd16(a + 4), kb = (int)sparq_rd16(a + 6);
    const struct sparq_format_type *t = sparq_format_lookup(width, kept);
    uint8_t pos[SPARQ_BLOCK];
    int8_t val[SPARQ_BLOCK];
    const uint8_t *p = m->payload;
    int bad = 0;
    for (int c = 0; c < ncols; c++)
        for (int k = 0; k < kb; k++, p += t->block_bytes) {
            int n = sparq_block_decode(t, p, pos, val);
            for (int i = 0; i < n; i++) {
                if (i % kept != 0 && pos[i] <= pos[i - 1])
                    bad = 1;
                size_t e = (size_t)c * (size_t)m->cfg.wdepth + (size_t)k * 4u * (size_t)kept + (size_t)i;
                b->chan[e] = (uint16_t)(k * SPARQ_BLOCK + pos[i]);
                b->code[e] = val[i];
            }
        }
    if (bad)
        return SPARQ_ST_POSITIONS;
    b->valid = 1;
    b->width = width;
    b->kept = kept;
    b->ncols = ncols;
    b->kblocks = kb;
    return SPARQ_ST_OK;
}

static int exec_write_q(struct sparq_devmodel *m)
{
    int ncols = (int)sparq_rd16(m->args), bad = 0;
    for (int c = 0; c < ncols; c++) {
        const uint8_t *e = m->payload + (size_t)c * SPARQ_Q_ENTRY_BYTES;
        m->qbias[c] = (int32_t)sparq_rd32(e);
        m->qmult[c] = (int32_t)sparq_rd32(e + 4);
        m->qshift[c] = (int8_t)e[8];
        if (sparq_rd32(e + 4) >> 31 || e[8] > 62)
            bad = 1;
    }
    if (bad)
        return SPARQ_ST_ARG;
    m->q_valid = 1;
    m->q_ncols = ncols;
    return SPARQ_ST_OK;
}

static int exec_compute(struct sparq_devmodel *m)
{
    const uint8_t *a = m->args;
    const struct wbank *w = &m->w[a[0]];
    const struct xbank *x = &m->xb[a[1]];
    int acc = a[2] & SPARQ_COMPUTE_ACCUMULATE, width = a[3], kept = a[4];
    int t = (int)sparq_rd16(a + 6), ncols = (int)sparq_rd16(a + 8), kb = (int)sparq_rd16(a + 10), xoff = (int)sparq_rd16(a + 12);
    if (!w->valid || w->width != width || w->kept != kept || w->ncols != ncols || w->kblocks != kb ||
        !x->valid || x->t != t || x->kblocks < kb + xoff ||
        (acc && (!m->r_valid || m->r_t != t || m->r_ncols != ncols)))
        return SPARQ_ST_STATE;
    int entries = kb * 4 * kept, kpad = x->kblocks * SPARQ_BLOCK;
    for (int r = 0; r < t; r++)
        for (int c = 0; c < ncols; c++) {
            const uint16_t *ch = w->chan + (size_t)c * (size_t)m->cfg.wdepth;
            const int8_t *cd = w->code + (size_t)c * (size_t)m->cfg.wdepth;
            const int8_t *xr = x->x + (size_t)r * (size_t)kpad + (size_t)xoff * SPARQ_BLOCK;
            uint32_t s = acc ? (uint32_t)m->res[(size_t)r * (size_t)m->cfg.cols + (size_t)c] : 0u;
            for (int e = 0; e < entries; e++)
                s += (uint32_t)((int32_t)xr[ch[e]] * (int32_t)cd[e]);
            m->res[(size_t)r * (size_t)m->cfg.cols + (size_t)c] = (int32_t)s;
        }
    m->r_valid = 1;
    m->r_t = t;
    m->r_ncols = ncols;
    m->busy += sparq_devmodel_format_cycles(&m->cfg, t, kb, kept, width);
    m->macs += (uint64_t)t * (uint64_t)ncols * (uint64_t)entries;
    return SPARQ_ST_OK;
}

static void exec_read(struct sparq_devmodel *m)
{
    const uint8_t *a = m->args;
    int mode = a[0], t = (int)sparq_rd16(a + 2), ncols = (int)sparq_rd16(a + 4);
    if (!m->r_valid || t > m->r_t || ncols > m->r_ncols ||
        (mode == SPARQ_READ_REQUANT && (!m->q_valid || ncols > m->q_ncols))) {
        reply(m, SPARQ_ST_STATE, NULL, 0);
        return;
    }
    size_t each = mode == SPARQ_READ_RAW ? 4 : 1, n = (size_t)t * (size_t)ncols * each;
    uint8_t *body = malloc(n);
    if (!body)
        return;
    for (int r = 0; r < t; r++)
        for (int c = 0; c < ncols; c++) {
            int32_t v = m->res[(size_t)r * (size_t)m->cfg.cols + (size_t)c];
            uint8_t *o = body + ((size_t)r * (size_t)ncols + (size_t)c) * each;
            if (mode == SPARQ_READ_RAW)
                sparq_wr32(o, (uint32_t)v);
            else
                o[0] = (uint8_t)sparq_requant(v, m->qbias[c], m->qmult[c], m->qshift[c]);
        }
    reply(m, SPARQ_ST_OK, body, n);
    free(body);
}

static void exec_identify(struct sparq_devmodel *m)
{
    // One lane: a version-1 device, whose IDENTIFY ends before the lanes field.
    int v1 = m->cfg.lanes <= 1;
    uint8_t b[SPARQ_IDENTIFY_BYTES];
    memset(b, 0, sizeof b);
    sparq_wr16(b + SPARQ_ID_VERSION, v1 ? SPARQ_PROTO_VERSION_MIN : SPARQ_PROTO_VERSION);
    sparq_wr16(b + SPARQ_ID_ROWS, (unsigned)m->cfg.rows);
    sparq_wr16(b + SPARQ_ID_COLS, (unsigned)m->cfg.cols);
    sparq_wr16(b + SPARQ_ID_BANKS, 2);
    sparq_wr32(b + SPARQ_ID_WDEPTH, (uint32_t)m->cfg.wdepth);
    sparq_wr32(b + SPARQ_ID_XDEPTH, (uint32_t)m->cfg.xdepth);
    sparq_wr32(b + SPARQ_ID_RDEPTH, (uint32_t)m->cfg.rdepth);
    b[SPARQ_ID_WIDTHS] = 7;
    b[SPARQ_ID_SPARSITY] = 7;
    sparq_wr16(b + SPARQ_ID_TIMEOUT, (unsigned)(m->cfg.timeout / 256));
    if (!v1)
        sparq_wr16(b + SPARQ_ID_LANES, (unsigned)m->cfg.lanes);
    reply(m, SPARQ_ST_OK, b, v1 ? SPARQ_IDENTIFY_BYTES_V1 : SPARQ_IDENTIFY_BYTES);
}

static void reset_state(struct sparq_devmodel *m)
{
    m->w[0].valid = m->w[1].valid = 0;
    m->xb[0].valid = m->xb[1].valid = 0;
    m->r_valid = 0;
    m->q_valid = 0;
    m->busy = m->macs = 0;
}

static void packet_end(struct sparq_devmodel *m)
{
    m->phase = PH_HEADER;
    m->nhdr = 0;
    m->started = 0;
}

static void finish(struct sparq_devmodel *m)
{
    int crc_ok = (unsigned)sparq_rd16(m->crcb) == m->crc;
    int st = !crc_ok ? SPARQ_ST_CRC : m->err ? m->err : (m->got < (uint32_t)m->argsize ? SPARQ_ST_LENGTH : 0);
    if (st) {
        reply(m, st, NULL, 0);
        packet_end(m);
        return;
    }
    switch (m->op) {
    case SPARQ_OP_IDENTIFY: exec_identify(m); break;
    case SPARQ_OP_RESET: reset_state(m); reply(m, SPARQ_ST_OK, NULL, 0); break;
    case SPARQ_OP_WRITE_W: reply(m, exec_write_w(m), NULL, 0); break;
    case SPARQ_OP_WRITE_X: {
        struct xbank *x = &m->xb[m->args[0]];
        memcpy(x->x, m->payload, m->npayload);
        x->valid = 1;
        x->t = (int)sparq_rd16(m->args + 2);
        x->kblocks = (int)sparq_rd16(m->args + 4);
        reply(m, SPARQ_ST_OK, NULL, 0);
        break;
    }
    case SPARQ_OP_WRITE_Q: reply(m, exec_write_q(m), NULL, 0); break;
    case SPARQ_OP_COMPUTE: reply(m, exec_compute(m), NULL, 0); break;
    case SPARQ_OP_READ: exec_read(m); break;
    case SPARQ_OP_COUNTERS: {
        uint8_t b[SPARQ_COUNTERS_BYTES];
        memset(b, 0, sizeof b); // total and stall counters: no cycles in this model
        sparq_wr64(b + SPARQ_CNT_BUSY, m->busy);
        sparq_wr64(b + SPARQ_CNT_MACS, m->macs);
        reply(m, SPARQ_ST_OK, b, sizeof b);
        break;
    }
    default: break;
    }
    packet_end(m);
}

static void body_byte(struct sparq_devmodel *m, uint8_t v)
{
    m->crc = sparq_crc16(m->crc, &v, 1);
    uint32_t i = m->got++;
    if (m->err)
        return;
    if (i < (uint32_t)m->argsize) {
        m->args[i] = v;
        if (i + 1 == (uint32_t)m->argsize)
            args_done(m);
    } else if (m->pgot < m->npayload) {
        m->payload[m->pgot++] = v;
    }
}

static void feed_byte(struct sparq_devmodel *m, uint8_t v)
{
    switch (m->phase) {
    case PH_HEADER:
        if (m->nhdr == 0) {
            if (v != SPARQ_MAGIC_CMD)
                return; // resynchronisation: skip until a magic byte
            memset(m->hdr, 0, sizeof m->hdr);
        }
        m->hdr[m->nhdr++] = v;
        if (m->nhdr < SPARQ_HEADER_BYTES)
            return;
        if (sparq_rd16(m->hdr + SPARQ_HDR_CRC) != sparq_crc16(SPARQ_CRC16_INIT, m->hdr, 8)) {
            reply(m, SPARQ_ST_HEADER, NULL, 0);
            packet_end(m);
            return;
        }
        m->op = m->hdr[SPARQ_HDR_OPCODE];
        m->len = sparq_rd32(m->hdr + SPARQ_HDR_LEN);
        m->got = 0;
        m->crc = SPARQ_CRC16_INIT;
        m->ncrc = 0;
        m->npayload = m->pgot = 0;
        m->argsize = args_of(m->op);
        m->err = m->argsize < 0 ? SPARQ_ST_OPCODE : 0;
        if (m->argsize == 0)
            args_done(m);
        m->phase = m->len ? PH_BODY : PH_CRC;
        return;
    case PH_BODY:
        body_byte(m, v);
        if (m->got == m->len)
            m->phase = PH_CRC;
        return;
    default:
        m->crcb[m->ncrc++] = v;
        if (m->ncrc == 2)
            finish(m);
        return;
    }
}

void sparq_devmodel_feed(struct sparq_devmodel *m, const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++)
        feed_byte(m, data[i]);
}

void sparq_devmodel_timeout(struct sparq_devmodel *m)
{
    if (m->nhdr == 0)
        return;
    reply(m, SPARQ_ST_TRUNCATED, NULL, 0);
    packet_end(m);
}

size_t sparq_devmodel_take(struct sparq_devmodel *m, uint8_t *out, size_t n)
{
    return sparq_bytequeue_pop(&m->out, out, n);
}

int sparq_devmodel_create(struct sparq_devmodel **dst, const struct sparq_device_config *cfg)
{
    struct sparq_devmodel *m = sparq_calloc(1, sizeof *m, "device model");
    if (!m)
        return SPARQ_ENOMEM;
    m->cfg = cfg ? *cfg : sparq_device_default_config;
    size_t wn = (size_t)m->cfg.cols * (size_t)m->cfg.wdepth;
    // An activation bank holds t <= rdepth frames of at most xdepth*4/ceil(t/rows) channels.
    m->xcap = (size_t)m->cfg.xdepth * 4u * (size_t)m->cfg.rows;
    int ok = 1;
    for (int b = 0; b < 2; b++) {
        m->w[b].chan = sparq_calloc(wn, sizeof(uint16_t), "model weight bank");
        m->w[b].code = sparq_calloc(wn, 1, "model weight bank");
        m->xb[b].x = sparq_calloc(m->xcap, 1, "model activation bank");
        ok = ok && m->w[b].chan && m->w[b].code && m->xb[b].x;
    }
    m->res = sparq_calloc((size_t)m->cfg.rdepth * (size_t)m->cfg.cols, sizeof(int32_t), "model results");
    m->qbias = sparq_calloc((size_t)m->cfg.cols, sizeof(int32_t), "model requant");
    m->qmult = sparq_calloc((size_t)m->cfg.cols, sizeof(int32_t), "model requant");
    m->qshift = sparq_calloc((size_t)m->cfg.cols, 1, "model requant");
    if (!ok || !m->res || !m->qbias || !m->qmult || !m->qshift) {
        sparq_devmodel_destroy(m);
        return SPARQ_ENOMEM;
    }
    *dst = m;
    return SPARQ_OK;
}

void sparq_devmodel_destroy(struct sparq_devmodel *m)
{
    if (!m)
        return;
    for (int b = 0; b < 2; b++) {
        free(m->w[b].chan);
        free(m->w[b].code);
        free(m->xb[b].x);
    }
    free(m->res);
    free(m->qbias);
    free(m->qmult);
    free(m->qshift);
    free(m->payload);
    sparq_bytequeue_free(&m->out);
    free(m);
}
