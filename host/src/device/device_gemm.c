// The driver that tiles an arbitrary GEMM onto the array and its buffers,
// matrices kept on the device (weight store, param memory) and two matrices
// chained with the epilogue on the device (protocol version 3).
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_protocol.h"
#include "sparq_wire.h"

// --- GEMM driver ---------------------------------------------------------------

// A READ still to do: frames t0.., output channels o0.. of the job that wrote
// result buffer rb.
struct pending_read {
    int valid, t0, tn, o0, on, rb;
};

// Where the weights of a GEMM come from and where its results go.
struct gemm_io {
    const struct sparq_packed *w;
    const uint32_t *tile_addr;  // resident: store address of each column tile (full K), else NULL
    int tile_cols;              // columns of a tile as stored (resident) / as computed
    int32_t *y32;
    int y32_stride, accumulate;
    int8_t *y8;
    int y8_stride;
    const struct sparq_requant_params *params; // q8 read-out
    int qbase;                  // >= 0: params resident at qbase + channel; < 0: WRITE_Q at 0 per tile
};

static int upload_x(struct sparq_device *d, int bank, const int8_t *x, int x_stride, int in, int t0, int tn,
                    int k0, int kn)
{
    size_t row = (size_t)kn * SPARQ_BLOCK, n = (size_t)tn * row;
    int rc = d->model ? SPARQ_OK : sparq_dev_ensure(d, n);
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
    return sparq_dev_command(d, SPARQ_OP_WRITE_X, a, sizeof a, d->buf, n, NULL, 0, NULL);
}

// Packed rows o0.. of blocks k0.. into d->buf; returns the payload size.
static int gather_w(struct sparq_device *d, const struct sparq_packed *w, int o0, int on, int k0, int kn, size_t *n)
{
    size_t bb = (size_t)w->type->block_bytes, row = (size_t)kn * bb;
    *n = (size_t)on * row;
    int rc = d->model ? SPARQ_OK : sparq_dev_ensure(d, *n);
    for (int o = 0; !rc && !d->model && o < on; o++)
        memcpy(d->buf + (size_t)o * row, w->bytes + (size_t)(o0 + o) * w->row_bytes + (size_t)k0 * bb, row);
    return rc;
}

static int upload_w(struct sparq_device *d, int bank, const struct sparq_packed *w, int o0, int on, int k0, int kn)
{
    size_t n;
    int rc = gather_w(d, w, o0, on, k0, kn, &n);
    if (rc)
        return rc;
    uint8_t a[SPARQ_ARGS_WRITE_W] = { 0 };
    a[0] = (uint8_t)bank;
    a[1] = (uint8_t)w->type->width;
    a[2] = (uint8_t)w->type->kept;
    sparq_wr16(a + 4, (unsigned)on);
    sparq_wr16(a + 6, (unsigned)kn);
    return sparq_dev_command(d, SPARQ_OP_WRITE_W, a, sizeof a, d->buf, n, NULL, 0, NULL);
}

// One column tile (all K blocks) into the weight store at addr.
static int store_w(struct sparq_device *d, const struct sparq_packed *w, int o0, int on, uint32_t addr)
{
    size_t n;
    int rc = gather_w(d, w, o0, on, 0, w->blocks_per_row, &n);
    if (rc)
        return rc;
    uint8_t a[SPARQ_ARGS_STORE_W] = { 0 };
    a[0] = (uint8_t)w->type->width;
    a[1] = (uint8_t)w->type->kept;
    sparq_wr16(a + 2, (unsigned)on);
    sparq_wr16(a + 4, (unsigned)w->blocks_per_row);
    sparq_wr32(a + 8, addr);
    return sparq_dev_command(d, SPARQ_OP_STORE_W, a, sizeof a, d->buf, n, NULL, 0, NULL);
}

