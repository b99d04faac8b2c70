// The sweep's table, JSON and gnuplot data (sparq_explore.h, docs/explore.md).
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_device_wire.h"
#include "sparq_explore.h"

static double utilisation(const struct sparq_explore_plan *p)
{
    return p->peak_macs > 0 ? (double)p->model_macs / p->peak_macs : 0;
}

static const char *fit_mark(int v) { return v > 0 ? "yes" : v == 0 ? "no" : "-"; }

int sparq_explore_print(const struct sparq_explore_options *o, const struct sparq_explore_result *r, FILE *out)
{
    const double a = o->audio_seconds;
    fprintf(out, "design-space sweep: %zu utterances, %.1f s of audio, batches of %d; model device (job-cycle formula, "
                 "driver wire bytes incl. the reliability layer); each layer takes the longer of compute and transfer "
                 "(link rate, and 1 byte per clock per direction at the accelerator's FIFO ports)\n",
            o->n_utts, a, o->batch);
    fprintf(out, "%-44s %5s %10s %6s %9s %15s %5s %8s", "config", "MHz", "busy Mcyc", "util", "link MB",
            "to/from dev MB", "res/ch", "RTF comp");
    for (int li = 0; li < o->n_links; li++)
        fprintf(out, " %10s %6s", o->links[li].name, "lnk");
    fprintf(out, " %7s %6s %5s %7s %6s %5s %5s %6s  %-4s %-4s %-4s\n", "iceLUT", "iceFF", "iBRAM", "ecpLUT", "ecpFF",
            "eBRAM", "MULT", "area", "HX8K", "UP5K", "ECP5");
    for (int i = 0; i < r->n; i++) {
        const struct sparq_explore_point *pt = &r->pts[i];
        const struct sparq_explore_plan *p = &pt->plan;
        char label[96];
        sparq_explore_config_label(&p->cfg, label, sizeof label);
        if (pt->infeasible[0]) {
            fprintf(out, "%-44s cannot run this model: %s\n", label, pt->infeasible);
            continue;
        }
        for (int ci = 0; ci < o->n_clocks; ci++) {
            struct sparq_explore_time t;
            sparq_explore_time(p, o->clocks[ci], o->links[0].mbps, &t);
            char tf[32], rc[16];
            snprintf(tf, sizeof tf, "%.1f/%.1f", (double)p->to_dev / 1e6, (double)p->from_dev / 1e6);
            snprintf(rc, sizeof rc, "%d/%d", p->resident, p->chained);
            fprintf(out, "%-44s %5.0f %10.2f %5.1f%% %9.2f %15s %5s %8.4f", label, o->clocks[ci],
                    (double)p->busy / 1e6, 100 * utilisation(p), (double)p->bytes / 1e6, tf, rc,
                    a > 0 ? t.compute_s / a : t.compute_s);
            for (int li = 0; li < o->n_links; li++) {
                sparq_explore_time(p, o->clocks[ci], o->links[li].mbps, &t);
                char lb[16];
                snprintf(lb, sizeof lb, "%d/%d%s", t.link_bound, t.layers, t.port_bound ? "p" : "");
                fprintf(out, " %9.4f%s %6s", a > 0 ? t.total_s / a : t.total_s,
                        pt->pareto[ci * o->n_links + li] ? "*" : " ", lb);
            }
            const struct sparq_explore_area *ar = &pt->area;
            double elut = ar->ecp5_lut < 0 ? -1 : ar->ecp5_lut + 2 * ar->ecp5_ccu + 4 * ar->ecp5_dram;
            char cols[8][16];
            double v[7] = { ar->ice_lut, ar->ice_ff, ar->ice_bram, elut, ar->ecp5_ff, ar->ecp5_bram, ar->ecp5_mult };
            for (int k = 0; k < 7; k++)
                snprintf(cols[k], sizeof cols[k], v[k] < 0 ? "-" : "%.0f", v[k]);
            snprintf(cols[7], sizeof cols[7], pt->area_metric < 0 ? "-" : "%.3f", pt->area_metric);
            fprintf(out, " %7s %6s %5s %7s %6s %5s %5s %6s  %-4s %-4s %-4s\n", cols[0], cols[1], cols[2], cols[3],
                    cols[4], cols[5], cols[6], cols[7], fit_mark(pt->fits[0]), fit_mark(pt->fits[1]),
                    fit_mark(pt->fits[2]));
        }
    }
    fprintf(out, "RTF = board time / audio time (< 1: faster than real time); '*' on the Pareto front of RTF against "
                 "area for that clock and link; lnk = transfer-bound layers / layers (a chain counts once; 'p' if the port, not the link, limits any); res/ch = matrices "
                 "resident in the weight store (loaded once, not in the bytes) / feed-forward chains on the device; "
                 "area = largest share of an LFE5U-85F resource (synth_ecp5)\n");
    // Which layers are link-bound, per configuration at the first clock.
    fprintf(out, "\ntransfer-bound layers at %.0f MHz (transfers longer than compute):\n", o->clocks[0]);
    for (int i = 0; i < r->n; i++) {
        const struct sparq_explore_plan *p = &r->pts[i].plan;
        char label[96];
        sparq_explore_config_label(&p->cfg, label, sizeof label);
        for (int li = 0; li < o->n_links && !r->pts[i].infeasible[0]; li++) {
            fprintf(out, "  %-44s %-8s", label, o->links[li].name);
            // The shorter list: the link-bound layers, or the others.
            struct sparq_explore_time t;
            sparq_explore_time(p, o->clocks[0], o->links[li].mbps, &t);
            int want = 2 * t.link_bound <= t.layers;
            if (t.link_bound == 0)
                fprintf(out, " none (every layer compute-bound)");
            else if (t.link_bound == t.layers)
                fprintf(out, " all %d", t.layers);
            else {
                fprintf(out, want ? " %d:" : " all but %d:", want ? t.link_bound : t.layers - t.link_bound);
                for (int k = 0; k < p->n_layers; k++)
                    if (p->layers[k].calls &&
                        sparq_explore_layer_link_bound(p, k, o->clocks[0], o->links[li].mbps) == want)
                        fprintf(out, " %s", p->layers[k].name);
            }
            fprintf(out, "\n");
        }
    }
    return SPARQ_OK;
}

