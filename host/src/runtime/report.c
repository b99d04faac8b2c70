// Runtime throughput report (sparq_report.h).
#include "sparq_report.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"
#include "sparq_device.h"
#include "sparq_device_wire.h"
#include "sparq_error.h"

void sparq_report_default_options(struct sparq_report_options *o)
{
    memset(o, 0, sizeof *o);
    o->clock_mhz = 100.0;
    o->link_mbps[0] = 40.0;
    o->link_mbps[1] = 200.0;
    o->link_names[0] = "FX2 USB2";
    o->link_names[1] = "FT601 USB3";
    static const int sweep[] = { 1, 2, 4, 8, 16, 32 };
    o->batch_sizes = sweep;
    o->n_batch_sizes = (int)(sizeof sweep / sizeof sweep[0]);
}

// Board time of a set of layers: each layer takes the longer of its compute
// (busy cycles at the clock) and its transfers (wire bytes at the link
// speed), since the double-buffered banks let one overlap the other.
struct board_time {
    double macs, dense, busy, bytes, comp, t[2];
};

// Transfer time of a layer on link k: the link's rate for both directions,
// but no faster than the device's host port, each way: pb bytes a clock for
// activation payloads in and READ bodies out (kind: the layer's bytes by
// kind, sparq_device_wire.h), the port's wide paths (rtl/sparq_ctrl.v), one
// byte a clock for the rest (weights, commands, replies). An FT601's 200 MB/s
// meets a 100 MHz byte port at 100 MB/s.
static double transfer_seconds(const struct sparq_report_options *o, int k, int pb, double to, double from,
                               const uint64_t *kind)
{
    double hz = o->clock_mhz * 1e6, t = (to + from) / (o->link_mbps[k] * 1e6);
    double act = (double)kind[SPARQ_WIRE_ACT], res = (double)kind[SPARQ_WIRE_RESULTS];
    double pto = to - act + act / pb, pfrom = from - res + res / pb;
    double port = (pto > pfrom ? pto : pfrom) / hz;
    return t > port ? t : port;
}

// Host port bytes per clock of the runtime's hardware: its configuration is
// the default one or what the device's IDENTIFY reported (1 on version-1/2).
static int port_bytes(const struct sparq_runtime *rt)
{
    return rt->cfg.port_bytes > 1 ? rt->cfg.port_bytes : 1;
}

static void add_layer(struct board_time *b, const struct sparq_report_options *o, int pb, double macs, double dense,
                      double busy, double to, double from, const uint64_t *kind)
{
    double comp = busy / (o->clock_mhz * 1e6);
    b->macs += macs;
    b->dense += dense;
    b->busy += busy;
    b->bytes += to + from;
    b->comp += comp;
    for (int k = 0; k < 2; k++) {
        double link = transfer_seconds(o, k, pb, to, from, kind);
        b->t[k] += comp > link ? comp : link;
    }
}

// Device seconds of one batch's device stage at link k: the per-layer rule
// on the counters it added (measured on a device, planned on cpu).
static double batch_device_seconds(const struct sparq_runtime *rt, const struct rt_batch_record *r,
                                   const struct sparq_report_options *o, int k)
{
    double t = 0, hz = o->clock_mhz * 1e6;
    int pb = port_bytes(rt);
    for (int i = 0; i < rt->n_weights; i++) {
        const struct sparq_runtime_layer_stats *s = &r->dev[i];
        int m = rt->dev != NULL;
        double to = (double)(m ? s->wire_to_dev : s->model_to_dev);
        double from = (double)(m ? s->wire_from_dev : s->model_from_dev);
        const uint64_t *kind = m ? s->wire_kind : s->model_kind;
        double comp = (double)(m ? s->busy_cycles : s->model_busy) / hz;
        double link = transfer_seconds(o, k, pb, to, from, kind);
        t += comp > link ? comp : link;
    }
    return t;
}

int sparq_report_pipeline(const struct sparq_runtime *rt, const struct sparq_report_options *o,
                          struct sparq_pipeline_times *t)
{
    memset(t, 0, sizeof *t);
    const struct rt_pipe_record *p = rt->pipe;
    if (!p || !p->n)
        return sparq_fail(SPARQ_EINVAL, "report: no pipelined decode ran (sparq_runtime_decode)");
    t->batches = p->n;
    t->batch_frames = p->batch_frames;
    t->padded = p->padded;
    t->threads = p->threads;
    t->fe_outside = p->fe_outside;
    t->wall = p->wall;
    for (int k = 0; k < 2; k++) {
        // Batch i's device stage runs beside batch i+1's front-end and batch
        // i-1's decoding; the first front-end and the last decode stand alone.
        double over = p->b[0].fe_cpu + p->b[p->n - 1].dec_cpu;
        for (size_t i = 0; i < p->n; i++) {
            const struct rt_batch_record *r = &p->b[i];
            double dev = batch_device_seconds(rt, r, o, k), e = dev + r->enc_cpu;
            double other = (i + 1 < p->n ? p->b[i + 1].fe_cpu : 0) + (i > 0 ? p->b[i - 1].dec_cpu : 0);
            t->device[k] += dev;
            t->serial[k] += r->fe_cpu + e + r->dec_cpu;
            over += e > other ? e : other;
        }
        t->overlapped[k] = over;
    }
    for (size_t i = 0; i < p->n; i++) {
        t->frontend_cpu += p->b[i].fe_cpu;
        t->encoder_cpu += p->b[i].enc_cpu;
        t->decode_cpu += p->b[i].dec_cpu;
    }
    return SPARQ_OK;
}

