// Runtime throughput report (sparq_report.h).
#include "sparq_report.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_device.h"
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

static void add_layer(struct board_time *b, const struct sparq_report_options *o, double macs, double dense,
                      double busy, double bytes)
{
    double comp = busy / (o->clock_mhz * 1e6);
    b->macs += macs;
    b->dense += dense;
    b->busy += busy;
    b->bytes += bytes;
    b->comp += comp;
    for (int k = 0; k < 2; k++) {
        double link = bytes / (o->link_mbps[k] * 1e6);
        b->t[k] += comp > link ? comp : link;
    }
}

// MACs a PE can do per busy cycle on a layer of this format ("int4-2:4"):
// min(lanes, 8 / weight bits), so utilisation stays a fraction of the peak.
static double peak_macs_per_pe(const char *format, int lanes)
{
    int bits = 8;
    if (sscanf(format, "int%d", &bits) != 1 || bits < 1 || bits > 8)
        bits = 8;
    int per = 8 / bits;
    return per < lanes ? per : lanes;
}

static const char *readout_name(enum sparq_readout r) { return r == SPARQ_READOUT_Q8 ? "int8 (q8)" : "int32"; }

// The batch-size sweep: table, JSON array, and a .sweep.dat for gnuplot.
static int print_sweep(struct sparq_runtime *rt, const struct sparq_report_options *o, FILE *out, cJSON *root,
                       const char *json_path)
{
    int count;
    sparq_runtime_stats(rt, &count);
    struct sparq_runtime_layer_stats *ps = sparq_calloc((size_t)count, sizeof *ps, "sweep statistics");
    if (!ps)
        return SPARQ_ENOMEM;
    FILE *dat = NULL;
    if (json_path) {
        char dpath[4096];
        snprintf(dpath, sizeof dpath, "%s.sweep.dat", json_path);
        dat = fopen(dpath, "w");
        if (dat)
            fprintf(dat, "# batch rtf_link0 rtf_link1 rtf_compute link_bytes busy_cycles\n");
    }
    fprintf(out, "\nbatch-size sweep (model: the decode's calls for %zu utterances, %.1f s of audio, in batches of B "
                 "length-sorted utterances; weights are loaded once per batch and 2 result-buffer chunks)\n",
            o->n_utts, o->audio_seconds);
    fprintf(out, "%6s %8s %12s %14s %14s %10s %10s %10s %10s %10s\n", "B", "batches", "padded rows", "busy cyc",
            "link bytes", "comp ms", "FX2 ms", "FT601 ms", "RTF FX2", "RTF FT601");
    cJSON *arr = cJSON_AddArrayToObject(root, "batch_sweep");
    int rc = SPARQ_OK;
    for (int bi = 0; bi < o->n_batch_sizes && !rc; bi++) {
        int B = o->batch_sizes[bi];
        rc = sparq_runtime_plan(rt, o->utt_frames, o->n_utts, B, ps);
        if (rc)
            break;
        struct board_time bt;
        memset(&bt, 0, sizeof bt);
        double rows = 0;
        for (int i = 0; i < count; i++) {
            if (!ps[i].calls)
                continue;
            add_layer(&bt, o, (double)ps[i].macs, (double)ps[i].dense_macs, (double)ps[i].model_busy,
                      (double)ps[i].model_bytes);
            if (!strcmp(ps[i].name, "sub_lin_w"))
                rows = (double)ps[i].rows;
        }
        double a = o->audio_seconds > 0 ? o->audio_seconds : 0;
        size_t batches = (o->n_utts + (size_t)B - 1) / (size_t)B;
        fprintf(out, "%6d %8zu %12.0f %14.0f %14.0f %10.1f %10.1f %10.1f %10.4f %10.4f\n", B, batches, rows, bt.busy,
                bt.bytes, 1e3 * bt.comp, 1e3 * bt.t[0], 1e3 * bt.t[1], a > 0 ? bt.t[0] / a : 0,
                a > 0 ? bt.t[1] / a : 0);
        if (dat)
            fprintf(dat, "%d %.6g %.6g %.6g %.0f %.0f\n", B, a > 0 ? bt.t[0] / a : 0, a > 0 ? bt.t[1] / a : 0,
                    a > 0 ? bt.comp / a : 0, bt.bytes, bt.busy);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "batch", B);
        cJSON_AddNumberToObject(e, "batches", (double)batches);
        cJSON_AddNumberToObject(e, "padded_rows", rows);
        cJSON_AddNumberToObject(e, "macs", bt.macs);
        cJSON_AddNumberToObject(e, "busy_cycles", bt.busy);
        cJSON_AddNumberToObject(e, "link_bytes", bt.bytes);
        cJSON_AddNumberToObject(e, "compute_seconds", bt.comp);
        cJSON_AddNumberToObject(e, "seconds_link0", bt.t[0]);
        cJSON_AddNumberToObject(e, "seconds_link1", bt.t[1]);
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
    return rc;
}