static cJSON *area_json(const struct sparq_explore_point *pt)
{
    const struct sparq_explore_area *a = &pt->area;
    cJSON *o = cJSON_CreateObject();
    struct { const char *k; double v; } f[] = {
        { "generic_cells", a->generic_cells }, { "ice40_lut4", a->ice_lut },   { "ice40_carry", a->ice_carry },
        { "ice40_ff", a->ice_ff },             { "ice40_bram", a->ice_bram },  { "ice40_dsp", a->ice_dsp },
        { "ecp5_lut4", a->ecp5_lut },          { "ecp5_ccu2c", a->ecp5_ccu },  { "ecp5_ff", a->ecp5_ff },
        { "ecp5_dp16kd", a->ecp5_bram },       { "ecp5_mult18", a->ecp5_mult }, { "ecp5_dpr16x4", a->ecp5_dram },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v >= 0)
            cJSON_AddNumberToObject(o, f[i].k, f[i].v);
    if (pt->area_metric >= 0)
        cJSON_AddNumberToObject(o, "ecp5_share", pt->area_metric);
    cJSON *fits = cJSON_AddObjectToObject(o, "fits");
    cJSON *why = cJSON_AddObjectToObject(o, "does_not_fit_because");
    for (int k = 0; k < SPARQ_FPGA_COUNT; k++)
        if (pt->fits[k] >= 0) {
            char reason[64];
            cJSON_AddBoolToObject(fits, sparq_explore_fpga_name(k), sparq_explore_fits(a, k, reason) > 0);
            if (pt->fits[k] == 0)
                cJSON_AddStringToObject(why, sparq_explore_fpga_name(k), reason);
        }
    return o;
}