// The whole model's time by stage, serial and overlapped, as text and JSON.
static void print_pipeline(FILE *out, cJSON *tj, const struct sparq_pipeline_times *t,
                           const struct sparq_report_options *o)
{
    double a = o->audio_seconds;
    fprintf(out,
            "whole model on a board (%zu batches of at most %d fbank frames%s; host CPU s measured per stage and "
            "batch%s, device s at the link per batch):\n",
            t->batches, t->batch_frames, t->padded ? ", padded rows included" : ", padded rows skipped",
            t->threads == 2 ? ", decoded with the device stage overlapped" : ", decoded serially");
    fprintf(out, "  front-end stage: fbank%s: %.3f CPU s\n",
            t->fe_outside ? " + the front-end's host ops and host-placed matmuls"
                          : " only (the front-end uses the "
                            "device: in the device stage)",
            t->frontend_cpu);
    fprintf(out,
            "  device stage, host part: LayerNorm, attention, depthwise conv, BatchNorm, SiLU/GLU, residuals, "
            "activation quantization and read-out between the device calls: %.3f CPU s\n",
            t->encoder_cpu);
    fprintf(out, "  device stage, device part: %.3f s (%s), %.3f s (%s)\n", t->device[0], o->link_names[0],
            t->device[1], o->link_names[1]);
    fprintf(out, "  CTC decode: %.3f CPU s\n", t->decode_cpu);
    fprintf(out, "  %-12s %12s %12s %12s %12s\n", "link", "serial s", "overlapped s", "serial RTF", "overlap RTF");
    for (int k = 0; k < 2; k++)
        fprintf(out, "  %-12s %12.3f %12.3f %12.4f %12.4f\n", o->link_names[k], t->serial[k], t->overlapped[k],
                a > 0 ? t->serial[k] / a : 0, a > 0 ? t->overlapped[k] / a : 0);
    fprintf(out,
            "  (overlapped: one thread runs each batch's device stage while another runs the next batch's front-end "
            "and the previous batch's decode; this decode's wall time on this machine: %.3f s)\n",
            t->wall);
    cJSON_AddNumberToObject(tj, "host_seconds_whole_batches", (double)t->batches);
    cJSON_AddNumberToObject(tj, "host_seconds_whole_batch_frames", (double)t->batch_frames);
    cJSON_AddNumberToObject(tj, "host_seconds_whole_device_link0", t->device[0]);
    cJSON_AddNumberToObject(tj, "host_seconds_whole_device_link1", t->device[1]);
    cJSON_AddNumberToObject(tj, "host_seconds_stage_frontend", t->frontend_cpu);
    cJSON_AddNumberToObject(tj, "host_seconds_stage_encoder", t->encoder_cpu);
    cJSON_AddNumberToObject(tj, "host_seconds_stage_decode", t->decode_cpu);
    cJSON_AddNumberToObject(tj, "host_seconds_wall", t->wall);
    for (int k = 0; k < 2; k++) {
        char key[64];
        snprintf(key, sizeof key, "host_seconds_whole_serial_link%d", k);
        cJSON_AddNumberToObject(tj, key, t->serial[k]);
        snprintf(key, sizeof key, "host_seconds_whole_overlapped_link%d", k);
        cJSON_AddNumberToObject(tj, key, t->overlapped[k]);
        if (a > 0) {
            snprintf(key, sizeof key, "host_seconds_rtf_whole_serial_link%d", k);
            cJSON_AddNumberToObject(tj, key, t->serial[k] / a);
            snprintf(key, sizeof key, "host_seconds_rtf_whole_overlapped_link%d", k);
            cJSON_AddNumberToObject(tj, key, t->overlapped[k] / a);
        }
    }
}

// MACs a PE can do per busy cycle on a layer of this format ("int4-2:4"):
// min(lanes, 8 / weight bits), so utilisation stays a fraction of the peak.
static double peak_macs_per_pe(const char *format, int lanes)
{
    int bits = 8;
    if (sscanf(format, "int%d", &bits) != 1 || bits < 1 || bits > 8)
        bits = 8;
    if (lanes == SPARQ_LANES_SERIAL)
        return 1.0 / bits; // bit-serial PEs: one weight bit a cycle
    int per = 8 / bits;
    return per < lanes ? per : lanes;
}

static const char *readout_name(enum sparq_readout r)
{
    return r == SPARQ_READOUT_Q8 ? "int8 (q8)" : "int32";
}

