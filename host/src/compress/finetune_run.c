// One compression-aware fine-tuning run: the trainer with the compressor's
// hooks (sparq_finetune.h), optional distillation, then export.
#include <stdio.h>
#include <string.h>

#include "sparq_clock.h"
#include "sparq_dist.h"
#include "sparq_error.h"
#include "sparq_finetune.h"
#include "sparq_train.h"

struct run_ctx {
    struct sparq_compressor *c;
    const struct sparq_finetune_options *fo;
    const char *teacher_path;
    struct sparq_teacher *teacher;
    char pending_load[4096]; // compress.state to load once the model exists (--resume)
};

static int ensure_compressor(struct run_ctx *x, const struct sparq_model *m)
{
    return x->c ? SPARQ_OK : sparq_compressor_create(&x->c, m, x->fo);
}

static int hook_pre_forward(void *ctx, struct sparq_model *m, int64_t step)
{
    struct run_ctx *x = ctx;
    int rc = ensure_compressor(x, m);
    if (!rc && x->pending_load[0]) {
        rc = sparq_compressor_load(x->c, x->pending_load);
        x->pending_load[0] = 0;
    }
    if (!rc && x->fo->distill > 0 && !x->teacher)
        rc = sparq_teacher_open(&x->teacher, x->teacher_path, m);
    return rc ? rc : sparq_compressor_pre_forward(x->c, m, step);
}

static void hook_pre_step(void *ctx, struct sparq_model *m) { sparq_compressor_pre_step(((struct run_ctx *)ctx)->c, m); }
static void hook_after_eval(void *ctx, struct sparq_model *m) { sparq_compressor_restore(((struct run_ctx *)ctx)->c, m); }

static int hook_save(void *ctx, const char *dir)
{
    struct run_ctx *x = ctx;
    if (!x->c)
        return SPARQ_OK;
    char path[4096];
    snprintf(path, sizeof path, "%s/compress.state", dir);
    return sparq_compressor_save(x->c, path);
}

static int hook_load(void *ctx, const char *dir)
{
    struct run_ctx *x = ctx; // the compressor needs the model: loaded at the first pre_forward
    snprintf(x->pending_load, sizeof x->pending_load, "%s/compress.state", dir);
    return SPARQ_OK;
}

static int hook_post_loss(void *ctx, const float *feats, const int *lens, int B, int T, const float *logits,
                          const int *out_lens, int T2, int V, float *dlogits, double *loss)
{
    struct run_ctx *x = ctx;
    if (!x->teacher)
        return SPARQ_OK;
    return sparq_teacher_distill(x->teacher, feats, lens, B, T, logits, out_lens, T2, V, x->fo->distill, dlogits,
                                 loss);
}

int sparq_finetune_run(const struct sparq_train_options *o, const struct sparq_finetune_options *fo,
                       struct sparq_finetune_result *res)
{
    memset(res, 0, sizeof *res);
    // Refuse a front-end the compressed path lacks before the run writes
    // anything (an unreadable --from is left to the trainer's own message).
    struct sparq_model probe;
    if (o->init_from && sparq_checkpoint_load(o->init_from, &probe, NULL, NULL) == SPARQ_OK) {
        int rc0 = sparq_config_check_compressible(&probe.cfg, o->init_from);
        sparq_model_free(&probe);
        if (rc0)
            return rc0;
    }
    double t0 = sparq_clock_s();
    struct run_ctx x;
    memset(&x, 0, sizeof x);
    x.fo = fo;
    x.teacher_path = fo->teacher ? fo->teacher : o->init_from;
    struct sparq_train_hooks hooks = {
        .ctx = &x,
        .pre_forward = hook_pre_forward,
        .pre_step = hook_pre_step,
        .after_eval = hook_after_eval,
        .save = hook_save,
        .load = hook_load,
        .post_loss = hook_post_loss,
    };
    struct sparq_train_options to = *o;
    to.hooks = &hooks;
    int rc = sparq_train_run(&to);
    sparq_teacher_free(x.teacher);
    if (rc < 0 || (rc == 1 && o->stop && *o->stop)) {
        sparq_compressor_free(x.c);
        return rc;
    }
    if (!sparq_dist_is_root()) { // under mpirun rank 0 alone exports (docs/scaling.md)
        sparq_compressor_free(x.c);
        return SPARQ_OK;
    }
    // Export the final weights with the masks and scales they were trained with.
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", o->out_dir);
    snprintf(res->model_path, sizeof res->model_path, "%s/model.spq", o->out_dir);
    struct sparq_model m;
    rc = sparq_checkpoint_load(ckpt, &m, NULL, NULL);
    if (!rc) {
        rc = ensure_compressor(&x, &m);
        // Resumed at --max-steps: no step ran, so the trained masks and scales
        // are still only in compress.state.
        if (!rc && x.pending_load[0])
            rc = sparq_compressor_load(x.c, x.pending_load);
        if (!rc) {
            struct sparq_export_overrides ov;
            sparq_compressor_overrides(x.c, &ov);
            rc = sparq_export(&m, &fo->spec, &ov, fo->scale_method, res->model_path, &res->export);
            size_t grown = 0; // the FFN chain clips (--readout chain) go next to the read-out clips
            rc = rc ? rc : sparq_compressor_add_chain(x.c, &m, res->model_path, &grown);
            res->export.file_bytes += grown;
        }
        sparq_model_free(&m);
    }
    sparq_compressor_free(x.c);
    if (rc)
        return sparq_fail(rc, "export of %s: %s", res->model_path, sparq_last_error());
    res->seconds = sparq_clock_s() - t0;
    return SPARQ_OK;
}