int sparq_explore_write_json(const struct sparq_explore_options *o, const struct sparq_explore_result *r,
                             const char *model, const char *data, const char *path)
{
    const double a = o->audio_seconds;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", model);
    cJSON_AddStringToObject(root, "data", data);
    cJSON_AddNumberToObject(root, "utterances", (double)o->n_utts);
    cJSON_AddNumberToObject(root, "audio_seconds", a);
    cJSON_AddNumberToObject(root, "batch", o->batch);
    cJSON_AddStringToObject(root, "source", "model device: job-cycle formula, driver wire bytes (reliability layer "
                                            "included); area: Yosys, hierarchical, scripts/explore_synth.sh");
    cJSON *links = cJSON_AddArrayToObject(root, "links");
    for (int li = 0; li < o->n_links; li++) {
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "name", o->links[li].name);
        cJSON_AddNumberToObject(l, "mbps", o->links[li].mbps);
        cJSON_AddItemToArray(links, l);
    }
    cJSON *pts = cJSON_AddArrayToObject(root, "points");
    for (int i = 0; i < r->n; i++) {
        const struct sparq_explore_point *pt = &r->pts[i];
        const struct sparq_explore_plan *p = &pt->plan;
        cJSON *e = cJSON_CreateObject();
        char label[96];
        sparq_explore_config_label(&p->cfg, label, sizeof label);
        cJSON_AddStringToObject(e, "label", label);
        cJSON *cfg = cJSON_AddObjectToObject(e, "config");
        cJSON_AddNumberToObject(cfg, "rows", p->cfg.rows);
        cJSON_AddNumberToObject(cfg, "cols", p->cfg.cols);
        cJSON_AddNumberToObject(cfg, "lanes", p->cfg.lanes);
        cJSON_AddNumberToObject(cfg, "wdepth", p->cfg.wdepth);
        cJSON_AddNumberToObject(cfg, "xdepth", p->cfg.xdepth);
        cJSON_AddNumberToObject(cfg, "rdepth", p->cfg.rdepth);
        cJSON_AddNumberToObject(cfg, "xbanks", p->cfg.xbanks ? p->cfg.xbanks : 2);
        cJSON_AddNumberToObject(cfg, "rbufs", p->cfg.rbufs ? p->cfg.rbufs : 1);
        cJSON_AddNumberToObject(cfg, "wstore", p->cfg.wstore);
        cJSON_AddNumberToObject(cfg, "qdepth", p->cfg.qdepth < p->cfg.cols ? p->cfg.cols : p->cfg.qdepth);
        cJSON_AddNumberToObject(cfg, "luts", p->cfg.luts);
        if (pt->infeasible[0]) {
            cJSON_AddStringToObject(e, "infeasible", pt->infeasible);
            cJSON_AddItemToArray(pts, e);
            continue;
        }
        cJSON_AddNumberToObject(e, "busy_cycles", (double)p->busy);
        cJSON_AddNumberToObject(e, "macs", (double)p->macs);
        cJSON_AddNumberToObject(e, "device_macs", (double)p->model_macs);
        cJSON_AddNumberToObject(e, "dense_macs", (double)p->dense_macs);
        cJSON_AddNumberToObject(e, "utilisation", utilisation(p));
        cJSON_AddNumberToObject(e, "link_bytes", (double)p->bytes);
        cJSON_AddNumberToObject(e, "bytes_to_device", (double)p->to_dev);
        cJSON_AddNumberToObject(e, "bytes_from_device", (double)p->from_dev);
        // Bytes by kind (sparq_device_wire.h): weights, activations in, results out, overhead.
        double kinds[SPARQ_WIRE_KINDS] = { 0 };
        for (int k = 0; k < p->n_layers; k++)
            for (int j = 0; j < SPARQ_WIRE_KINDS; j++)
                kinds[j] += (double)p->layers[k].model_kind[j];
        cJSON *bk = cJSON_AddObjectToObject(e, "bytes_by_kind");
        for (int j = 0; j < SPARQ_WIRE_KINDS; j++)
            cJSON_AddNumberToObject(bk, sparq_wire_kind_names[j], kinds[j]);
        cJSON_AddNumberToObject(e, "resident_matrices", p->resident);
        cJSON_AddNumberToObject(e, "device_chains", p->chained);
        cJSON_AddItemToObject(e, "area", area_json(pt));
        cJSON *layers = cJSON_AddArrayToObject(e, "layers");
        for (int k = 0; k < p->n_layers; k++) {
            const struct sparq_runtime_layer_stats *s = &p->layers[k];
            if (!s->calls)
                continue;
            cJSON *l = cJSON_CreateObject();
            cJSON_AddStringToObject(l, "name", s->name);
            cJSON_AddStringToObject(l, "format", s->format);
            cJSON_AddNumberToObject(l, "calls", (double)s->calls);
            cJSON_AddNumberToObject(l, "rows", (double)s->rows);
            cJSON_AddNumberToObject(l, "busy_cycles", (double)s->model_busy);
            cJSON_AddNumberToObject(l, "link_bytes", (double)s->model_bytes);
            cJSON_AddNumberToObject(l, "bytes_to_device", (double)s->model_to_dev);
            cJSON_AddNumberToObject(l, "bytes_from_device", (double)s->model_from_dev);
            cJSON_AddBoolToObject(l, "resident", s->resident);
            cJSON_AddNumberToObject(l, "chain", s->chain);
            cJSON *lk = cJSON_AddObjectToObject(l, "bytes_by_kind");
            for (int j = 0; j < SPARQ_WIRE_KINDS; j++)
                cJSON_AddNumberToObject(lk, sparq_wire_kind_names[j], (double)s->model_kind[j]);
            cJSON_AddItemToArray(layers, l);
        }
        cJSON *clocks = cJSON_AddArrayToObject(e, "clocks");
        for (int ci = 0; ci < o->n_clocks; ci++) {
            cJSON *c = cJSON_CreateObject();
            struct sparq_explore_time t;
            sparq_explore_time(p, o->clocks[ci], o->links[0].mbps, &t);
            cJSON_AddNumberToObject(c, "clock_mhz", o->clocks[ci]);
            cJSON_AddNumberToObject(c, "compute_seconds", t.compute_s);
            if (a > 0)
                cJSON_AddNumberToObject(c, "rtf_compute", t.compute_s / a);
            cJSON *ls = cJSON_AddArrayToObject(c, "links");
            for (int li = 0; li < o->n_links; li++) {
                sparq_explore_time(p, o->clocks[ci], o->links[li].mbps, &t);
                cJSON *l = cJSON_CreateObject();
                cJSON_AddStringToObject(l, "name", o->links[li].name);
                cJSON_AddNumberToObject(l, "transfer_seconds", t.link_s);
                cJSON_AddNumberToObject(l, "port_bound_layers", t.port_bound);
                cJSON_AddNumberToObject(l, "seconds", t.total_s);
                if (a > 0)
                    cJSON_AddNumberToObject(l, "rtf", t.total_s / a);
                cJSON_AddBoolToObject(l, "pareto", pt->pareto[ci * o->n_links + li]);
                cJSON *lb = cJSON_AddArrayToObject(l, "link_bound_layers");
                for (int k = 0; k < p->n_layers; k++)
                    if (sparq_explore_layer_link_bound(p, k, o->clocks[ci], o->links[li].mbps))
                        cJSON_AddItemToArray(lb, cJSON_CreateString(p->layers[k].name));
                cJSON_AddItemToArray(ls, l);
            }
            cJSON_AddItemToArray(clocks, c);
        }
        cJSON_AddItemToArray(pts, e);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return sparq_fail(SPARQ_ENOMEM, "explore: out of memory for the JSON");
    int rc = sparq_write_file_atomic(path, text, strlen(text));
    free(text);
    return rc;
}