// The hardware before issue 16 (protocol version 2): no weight store, no
// epilogue tables, one result buffer, two activation banks. The runtime
// streams every matrix there and runs each FFN chain's table on the host.
static struct sparq_device_config v2_config(void)
{
    struct sparq_device_config c = sparq_device_default_config;
    c.xbanks = 2;
    c.rbufs = 1;
    c.wstore = 0;
    c.qdepth = 0;
    c.luts = 0;
    c.port_bytes = 1;
    return c;
}

// Per-layer roofline points of a plan (the .dat format) at batch B.
static void plan_dat(const char *path, const struct sparq_runtime_layer_stats *ps, int count,
                     const struct sparq_report_options *o, int pb, double pes, int lanes)
{
    FILE *dat = fopen(path, "w");
    if (!dat)
        return;
    double hz = o->clock_mhz * 1e6;
    fprintf(dat, "# name intensity_macs_per_byte macs_per_s_link0 macs_per_s_link1 peak_macs_per_s bw0 bw1\n");
    for (int i = 0; i < count; i++) {
        double bytes = (double)ps[i].model_bytes, comp = (double)ps[i].model_busy / hz;
        double to = (double)ps[i].model_to_dev, from = (double)ps[i].model_from_dev;
        double l0 = transfer_seconds(o, 0, pb, to, from, ps[i].model_kind);
        double l1 = transfer_seconds(o, 1, pb, to, from, ps[i].model_kind);
        double t0 = comp > l0 ? comp : l0, t1 = comp > l1 ? comp : l1, m = (double)ps[i].model_macs;
        if (bytes > 0 && t0 > 0)
            fprintf(dat, "%s %.6g %.6g %.6g %.6g %.6g %.6g\n", ps[i].name, m / bytes, m / t0, m / t1,
                    pes * hz * peak_macs_per_pe(ps[i].format, lanes), o->link_mbps[0] * 1e6, o->link_mbps[1] * 1e6);
    }
    fclose(dat);
}