// A job: weight bank wb (or the store at addr when tile_addr is set) times
// activation bank xb into result buffer rb.
static int compute(struct sparq_device *d, const struct gemm_io *io, int wb, int otile, int xb, int acc, int rb,
                   int tn, int on, int k0, int kn, int xoff)
{
    const struct sparq_packed *w = io->w;
    int flags = (acc ? SPARQ_COMPUTE_ACCUMULATE : 0) | (rb ? SPARQ_COMPUTE_RBUF : 0);
    if (io->tile_addr) {
        uint8_t a[SPARQ_ARGS_COMPUTE_S] = { 0 };
        sparq_wr32(a, io->tile_addr[otile] + (uint32_t)k0 * 4u * (uint32_t)w->type->kept);
        a[4] = (uint8_t)xb;
        a[5] = (uint8_t)flags;
        a[6] = (uint8_t)w->type->width;
        a[7] = (uint8_t)w->type->kept;
        sparq_wr16(a + 8, (unsigned)tn);
        sparq_wr16(a + 10, (unsigned)on);
        sparq_wr16(a + 12, (unsigned)kn);
        sparq_wr16(a + 14, (unsigned)xoff);
        return sparq_dev_command(d, SPARQ_OP_COMPUTE_S, a, sizeof a, NULL, 0, NULL, 0, NULL);
    }
    uint8_t a[SPARQ_ARGS_COMPUTE] = { 0 };
    a[0] = (uint8_t)wb;
    a[1] = (uint8_t)xb;
    a[2] = (uint8_t)flags;
    a[3] = (uint8_t)w->type->width;
    a[4] = (uint8_t)w->type->kept;
    sparq_wr16(a + 6, (unsigned)tn);
    sparq_wr16(a + 8, (unsigned)on);
    sparq_wr16(a + 10, (unsigned)kn);
    sparq_wr16(a + 12, (unsigned)xoff);
    return sparq_dev_command(d, SPARQ_OP_COMPUTE, a, sizeof a, NULL, 0, NULL, 0, NULL);
}

// WRITE_Q of params[0 .. n-1] to entries qaddr ..
static int write_q(struct sparq_device *d, const struct sparq_requant_params *params, int n, int qaddr)
{
    for (int c0 = 0; c0 < n;) {
        int most = d->info.cols < 256 ? d->info.cols : 256; // WRITE_Q takes at most COLS entries
        int cn = n - c0 < most ? n - c0 : most, rc;
        uint8_t q[SPARQ_Q_ENTRY_BYTES * 256], a[SPARQ_ARGS_WRITE_Q];
        for (int c = 0; c < cn; c++) {
            const struct sparq_requant_params *r = &params[c0 + c];
            sparq_wr32(q + c * SPARQ_Q_ENTRY_BYTES, (uint32_t)r->bias);
            sparq_wr32(q + c * SPARQ_Q_ENTRY_BYTES + 4, (uint32_t)r->mult);
            q[c * SPARQ_Q_ENTRY_BYTES + 8] = (uint8_t)r->shift;
        }
        sparq_wr16(a, (unsigned)cn);
        sparq_wr16(a + 2, (unsigned)(qaddr + c0));
        if ((rc = sparq_dev_command(d, SPARQ_OP_WRITE_Q, a, sizeof a, q, (size_t)cn * SPARQ_Q_ENTRY_BYTES, NULL, 0, NULL)))
            return rc;
        c0 += cn;
    }
    return SPARQ_OK;
}

// Params of channels o0 .. o0+on-1 into the streamed entries 0 .. on-1,
// unless they are there already (the device keeps them until the next
// WRITE_Q or RESET: both chunks of a pair read with the same ones).
static int stream_q(struct sparq_device *d, const struct sparq_requant_params *params, int o0, int on)
{
    uint8_t q[SPARQ_Q_ENTRY_BYTES * 256];
    if (on > 256 || on > d->info.qdepth)
        return sparq_fail(SPARQ_EINVAL, "device: more than %d columns per tile", d->info.qdepth < 256 ? d->info.qdepth : 256);
    for (int c = 0; c < on; c++) {
        const struct sparq_requant_params *r = &params[o0 + c];
        sparq_wr32(q + c * SPARQ_Q_ENTRY_BYTES, (uint32_t)r->bias);
        sparq_wr32(q + c * SPARQ_Q_ENTRY_BYTES + 4, (uint32_t)r->mult);
        q[c * SPARQ_Q_ENTRY_BYTES + 8] = (uint8_t)r->shift;
    }
    size_t qn = (size_t)on * SPARQ_Q_ENTRY_BYTES;
    if (d->q_valid && d->q_len == qn && !memcmp(d->q_last, q, qn))
        return SPARQ_OK;
    d->q_valid = 0;
    int rc = write_q(d, params + o0, on, 0);
    if (rc)
        return rc;
    memcpy(d->q_last, q, qn);
    d->q_len = qn;
    d->q_valid = 1;
    return SPARQ_OK;
}

