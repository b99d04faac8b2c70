// The C functional model of the accelerator (the "ref" backend): it parses
// the same command bytes as rtl/sparq_ctrl.v, keeps the same buffers and
// state flags, and produces the same reply bytes. No cycles, except the
// busy counter, which is a closed formula of the job shape (the RTL engine's
// schedule does not depend on data). docs/protocol.md is the contract.
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"
#include "sparq_bytequeue.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_protocol.h"
#include "sparq_wire.h"

const struct sparq_device_config sparq_device_default_config = {
    .rows = 16, .cols = 16, .wdepth = 1024, .xdepth = 4096, .rdepth = 256, .timeout = 4096, .lanes = 4,
    .xbanks = 4, .rbufs = 2, .wstore = 262144, .qdepth = 16384, .luts = 16, .port_bytes = 4,
};

enum { PH_HEADER, PH_BODY, PH_CRC };

struct wbank {
    int valid, width, kept, ncols, kblocks;
    uint16_t *chan; // (cols, wdepth) absolute input channel of each kept entry
    int8_t *code;   // (cols, wdepth) sign-extended weight code
};

struct xbank {
    int valid, t, kblocks;
    int filling, next; // being written block by block by EPILOGUEs; the next block
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
    uint8_t args[SPARQ_ARGS_COMPUTE_S]; // the longest arguments
    uint8_t *payload;
    size_t npayload, pgot;

    // device state
    struct wbank w[2];
    struct xbank *xb;      // (xbanks)
    int32_t *res[2];       // (rdepth, cols) per result buffer
    int r_valid[2], r_t[2], r_ncols[2];
    int32_t *qbias, *qmult; // (qdepth)
    int8_t *qshift;
    int q_valid, q_ncols; // q_ncols: entries of the last WRITE_Q (a device without version 3 checks it)
    // Weight store (version 3): per column, wstore entries of (value, position
    // in the group of 4); one valid flag for all of it.
    int8_t *s_code;  // (cols, wstore)
    uint8_t *s_pos;  // (cols, wstore)
    int s_valid;
    int8_t *lut;     // (luts, 256)
    uint8_t *lut_valid;
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
    case SPARQ_OP_STORE_W: return SPARQ_ARGS_STORE_W;
    case SPARQ_OP_COMPUTE_S: return SPARQ_ARGS_COMPUTE_S;
    case SPARQ_OP_WRITE_LUT: return SPARQ_ARGS_WRITE_LUT;
    case SPARQ_OP_EPILOGUE: return SPARQ_ARGS_EPILOGUE;
    default: return -1;
    }
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