// The batch-size sweep: table, JSON array, and a .sweep.dat for gnuplot.
static int print_sweep(struct sparq_runtime *rt, const struct sparq_report_options *o, FILE *out, cJSON *root,
                       const char *json_path, double pes, int lanes)
{
    int count;
    sparq_runtime_stats(rt, &count);
    struct sparq_runtime_layer_stats *ps = sparq_calloc((size_t)count + 1, sizeof *ps, "sweep statistics");
    struct sparq_runtime_layer_stats *pv = sparq_calloc((size_t)count + 1, sizeof *pv, "sweep statistics");
    if (!ps || !pv) {
        free(ps);
        free(pv);
        return SPARQ_ENOMEM;
    }
    const struct sparq_device_config v2 = v2_config();
    FILE *dat = NULL;
    if (json_path) {
        char dpath[4096];
        snprintf(dpath, sizeof dpath, "%s.sweep.dat", json_path);
        dat = fopen(dpath, "w");
        if (dat)
            fprintf(dat, "# batch rtf_link0 rtf_link1 rtf_compute link_bytes busy_cycles  and on protocol-v2 "
                         "hardware: rtf_link0 rtf_link1 rtf_compute link_bytes busy_cycles\n");
    }
    // The rows as this decode ran them: the pipelined decode skips padded rows.
    const enum sparq_plan_rows rows_of = rt->rows_valid ? SPARQ_PLAN_VALID : SPARQ_PLAN_PADDED;
    fprintf(out,
            "\nbatch-size sweep (model: the decode's calls for %zu utterances, %.1f s of audio, in batches of B "
            "length-sorted utterances, %s; weights are loaded once per batch and 2 result-buffer chunks)\n",
            o->n_utts, o->audio_seconds,
            rows_of == SPARQ_PLAN_VALID ? "each utterance's own rows (padded rows skipped, as this decode)"
                                        : "rows padded to each batch's longest utterance");
    fprintf(out, "(v2: the same runtime on protocol-version-2 hardware: no weight store, no epilogue tables, one "
                 "result buffer, a byte-wide host port; every matrix streamed, FFN tables on the host)\n");
    fprintf(out, "%6s %8s %12s %14s %14s %10s %10s %10s %10s %10s %14s %10s %10s\n", "B", "batches", "rows", "busy cyc",
            "link bytes", "comp ms", "FX2 ms", "FT601 ms", "RTF FX2", "RTF FT601", "v2 link bytes", "v2 RTF FX2",
            "v2 RTF FT601");
    cJSON *arr = cJSON_AddArrayToObject(root, "batch_sweep");
    int rc = SPARQ_OK;
    for (int bi = 0; bi < o->n_batch_sizes && !rc; bi++) {
        int B = o->batch_sizes[bi];
        rc = sparq_runtime_plan_rows(rt, &rt->cfg, o->utt_frames, o->n_utts, B, rows_of, ps);
        rc = rc ? rc : sparq_runtime_plan_rows(rt, &v2, o->utt_frames, o->n_utts, B, rows_of, pv);
        if (rc)
            break;
        struct board_time bt, bv;
        memset(&bt, 0, sizeof bt);
        memset(&bv, 0, sizeof bv);
        for (int i = 0; i < count; i++)
            if (pv[i].calls)
                add_layer(&bv, o, 1, (double)pv[i].macs, (double)pv[i].dense_macs, (double)pv[i].model_busy,
                          (double)pv[i].model_to_dev, (double)pv[i].model_from_dev, pv[i].model_kind);
        if (json_path && bi == o->n_batch_sizes - 1) { // roofline points before / after at the largest B
            char dpath[4096];
            snprintf(dpath, sizeof dpath, "%s.v2.dat", json_path);
            plan_dat(dpath, pv, count, o, 1, pes, lanes);
            snprintf(dpath, sizeof dpath, "%s.v3.dat", json_path);
            plan_dat(dpath, ps, count, o, port_bytes(rt), pes, lanes);
        }
        double rows = 0;
        for (int i = 0; i < count; i++) {
            if (!ps[i].calls)
                continue;
            add_layer(&bt, o, port_bytes(rt), (double)ps[i].macs, (double)ps[i].dense_macs,
                      (double)ps[i].model_busy, (double)ps[i].model_to_dev, (double)ps[i].model_from_dev,
                      ps[i].model_kind);
            if (!strcmp(ps[i].name, "sub_lin_w"))
                rows = (double)ps[i].rows;
        }
        double a = o->audio_seconds > 0 ? o->audio_seconds : 0;
        size_t batches = (o->n_utts + (size_t)B - 1) / (size_t)B;
        fprintf(out, "%6d %8zu %12.0f %14.0f %14.0f %10.1f %10.1f %10.1f %10.4f %10.4f %14.0f %10.4f %10.4f\n", B,
                batches, rows, bt.busy, bt.bytes, 1e3 * bt.comp, 1e3 * bt.t[0], 1e3 * bt.t[1], a > 0 ? bt.t[0] / a : 0,
                a > 0 ? bt.t[1] / a : 0, bv.bytes, a > 0 ? bv.t[0] / a : 0, a > 0 ? bv.t[1] / a : 0);
        if (dat)
            fprintf(dat, "%d %.6g %.6g %.6g %.0f %.0f %.6g %.6g %.6g %.0f %.0f\n", B, a > 0 ? bt.t[0] / a : 0,
                    a > 0 ? bt.t[1] / a : 0, a > 0 ? bt.comp / a : 0, bt.bytes, bt.busy, a > 0 ? bv.t[0] / a : 0,
                    a > 0 ? bv.t[1] / a : 0, a > 0 ? bv.comp / a : 0, bv.bytes, bv.busy);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "batch", B);
        cJSON_AddNumberToObject(e, "batches", (double)batches);
        cJSON_AddNumberToObject(e, "rows", rows);
        cJSON_AddBoolToObject(e, "padded", rows_of == SPARQ_PLAN_PADDED);
        cJSON_AddNumberToObject(e, "macs", bt.macs);
        cJSON_AddNumberToObject(e, "busy_cycles", bt.busy);
        cJSON_AddNumberToObject(e, "link_bytes", bt.bytes);
        cJSON_AddNumberToObject(e, "compute_seconds", bt.comp);
        cJSON_AddNumberToObject(e, "seconds_link0", bt.t[0]);
        cJSON_AddNumberToObject(e, "seconds_link1", bt.t[1]);
        cJSON_AddNumberToObject(e, "v2_link_bytes", bv.bytes);
        cJSON_AddNumberToObject(e, "v2_busy_cycles", bv.busy);
        cJSON_AddNumberToObject(e, "v2_seconds_link0", bv.t[0]);
        cJSON_AddNumberToObject(e, "v2_seconds_link1", bv.t[1]);
        if (a > 0) {
            cJSON_AddNumberToObject(e, "rtf_link0", bt.t[0] / a);
            cJSON_AddNumberToObject(e, "rtf_link1", bt.t[1] / a);
            cJSON_AddNumberToObject(e, "rtf_compute", bt.comp / a);
        }
        cJSON_AddItemToArray(arr, e);
    }
    if (dat)
        fclose(dat);
    free(ps);
    free(pv);
    return rc;
}

// One layer's row as figured by sparq_report_print.
struct layer_row {
    const char *where;
    double busy, util, bytes, bto, bfrom, link0, link1, comp, t0, t1;
    const uint64_t *kind; // bytes by kind (SPARQ_WIRE_KINDS)
};

static void kinds_json(cJSON *obj, const double *k)
{
    cJSON *o = cJSON_AddObjectToObject(obj, "bytes_by_kind");
    for (int i = 0; i < SPARQ_WIRE_KINDS; i++)
        cJSON_AddNumberToObject(o, sparq_wire_kind_names[i], k[i]);
}