static int read_results(struct sparq_device *d, const struct pending_read *p, const struct gemm_io *io)
{
    int rc, q8 = io->params != NULL, qaddr = 0; // y8 is NULL on a model device
    if (q8 && io->qbase >= 0)
        qaddr = io->qbase + p->o0;
    else if (q8 && (rc = stream_q(d, io->params, p->o0, p->on)))
        return rc;
    size_t each = q8 ? 1 : 4, n = (size_t)p->tn * (size_t)p->on * each, got;
    if (!d->model && (rc = sparq_dev_ensure(d, n)))
        return rc;
    uint8_t a[SPARQ_ARGS_READ] = { 0 };
    a[0] = q8 ? SPARQ_READ_REQUANT : SPARQ_READ_RAW;
    a[1] = (uint8_t)p->rb;
    sparq_wr16(a + 2, (unsigned)p->tn);
    sparq_wr16(a + 4, (unsigned)p->on);
    sparq_wr16(a + 6, (unsigned)qaddr);
    if ((rc = sparq_dev_command(d, SPARQ_OP_READ, a, sizeof a, NULL, 0, d->buf, n, &got)))
        return rc;
    if (got != n)
        return sparq_fail(SPARQ_EDEVICE, "device: read: %zu bytes, expected %zu", got, n);
    for (int r = 0; !d->model && r < p->tn; r++)
        for (int c = 0; c < p->on; c++) {
            const uint8_t *b = d->buf + ((size_t)r * (size_t)p->on + (size_t)c) * each;
            if (q8) {
                io->y8[(size_t)(p->t0 + r) * (size_t)io->y8_stride + (size_t)(p->o0 + c)] = (int8_t)b[0];
            } else {
                int32_t *o = &io->y32[(size_t)(p->t0 + r) * (size_t)io->y32_stride + (size_t)(p->o0 + c)];
                uint32_t v = sparq_rd32(b);
                *o = (int32_t)(io->accumulate ? (uint32_t)*o + v : v);
            }
        }
    return SPARQ_OK;
}

// Result buffer for the next job. With two buffers the jobs alternate, so a
// pending READ of one streams out while the next job writes the other; with
// one, the pending READ has to come first.
static int next_rbuf(struct sparq_device *d, struct pending_read *pend, const struct gemm_io *io)
{
    int rb = (d->info.caps & SPARQ_CAP_RBUF2) ? d->rnext : 0;
    d->rnext ^= 1;
    if (pend->valid && pend->rb == rb) {
        pend->valid = 0;
        return read_results(d, pend, io) ? -1 : rb;
    }
    return rb;
}

