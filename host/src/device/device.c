// Device API: protocol framing (docs/protocol.md), opening a device over a
// transport or as a model device, IDENTIFY / RESET / COUNTERS. The GEMM
// driver, matrices and chains are in device_gemm.c.
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"
#include "sparq_device.h"
#include "sparq_device_wire.h"
#include "sparq_link.h"
#include "sparq_error.h"
#include "sparq_protocol.h"
#include "sparq_wire.h"

// Wire bytes of the COUNTERS exchange the reliability layer adds (sparq_link.h):
// a command without a body (header + crc) and a 40-byte reply.
#define LINK_CHECK_BYTES_OUT (SPARQ_HEADER_BYTES + SPARQ_CRC_BYTES)
#define LINK_CHECK_BYTES_IN (SPARQ_HEADER_BYTES + SPARQ_COUNTERS_BYTES + SPARQ_CRC_BYTES)

// The device may have lost its store, tables and params (RESET, an error,
// bytes the driver did not frame).
void sparq_dev_lose_state(struct sparq_device *d)
{
    d->q_valid = 0;
    d->store_gen++;
    d->q_gen++;
    for (int i = 0; i < d->lut_n; i++)
        d->lut_ok[i] = 0;
}


const char *sparq_status_name(int status)
{
    static const char *names[] = { "ok", "header crc", "crc", "unknown opcode", "length",
                                   "argument", "state", "positions", "truncated" };
    return status >= 0 && status <= SPARQ_ST_TRUNCATED ? names[status] : "unknown status";
}

static const char *op_name(int op)
{
    static const char *names[] = { "?", "identify", "reset", "write-w", "write-x", "write-q", "compute",
                                   "read", "counters", "store-w", "compute-s", "write-lut", "epilogue" };
    return op >= 1 && op <= SPARQ_OP_EPILOGUE ? names[op] : "raw";
}

int sparq_dev_ensure(struct sparq_device *d, size_t n)
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

const char *const sparq_wire_kind_names[SPARQ_WIRE_KINDS] = { "weights", "act_in", "results", "overhead" };

// What a command's payload carries (sparq_device_wire.h).
static int payload_kind(int op)
{
    switch (op) {
    case SPARQ_OP_WRITE_W:
    case SPARQ_OP_STORE_W:
    case SPARQ_OP_WRITE_Q:
    case SPARQ_OP_WRITE_LUT:
        return SPARQ_WIRE_WEIGHTS;
    case SPARQ_OP_WRITE_X:
        return SPARQ_WIRE_ACT;
    default:
        return SPARQ_WIRE_OVERHEAD;
    }
}

static int send_bytes(struct sparq_device *d, const uint8_t *data, size_t n, int kind)
{
    d->link.bytes_out += n;
    d->kind[kind] += n;
    return d->tr.ops->send(d->tr.ctx, data, n);
}

int sparq_device_send_raw(struct sparq_device *d, const uint8_t *data, size_t n)
{
    sparq_dev_lose_state(d); // raw bytes may hold anything, a WRITE_Q or a RESET
    return send_bytes(d, data, n, SPARQ_WIRE_OVERHEAD);
}

int sparq_device_idle(struct sparq_device *d) { return d->tr.ops->idle(d->tr.ctx); }

int sparq_device_next_seq(const struct sparq_device *d) { return d->seq; }

static int send_command(struct sparq_device *d, int opcode, const uint8_t *args, size_t nargs,
                        const uint8_t *payload, size_t npayload);

int sparq_device_send(struct sparq_device *d, int opcode, const uint8_t *args, size_t nargs,
                      const uint8_t *payload, size_t npayload)
{
    sparq_dev_lose_state(d); // a command the driver does not track
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
    int rc = send_bytes(d, h, sizeof h, SPARQ_WIRE_OVERHEAD);
    if (!rc && nargs)
        rc = send_bytes(d, args, nargs, SPARQ_WIRE_OVERHEAD);
    if (!rc && npayload)
        rc = send_bytes(d, payload, npayload, payload_kind(opcode));
    if (!rc)
        rc = send_bytes(d, c, sizeof c, SPARQ_WIRE_OVERHEAD);
    return rc;
}