// t frames of kb blocks fit an activation bank (WRITE_X, EPILOGUE).
static int x_fits(const struct sparq_device_config *c, int t, int kb)
{
    uint64_t tiles = (uint64_t)((t + c->rows - 1) / c->rows);
    return t >= 1 && t <= c->rdepth && kb >= 1 && tiles * (uint64_t)kb * 4u <= (uint64_t)c->xdepth;
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
        if (bank >= c->xbanks || !x_fits(c, t, kb))
            return SPARQ_ST_ARG;
        *payload = (uint64_t)t * (uint64_t)kb * 16u;
        break;
    }
    case SPARQ_OP_WRITE_Q: {
        int ncols = (int)sparq_rd16(a), qaddr = (int)sparq_rd16(a + 2);
        if (ncols < 1 || ncols > c->cols || qaddr + ncols > c->qdepth)
            return SPARQ_ST_ARG;
        *payload = (uint64_t)ncols * SPARQ_Q_ENTRY_BYTES;
        break;
    }
    case SPARQ_OP_COMPUTE: {
        int wb = a[0], xb = a[1], flags = a[2], width = a[3], kept = a[4];
        int t = (int)sparq_rd16(a + 6), ncols = (int)sparq_rd16(a + 8), kb = (int)sparq_rd16(a + 10);
        if (wb > 1 || xb >= c->xbanks || !format_ok(width, kept) || t < 1 || t > c->rdepth || ncols < 1 ||
            ncols > c->cols || kb < 1 || ((flags & SPARQ_COMPUTE_RBUF) && c->rbufs < 2))
            return SPARQ_ST_ARG;
        break;
    }
    case SPARQ_OP_READ: {
        int mode = a[0], rbuf = a[1], t = (int)sparq_rd16(a + 2), ncols = (int)sparq_rd16(a + 4);
        int qaddr = (int)sparq_rd16(a + 6);
        if (mode > 1 || rbuf >= c->rbufs || t < 1 || t > c->rdepth || ncols < 1 || ncols > c->cols ||
            (mode == SPARQ_READ_REQUANT && qaddr + ncols > c->qdepth))
            return SPARQ_ST_ARG;
        break;
    }
    case SPARQ_OP_STORE_W: {
        int width = a[0], kept = a[1], ncols = (int)sparq_rd16(a + 2), kb = (int)sparq_rd16(a + 4);
        uint64_t addr = sparq_rd32(a + 8), e = (uint64_t)kb * 4u * (uint64_t)kept;
        if (!format_ok(width, kept) || ncols < 1 || ncols > c->cols || kb < 1 || addr + e > (uint64_t)c->wstore)
            return SPARQ_ST_ARG;
        *payload = (uint64_t)ncols * (uint64_t)kb * (uint64_t)block_bytes(width, kept);
        break;
    }
    case SPARQ_OP_COMPUTE_S: {
        uint64_t addr = sparq_rd32(a);
        int xb = a[4], flags = a[5], width = a[6], kept = a[7];
        int t = (int)sparq_rd16(a + 8), ncols = (int)sparq_rd16(a + 10), kb = (int)sparq_rd16(a + 12);
        if (xb >= c->xbanks || !format_ok(width, kept) || t < 1 || t > c->rdepth || ncols < 1 || ncols > c->cols ||
            kb < 1 || addr + (uint64_t)kb * 4u * (uint64_t)kept > (uint64_t)c->wstore ||
            ((flags & SPARQ_COMPUTE_RBUF) && c->rbufs < 2))
            return SPARQ_ST_ARG;
        break;
    }
    case SPARQ_OP_WRITE_LUT:
        if (a[0] >= c->luts)
            return SPARQ_ST_ARG;
        *payload = SPARQ_LUT_ENTRIES;
        break;
    case SPARQ_OP_EPILOGUE: {
        int rbuf = a[0], dst = a[1], lut = a[2], t = (int)sparq_rd16(a + 4), ncols = (int)sparq_rd16(a + 6);
        int qaddr = (int)sparq_rd16(a + 8), dblock = (int)sparq_rd16(a + 10), dkb = (int)sparq_rd16(a + 12);
        if (c->luts == 0 || rbuf >= c->rbufs || dst >= c->xbanks || (lut >= c->luts && lut != SPARQ_LUT_NONE) || ncols < 1 ||
            ncols > SPARQ_BLOCK || ncols > c->cols || qaddr + ncols > c->qdepth || dkb < 1 || dblock >= dkb ||
            !x_fits(c, t, dkb))
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
    // A STORE_W that passes its checks (it starts writing) or has the wrong
    // length leaves the store invalid until one succeeds.
    if (m->op == SPARQ_OP_STORE_W && (m->err == 0 || m->err == SPARQ_ST_LENGTH))
        m->s_valid = 0;
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
        m->xb[m->args[0]].valid = m->xb[m->args[0]].filling = 0;
    else if (m->op == SPARQ_OP_WRITE_Q)
        m->q_valid = 0;
    else if (m->op == SPARQ_OP_WRITE_LUT)
        m->lut_valid[m->args[0]] = 0;
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
    int ncols = (int)sparq_rd16(m->args), qaddr = (int)sparq_rd16(m->args + 2), bad = 0;
    for (int c = 0; c < ncols; c++) {
        const uint8_t *e = m->payload + (size_t)c * SPARQ_Q_ENTRY_BYTES;
        m->qbias[qaddr + c] = (int32_t)sparq_rd32(e);
        m->qmult[qaddr + c] = (int32_t)sparq_rd32(e + 4);
        m->qshift[qaddr + c] = (int8_t)e[8];
        if (sparq_rd32(e + 4) >> 31 || e[8] > 62)
            bad = 1;
    }
    if (bad)
        return SPARQ_ST_ARG;
    m->q_valid = 1;
    m->q_ncols = ncols;
    return SPARQ_ST_OK;
}