// After the first COMPUTE of a job: the other buffer's READ overlaps it.
static int overlap_read(struct sparq_device *d, struct pending_read *pend, const struct gemm_io *io)
{
    if (!pend->valid)
        return SPARQ_OK;
    pend->valid = 0;
    return read_results(d, pend, io);
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

// Blocks per COMPUTE: what a weight bank holds, or (weights in the store)
// what an activation bank holds for one row of frames; the test's cap.
static int k_chunk(const struct sparq_device *d, const struct gemm_io *io)
{
    int kb_total = io->w->blocks_per_row;
    int kbx = io->tile_addr ? d->info.xdepth / 4 : d->info.wdepth / (4 * io->w->type->kept);
    if (kbx > kb_total)
        kbx = kb_total;
    if (d->kchunk && kbx > d->kchunk)
        kbx = d->kchunk;
    return kbx;
}

static int run_gemm(struct sparq_device *d, const struct gemm_io *io, const int8_t *x, int x_stride, int t)
{
    const struct sparq_device_info *I = &d->info;
    const struct sparq_packed *w = io->w;
    if (t < 0 || !w || !w->type || !w->bytes)
        return sparq_fail(SPARQ_EINVAL, "device: gemm: bad arguments");
    if (t == 0)
        return SPARQ_OK;
    int kb_total = w->blocks_per_row, cols = io->tile_cols;
    int kbx = k_chunk(d, io);
    int nk = (kb_total + kbx - 1) / kbx;
    // Two ways to cover the K chunks. Resident: a frame chunk's activations
    // for the whole K stay in one bank and each COMPUTE picks its blocks
    // (xoffset); costs a weight re-send per frame chunk. Streamed: the
    // activation chunk is re-sent for every output tile. Pick the cheaper.
    int tc_res = frames_fitting(I, t, kb_total), tc_str = frames_fitting(I, t, kbx);
    int otiles = (w->out + cols - 1) / cols;
    int resident = tc_res > 0;
    if (nk > 1 && resident && d->xmode != 2) {
        // weights from the store cost no link bytes per frame chunk
        double wbytes = io->tile_addr ? 0.0 : (double)w->size, xbytes = (double)t * kb_total * SPARQ_BLOCK;
        double cost_res = wbytes * ((t + tc_res - 1) / tc_res) + xbytes;
        double cost_str = wbytes * ((t + tc_str - 1) / tc_str) + xbytes * otiles;
        resident = d->xmode == 0 && cost_res <= cost_str;
    }
    int tc = resident ? tc_res : tc_str;
    if (tc < 1)
        return sparq_fail(SPARQ_EDEVICE, "device: buffers too small for %s with %d input channels", w->type->name,
                          w->in);
    struct pending_read pend = { 0, 0, 0, 0, 0, 0 };
    int rc = SPARQ_OK;
    // With K in one COMPUTE and resident activations, two frame chunks (one
    // per activation bank) share every weight tile: weights are sent once
    // per 2*tc frames.
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
        for (int o0 = 0; o0 < w->out && !rc; o0 += cols) {
            int on = w->out - o0 < cols ? w->out - o0 : cols, rb = 0;
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
                if (!io->tile_addr) {
                    d->wbank ^= 1;
                    if (!rc)
                        rc = upload_w(d, wb, w, o0, on, k0, kn); // streams in while the last COMPUTE runs
                }
                for (int c = 0; c < group && tn[c] > 0 && !rc; c++) {
                    if (kc == 0 && (rb = next_rbuf(d, &pend, io)) < 0)
                        rc = SPARQ_EDEVICE;
                    if (!rc)
                        rc = compute(d, io, wb, o0 / cols, xb[c], kc > 0, rb, tn[c], on, k0, kn, xoff);
                    if (!rc && kc == 0)
                        rc = overlap_read(d, &pend, io);
                    if (pair)
                        pend = (struct pending_read){ 1, t0 + (c ? tn[0] : 0), tn[c], o0, on, rb };
                    if (!rc && c == 0 && tn[1] > 0 && o0 == 0) // the second chunk streams in during the first COMPUTE
                        rc = upload_x(d, xb[1], x, x_stride, w->in, t0 + tn[0], tn[1], 0, kb_total);
                }
            }
            if (!pair)
                pend = (struct pending_read){ 1, t0, tn[0], o0, on, rb };
        }
        if (pair && tn[1] == 0) // the last COMPUTE reads bank xb[0]: the next chunk goes to the other one
            d->xbank ^= 1;
    }
    if (!rc && pend.valid)
        rc = read_results(d, &pend, io);
    return rc;
}

int sparq_device_gemm(struct sparq_device *d, int32_t *y, int y_stride, const int8_t *x, int x_stride,
                      const struct sparq_packed *w, int t, int accumulate)
{
    struct gemm_io io = { w, NULL, d->info.cols, y, y_stride, accumulate, NULL, 0, NULL, -1 };
    return run_gemm(d, &io, x, x_stride, t);
}

