// One configuration planned on the model device, and its times at a clock
// and a link (sparq_explore.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_explore.h"

int sparq_explore_default_links(struct sparq_explore_link *links)
{
    static const struct sparq_explore_link def[] = {
        { "FX2", 40.0 },     // FX2LP bulk on USB 2.0 (docs/runtime.md's report)
        { "FT601", 200.0 },  // FT601 on USB 3.0
        { "UART3M", 0.3 },   // 3 Mbaud 8N1: 10 bits a byte (the UART images, docs/board.md)
    };
    memcpy(links, def, sizeof def);
    return (int)(sizeof def / sizeof def[0]);
}

int sparq_explore_parse_link(const char *text, struct sparq_explore_link *link)
{
    const char *eq = strchr(text, '=');
    size_t n = eq ? (size_t)(eq - text) : 0;
    char *end = NULL;
    double v = eq ? strtod(eq + 1, &end) : 0;
    if (!eq || n == 0 || n >= sizeof link->name || end == eq + 1 || *end || !(v > 0) || v > 1e6)
        return sparq_fail(SPARQ_EINVAL, "--link: '%s' is not NAME=MBPS (MB/s in (0, 1e6])", text);
    memcpy(link->name, text, n);
    link->name[n] = 0;
    link->mbps = v;
    return SPARQ_OK;
}

static int pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }

int sparq_explore_config_check(const struct sparq_device_config *c)
{
    // The same conditions that stop elaboration in rtl/sparq_engine.v and
    // rtl/sparq_ctrl.v (an instance of *_illegal_parameters).
    if (!pow2(c->rows) || c->rows < 2)
        return sparq_fail(SPARQ_EINVAL, "rows %d: the RTL needs a power of two >= 2", c->rows);
    if (c->cols < 2 || c->cols > 65535)
        return sparq_fail(SPARQ_EINVAL, "cols %d: the RTL needs 2..65535", c->cols);
    if (!pow2(c->wdepth) || c->wdepth < 32 || c->wdepth > 262144)
        return sparq_fail(SPARQ_EINVAL, "wdepth %d: the RTL needs a power of two in 32..262144", c->wdepth);
    if (!pow2(c->xdepth) || c->xdepth < 4 || c->xdepth > 262144)
        return sparq_fail(SPARQ_EINVAL, "xdepth %d: the RTL needs a power of two in 4..262144", c->xdepth);
    if (!pow2(c->rdepth) || c->rdepth < c->rows || c->rdepth > 32768)
        return sparq_fail(SPARQ_EINVAL, "rdepth %d: the RTL needs a power of two in rows (%d)..32768", c->rdepth,
                          c->rows);
    if (c->lanes != 1 && c->lanes != 4)
        return sparq_fail(SPARQ_EINVAL, "lanes %d: the RTL has 1 or 4", c->lanes);
    if (c->lanes == 4 && c->rdepth < 4)
        return sparq_fail(SPARQ_EINVAL, "rdepth %d: the 4-lane RTL needs >= 4 (two result banks)", c->rdepth);
    // Version 3 (rtl/sparq_engine.v, rtl/sparq_ctrl.v; 0 in the C config = the v2 value).
    int xb = c->xbanks ? c->xbanks : 2, rb = c->rbufs ? c->rbufs : 1, q = c->qdepth < c->cols ? c->cols : c->qdepth;
    int v3 = xb != 2 || rb != 1 || c->wstore || q > c->cols || c->luts;
    if (!pow2(xb) || xb < 2 || xb > 16)
        return sparq_fail(SPARQ_EINVAL, "xbanks %d: the RTL needs a power of two in 2..16", xb);
    if (rb < 1 || rb > 2)
        return sparq_fail(SPARQ_EINVAL, "rbufs %d: the RTL has 1 or 2", rb);
    if (c->wstore && (!pow2(c->wstore) || c->wstore < 16 || c->wstore > 16777216))
        return sparq_fail(SPARQ_EINVAL, "wstore %d: the RTL needs 0 or a power of two in 16..16777216", c->wstore);
    if (c->luts < 0 || c->luts > 255 || (c->luts && c->lanes != 4))
        return sparq_fail(SPARQ_EINVAL, "luts %d: the RTL needs 0..255, and lanes 4 for any", c->luts);
    if (q > 32768 || (v3 && (q < 32 || !pow2(q))))
        return sparq_fail(SPARQ_EINVAL, "qdepth %d: the RTL needs cols..32768, with version-3 features a power of "
                          "two >= 32", q);
    return SPARQ_OK;
}

// 262144 -> "256k": labels stay short and exact.
static void num(char *b, size_t n, int v)
{
    if (v >= 1024 && v % 1024 == 0)
        snprintf(b, n, "%dk", v / 1024);
    else
        snprintf(b, n, "%d", v);
}