static void layer_json(cJSON *layers, const struct sparq_runtime_layer_stats *s, const struct layer_row *r)
{
    cJSON *l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "name", s->name);
    cJSON_AddStringToObject(l, "format", s->format);
    cJSON_AddNumberToObject(l, "out", s->out);
    cJSON_AddNumberToObject(l, "in", s->in);
    cJSON_AddNumberToObject(l, "calls", (double)s->calls);
    cJSON_AddNumberToObject(l, "rows", (double)s->rows);
    cJSON_AddNumberToObject(l, "macs", (double)s->macs);
    cJSON_AddNumberToObject(l, "dense_macs", (double)s->dense_macs);
    cJSON_AddNumberToObject(l, "busy_cycles", r->busy);
    cJSON_AddNumberToObject(l, "device_cycles", (double)s->device_cycles);
    cJSON_AddNumberToObject(l, "utilisation", r->util);
    cJSON_AddNumberToObject(l, "link_bytes", r->bytes);
    cJSON_AddNumberToObject(l, "bytes_to_device", r->bto);
    cJSON_AddNumberToObject(l, "bytes_from_device", r->bfrom);
    cJSON_AddStringToObject(l, "weights", r->where);
    cJSON_AddNumberToObject(l, "chain", s->chain);
    cJSON_AddNumberToObject(l, "link0_seconds_alone", r->link0);
    cJSON_AddNumberToObject(l, "link1_seconds_alone", r->link1);
    cJSON_AddNumberToObject(l, "driver_bytes", (double)(s->bytes_out + s->bytes_in));
    cJSON_AddNumberToObject(l, "model_busy_cycles", (double)s->model_busy);
    cJSON_AddNumberToObject(l, "model_link_bytes", (double)s->model_bytes);
    cJSON_AddNumberToObject(l, "compute_seconds", r->comp);
    cJSON_AddNumberToObject(l, "seconds_link0", r->t0);
    cJSON_AddNumberToObject(l, "seconds_link1", r->t1);
    cJSON_AddNumberToObject(l, "host_seconds", s->seconds);
    cJSON_AddStringToObject(l, "placement", s->host ? "host" : "device");
    cJSON_AddNumberToObject(l, "host_seconds_cpu", s->host_cpu_seconds);
    double k[SPARQ_WIRE_KINDS];
    for (int i = 0; i < SPARQ_WIRE_KINDS; i++)
        k[i] = (double)r->kind[i];
    kinds_json(l, k);
    cJSON_AddItemToArray(layers, l);
}

// The "total" object of the JSON.
struct totals_row {
    double util, to_dev, from_dev;
    int n_resident, n_packed, n_chain;
    double driver_bytes, model_busy, model_bytes;
    double kind[SPARQ_WIRE_KINDS];
    double host_cpu; // CPU seconds of the matmuls placed on the host
    int n_host;
};

static void total_json(cJSON *root, const struct sparq_runtime *rt, const struct board_time *tot,
                       const struct totals_row *r, double a)
{
    cJSON *tj = cJSON_AddObjectToObject(root, "total");
    cJSON_AddNumberToObject(tj, "macs", tot->macs);
    cJSON_AddNumberToObject(tj, "dense_macs", tot->dense);
    cJSON_AddNumberToObject(tj, "busy_cycles", tot->busy);
    cJSON_AddNumberToObject(tj, "utilisation", r->util);
    cJSON_AddNumberToObject(tj, "link_bytes", tot->bytes);
    cJSON_AddNumberToObject(tj, "bytes_to_device", r->to_dev);
    cJSON_AddNumberToObject(tj, "bytes_from_device", r->from_dev);
    cJSON_AddNumberToObject(tj, "resident_matmuls", r->n_resident);
    cJSON_AddNumberToObject(tj, "packed_matmuls", r->n_packed);
    cJSON_AddNumberToObject(tj, "chains", r->n_chain);
    cJSON_AddNumberToObject(tj, "load_bytes", (double)sparq_runtime_load_bytes(rt));
    cJSON_AddNumberToObject(tj, "driver_bytes", r->driver_bytes);
    cJSON_AddNumberToObject(tj, "model_busy_cycles", r->model_busy);
    cJSON_AddNumberToObject(tj, "model_link_bytes", r->model_bytes);
    cJSON_AddNumberToObject(tj, "compute_seconds", tot->comp);
    cJSON_AddNumberToObject(tj, "seconds_link0", tot->t[0]);
    cJSON_AddNumberToObject(tj, "seconds_link1", tot->t[1]);
    cJSON_AddNumberToObject(tj, "audio_seconds", a);
    kinds_json(tj, r->kind);
    cJSON_AddNumberToObject(tj, "host_matmuls", r->n_host);
    // Host timings (they vary run to run) all carry the prefix host_seconds.
    // host_seconds_total_*: the device's matmuls + the host-placed ones only
    // (fbank, the encoder's host ops and decoding: host_seconds_whole_*).
    cJSON_AddNumberToObject(tj, "host_seconds_cpu", r->host_cpu);
    cJSON_AddNumberToObject(tj, "host_seconds_total_link0", tot->t[0] + r->host_cpu);
    cJSON_AddNumberToObject(tj, "host_seconds_total_link1", tot->t[1] + r->host_cpu);
    if (a > 0) {
        cJSON_AddNumberToObject(tj, "rtf_link0", tot->t[0] / a);
        cJSON_AddNumberToObject(tj, "rtf_link1", tot->t[1] / a);
        cJSON_AddNumberToObject(tj, "rtf_compute", tot->comp / a);
        cJSON_AddNumberToObject(tj, "host_seconds_rtf", r->host_cpu / a);
        cJSON_AddNumberToObject(tj, "host_seconds_rtf_total_link0", (tot->t[0] + r->host_cpu) / a);
        cJSON_AddNumberToObject(tj, "host_seconds_rtf_total_link1", (tot->t[1] + r->host_cpu) / a);
    }
}