static int check_params(const struct sparq_packed *w, const struct sparq_requant_params *params)
{
    for (int o = 0; w && o < w->out; o++)
        if (params[o].mult < 0 || params[o].shift < 0 || params[o].shift > 62)
            return sparq_fail(SPARQ_EINVAL, "device: requant params of channel %d out of range", o);
    return SPARQ_OK;
}

int sparq_device_gemm_q8(struct sparq_device *d, int8_t *y, int y_stride, const int8_t *x, int x_stride,
                         const struct sparq_packed *w, int t, const struct sparq_requant_params *params)
{
    int rc = check_params(w, params);
    if (rc)
        return rc;
    struct gemm_io io = { w, NULL, d->info.cols, NULL, 0, 0, y, y_stride, params, -1 };
    return run_gemm(d, &io, x, x_stride, t);
}

// --- matrices (protocol version 3) -------------------------------------------------

// First fit of n entries in [lo, hi) beside the regions other loaded matrices
// hold (store: sel 0, params: sel 1). Returns lo - 1 when there is no room.
static int64_t first_fit(const struct sparq_device *d, int sel, uint64_t n, uint64_t lo, uint64_t hi)
{
    uint64_t at = lo;
    for (;;) {
        int moved = 0;
        for (const struct sparq_device_matrix_priv *p = d->mats; p; p = p->next) {
            uint64_t a = sel ? p->qaddr : p->saddr, len = sel ? p->qn : p->sn;
            if (len && a < at + n && at < a + len) {
                at = a + len; // overlaps: try right after it
                moved = 1;
            }
        }
        if (!moved)
            break;
    }
    return at + n <= hi ? (int64_t)at : (int64_t)lo - 1;
}

// (Re)writes what a loaded matrix keeps on the device if the device may have
// lost it since (a RESET, a failed STORE_W / WRITE_Q, raw bytes).
static int matrix_refresh(struct sparq_device *d, const struct sparq_device_matrix *m)
{
    struct sparq_device_matrix_priv *p = m->priv;
    int rc = SPARQ_OK, cols = d->info.cols;
    if (!p || (!m->resident && !m->q_resident))
        return SPARQ_OK;
    if (p->dev != d)
        return sparq_fail(SPARQ_EINVAL, "device: the matrix was loaded on another device");
    if (m->resident && p->gen != d->store_gen) {
        uint64_t gen = d->store_gen;
        for (int j = 0; j < m->tiles && !rc; j++) {
            int o0 = j * cols, on = m->w->out - o0 < cols ? m->w->out - o0 : cols;
            rc = store_w(d, m->w, o0, on, m->tile_addr[j]);
        }
        if (rc)
            return rc;
        p->gen = gen == d->store_gen ? gen : 0;
    }
    if (m->q_resident && p->qgen != d->q_gen) {
        uint64_t gen = d->q_gen;
        if ((rc = write_q(d, m->q, m->w->out, m->qaddr)))
            return rc;
        p->qgen = gen == d->q_gen ? gen : 0;
    }
    return SPARQ_OK;
}

