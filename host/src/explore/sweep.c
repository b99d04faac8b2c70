// The sweep: every configuration planned on the model device, its area from
// cached Yosys runs, the Pareto front of RTF against area (sparq_explore.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "sparq_error.h"
#include "sparq_explore.h"

// One pending Yosys run: a popen of scripts/explore_synth.sh, whose one line
// of output is the stat file's path.
struct synth_job {
    FILE *p;
    int point;
    const char *flow;
};

static int job_finish(struct synth_job *j, const char *script, struct sparq_explore_result *r)
{
    char path[4096] = "";
    if (!fgets(path, sizeof path, j->p))
        path[0] = 0;
    int st = pclose(j->p);
    j->p = NULL;
    path[strcspn(path, "\n")] = 0;
    char label[96];
    sparq_explore_config_label(&r->pts[j->point].plan.cfg, label, sizeof label);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !path[0])
        return sparq_fail(SPARQ_EIO, "area: %s synthesis of %s failed (%s; its message is above)", j->flow, label,
                          script);
    return sparq_explore_area_read(&r->pts[j->point].area, j->flow, path);
}

static int synth_all(const struct sparq_explore_options *o, struct sparq_explore_result *r)
{
    int jobs = o->jobs > 0 ? o->jobs : 1, rc = SPARQ_OK;
    struct synth_job *run = sparq_calloc((size_t)jobs, sizeof *run, "synthesis jobs");
    if (!run)
        return SPARQ_ENOMEM;
    int next = 0, total = r->n * o->n_flows;
    while (!rc && next < total) {
        int started = 0;
        for (; started < jobs && next < total; next++) {
            // flow-major: the runs of one batch are of one flow, so of similar length
            int i = next % r->n;
            const char *flow = o->flows[next / r->n];
            if (r->pts[i].infeasible[0])
                continue;
            const struct sparq_device_config *c = &r->pts[i].plan.cfg;
            char cmd[8192];
            snprintf(cmd, sizeof cmd,
                     "sh '%s' '%s' %s %d %d %d %d %d %d XBANKS=%d RBUFS=%d WSTORE=%d QDEPTH=%d LUTS=%d",
                     o->synth_script, o->cache_dir, flow, c->rows, c->cols, c->lanes, c->wdepth, c->xdepth,
                     c->rdepth, c->xbanks ? c->xbanks : 2, c->rbufs ? c->rbufs : 1, c->wstore,
                     c->qdepth < c->cols ? c->cols : c->qdepth, c->luts);
            run[started] = (struct synth_job){ popen(cmd, "r"), i, flow };
            if (!run[started].p) {
                rc = sparq_fail(SPARQ_EIO, "area: cannot run %s", o->synth_script);
                break;
            }
            started++;
        }
        for (int k = 0; k < started; k++) {
            int jr = job_finish(&run[k], o->synth_script, r);
            if (!rc)
                rc = jr;
        }
    }
    free(run);
    return rc;
}

static double rtf_of(const struct sparq_explore_options *o, const struct sparq_explore_plan *p, int ci, int li)
{
    struct sparq_explore_time t;
    sparq_explore_time(p, o->clocks[ci], o->links[li].mbps, &t);
    return o->audio_seconds > 0 ? t.total_s / o->audio_seconds : t.total_s;
}

// A point is on the front if no other point has area <= and RTF <= with
// one of them strictly lower. Points without an area are left off.
static void mark_pareto(const struct sparq_explore_options *o, struct sparq_explore_result *r)
{
    for (int ci = 0; ci < o->n_clocks; ci++)
        for (int li = 0; li < o->n_links; li++)
            for (int i = 0; i < r->n; i++) {
                struct sparq_explore_point *a = &r->pts[i];
                int on = a->area_metric >= 0 && !a->infeasible[0];
                double ra = rtf_of(o, &a->plan, ci, li);
                for (int j = 0; j < r->n && on; j++) {
                    const struct sparq_explore_point *b = &r->pts[j];
                    if (j == i || b->area_metric < 0 || b->infeasible[0])
                        continue;
                    double rb = rtf_of(o, &b->plan, ci, li);
                    if (b->area_metric <= a->area_metric && rb <= ra && (b->area_metric < a->area_metric || rb < ra))
                        on = 0;
                }
                a->pareto[ci * o->n_links + li] = on;
            }
}

int sparq_explore_run(struct sparq_runtime *rt, const struct sparq_explore_options *o, struct sparq_explore_result *r)
{
    memset(r, 0, sizeof *r);
    if (o->n_cfgs < 1 || o->n_clocks < 1 || o->n_links < 1 || o->batch < 1 || !o->n_utts)
        return sparq_fail(SPARQ_EINVAL, "explore: nothing to sweep");
    r->pts = sparq_calloc((size_t)o->n_cfgs, sizeof *r->pts, "explore points");
    if (!r->pts)
        return SPARQ_ENOMEM;
    r->n = o->n_cfgs;
    int rc = SPARQ_OK;
    for (int i = 0; i < r->n && !rc; i++) {
        struct sparq_explore_point *pt = &r->pts[i];
        sparq_explore_area_clear(&pt->area);
        pt->pareto = sparq_calloc((size_t)(o->n_clocks * o->n_links), sizeof(int), "pareto flags");
        rc = pt->pareto ? sparq_explore_plan(rt, &o->cfgs[i], o->frames, o->n_utts, o->batch, &pt->plan)
                        : SPARQ_ENOMEM;
        // The driver refusing the hardware (buffers too small for a layer) is
        // an answer for that point, not an error of the sweep.
        if (rc == SPARQ_EDEVICE) {
            snprintf(pt->infeasible, sizeof pt->infeasible, "%s", sparq_last_error());
            pt->plan.cfg = o->cfgs[i];
            rc = SPARQ_OK;
        } else if (rc) {
            char label[96];
            sparq_explore_config_label(&o->cfgs[i], label, sizeof label);
            rc = sparq_fail_wrap(rc, "plan on %s: ", label);
        }
    }
    if (!rc && o->n_flows)
        rc = synth_all(o, r);
    for (int i = 0; i < r->n && !rc; i++) {
        struct sparq_explore_point *pt = &r->pts[i];
        for (int f = 0; f < SPARQ_FPGA_COUNT; f++)
            pt->fits[f] = sparq_explore_fits(&pt->area, f, NULL);
        pt->area_metric = sparq_explore_area_metric(&pt->area);
    }
    if (!rc)
        mark_pareto(o, r);
    return rc;
}

void sparq_explore_result_free(struct sparq_explore_result *r)
{
    for (int i = 0; i < r->n; i++) {
        sparq_explore_plan_free(&r->pts[i].plan);
        free(r->pts[i].pareto);
    }
    free(r->pts);
    r->pts = NULL;
    r->n = 0;
}