static int recv_exact(struct sparq_device *d, uint8_t *p, size_t n, int kind)
{
    int rc = d->tr.ops->recv(d->tr.ctx, p, n);
    if (!rc) {
        d->link.bytes_in += n;
        d->kind[kind] += n;
    }
    return rc;
}

int sparq_device_recv(struct sparq_device *d, int *status, int *seq, int *opcode, uint8_t *body, size_t cap,
                      size_t *len)
{
    uint8_t h[SPARQ_HEADER_BYTES], c[SPARQ_CRC_BYTES];
    int rc = recv_exact(d, h, sizeof h, SPARQ_WIRE_OVERHEAD);
    if (rc)
        return rc;
    if (h[0] != SPARQ_MAGIC_REPLY)
        return sparq_fail(SPARQ_EDEVICE, "device: reply magic 0x%02x, expected 0x%02x", h[0], SPARQ_MAGIC_REPLY);
    if (sparq_rd16(h + 8) != sparq_crc16(SPARQ_CRC16_INIT, h, 8))
        return sparq_fail(SPARQ_EDEVICE, "device: reply header crc mismatch");
    uint32_t n = sparq_rd32(h + 4);
    if (n > cap)
        return sparq_fail(SPARQ_EDEVICE, "device: reply body of %u bytes, expected at most %zu", n, cap);
    // A READ's body is results; other replies' bodies (IDENTIFY, COUNTERS) are overhead.
    if (n && (rc = recv_exact(d, body, n, h[3] == SPARQ_OP_READ ? SPARQ_WIRE_RESULTS : SPARQ_WIRE_OVERHEAD)))
        return rc;
    if ((rc = recv_exact(d, c, sizeof c, SPARQ_WIRE_OVERHEAD)))
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
    d->kind[payload_kind(op)] += npayload;
    d->kind[op == SPARQ_OP_READ ? SPARQ_WIRE_RESULTS : SPARQ_WIRE_OVERHEAD] += cap;
    d->kind[SPARQ_WIRE_OVERHEAD] += 2 * (SPARQ_HEADER_BYTES + SPARQ_CRC_BYTES) + nargs;
    if (op == SPARQ_OP_COMPUTE || op == SPARQ_OP_COMPUTE_S) {
        const uint8_t *a = op == SPARQ_OP_COMPUTE ? args + 2 : args + 5; // flags, width, kept, u8 0 / -, t, ncols, kb
        int acc = a[0] & SPARQ_COMPUTE_ACCUMULATE, width = a[1], kept = a[2];
        int o = op == SPARQ_OP_COMPUTE ? 6 : 8;
        int t = (int)sparq_rd16(args + o), ncols = (int)sparq_rd16(args + o + 2), kb = (int)sparq_rd16(args + o + 4);
        d->mc.busy += sparq_devmodel_format_cycles(&d->cfg, t, kb, kept, width);
        d->mc.macs += (uint64_t)t * (uint64_t)ncols * (uint64_t)kb * 4u * (uint64_t)kept;
        if (d->model_link && (acc || d->model_unverified)) { // the link reads the MAC counter before an
            d->model_wire_out += LINK_CHECK_BYTES_OUT;        // accumulate and before the next COMPUTE after one
            d->model_wire_in += LINK_CHECK_BYTES_IN;
        }
        d->model_unverified = acc != 0; // that read checked the earlier accumulates
    } else if (op == SPARQ_OP_EPILOGUE) {
        d->mc.busy += (uint64_t)sparq_rd16(args + 4) + SPARQ_EPILOGUE_CYCLES;
        if (d->model_link && d->model_unverified) { // results of accumulates are checked before use, as by READ
            d->model_wire_out += LINK_CHECK_BYTES_OUT;
            d->model_wire_in += LINK_CHECK_BYTES_IN;
            d->model_unverified = 0;
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
int sparq_dev_command(struct sparq_device *d, int op, const uint8_t *args, size_t nargs, const uint8_t *payload,
                      size_t npayload, uint8_t *body, size_t cap, size_t *len)
{
    if (op == SPARQ_OP_RESET)
        sparq_dev_lose_state(d);
    if (d->model)
        return model_command(d, op, args, nargs, npayload, cap, len);
    int seq = d->seq, st, rseq, rop;
    size_t n = 0;
    int rc = send_command(d, op, args, nargs, payload, npayload);
    if (!rc)
        rc = sparq_device_recv(d, &st, &rseq, &rop, body, cap, &n);
    if (rc || st != SPARQ_ST_OK)
        sparq_dev_lose_state(d); // the device may have reset or lost its state
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
                             d->info.version == 3   ? SPARQ_IDENTIFY_BYTES_V3
                             : d->info.version == 2 ? SPARQ_IDENTIFY_BYTES
                                                    : SPARQ_IDENTIFY_BYTES_V1,
                             NULL);
    }
    uint8_t b[SPARQ_IDENTIFY_BYTES_V3];
    size_t n;
    int rc = sparq_dev_command(d, SPARQ_OP_IDENTIFY, NULL, 0, NULL, 0, b, sizeof b, &n);
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
    // Version 1 (24 bytes) has no lanes field: one lane. Version 2: 26 bytes,
    // version 3: 42.
    size_t want = info->version == 1 ? SPARQ_IDENTIFY_BYTES_V1
                  : info->version == 2 ? SPARQ_IDENTIFY_BYTES
                                       : SPARQ_IDENTIFY_BYTES_V3;
    if (info->version < SPARQ_PROTO_VERSION_MIN || info->version > SPARQ_PROTO_VERSION)
        return sparq_fail(SPARQ_EDEVICE, "device: protocol version %d, host speaks %d..%d", info->version,
                          SPARQ_PROTO_VERSION_MIN, SPARQ_PROTO_VERSION);
    if (n != want)
        return sparq_fail(SPARQ_EDEVICE, "device: identify: %zu bytes, expected %zu for version %d", n, want,
                          info->version);
    int lanes = info->version >= 2 ? (int)sparq_rd16(b + SPARQ_ID_LANES) : 1;
    int v3 = info->version >= 3;
    info->xbanks = v3 ? (int)sparq_rd16(b + SPARQ_ID_XBANKS) : 2;
    info->rbufs = v3 ? (int)sparq_rd16(b + SPARQ_ID_RBUFS) : 1;
    info->wstore = v3 ? (int)(sparq_rd32(b + SPARQ_ID_WSTORE) & 0x7FFFFFFF) : 0;
    info->qdepth = v3 ? (int)sparq_rd16(b + SPARQ_ID_QDEPTH) : info->cols;
    info->luts = v3 ? (int)sparq_rd16(b + SPARQ_ID_LUTS) : 0;
    info->caps = v3 ? (int)(sparq_rd32(b + SPARQ_ID_CAPS) & 7u) : 0;
    info->port_bytes = v3 && b[SPARQ_ID_PORT] ? b[SPARQ_ID_PORT] : 1;
    if (info->rows < 1 || info->cols < 1 || info->wdepth < 16 || info->xdepth < 4 || info->rdepth < info->rows ||
        (lanes != 0 && lanes != 1 && lanes != 4) || info->xbanks < 2 || info->xbanks > 255 || info->rbufs < 1 ||
        info->rbufs > 2 ||
        info->qdepth < info->cols || info->luts > 255 || ((info->caps & SPARQ_CAP_STORE) && info->wstore < 1) ||
        ((info->caps & SPARQ_CAP_EPILOGUE) && info->luts < 1) || ((info->caps & SPARQ_CAP_RBUF2) && info->rbufs < 2) ||
        (info->port_bytes != 1 && info->port_bytes != 2 && info->port_bytes != 4))
        return sparq_fail(SPARQ_EDEVICE, "device: identify: implausible sizes");
    d->lanes = lanes == 0 ? SPARQ_LANES_SERIAL : lanes;
    if (info != &d->info) // caps the driver uses: only what the device says it has
        d->info = *info;
    return SPARQ_OK;
}

int sparq_device_lanes(const struct sparq_device *d) { return d->lanes; }

int sparq_device_reset(struct sparq_device *d)
{
    return sparq_dev_command(d, SPARQ_OP_RESET, NULL, 0, NULL, 0, NULL, 0, NULL);
}

int sparq_device_counters(struct sparq_device *d, struct sparq_device_counters *c)
{
    if (d->model) {
        *c = d->mc;
        return model_command(d, SPARQ_OP_COUNTERS, NULL, 0, 0, SPARQ_COUNTERS_BYTES, NULL);
    }
    uint8_t b[SPARQ_COUNTERS_BYTES];
    size_t n;
    int rc = sparq_dev_command(d, SPARQ_OP_COUNTERS, NULL, 0, NULL, 0, b, sizeof b, &n);
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

void sparq_device_wire_kinds(const struct sparq_device *d, struct sparq_wire_kinds *k)
{
    memset(k, 0, sizeof *k);
    for (int i = 0; i < SPARQ_WIRE_KINDS; i++)
        k->kind[i] = d->kind[i];
    k->framing = d->kind[SPARQ_WIRE_OVERHEAD];
    uint64_t out, in, check = d->model_wire_out + d->model_wire_in;
    sparq_device_wire(d, &out, &in);
    if (!d->model && sparq_link_check_bytes(&d->tr, &check))
        check = 0; // no reliability layer: the wire is the driver's bytes
    k->checks = check;
    // What the link moved beyond the driver's bytes and its counter reads:
    // resends and replies it discarded (0 on a clean link: tested).
    uint64_t driver = d->link.bytes_out + d->link.bytes_in;
    k->resends = out + in - driver - check;
    k->kind[SPARQ_WIRE_OVERHEAD] += check + k->resends;
}

uint64_t sparq_device_cycles(const struct sparq_device *d)
{
    return !d->model && d->tr.ops->cycles ? d->tr.ops->cycles(d->tr.ctx) : 0;
}

const char *sparq_device_backend(const struct sparq_device *d) { return d->model ? "model" : d->tr.ops->name; }

void sparq_device_set_kchunk(struct sparq_device *d, int kblocks) { d->kchunk = kblocks > 0 ? kblocks : 0; }

void sparq_device_set_xmode(struct sparq_device *d, int mode) { d->xmode = mode >= 0 && mode <= 2 ? mode : 0; }

void sparq_device_set_xbanks(struct sparq_device *d, int banks) { d->xbanks = banks == 1 ? 1 : 2; }

// Host copies of the tables the device holds (WRITE_LUT is skipped when the
// table is already there).
static int lut_cache_init(struct sparq_device *d)
{
    int n = (d->info.caps & SPARQ_CAP_EPILOGUE) ? d->info.luts : 0;
    d->lut_have = n ? calloc((size_t)n, SPARQ_LUT_ENTRIES) : NULL;
    d->lut_ok = n ? calloc((size_t)n, sizeof(int)) : NULL;
    if (n && (!d->lut_have || !d->lut_ok))
        return sparq_fail(SPARQ_ENOMEM, "device: out of memory for the table cache");
    d->lut_n = n;
    return SPARQ_OK;
}

int sparq_device_open_transport(struct sparq_device **dst, struct sparq_transport tr)
{
    struct sparq_device *d = sparq_calloc(1, sizeof *d, "device");
    if (!d) {
        tr.ops->close(tr.ctx);
        return SPARQ_ENOMEM;
    }
    d->tr = tr;
    d->xbanks = 2;
    d->store_gen = d->q_gen = 1; // a matrix's generation 0: never written
    int rc = sparq_device_identify(d, &d->info);
    if (!rc)
        rc = lut_cache_init(d);
    if (!rc)
        rc = sparq_device_reset(d);
    if (rc) {
        sparq_device_close(d);
        return rc;
    }
    *dst = d;
    return SPARQ_OK;
}

void sparq_device_config_info(const struct sparq_device_config *cfg, struct sparq_device_info *I)
{
    struct sparq_device_config k = *cfg;
    (void)sparq_device_config_normalize(&k, "device info"); // out-of-range fields are reported as they are
    int lanes = k.lanes > 1 ? k.lanes : 1;
    int v3 = sparq_device_config_v3(&k);
    memset(I, 0, sizeof *I);
    I->version = v3 ? 3 : (lanes > 1 || k.lanes == SPARQ_LANES_SERIAL) ? 2 : 1;
    I->rows = k.rows;
    I->cols = k.cols;
    I->banks = 2;
    I->wdepth = k.wdepth;
    I->xdepth = k.xdepth;
    I->rdepth = k.rdepth;
    I->widths = I->sparsity = 7;
    I->timeout = k.timeout;
    I->xbanks = k.xbanks;
    I->rbufs = k.rbufs;
    I->wstore = k.wstore;
    I->qdepth = k.qdepth;
    I->luts = k.luts;
    I->caps = (k.wstore > 0 ? SPARQ_CAP_STORE : 0) | (k.luts > 0 ? SPARQ_CAP_EPILOGUE : 0) |
              (k.rbufs > 1 ? SPARQ_CAP_RBUF2 : 0);
    I->port_bytes = k.port_bytes;
}

void sparq_device_info_config(const struct sparq_device_info *info, int lanes, struct sparq_device_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->rows = info->rows;
    cfg->cols = info->cols;
    cfg->wdepth = info->wdepth;
    cfg->xdepth = info->xdepth;
    cfg->rdepth = info->rdepth;
    cfg->timeout = info->timeout;
    cfg->lanes = lanes; // a one-lane board runs int4/int2 at the int8 rate, a bit-serial one at 8/width cycles
    cfg->xbanks = info->xbanks;
    cfg->rbufs = info->rbufs;
    cfg->wstore = info->wstore;
    cfg->qdepth = info->qdepth;
    cfg->luts = info->luts;
    cfg->port_bytes = info->port_bytes;
}

int sparq_device_open_model(struct sparq_device **dst, const struct sparq_device_config *cfg, int link)
{
    struct sparq_device *d = sparq_calloc(1, sizeof *d, "model device");
    if (!d)
        return SPARQ_ENOMEM;
    d->model = 1;
    d->model_link = link;
    d->store_gen = d->q_gen = 1; // a matrix's generation 0: never written
    d->xbanks = 2;
    d->cfg = cfg ? *cfg : sparq_device_default_config;
    struct sparq_device_config *k = &d->cfg;
    int rc = sparq_device_config_normalize(k, "model device");
    if (rc) {
        free(d);
        return rc;
    }
    d->lanes = k->lanes > 1 || k->lanes == SPARQ_LANES_SERIAL ? k->lanes : 1;
    sparq_device_config_info(k, &d->info);
    if (lut_cache_init(d)) {
        free(d);
        return SPARQ_ENOMEM;
    }
    *dst = d;
    return SPARQ_OK;
}

void sparq_device_close(struct sparq_device *d)
{
    if (!d)
        return;
    if (!d->model)
        d->tr.ops->close(d->tr.ctx);
    for (struct sparq_device_matrix_priv *p = d->mats; p; p = p->next)
        p->dev = NULL; // their release only frees memory now
    free(d->lut_have);
    free(d->lut_ok);
    free(d->buf);
    free(d);
}
