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
}

int sparq_report_print(struct sparq_runtime *rt, const struct sparq_report_options *o, FILE *out,
                       const char *json_path)
{
    int count;
    const struct sparq_runtime_layer_stats *st = sparq_runtime_stats(rt, &count);
    struct sparq_device_info info;
    int have_dev = sparq_runtime_device_info(rt, &info) == SPARQ_OK;
    double pes = have_dev ? (double)info.rows * info.cols : 0;
    double hz = o->clock_mhz * 1e6;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "backend", sparq_runtime_backend(rt));
    cJSON_AddNumberToObject(root, "clock_mhz", o->clock_mhz);
    if (have_dev) {
        cJSON_AddNumberToObject(root, "array_rows", info.rows);
        cJSON_AddNumberToObject(root, "array_cols", info.cols);
    }
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    fprintf(out, "\nthroughput on backend %s%s", sparq_runtime_backend(rt), have_dev ? "" : " (no device: MACs only)\n");
    if (have_dev)
        fprintf(out, ", %dx%d array at %.0f MHz; link %s %.0f MB/s / %s %.0f MB/s\n", info.rows, info.cols,
                o->clock_mhz, o->link_names[0], o->link_mbps[0], o->link_names[1], o->link_mbps[1]);
    fprintf(out, "%-22s %-10s %7s %12s %12s %6s %12s %9s %9s %9s %-7s\n", "matmul", "format", "calls", "MACs",
            "busy cyc", "util", "link bytes", "comp ms", "FX2 ms", "FT601 ms", "bound");
    // Roofline data for gnuplot beside the JSON: intensity (MACs per link
    // byte) and attained MAC/s per layer with each link.
    FILE *dat = NULL;
    if (json_path && have_dev) {
        char dpath[4096];
        snprintf(dpath, sizeof dpath, "%s.dat", json_path);
        dat = fopen(dpath, "w");
        if (dat)
            fprintf(dat, "# name intensity_macs_per_byte macs_per_s_link0 macs_per_s_link1 peak_macs_per_s bw0 bw1\n");
    }
    double tot_macs = 0, tot_dense = 0, tot_busy = 0, tot_bytes = 0, tot_t[2] = { 0, 0 }, tot_comp = 0;
    for (int i = 0; i < count; i++) {
        const struct sparq_runtime_layer_stats *s = &st[i];
        if (!s->calls)
            continue;
        double bytes = (double)(s->bytes_out + s->bytes_in);
        double comp = have_dev ? (double)s->busy_cycles / hz : 0;
        double link0 = bytes / (o->link_mbps[0] * 1e6), link1 = bytes / (o->link_mbps[1] * 1e6);
        double util = have_dev && s->busy_cycles ? (double)s->device_macs / ((double)s->busy_cycles * pes) : 0;
        // Transfers overlap compute inside a layer (double-buffered), so a layer
        // takes the longer of the two.
        double t0 = comp > link0 ? comp : link0, t1 = comp > link1 ? comp : link1;
        fprintf(out, "%-22s %-10s %7llu %12llu %12llu %5.1f%% %12.0f %9.3f %9.3f %9.3f %-7s\n", s->name, s->format,
                (unsigned long long)s->calls, (unsigned long long)s->macs, (unsigned long long)s->busy_cycles,
                100 * util, bytes, 1e3 * comp, 1e3 * t0, 1e3 * t1,
                !have_dev ? "-" : comp >= link0 ? "compute" : "link");
        if (dat && bytes > 0 && t0 > 0)
            fprintf(dat, "%s %.6g %.6g %.6g %.6g %.6g %.6g\n", s->name, (double)s->device_macs / bytes,
                    (double)s->device_macs / t0, (double)s->device_macs / t1, pes * hz, o->link_mbps[0] * 1e6,
                    o->link_mbps[1] * 1e6);
        tot_macs += (double)s->macs;
        tot_dense += (double)s->dense_macs;
        tot_busy += (double)s->busy_cycles;
        tot_bytes += bytes;
        tot_comp += comp;
        tot_t[0] += t0;
        tot_t[1] += t1;
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "name", s->name);
        cJSON_AddStringToObject(l, "format", s->format);
        cJSON_AddNumberToObject(l, "out", s->out);
        cJSON_AddNumberToObject(l, "in", s->in);
        cJSON_AddNumberToObject(l, "calls", (double)s->calls);
        cJSON_AddNumberToObject(l, "rows", (double)s->rows);
        cJSON_AddNumberToObject(l, "macs", (double)s->macs);
        cJSON_AddNumberToObject(l, "dense_macs", (double)s->dense_macs);
        cJSON_AddNumberToObject(l, "busy_cycles", (double)s->busy_cycles);
        cJSON_AddNumberToObject(l, "device_cycles", (double)s->device_cycles);
        cJSON_AddNumberToObject(l, "utilisation", util);
        cJSON_AddNumberToObject(l, "link_bytes", bytes);
        cJSON_AddNumberToObject(l, "compute_seconds", comp);
        cJSON_AddNumberToObject(l, "seconds_link0", t0);
        cJSON_AddNumberToObject(l, "seconds_link1", t1);
        cJSON_AddNumberToObject(l, "host_seconds", s->seconds);
        cJSON_AddItemToArray(layers, l);
    }
    double dev_macs = 0;
    for (int i = 0; i < count; i++)
        dev_macs += (double)st[i].device_macs;
    double util = have_dev && tot_busy > 0 ? dev_macs / (tot_busy * pes) : 0;
    fprintf(out, "%-22s %-10s %7s %12.0f %12.0f %5.1f%% %12.0f %9.3f %9.3f %9.3f\n", "total", "", "", tot_macs,
            tot_busy, 100 * util, tot_bytes, 1e3 * tot_comp, 1e3 * tot_t[0], 1e3 * tot_t[1]);
    fprintf(out, "MACs done %.0f of %.0f dense (%.1f%%: sparsity skips the rest)\n", tot_macs, tot_dense,
            tot_dense > 0 ? 100 * tot_macs / tot_dense : 0);
    if (have_dev && o->audio_seconds > 0)
        fprintf(out, "real-time factor of the matmuls on a board: %.4f (%s), %.4f (%s), %.4f (compute only)\n",
                tot_t[0] / o->audio_seconds, o->link_names[0], tot_t[1] / o->audio_seconds, o->link_names[1],
                tot_comp / o->audio_seconds);
    cJSON *tot = cJSON_AddObjectToObject(root, "total");
    cJSON_AddNumberToObject(tot, "macs", tot_macs);
    cJSON_AddNumberToObject(tot, "dense_macs", tot_dense);
    cJSON_AddNumberToObject(tot, "busy_cycles", tot_busy);
    cJSON_AddNumberToObject(tot, "utilisation", util);
    cJSON_AddNumberToObject(tot, "link_bytes", tot_bytes);
    cJSON_AddNumberToObject(tot, "compute_seconds", tot_comp);
    cJSON_AddNumberToObject(tot, "seconds_link0", tot_t[0]);
    cJSON_AddNumberToObject(tot, "seconds_link1", tot_t[1]);
    cJSON_AddNumberToObject(tot, "audio_seconds", o->audio_seconds);
    if (o->audio_seconds > 0) {
        cJSON_AddNumberToObject(tot, "rtf_link0", tot_t[0] / o->audio_seconds);
        cJSON_AddNumberToObject(tot, "rtf_link1", tot_t[1] / o->audio_seconds);
    }
    if (dat)
        fclose(dat);
    int rc = SPARQ_OK;
    if (json_path) {
        char *text = cJSON_Print(root);
        rc = text ? sparq_write_file_atomic(json_path, text, strlen(text))
                  : sparq_fail(SPARQ_ENOMEM, "report: cannot format JSON");
        free(text);
    }
    cJSON_Delete(root);
    return rc;
}