// COMPUTE (store 0: weight bank a[0]) and COMPUTE_S (store 1: weight store).
static int exec_compute(struct sparq_devmodel *m, int store)
{
    const uint8_t *a = m->args;
    int xbi, flags, width, kept, t, ncols, kb, xoff;
    uint32_t addr = 0;
    if (store) {
        addr = sparq_rd32(a);
        xbi = a[4]; flags = a[5]; width = a[6]; kept = a[7];
        t = (int)sparq_rd16(a + 8); ncols = (int)sparq_rd16(a + 10); kb = (int)sparq_rd16(a + 12);
        xoff = (int)sparq_rd16(a + 14);
    } else {
        xbi = a[1]; flags = a[2]; width = a[3]; kept = a[4];
        t = (int)sparq_rd16(a + 6); ncols = (int)sparq_rd16(a + 8); kb = (int)sparq_rd16(a + 10);
        xoff = (int)sparq_rd16(a + 12);
    }
    const struct wbank *w = &m->w[a[0] & 1];
    const struct xbank *x = &m->xb[xbi];
    int acc = flags & SPARQ_COMPUTE_ACCUMULATE, rb = (flags & SPARQ_COMPUTE_RBUF) ? 1 : 0;
    if ((store ? !m->s_valid
               : (!w->valid || w->width != width || w->kept != kept || w->ncols != ncols || w->kblocks != kb)) ||
        !x->valid || x->t != t || x->kblocks < kb + xoff ||
        (acc && (!m->r_valid[rb] || m->r_t[rb] != t || m->r_ncols[rb] != ncols)))
        return SPARQ_ST_STATE;
    int entries = kb * 4 * kept, kpad = x->kblocks * SPARQ_BLOCK;
    int32_t *res = m->res[rb];
    for (int r = 0; r < t; r++)
        for (int c = 0; c < ncols; c++) {
            const int8_t *xr = x->x + (size_t)r * (size_t)kpad + (size_t)xoff * SPARQ_BLOCK;
            uint32_t s = acc ? (uint32_t)res[(size_t)r * (size_t)m->cfg.cols + (size_t)c] : 0u;
            if (store) {
                // entry e of a column: channel 4 * (e / kept) + its position in the group
                const int8_t *cd = m->s_code + (size_t)c * (size_t)m->cfg.wstore + addr;
                const uint8_t *ps = m->s_pos + (size_t)c * (size_t)m->cfg.wstore + addr;
                for (int e = 0; e < entries; e++)
                    s += (uint32_t)((int32_t)xr[4 * (e / kept) + ps[e]] * (int32_t)cd[e]);
            } else {
                const uint16_t *ch = w->chan + (size_t)c * (size_t)m->cfg.wdepth;
                const int8_t *cd = w->code + (size_t)c * (size_t)m->cfg.wdepth;
                for (int e = 0; e < entries; e++)
                    s += (uint32_t)((int32_t)xr[ch[e]] * (int32_t)cd[e]);
            }
            res[(size_t)r * (size_t)m->cfg.cols + (size_t)c] = (int32_t)s;
        }
    m->r_valid[rb] = 1;
    m->r_t[rb] = t;
    m->r_ncols[rb] = ncols;
    m->busy += sparq_devmodel_format_cycles(&m->cfg, t, kb, kept, width);
    m->macs += (uint64_t)t * (uint64_t)ncols * (uint64_t)entries;
    return SPARQ_ST_OK;
}

static int exec_store_w(struct sparq_devmodel *m)
{
    const uint8_t *a = m->args;
    int width = a[0], kept = a[1], ncols = (int)sparq_rd16(a + 2), kb = (int)sparq_rd16(a + 4);
    size_t addr = sparq_rd32(a + 8);
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
                size_t e = (size_t)c * (size_t)m->cfg.wstore + addr + (size_t)k * 4u * (size_t)kept + (size_t)i;
                m->s_pos[e] = (uint8_t)(pos[i] & 3);
                m->s_code[e] = val[i];
            }
        }
    if (bad)
        return SPARQ_ST_POSITIONS;
    m->s_valid = 1;
    return SPARQ_ST_OK;
}