static cJSON *root_json(struct sparq_runtime *rt, const struct sparq_report_options *o,
                        const struct sparq_device_info *info, int measured, int lanes)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "backend", sparq_runtime_backend(rt));
    cJSON_AddStringToObject(root, "source", measured ? "device counters and wire bytes" : "model");
    cJSON_AddStringToObject(root, "readout", sparq_runtime_readout(rt) == SPARQ_READOUT_Q8 ? "q8" : "i32");
    cJSON_AddNumberToObject(root, "clock_mhz", o->clock_mhz);
    cJSON_AddNumberToObject(root, "link0_mbps", o->link_mbps[0]);
    cJSON_AddNumberToObject(root, "link1_mbps", o->link_mbps[1]);
    cJSON_AddNumberToObject(root, "array_rows", info->rows);
    cJSON_AddNumberToObject(root, "array_cols", info->cols);
    cJSON_AddNumberToObject(root, "lanes", lanes == SPARQ_LANES_SERIAL ? 0 : lanes); // IDENTIFY's value
    cJSON_AddBoolToObject(root, "bit_serial", lanes == SPARQ_LANES_SERIAL);
    cJSON_AddNumberToObject(root, "port_bytes", port_bytes(rt));
    return root;
}

// The device's real-time factors, bytes by kind, and the host's part of the
// model with the whole model's RTF.
static void print_kinds_host(FILE *out, const struct sparq_report_options *o, const double *kind, int n_host,
                             double host_macs, double host_cpu, const struct board_time *tot)
{
    double a = o->audio_seconds;
    if (a > 0)
        fprintf(out, "real-time factor of the device's matmuls on a board: %.4f (%s), %.4f (%s), %.4f (compute only)\n",
                tot->t[0] / a, o->link_names[0], tot->t[1] / a, o->link_names[1], tot->comp / a);
    fprintf(out,
            "link bytes by kind: weights %.0f, activations in %.0f, results out %.0f, overhead %.0f "
            "(framing, control replies, link checks; sum %.0f)\n",
            kind[0], kind[1], kind[2], kind[3], kind[0] + kind[1] + kind[2] + kind[3]);
    if (n_host && a > 0)
        fprintf(out,
                "host: %d matmul%s on the host (cpu kernel, front-end, %.0f MACs): %.3f CPU s, RTF %.4f; device + "
                "these matmuls alone: RTF %.4f (%s), %.4f (%s) (fbank, the encoder's host ops and decoding not "
                "included: see the whole model below)\n",
                n_host, n_host > 1 ? "s" : "", host_macs, host_cpu, host_cpu / a, (tot->t[0] + host_cpu) / a,
                o->link_names[0], (tot->t[1] + host_cpu) / a, o->link_names[1]);
}

// The whole model from the last pipelined decode, if one ran: the stages,
// and a grep-able line (make demo reads it).
static void print_whole(const struct sparq_runtime *rt, const struct sparq_report_options *o, FILE *out, cJSON *tj)
{
    struct sparq_pipeline_times pt;
    if (sparq_report_pipeline(rt, o, &pt) == SPARQ_OK) {
        print_pipeline(out, tj, &pt, o);
        fprintf(out,
                "pipeline: fe_s %.6g enc_s %.6g dec_s %.6g dev0_s %.6g dev1_s %.6g serial0_s %.6g serial1_s %.6g "
                "over0_s %.6g over1_s %.6g audio_s %.6g\n",
                pt.frontend_cpu, pt.encoder_cpu, pt.decode_cpu, pt.device[0], pt.device[1], pt.serial[0], pt.serial[1],
                pt.overlapped[0], pt.overlapped[1], o->audio_seconds);
    }
}

static int write_json(const cJSON *root, const char *path)
{
    char *text = cJSON_Print(root);
    int rc = text ? sparq_write_file_atomic(path, text, strlen(text))
                  : sparq_fail(SPARQ_ENOMEM, "report: cannot format JSON");
    free(text);
    return rc;
}

// The report's first line: backend, array, PEs, clock, links, host port.
static void print_header(const struct sparq_runtime *rt, const struct sparq_report_options *o, FILE *out,
                         const struct sparq_device_info *info, int measured, int lanes, int pb)
{
    char pe_kind[32];
    if (lanes == SPARQ_LANES_SERIAL)
        snprintf(pe_kind, sizeof pe_kind, "bit-serial PEs");
    else
        snprintf(pe_kind, sizeof pe_kind, "%d lane%s per PE", lanes, lanes > 1 ? "s" : "");
    fprintf(out,
            "\nthroughput on backend %s (%s; read-out %s), %dx%d array (%s) at %.0f MHz; link %s "
            "%.0f MB/s / %s %.0f MB/s; host port %d byte%s a clock (activations in, results out; else 1)\n",
            sparq_runtime_backend(rt), measured ? "device counters, wire bytes" : "job-cycle and link model",
            readout_name(sparq_runtime_readout(rt)), info->rows, info->cols, pe_kind, o->clock_mhz,
            o->link_names[0], o->link_mbps[0], o->link_names[1], o->link_mbps[1], pb, pb > 1 ? "s" : "");
}