int sparq_device_matrix_load(struct sparq_device *d, struct sparq_device_matrix *m)
{
    if (!m || !m->w || !m->w->type || !m->w->bytes || m->w->out < 1)
        return sparq_fail(SPARQ_EINVAL, "device: matrix_load: no weights");
    if (m->q && check_params(m->w, m->q))
        return SPARQ_EINVAL;
    const struct sparq_device_info *I = &d->info;
    const struct sparq_packed *w = m->w;
    m->resident = m->q_resident = 0;
    m->qaddr = 0;
    m->store_entries = 0;
    m->tiles = (w->out + I->cols - 1) / I->cols;
    m->tile_addr = calloc((size_t)m->tiles, sizeof *m->tile_addr);
    m->priv = calloc(1, sizeof *m->priv);
    if (!m->tile_addr || !m->priv) {
        free(m->tile_addr);
        free(m->priv);
        m->tile_addr = NULL;
        m->priv = NULL;
        return sparq_fail(SPARQ_ENOMEM, "device: matrix_load: out of memory");
    }
    struct sparq_device_matrix_priv *p = m->priv;
    p->dev = d;
    // Store: every column tile holds its whole K, tile j at base + j * E.
    uint64_t e = (uint64_t)w->blocks_per_row * 4u * (uint64_t)w->type->kept, total = e * (uint64_t)m->tiles;
    int64_t base = (I->caps & SPARQ_CAP_STORE) ? first_fit(d, 0, total, 0, (uint64_t)I->wstore) : -1;
    if (base >= 0) {
        for (int j = 0; j < m->tiles; j++)
            m->tile_addr[j] = (uint32_t)((uint64_t)base + (uint64_t)j * e);
        p->saddr = (uint64_t)base;
        p->sn = total;
        m->resident = 1;
        m->store_entries = total;
    }
    // Params beside the streamed entries 0 .. cols-1 (sparq_device_gemm_q8's).
    int64_t qa = m->q && I->qdepth > I->cols ? first_fit(d, 1, (uint64_t)w->out, (uint64_t)I->cols,
                                                         (uint64_t)I->qdepth)
                                             : (int64_t)I->cols - 1;
    if (qa >= I->cols) {
        p->qaddr = (uint64_t)qa;
        p->qn = (uint64_t)w->out;
        m->qaddr = (int)qa;
        m->q_resident = 1;
    }
    p->next = d->mats;
    d->mats = p;
    int rc = matrix_refresh(d, m);
    if (rc) // a device error: nothing stays loaded
        sparq_device_matrix_release(m);
    return rc;
}

void sparq_device_matrix_release(struct sparq_device_matrix *m)
{
    if (!m)
        return;
    struct sparq_device_matrix_priv *p = m->priv;
    if (p && p->dev) {
        struct sparq_device_matrix_priv **pp = &p->dev->mats;
        while (*pp && *pp != p)
            pp = &(*pp)->next;
        if (*pp)
            *pp = p->next;
    }
    free(p);
    free(m->tile_addr);
    m->priv = NULL;
    m->tile_addr = NULL;
    m->tiles = 0;
    m->resident = m->q_resident = 0;
    m->qaddr = 0;
    m->store_entries = 0;
}

static void matrix_io(const struct sparq_device *d, const struct sparq_device_matrix *m, struct gemm_io *io)
{
    memset(io, 0, sizeof *io);
    io->w = m->w;
    io->tile_addr = m->resident ? m->tile_addr : NULL;
    io->tile_cols = d->info.cols;
    io->qbase = m->q_resident ? m->qaddr : -1;
}

int sparq_device_gemm_m(struct sparq_device *d, int32_t *y, int y_stride, const int8_t *x, int x_stride,
                        const struct sparq_device_matrix *m, int t, int accumulate)
{
    if (!m || !m->w)
        return sparq_fail(SPARQ_EINVAL, "device: gemm_m: no matrix");
    int rc = matrix_refresh(d, m);
    if (rc)
        return rc;
    struct gemm_io io;
    matrix_io(d, m, &io);
    io.y32 = y;
    io.y32_stride = y_stride;
    io.accumulate = accumulate;
    return run_gemm(d, &io, x, x_stride, t);
}

int sparq_device_gemm_q8_m(struct sparq_device *d, int8_t *y, int y_stride, const int8_t *x, int x_stride,
                           const struct sparq_device_matrix *m, int t)
{
    if (!m || !m->w || !m->q)
        return sparq_fail(SPARQ_EINVAL, "device: gemm_q8_m: no matrix or no requant params");
    int rc = check_params(m->w, m->q);
    if (!rc)
        rc = matrix_refresh(d, m);
    if (rc)
        return rc;
    struct gemm_io io;
    matrix_io(d, m, &io);
    io.y8 = y;
    io.y8_stride = y_stride;
    io.params = m->q;
    return run_gemm(d, &io, x, x_stride, t);
}