static int exec_epilogue(struct sparq_devmodel *m)
{
    const uint8_t *a = m->args;
    int rb = a[0], lut = a[2], t = (int)sparq_rd16(a + 4), ncols = (int)sparq_rd16(a + 6);
    int qaddr = (int)sparq_rd16(a + 8), dblock = (int)sparq_rd16(a + 10), dkb = (int)sparq_rd16(a + 12);
    struct xbank *x = &m->xb[a[1]];
    if (!m->r_valid[rb] || m->r_t[rb] != t || m->r_ncols[rb] < ncols || !m->q_valid ||
        (lut != SPARQ_LUT_NONE && !m->lut_valid[lut]) ||
        (dblock > 0 && (!x->filling || x->t != t || x->kblocks != dkb || x->next != dblock)))
        return SPARQ_ST_STATE;
    if (dblock == 0) {
        x->valid = 0;
        x->filling = 1;
        x->t = t;
        x->kblocks = dkb;
    }
    const int8_t *tab = lut != SPARQ_LUT_NONE ? m->lut + (size_t)lut * SPARQ_LUT_ENTRIES : NULL;
    for (int f = 0; f < t; f++) {
        int8_t *xr = x->x + (size_t)f * (size_t)dkb * SPARQ_BLOCK + (size_t)dblock * SPARQ_BLOCK;
        for (int c = 0; c < SPARQ_BLOCK; c++) {
            int8_t v = 0;
            if (c < ncols) {
                int32_t r = m->res[rb][(size_t)f * (size_t)m->cfg.cols + (size_t)c];
                v = sparq_requant(r, m->qbias[qaddr + c], m->qmult[qaddr + c], m->qshift[qaddr + c]);
                if (tab)
                    v = tab[v + 128];
            }
            xr[c] = v;
        }
    }
    x->next = dblock + 1;
    if (x->next == dkb) {
        x->valid = 1;
        x->filling = 0;
    }
    m->busy += (uint64_t)t + SPARQ_EPILOGUE_CYCLES;
    return SPARQ_ST_OK;
}

// Version 3 features present: the device answers IDENTIFY as version 3.
int sparq_device_config_v3(const struct sparq_device_config *c)
{
    return c->xbanks != 2 || c->rbufs != 1 || c->wstore > 0 || c->qdepth > c->cols || c->luts > 0;
}

static void exec_read(struct sparq_devmodel *m)
{
    const uint8_t *a = m->args;
    int mode = a[0], rb = a[1], t = (int)sparq_rd16(a + 2), ncols = (int)sparq_rd16(a + 4);
    int qaddr = (int)sparq_rd16(a + 6);
    // Version 2 (no version-3 feature): a requant READ needs ncols <= the
    // WRITE_Q count; version 3 has one valid flag for the whole memory.
    if (!m->r_valid[rb] || t > m->r_t[rb] || ncols > m->r_ncols[rb] ||
        (mode == SPARQ_READ_REQUANT && (!m->q_valid || (!sparq_device_config_v3(&m->cfg) && ncols > m->q_ncols)))) {
        reply(m, SPARQ_ST_STATE, NULL, 0);
        return;
    }
    size_t each = mode == SPARQ_READ_RAW ? 4 : 1, n = (size_t)t * (size_t)ncols * each;
    uint8_t *body = malloc(n);
    if (!body)
        return;
    for (int r = 0; r < t; r++)
        for (int c = 0; c < ncols; c++) {
            int32_t v = m->res[rb][(size_t)r * (size_t)m->cfg.cols + (size_t)c];
            uint8_t *o = body + ((size_t)r * (size_t)ncols + (size_t)c) * each;
            if (mode == SPARQ_READ_RAW)
                sparq_wr32(o, (uint32_t)v);
            else
                o[0] = (uint8_t)sparq_requant(v, m->qbias[qaddr + c], m->qmult[qaddr + c], m->qshift[qaddr + c]);
        }
    reply(m, SPARQ_ST_OK, body, n);
    free(body);
}