int sparq_report_print(struct sparq_runtime *rt, const struct sparq_report_options *o, FILE *out,
                       const char *json_path)
{
    int count;
    const struct sparq_runtime_layer_stats *st = sparq_runtime_stats(rt, &count);
    struct sparq_device_info info;
    // Measured: the device's counters and the wire (ref/sim/usb). Otherwise
    // (cpu) the same calls on the model device of the default hardware.
    int measured = sparq_runtime_device_info(rt, &info) == SPARQ_OK;
    if (!measured) {
        const struct sparq_device_config *c = &sparq_device_default_config;
        info = (struct sparq_device_info){ 1, c->rows, c->cols, 2, c->wdepth, c->xdepth, c->rdepth, 7, 7, c->timeout };
    }
    double pes = (double)info.rows * info.cols;
    int lanes = sparq_runtime_lanes(rt);
    double hz = o->clock_mhz * 1e6;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "backend", sparq_runtime_backend(rt));
    cJSON_AddStringToObject(root, "source", measured ? "device counters and wire bytes" : "model");
    cJSON_AddStringToObject(root, "readout", sparq_runtime_readout(rt) == SPARQ_READOUT_Q8 ? "q8" : "i32");
    cJSON_AddNumberToObject(root, "clock_mhz", o->clock_mhz);
    cJSON_AddNumberToObject(root, "link0_mbps", o->link_mbps[0]);
    cJSON_AddNumberToObject(root, "link1_mbps", o->link_mbps[1]);
    cJSON_AddNumberToObject(root, "array_rows", info.rows);
    cJSON_AddNumberToObject(root, "array_cols", info.cols);
    cJSON_AddNumberToObject(root, "lanes", lanes);
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    fprintf(out, "\nthroughput on backend %s (%s; read-out %s), %dx%d array (%d lane%s per PE) at %.0f MHz; link %s "
                 "%.0f MB/s / %s %.0f MB/s\n",
            sparq_runtime_backend(rt), measured ? "device counters, wire bytes" : "job-cycle and link model",
            readout_name(sparq_runtime_readout(rt)), info.rows, info.cols, lanes, lanes > 1 ? "s" : "", o->clock_mhz, o->link_names[0],
            o->link_mbps[0], o->link_names[1], o->link_mbps[1]);
    fprintf(out, "%-22s %-10s %7s %12s %12s %6s %12s %9s %9s %9s %-7s\n", "matmul", "format", "calls", "MACs",
            "busy cyc", "util", "link bytes", "comp ms", "FX2 ms", "FT601 ms", "bound");
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
    for (int i = 0; i < count; i++) {
        const struct sparq_runtime_layer_stats *s = &st[i];
        if (!s->calls)
            continue;
        double bytes = (double)(measured ? s->wire_bytes : s->model_bytes);
        double busy = (double)(measured ? s->busy_cycles : s->model_busy);
        double dmacs = (double)(measured ? s->device_macs : s->model_macs);
        double comp = busy / hz;
        double link0 = bytes / (o->link_mbps[0] * 1e6), link1 = bytes / (o->link_mbps[1] * 1e6);
        double peak = busy * pes * peak_macs_per_pe(s->format, lanes);
        double util = peak > 0 ? dmacs / peak : 0;
        double t0 = comp > link0 ? comp : link0, t1 = comp > link1 ? comp : link1;
        add_layer(&tot, o, (double)s->macs, (double)s->dense_macs, busy, bytes);
        dev_macs += dmacs;
        peak_macs += peak;
        model_busy += (double)s->model_busy;
        model_bytes += (double)s->model_bytes;
        driver_bytes += (double)(s->bytes_out + s->bytes_in);
        fprintf(out, "%-22s %-10s %7llu %12llu %12.0f %5.1f%% %12.0f %9.3f %9.3f %9.3f %-7s\n", s->name, s->format,
                (unsigned long long)s->calls, (unsigned long long)s->macs, busy, 100 * util, bytes, 1e3 * comp,
                1e3 * t0, 1e3 * t1, comp >= link0 ? "compute" : "link");
        if (dat && bytes > 0 && t0 > 0)
            fprintf(dat, "%s %.6g %.6g %.6g %.6g %.6g %.6g\n", s->name, dmacs / bytes, dmacs / t0, dmacs / t1,
                    pes * hz * peak_macs_per_pe(s->format, lanes), o->link_mbps[0] * 1e6, o->link_mbps[1] * 1e6);
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "name", s->name);
        cJSON_AddStringToObject(l, "format", s->format);
        cJSON_AddNumberToObject(l, "out", s->out);
        cJSON_AddNumberToObject(l, "in", s->in);
        cJSON_AddNumberToObject(l, "calls", (double)s->calls);
        cJSON_AddNumberToObject(l, "rows", (double)s->rows);
        cJSON_AddNumberToObject(l, "macs", (double)s->macs);
        cJSON_AddNumberToObject(l, "dense_macs", (double)s->dense_macs);
        cJSON_AddNumberToObject(l, "busy_cycles", busy);
        cJSON_AddNumberToObject(l, "device_cycles", (double)s->device_cycles);
        cJSON_AddNumberToObject(l, "utilisation", util);
        cJSON_AddNumberToObject(l, "link_bytes", bytes);
        cJSON_AddNumberToObject(l, "driver_bytes", (double)(s->bytes_out + s->bytes_in));
        cJSON_AddNumberToObject(l, "model_busy_cycles", (double)s->model_busy);
        cJSON_AddNumberToObject(l, "model_link_bytes", (double)s->model_bytes);
        cJSON_AddNumberToObject(l, "compute_seconds", comp);
        cJSON_AddNumberToObject(l, "seconds_link0", t0);
        cJSON_AddNumberToObject(l, "seconds_link1", t1);
        cJSON_AddNumberToObject(l, "host_seconds", s->seconds);
        cJSON_AddItemToArray(layers, l);
    }
    if (dat)
        fclose(dat);
    double util = peak_macs > 0 ? dev_macs / peak_macs : 0;
    fprintf(out, "%-22s %-10s %7s %12.0f %12.0f %5.1f%% %12.0f %9.3f %9.3f %9.3f\n", "total", "", "", tot.macs,
            tot.busy, 100 * util, tot.bytes, 1e3 * tot.comp, 1e3 * tot.t[0], 1e3 * tot.t[1]);
    fprintf(out, "MACs done %.0f of %.0f dense (%.1f%%: sparsity skips the rest)\n", tot.macs, tot.dense,
            tot.dense > 0 ? 100 * tot.macs / tot.dense : 0);
    if (measured)
        fprintf(out, "model check: busy cycles %.0f measured, %.0f by the job-cycle model; wire bytes %.0f measured, "
                     "%.0f by the driver's accounting (%s); driver bytes %.0f + reliability layer %.0f\n",
                tot.busy, model_busy, tot.bytes, model_bytes,
                tot.busy == model_busy && tot.bytes == model_bytes ? "equal" : "DIFFER", driver_bytes,
                tot.bytes - driver_bytes);
    double a = o->audio_seconds;
    if (a > 0)
        fprintf(out, "real-time factor of the matmuls on a board: %.4f (%s), %.4f (%s), %.4f (compute only)\n",
                tot.t[0] / a, o->link_names[0], tot.t[1] / a, o->link_names[1], tot.comp / a);
    // One grep-able line per run (make demo builds its comparison from it).
    fprintf(out, "summary: readout %s macs %.0f busy %.0f bytes %.0f comp_s %.6g link0_s %.6g link1_s %.6g audio_s %.6g\n",
            sparq_runtime_readout(rt) == SPARQ_READOUT_Q8 ? "q8" : "i32", tot.macs, tot.busy, tot.bytes, tot.comp,
            tot.t[0], tot.t[1], a);
    cJSON *tj = cJSON_AddObjectToObject(root, "total");
    cJSON_AddNumberToObject(tj, "macs", tot.macs);
    cJSON_AddNumberToObject(tj, "dense_macs", tot.dense);
    cJSON_AddNumberToObject(tj, "busy_cycles", tot.busy);
    cJSON_AddNumberToObject(tj, "utilisation", util);
    cJSON_AddNumberToObject(tj, "link_bytes", tot.bytes);
    cJSON_AddNumberToObject(tj, "driver_bytes", driver_bytes);
    cJSON_AddNumberToObject(tj, "model_busy_cycles", model_busy);
    cJSON_AddNumberToObject(tj, "model_link_bytes", model_bytes);
    cJSON_AddNumberToObject(tj, "compute_seconds", tot.comp);
    cJSON_AddNumberToObject(tj, "seconds_link0", tot.t[0]);
    cJSON_AddNumberToObject(tj, "seconds_link1", tot.t[1]);
    cJSON_AddNumberToObject(tj, "audio_seconds", a);
    if (a > 0) {
        cJSON_AddNumberToObject(tj, "rtf_link0", tot.t[0] / a);
        cJSON_AddNumberToObject(tj, "rtf_link1", tot.t[1] / a);
        cJSON_AddNumberToObject(tj, "rtf_compute", tot.comp / a);
    }
    int rc = SPARQ_OK;
    if (o->utt_frames && o->n_utts && o->n_batch_sizes > 0 && tot.macs > 0) // float: nothing ran in integer
        rc = print_sweep(rt, o, out, root, json_path);
    if (!rc && json_path) {
        char *text = cJSON_Print(root);
        rc = text ? sparq_write_file_atomic(json_path, text, strlen(text))
                  : sparq_fail(SPARQ_ENOMEM, "report: cannot format JSON");
        free(text);
    }
    cJSON_Delete(root);
    return rc;
}