void sparq_explore_config_label(const struct sparq_device_config *c, char *buf, size_t size)
{
    char w[16], x[16], r[16], st[16], q[16];
    num(w, sizeof w, c->wdepth), num(x, sizeof x, c->xdepth), num(r, sizeof r, c->rdepth);
    num(st, sizeof st, c->wstore), num(q, sizeof q, c->qdepth < c->cols ? c->cols : c->qdepth);
    snprintf(buf, size, "%dx%d L%d w%s x%s r%s xb%d rb%d s%s q%s t%d", c->rows, c->cols, c->lanes, w, x, r,
             c->xbanks ? c->xbanks : 2, c->rbufs ? c->rbufs : 1, st, q, c->luts);
}

// MACs a PE can do per busy cycle on a layer of this format ("int4-2:4"):
// min(lanes, 8 / weight bits), as the runtime's report counts utilisation.
static double peak_macs_per_pe(const char *format, int lanes)
{
    int bits = 8;
    if (sscanf(format, "int%d", &bits) != 1 || bits < 1 || bits > 8)
        bits = 8;
    int per = 8 / bits;
    return per < lanes ? per : lanes;
}

int sparq_explore_plan(struct sparq_runtime *rt, const struct sparq_device_config *cfg, const int *frames, size_t n,
                       int batch, struct sparq_explore_plan *p)
{
    memset(p, 0, sizeof *p);
    p->cfg = *cfg;
    int count = 0;
    sparq_runtime_stats(rt, &count);
    p->layers = sparq_calloc(count > 0 ? (size_t)count : 1, sizeof *p->layers, "explore layers");
    if (!p->layers)
        return SPARQ_ENOMEM;
    p->n_layers = count;
    // Each utterance's own rows, as sparq eval decodes (sparq_runtime_decode skips padded rows).
    int rc = sparq_runtime_plan_rows(rt, cfg, frames, n, batch, SPARQ_PLAN_VALID, p->layers);
    if (rc)
        return rc;
    const double pes = (double)cfg->rows * cfg->cols;
    const int lanes = cfg->lanes > 1 ? cfg->lanes : 1;
    for (int i = 0; i < count; i++) {
        const struct sparq_runtime_layer_stats *s = &p->layers[i];
        p->busy += s->model_busy;
        p->macs += s->macs;
        p->model_macs += s->model_macs;
        p->dense_macs += s->dense_macs;
        p->bytes += s->model_bytes;
        p->to_dev += s->model_to_dev;
        p->from_dev += s->model_from_dev;
        p->resident += s->resident && s->calls;
        p->chained += s->chain == 1 && s->calls;
        p->peak_macs += (double)s->model_busy * pes * peak_macs_per_pe(s->format, lanes);
    }
    return SPARQ_OK;
}

void sparq_explore_plan_free(struct sparq_explore_plan *p)
{
    free(p->layers);
    p->layers = NULL;
    p->n_layers = 0;
}

// Transfer time of a layer: the link carries both directions' bytes at its
// rate, and the accelerator's byte FIFO ports (sparq_top rx/tx) take or give
// at most one byte per clock each, so no link feeds it faster than the clock.
static double transfer_s(const struct sparq_runtime_layer_stats *s, double clock_mhz, double mbps)
{
    double link = (double)s->model_bytes / (mbps * 1e6);
    double rx = (double)s->model_to_dev / (clock_mhz * 1e6), tx = (double)s->model_from_dev / (clock_mhz * 1e6);
    double port = rx > tx ? rx : tx;
    return link > port ? link : port;
}

int sparq_explore_layer_link_bound(const struct sparq_explore_plan *p, int i, double clock_mhz, double mbps)
{
    const struct sparq_runtime_layer_stats *s = &p->layers[i];
    double comp = (double)s->model_busy / (clock_mhz * 1e6);
    return s->calls && s->chain != 2 && transfer_s(s, clock_mhz, mbps) > comp;
}

void sparq_explore_time(const struct sparq_explore_plan *p, double clock_mhz, double mbps, struct sparq_explore_time *t)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < p->n_layers; i++) {
        const struct sparq_runtime_layer_stats *s = &p->layers[i];
        if (!s->calls || s->chain == 2) // a chain's W2 runs inside its W1's device numbers
            continue;
        double comp = (double)s->model_busy / (clock_mhz * 1e6), link = transfer_s(s, clock_mhz, mbps);
        t->compute_s += comp;
        t->link_s += link;
        t->total_s += comp > link ? comp : link;
        t->link_bound += link > comp;
        t->port_bound += link > (double)s->model_bytes / (mbps * 1e6);
        t->layers++;
    }
}