// Table lut into a device slot (WRITE_LUT unless it is there already).
static int lut_slot(struct sparq_device *d, const int8_t *lut)
{
    for (int i = 0; i < d->lut_n; i++)
        if (d->lut_ok[i] && !memcmp(d->lut_have[i], lut, SPARQ_LUT_ENTRIES))
            return i;
    int s = d->lut_next;
    d->lut_next = (s + 1) % d->lut_n;
    d->lut_ok[s] = 0;
    uint8_t a[SPARQ_ARGS_WRITE_LUT] = { (uint8_t)s, 0, 0, 0 };
    int rc = sparq_dev_command(d, SPARQ_OP_WRITE_LUT, a, sizeof a, (const uint8_t *)lut, SPARQ_LUT_ENTRIES, NULL, 0, NULL);
    if (rc)
        return rc;
    memcpy(d->lut_have[s], lut, SPARQ_LUT_ENTRIES);
    d->lut_ok[s] = 1;
    return s;
}

static int epilogue(struct sparq_device *d, int rb, int dst, int lut, int tn, int on, int qaddr, int dblock, int dkb)
{
    uint8_t a[SPARQ_ARGS_EPILOGUE] = { 0 };
    a[0] = (uint8_t)rb;
    a[1] = (uint8_t)dst;
    a[2] = (uint8_t)lut;
    sparq_wr16(a + 4, (unsigned)tn);
    sparq_wr16(a + 6, (unsigned)on);
    sparq_wr16(a + 8, (unsigned)qaddr);
    sparq_wr16(a + 10, (unsigned)dblock);
    sparq_wr16(a + 12, (unsigned)dkb);
    return sparq_dev_command(d, SPARQ_OP_EPILOGUE, a, sizeof a, NULL, 0, NULL, 0, NULL);
}

// The chain on the device: per frame chunk, the input goes to bank 0; each
// 16-channel tile of W1 is computed and turned by an EPILOGUE into block j
// of bank 1; W2 then runs from bank 1 and its results are read requantized.
static int chain_device(struct sparq_device *d, int8_t *y, int y_stride, const int8_t *x, int x_stride,
                        const struct sparq_device_matrix *m1, const int8_t *lut, const struct sparq_device_matrix *m2,
                        int t, int tc)
{
    const struct sparq_packed *w1 = m1->w, *w2 = m2->w;
    int kb1 = w1->blocks_per_row, dkb = w2->blocks_per_row, hid = w1->out, rc = SPARQ_OK;
    struct gemm_io io1, io2;
    matrix_io(d, m1, &io1);
    matrix_io(d, m2, &io2);
    io1.tile_cols = SPARQ_BLOCK; // an EPILOGUE fills one 16-channel block
    if (d->info.cols != SPARQ_BLOCK)
        io1.tile_addr = NULL; // stored tiles are cols wide: stream W1 in 16-column tiles
    io1.params = m1->q;
    io2.y8 = y;
    io2.y8_stride = y_stride;
    io2.params = m2->q;
    int kbx1 = k_chunk(d, &io1), kbx2 = k_chunk(d, &io2);
    int tabslot = SPARQ_LUT_NONE;
    if (lut && (tabslot = lut_slot(d, lut)) < 0)
        return tabslot;
    struct pending_read pend = { 0, 0, 0, 0, 0, 0 };
    for (int t0 = 0; t0 < t && !rc; t0 += tc) {
        int tn = t - t0 < tc ? t - t0 : tc;
        rc = upload_x(d, 0, x, x_stride, w1->in, t0, tn, 0, kb1);
        for (int j = 0; j * SPARQ_BLOCK < hid && !rc; j++) {
            int o0 = j * SPARQ_BLOCK, on = hid - o0 < SPARQ_BLOCK ? hid - o0 : SPARQ_BLOCK, rb = 0;
            for (int k0 = 0; k0 < kb1 && !rc; k0 += kbx1) {
                int kn = kb1 - k0 < kbx1 ? kb1 - k0 : kbx1, wb = d->wbank;
                if (!io1.tile_addr) {
                    d->wbank ^= 1;
                    rc = upload_w(d, wb, w1, o0, on, k0, kn);
                }
                if (!rc && k0 == 0 && (rb = next_rbuf(d, &pend, &io2)) < 0)
                    rc = SPARQ_EDEVICE;
                if (!rc)
                    rc = compute(d, &io1, wb, j, 0, k0 > 0, rb, tn, on, k0, kn, k0);
                if (!rc && k0 == 0)
                    rc = overlap_read(d, &pend, &io2);
            }
            int qa = m1->q_resident ? m1->qaddr + o0 : 0;
            if (!rc && !m1->q_resident)
                rc = stream_q(d, m1->q, o0, on);
            if (!rc)
                rc = epilogue(d, rb, 1, tabslot, tn, on, qa, j, dkb);
        }
        for (int o0 = 0; o0 < w2->out && !rc; o0 += io2.tile_cols) {
            int on = w2->out - o0 < io2.tile_cols ? w2->out - o0 : io2.tile_cols, rb = 0;
            for (int k0 = 0; k0 < dkb && !rc; k0 += kbx2) {
                int kn = dkb - k0 < kbx2 ? dkb - k0 : kbx2, wb = d->wbank;
                if (!io2.tile_addr) {
                    d->wbank ^= 1;
                    rc = upload_w(d, wb, w2, o0, on, k0, kn);
                }
                if (!rc && k0 == 0 && (rb = next_rbuf(d, &pend, &io2)) < 0)
                    rc = SPARQ_EDEVICE;
                if (!rc)
                    rc = compute(d, &io2, wb, o0 / io2.tile_cols, 1, k0 > 0, rb, tn, on, k0, kn, k0);
                if (!rc && k0 == 0)
                    rc = overlap_read(d, &pend, &io2);
            }
            pend = (struct pending_read){ 1, t0, tn, o0, on, rb };
        }
    }
    if (!rc && pend.valid)
        rc = read_results(d, &pend, &io2);
    return rc;
}