static void exec_identify(struct sparq_devmodel *m)
{
    // Without version-3 features: version 2, or with one lane a version-1
    // device, whose IDENTIFY ends before the lanes field.
    int v3 = sparq_device_config_v3(&m->cfg), v1 = !v3 && m->cfg.lanes <= 1 && m->cfg.lanes != SPARQ_LANES_SERIAL;
    uint8_t b[SPARQ_IDENTIFY_BYTES_V3];
    memset(b, 0, sizeof b);
    sparq_wr16(b + SPARQ_ID_VERSION, v3 ? 3 : v1 ? 1 : 2);
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
        sparq_wr16(b + SPARQ_ID_LANES,
                   (unsigned)(m->cfg.lanes == SPARQ_LANES_SERIAL ? 0 : m->cfg.lanes > 1 ? m->cfg.lanes : 1));
    if (v3) {
        const struct sparq_device_config *c = &m->cfg;
        sparq_wr16(b + SPARQ_ID_XBANKS, (unsigned)c->xbanks);
        sparq_wr16(b + SPARQ_ID_RBUFS, (unsigned)c->rbufs);
        sparq_wr32(b + SPARQ_ID_WSTORE, (uint32_t)c->wstore);
        sparq_wr16(b + SPARQ_ID_QDEPTH, (unsigned)c->qdepth);
        sparq_wr16(b + SPARQ_ID_LUTS, (unsigned)c->luts);
        sparq_wr32(b + SPARQ_ID_CAPS, (c->wstore > 0 ? SPARQ_CAP_STORE : 0u) | (c->luts > 0 ? SPARQ_CAP_EPILOGUE : 0u) |
                                          (c->rbufs > 1 ? SPARQ_CAP_RBUF2 : 0u));
        b[SPARQ_ID_PORT] = (uint8_t)(c->port_bytes > 1 ? c->port_bytes : 0);
    }
    reply(m, SPARQ_ST_OK, b, v3 ? SPARQ_IDENTIFY_BYTES_V3 : v1 ? SPARQ_IDENTIFY_BYTES_V1 : SPARQ_IDENTIFY_BYTES);
}

static void reset_state(struct sparq_devmodel *m)
{
    m->w[0].valid = m->w[1].valid = 0;
    for (int b = 0; b < m->cfg.xbanks; b++)
        m->xb[b].valid = m->xb[b].filling = 0;
    m->r_valid[0] = m->r_valid[1] = 0;
    m->q_valid = 0;
    m->s_valid = 0; // the store's contents stay; only the flag goes
    if (m->cfg.luts)
        memset(m->lut_valid, 0, (size_t)m->cfg.luts);
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
        x->filling = 0;
        x->t = (int)sparq_rd16(m->args + 2);
        x->kblocks = (int)sparq_rd16(m->args + 4);
        reply(m, SPARQ_ST_OK, NULL, 0);
        break;
    }
    case SPARQ_OP_WRITE_Q: reply(m, exec_write_q(m), NULL, 0); break;
    case SPARQ_OP_COMPUTE: reply(m, exec_compute(m, 0), NULL, 0); break;
    case SPARQ_OP_COMPUTE_S: reply(m, exec_compute(m, 1), NULL, 0); break;
    case SPARQ_OP_READ: exec_read(m); break;
    case SPARQ_OP_STORE_W: reply(m, exec_store_w(m), NULL, 0); break;
    case SPARQ_OP_WRITE_LUT:
        memcpy(m->lut + (size_t)m->args[0] * SPARQ_LUT_ENTRIES, m->payload, SPARQ_LUT_ENTRIES);
        m->lut_valid[m->args[0]] = 1;
        reply(m, SPARQ_ST_OK, NULL, 0);
        break;
    case SPARQ_OP_EPILOGUE: reply(m, exec_epilogue(m), NULL, 0); break;
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