int sparq_report_print(struct sparq_runtime *rt, const struct sparq_report_options *o, FILE *out, const char *json_path)
{
    int count;
    const struct sparq_runtime_layer_stats *st = sparq_runtime_stats(rt, &count);
    struct sparq_device_info info;
    // Measured: the device's counters and the wire (ref/sim/usb). Otherwise
    // (cpu) the same calls on the model device of the default hardware.
    int measured = sparq_runtime_device_info(rt, &info) == SPARQ_OK;
    if (!measured)
        sparq_device_config_info(&sparq_device_default_config, &info);
    double pes = (double)info.rows * info.cols;
    int lanes = sparq_runtime_lanes(rt), pb = port_bytes(rt);
    double hz = o->clock_mhz * 1e6;
    cJSON *root = root_json(rt, o, &info, measured, lanes);
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    print_header(rt, o, out, &info, measured, lanes, pb);
    fprintf(out, "%-22s %-11s %-6s %7s %12s %12s %6s %12s %12s %12s %11s %11s %11s %11s %9s %9s %9s %9s %-7s\n",
            "matmul", "format", "where", "calls", "MACs", "busy cyc", "util", "link bytes", "to device", "from device",
            "weights B", "act in B", "results B", "overhead B", "comp ms", "FX2 link", "FX2 ms", "FT601 ms", "bound");
    // Roofline data for gnuplot beside the JSON: intensity (MACs per link
    // byte) and attained MAC/s per layer with each link.
    FILE *dat = NULL;
    if (json_path) {
        char dpath[4096];
        snprintf(dpath, sizeof dpath, "%s.dat", json_path);
        dat = fopen(dpath, "w");
        if (dat)
            fprintf(dat, "# name intensity_macs_per_byte macs_per_s_link0 macs_per_s_link1 peak_macs_per_s bw0 bw1\n");
    }
    struct board_time tot;
    memset(&tot, 0, sizeof tot);
    double dev_macs = 0, peak_macs = 0, model_busy = 0, model_bytes = 0, driver_bytes = 0;
    double to_dev = 0, from_dev = 0, kind[SPARQ_WIRE_KINDS] = { 0 }, model_kind[SPARQ_WIRE_KINDS] = { 0 };
    double host_cpu = 0, host_macs = 0;
    int n_packed = 0, n_resident = 0, n_chain = 0, n_host = 0;
    for (int i = 0; i < count; i++) {
        const struct sparq_runtime_layer_stats *s = &st[i];
        if (!s->calls)
            continue;
        double bytes = (double)(measured ? s->wire_bytes : s->model_bytes);
        // By direction: to the device go activations, streamed weights and
        // commands; back come results and replies (docs/runtime.md).
        double bto = (double)(measured ? s->wire_to_dev : s->model_to_dev);
        double bfrom = (double)(measured ? s->wire_from_dev : s->model_from_dev);
        to_dev += bto;
        from_dev += bfrom;
        int packed = strcmp(s->format, "float") != 0;
        n_packed += packed;
        n_resident += packed && s->resident;
        n_chain += s->chain == 1;
        // Where the weights live: "store" (resident), "stream"; a chain's W2
        // row shows "chain" (its device work is on its W1's row).
        // "host": placed on the host (the cpu kernel; no device numbers).
        const char *where = !packed         ? "-"
                            : s->host       ? "host"
                            : s->chain == 2 ? "chain"
                            : s->resident   ? "store"
                                            : "stream";
        const uint64_t *sk = measured ? s->wire_kind : s->model_kind;
        for (int k = 0; k < SPARQ_WIRE_KINDS; k++) {
            kind[k] += (double)sk[k];
            model_kind[k] += (double)s->model_kind[k];
        }
        n_host += s->host;
        host_cpu += s->host ? s->host_cpu_seconds : 0;
        double busy = (double)(measured ? s->busy_cycles : s->model_busy);
        double dmacs = (double)(measured ? s->device_macs : s->model_macs);
        double comp = busy / hz;
        double link0 = transfer_seconds(o, 0, pb, bto, bfrom, sk), link1 = transfer_seconds(o, 1, pb, bto, bfrom, sk);
        double peak = busy * pes * peak_macs_per_pe(s->format, lanes);
        double util = peak > 0 ? dmacs / peak : 0;
        double t0 = comp > link0 ? comp : link0, t1 = comp > link1 ? comp : link1;
        // A host-placed matmul's MACs are the host's: not in the device's totals.
        add_layer(&tot, o, pb, s->host ? 0 : (double)s->macs, s->host ? 0 : (double)s->dense_macs, busy, bto, bfrom,
                  sk);
        host_macs += s->host ? (double)s->macs : 0;
        dev_macs += dmacs;
        peak_macs += peak;
        model_busy += (double)s->model_busy;
        model_bytes += (double)s->model_bytes;
        driver_bytes += (double)(s->bytes_out + s->bytes_in);
        char fmt[40];
        snprintf(fmt, sizeof fmt, "%s%s", s->format, s->chain == 1 ? "+W2" : "");
        fprintf(out,
                "%-22s %-11s %-6s %7llu %12llu %12.0f %5.1f%% %12.0f %12.0f %12.0f %11llu %11llu %11llu %11llu %9.3f "
                "%9.3f %9.3f %9.3f %-7s\n",
                s->name, fmt, where, (unsigned long long)s->calls, (unsigned long long)s->macs, busy, 100 * util, bytes,
                bto, bfrom, (unsigned long long)sk[0], (unsigned long long)sk[1], (unsigned long long)sk[2],
                (unsigned long long)sk[3], 1e3 * comp, 1e3 * link0, 1e3 * t0, 1e3 * t1,
                s->chain == 2 || s->host ? "-"
                : comp >= link0          ? "compute"
                                         : "link");
        if (dat && bytes > 0 && t0 > 0)
            fprintf(dat, "%s %.6g %.6g %.6g %.6g %.6g %.6g\n", s->name, dmacs / bytes, dmacs / t0, dmacs / t1,
                    pes * hz * peak_macs_per_pe(s->format, lanes), o->link_mbps[0] * 1e6, o->link_mbps[1] * 1e6);
        struct layer_row r = { where, busy, util, bytes, bto, bfrom, link0, link1, comp, t0, t1, sk };
        layer_json(layers, s, &r);
    }
    if (dat)
        fclose(dat);
    double util = peak_macs > 0 ? dev_macs / peak_macs : 0;
    fprintf(out,
            "%-22s %-11s %-6s %7s %12.0f %12.0f %5.1f%% %12.0f %12.0f %12.0f %11.0f %11.0f %11.0f %11.0f %9.3f %9.3f "
            "%9.3f %9.3f\n",
            "total", "", "", "", tot.macs, tot.busy, 100 * util, tot.bytes, to_dev, from_dev, kind[0], kind[1], kind[2],
            kind[3], 1e3 * tot.comp, 1e3 * tot.bytes / (o->link_mbps[0] * 1e6), 1e3 * tot.t[0], 1e3 * tot.t[1]);
    fprintf(out, "MACs done on the device %.0f of %.0f dense (%.1f%%: sparsity skips the rest)\n", tot.macs, tot.dense,
            tot.dense > 0 ? 100 * tot.macs / tot.dense : 0);
    fprintf(out,
            "link bytes %.0f to the device, %.0f back; weights resident in the store: %d of %d packed "
            "matmuls (loaded once at open: %llu wire bytes, not in the table); feed-forward chains: %d\n",
            to_dev, from_dev, n_resident, n_packed, (unsigned long long)sparq_runtime_load_bytes(rt), n_chain);
    if (o->audio_seconds > 0)
        fprintf(out, "wire bytes per second of audio: %.3f MB/s\n", tot.bytes / o->audio_seconds / 1e6);
    if (measured)
        fprintf(out,
                "model check: busy cycles %.0f measured, %.0f by the job-cycle model; wire bytes %.0f measured, "
                "%.0f by the driver's accounting (%s); driver bytes %.0f + reliability layer %.0f\n",
                tot.busy, model_busy, tot.bytes, model_bytes,
                tot.busy == model_busy && tot.bytes == model_bytes && !memcmp(kind, model_kind, sizeof kind)
                    ? "equal, kind by kind"
                    : "DIFFER",
                driver_bytes, tot.bytes - driver_bytes);
    double a = o->audio_seconds;
    print_kinds_host(out, o, kind, n_host, host_macs, host_cpu, &tot);
    // One grep-able line per run (make demo builds its comparison from it).
    fprintf(out,
            "summary: readout %s macs %.0f busy %.0f bytes %.0f comp_s %.6g link0_s %.6g link1_s %.6g audio_s %.6g "
            "host_s %.6g host_n %d bytes_w %.0f bytes_x %.0f bytes_r %.0f bytes_o %.0f\n",
            sparq_runtime_readout(rt) == SPARQ_READOUT_Q8 ? "q8" : "i32", tot.macs, tot.busy, tot.bytes, tot.comp,
            tot.t[0], tot.t[1], a, host_cpu, n_host, kind[0], kind[1], kind[2], kind[3]);
    struct totals_row tr = { util,     to_dev,       from_dev,   n_resident,  n_packed,
                             n_chain,  driver_bytes, model_busy, model_bytes, { kind[0], kind[1], kind[2], kind[3] },
                             host_cpu, n_host };
    total_json(root, rt, &tot, &tr, a);
    print_whole(rt, o, out, cJSON_GetObjectItem(root, "total"));
    // The sweep (not for float: nothing ran in integer).
    int rc = o->utt_frames && o->n_utts && o->n_batch_sizes > 0 && tot.macs > 0
                 ? print_sweep(rt, o, out, root, json_path, pes, lanes)
                 : SPARQ_OK;
    if (!rc && json_path)
        rc = write_json(root, json_path);
    cJSON_Delete(root);
    return rc;
}