int sparq_device_chain2(struct sparq_device *d, int8_t *y, int y_stride, const int8_t *x, int x_stride,
                        const struct sparq_device_matrix *m1, const int8_t *lut, const struct sparq_device_matrix *m2,
                        int t)
{
    if (!m1 || !m2 || !m1->w || !m2->w || !m1->q || !m2->q || m2->w->in != m1->w->out || t < 0)
        return sparq_fail(SPARQ_EINVAL, "device: chain2: needs two matrices with params and m2 in == m1 out");
    int rc = check_params(m1->w, m1->q);
    if (!rc)
        rc = check_params(m2->w, m2->q);
    if (rc || t == 0)
        return rc;
    if ((rc = matrix_refresh(d, m1)) || (rc = matrix_refresh(d, m2)))
        return rc;
    const struct sparq_device_info *I = &d->info;
    int hid = m1->w->out;
    // Frames per chunk: the input (all of W1's K) and the hidden activations
    // (all of W2's K) each fit a bank.
    int tc = frames_fitting(I, t, m1->w->blocks_per_row), th = frames_fitting(I, t, m2->w->blocks_per_row);
    if (th < tc)
        tc = th;
    if ((I->caps & SPARQ_CAP_EPILOGUE) && I->cols >= SPARQ_BLOCK && tc > 0 && !d->chain_host)
        return chain_device(d, y, y_stride, x, x_stride, m1, lut, m2, t, tc);
    // Through the host: the same arithmetic, h crosses the link twice.
    int8_t *h = d->model ? NULL : malloc((size_t)t * (size_t)hid);
    if (!d->model && !h)
        return sparq_fail(SPARQ_ENOMEM, "device: chain2: out of memory");
    rc = sparq_device_gemm_q8_m(d, h, hid, x, x_stride, m1, t);
    if (!rc && h && lut)
        for (size_t i = 0; i < (size_t)t * (size_t)hid; i++)
            h[i] = lut[(int)h[i] + 128];
    if (!rc)
        rc = sparq_device_gemm_q8_m(d, y, y_stride, h, hid, m2, t);
    free(h);
    return rc;
}

void sparq_device_set_chain_host(struct sparq_device *d, int host) { d->chain_host = host != 0; }