int sparq_device_config_normalize(struct sparq_device_config *k, const char *who)
{
    if (k->xbanks == 0)
        k->xbanks = 2;
    if (k->rbufs == 0)
        k->rbufs = 1;
    if (k->qdepth < k->cols)
        k->qdepth = k->cols;
    // a wide host port needs the version-3 hardware (the READ streamer reads
    // its parameter memory); a version-1/2 device has a byte port
    if (k->port_bytes == 0 || !sparq_device_config_v3(k))
        k->port_bytes = 1;
    if (k->port_bytes != 1 && k->port_bytes != 2 && k->port_bytes != 4)
        return sparq_fail(SPARQ_EINVAL, "%s: config port_bytes %d: 1, 2 or 4", who, k->port_bytes);
    if (k->xbanks < 2 || k->xbanks > 255 || k->rbufs > 2 || k->wstore < 0 || k->qdepth > 65535 || k->luts < 0 ||
        k->luts > 255)
        return sparq_fail(SPARQ_EINVAL, "%s: config xbanks %d (2..255), rbufs %d (1..2), wstore %d, qdepth %d "
                                        "(<= 65535), luts %d (0..255) out of range",
                          who, k->xbanks, k->rbufs, k->wstore, k->qdepth, k->luts);
    return SPARQ_OK;
}

int sparq_devmodel_create(struct sparq_devmodel **dst, const struct sparq_device_config *cfg)
{
    struct sparq_devmodel *m = sparq_calloc(1, sizeof *m, "device model");
    if (!m)
        return SPARQ_ENOMEM;
    m->cfg = cfg ? *cfg : sparq_device_default_config;
    struct sparq_device_config *k = &m->cfg;
    int rc = sparq_device_config_normalize(k, "device model");
    if (rc) {
        free(m);
        return rc;
    }
    size_t wn = (size_t)m->cfg.cols * (size_t)m->cfg.wdepth;
    // An activation bank holds t <= rdepth frames of at most xdepth*4/ceil(t/rows) channels.
    m->xcap = (size_t)m->cfg.xdepth * 4u * (size_t)m->cfg.rows;
    int ok = 1;
    for (int b = 0; b < 2; b++) {
        m->w[b].chan = sparq_calloc(wn, sizeof(uint16_t), "model weight bank");
        m->w[b].code = sparq_calloc(wn, 1, "model weight bank");
        m->res[b] = sparq_calloc((size_t)k->rdepth * (size_t)k->cols, sizeof(int32_t), "model results");
        ok = ok && m->w[b].chan && m->w[b].code && m->res[b];
    }
    m->xb = sparq_calloc((size_t)k->xbanks, sizeof *m->xb, "model activation banks");
    for (int b = 0; m->xb && b < k->xbanks; b++) {
        m->xb[b].x = sparq_calloc(m->xcap, 1, "model activation bank");
        ok = ok && m->xb[b].x;
    }
    size_t sn = (size_t)k->cols * (size_t)k->wstore;
    m->s_code = sparq_calloc(sn ? sn : 1, 1, "model weight store");
    m->s_pos = sparq_calloc(sn ? sn : 1, 1, "model weight store");
    m->lut = sparq_calloc((size_t)k->luts * SPARQ_LUT_ENTRIES + 1, 1, "model tables");
    m->lut_valid = sparq_calloc((size_t)k->luts + 1, 1, "model tables");
    m->qbias = sparq_calloc((size_t)k->qdepth, sizeof(int32_t), "model requant");
    m->qmult = sparq_calloc((size_t)k->qdepth, sizeof(int32_t), "model requant");
    m->qshift = sparq_calloc((size_t)k->qdepth, 1, "model requant");
    if (!ok || !m->xb || !m->s_code || !m->s_pos || !m->lut || !m->lut_valid || !m->qbias || !m->qmult ||
        !m->qshift) {
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
        free(m->res[b]);
    }
    for (int b = 0; m->xb && b < m->cfg.xbanks; b++)
        free(m->xb[b].x);
    free(m->xb);
    free(m->s_code);
    free(m->s_pos);
    free(m->lut);
    free(m->lut_valid);
    free(m->qbias);
    free(m->qmult);
    free(m->qshift);
    free(m->payload);
    sparq_bytequeue_free(&m->out);
    free(m);
}