// One line per configuration and clock: label, area, then per link the RTF
// and whether the point is on that link's front; then the fit flags.
int sparq_explore_write_dat(const struct sparq_explore_options *o, const struct sparq_explore_result *r,
                            const char *path)
{
    size_t cap = 256 + (size_t)r->n * (size_t)o->n_clocks * (64 + 32 * (size_t)o->n_links), n = 0;
    char *buf = sparq_malloc(cap, "explore data");
    if (!buf)
        return SPARQ_ENOMEM;
    n += (size_t)snprintf(buf + n, cap - n, "# label clock_mhz area fits_hx8k fits_up5k fits_ecp5");
    for (int li = 0; li < o->n_links; li++)
        n += (size_t)snprintf(buf + n, cap - n, " rtf_%s pareto_%s", o->links[li].name, o->links[li].name);
    n += (size_t)snprintf(buf + n, cap - n, "\n");
    for (int i = 0; i < r->n; i++) {
        const struct sparq_explore_point *pt = &r->pts[i];
        if (pt->area_metric < 0 || pt->infeasible[0])
            continue;
        for (int ci = 0; ci < o->n_clocks; ci++) {
            n += (size_t)snprintf(buf + n, cap - n, "%dx%dL%d%s %.6g %.6g %d %d %d", pt->plan.cfg.rows,
                                  pt->plan.cfg.cols, pt->plan.cfg.lanes, pt->plan.cfg.wstore ? "+store" : "", o->clocks[ci], pt->area_metric, pt->fits[0] > 0,
                                  pt->fits[1] > 0, pt->fits[2] > 0);
            for (int li = 0; li < o->n_links; li++) {
                struct sparq_explore_time t;
                sparq_explore_time(&pt->plan, o->clocks[ci], o->links[li].mbps, &t);
                double rtf = o->audio_seconds > 0 ? t.total_s / o->audio_seconds : t.total_s;
                n += (size_t)snprintf(buf + n, cap - n, " %.6g %d", rtf, pt->pareto[ci * o->n_links + li]);
            }
            n += (size_t)snprintf(buf + n, cap - n, "\n");
        }
    }
    int rc = sparq_write_file_atomic(path, buf, n);
    free(buf);
    return rc;
}
