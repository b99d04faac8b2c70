// Export: compress a float model's weight matmuls (mask, scales, quantize)
// and pack them into the compressed model file (docs/modelfile.md). The
// runtime reads what this writes; it is part of compression, not inference.
#include "sparq_export.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_modelfile.h"
#include "sparq_readout.h"

int sparq_tensor_is_matmul(const struct sparq_tensor_info *t, int *out, int *in)
{
    size_t n = strlen(t->name);
    // depthwise convs are no matmul (dwsep4's sub2_dw_w included)
    if (t->init != SPARQ_INIT_W || t->fan_in <= 0 || (n >= 9 && !strcmp(t->name + n - 9, "conv_dw_w")) ||
        !strcmp(t->name, "sub2_dw_w"))
        return 0;
    *in = t->fan_in;
    *out = (int)(t->size / (size_t)t->fan_in);
    return 1;
}

void sparq_spq_config_to_ints(const struct sparq_config *c, int32_t v[SPARQ_SPQ_CONFIG_INTS])
{
    int32_t tmp[SPARQ_SPQ_CONFIG_INTS] = { c->n_mels, c->sub_channels, c->d_model, c->n_heads,
                                 c->ffn_dim, c->kernel, c->n_layers, c->vocab };
    memcpy(v, tmp, sizeof tmp);
}

void sparq_spq_ints_to_config(struct sparq_config *c, const int32_t v[SPARQ_SPQ_CONFIG_INTS])
{
    // Fields a .spq file does not store (dropout: training only) keep their
    // defaults instead of whatever the caller's stack held.
    sparq_config_default(c);
    c->n_mels = v[0];
    c->sub_channels = v[1];
    c->d_model = v[2];
    c->n_heads = v[3];
    c->ffn_dim = v[4];
    c->kernel = v[5];
    c->n_layers = v[6];
    c->vocab = v[7];
}

// The mask tensor i is exported with: the fine-tuning override, or N:M
// magnitude pruning into *owned (caller frees), or NULL (dense).
static int export_mask(const uint8_t **mask, uint8_t **owned, const struct sparq_export_overrides *ov, int i,
                       const float *w, int out, int in, int kept)
{
    *owned = NULL;
    *mask = ov && ov->masks && ov->masks[i] ? ov->masks[i] : NULL;
    if (*mask || kept == 4)
        return SPARQ_OK;
    *owned = sparq_malloc((size_t)out * in, "export mask");
    if (!*owned)
        return SPARQ_ENOMEM;
    *mask = *owned;
    return sparq_nm_mask(*owned, w, out, in, kept);
}

static int add_buffers(struct sparq_mfile *f, const struct sparq_model *m)
{
    const struct sparq_config *c = &m->cfg;
    int rc = sparq_mfile_add_f32(f, "cmvn_mean", m->buf.cmvn_mean, (size_t)c->n_mels);
    rc = rc ? rc : sparq_mfile_add_f32(f, "cmvn_istd", m->buf.cmvn_istd, (size_t)c->n_mels);
    char name[48];
    for (int l = 0; !rc && l < c->n_layers; l++) {
        snprintf(name, sizeof name, "layer%d.bn_mean", l);
        rc = sparq_mfile_add_f32(f, name, m->buf.bn_mean[l], (size_t)c->d_model);
        snprintf(name, sizeof name, "layer%d.bn_var", l);
        rc = rc ? rc : sparq_mfile_add_f32(f, name, m->buf.bn_var[l], (size_t)c->d_model);
    }
    return rc;
}

// Appends `name` to the list in buf unless already there, with "layerN."
// shown as "layer*." so the list stays short for deep models.
static void list_add(char *buf, size_t size, const char *name)
{
    char shown[96];
    const char *p = name;
    if (!strncmp(p, "layer", 5) && isdigit((unsigned char)p[5])) {
        for (p += 5; isdigit((unsigned char)*p); p++)
            ;
        snprintf(shown, sizeof shown, "layer*%s", p);
    } else
        snprintf(shown, sizeof shown, "%s", name);
    size_t n = strlen(buf), k = strlen(shown);
    for (const char *hit = strstr(buf, shown); hit; hit = strstr(hit + 1, shown))
        if ((hit == buf || hit[-1] == ' ') && (hit[k] == ',' || hit[k] == 0))
            return;
    if (n + k + 3 < size)
        snprintf(buf + n, size - n, "%s%s", n ? ", " : "", shown);
}

// A rule whose pattern names no weight matrix (a typo such as
// `nosuch=int8`) would silently leave everything float: refuse it.
static int check_spec_matches(const struct sparq_model *m, const struct sparq_compress_spec *spec)
{
    int out, in;
    for (int r = 0; r < spec->count; r++) {
        int hit = 0;
        for (int i = 0; !hit && i < m->n_tensors; i++)
            hit = sparq_tensor_is_matmul(&m->tensors[i], &out, &in) &&
                  fnmatch(spec->rules[r].pattern, m->tensors[i].name, 0) == 0;
        if (hit)
            continue;
        char names[384] = "";
        for (int i = 0; i < m->n_tensors; i++)
            if (sparq_tensor_is_matmul(&m->tensors[i], &out, &in))
                list_add(names, sizeof names, m->tensors[i].name);
        return sparq_fail(SPARQ_EINVAL, "compress spec: pattern '%s' matches no weight matrix (names: %s)",
                          spec->rules[r].pattern, names);
    }
    return SPARQ_OK;
}

int sparq_export(const struct sparq_model *m, const struct sparq_compress_spec *spec,
                 const struct sparq_export_overrides *ov, enum sparq_scale_method method, const char *path,
                 struct sparq_export_report *report)
{
    struct sparq_mfile f;
    sparq_mfile_init(&f);
    struct sparq_export_report rep;
    memset(&rep, 0, sizeof rep);
    int32_t cfg[SPARQ_SPQ_CONFIG_INTS];
    sparq_spq_config_to_ints(&m->cfg, cfg);
    // A .spq has no field for the front-end kind: only conv2d is exported.
    int rc = sparq_config_check_compressible(&m->cfg, path);
    rc = rc ? rc : check_spec_matches(m, spec);
    rc = rc ? rc : sparq_mfile_add_text(&f, "kind", "sparq conformer-ctc");
    rc = rc ? rc : sparq_mfile_add_i32(&f, "config", cfg, SPARQ_SPQ_CONFIG_INTS);
    rc = rc ? rc : add_buffers(&f, m);
    for (int i = 0; !rc && i < m->n_tensors; i++) {
        const struct sparq_tensor_info *t = &m->tensors[i];
        const float *w = m->param_mem + t->offset;
        int out, in;
        struct sparq_layer_setting s = { 0, 4, SPARQ_GRID_SYMMETRIC };
        int matmul = sparq_tensor_is_matmul(t, &out, &in);
        if (matmul)
            s = sparq_compress_spec_lookup(spec, t->name);
        if (matmul)
            rep.matmul_params += t->size;
        if (!matmul || s.width == 0) {
            float *masked = NULL;
            if (matmul && s.kept < 4) { // sparsity alone: the pruned weights are stored as zeros
                const uint8_t *use;
                uint8_t *mk;
                masked = sparq_malloc(sizeof(float) * t->size, "masked weights");
                rc = masked ? export_mask(&use, &mk, ov, i, w, out, in, s.kept) : SPARQ_ENOMEM;
                for (size_t k = 0; rc == SPARQ_OK && k < t->size; k++)
                    masked[k] = use[k] ? w[k] : 0.0f;
                free(mk);
                if (rc) {
                    free(masked);
                    break;
                }
            }
            rc = sparq_mfile_add_f32(&f, t->name, masked ? masked : w, t->size);
            free(masked);
            rep.param_bytes += 4 * t->size;
            if (matmul)
                rep.matmul_bytes += 4 * t->size;
            continue;
        }
        uint8_t *mask = NULL;
        const uint8_t *use_mask = NULL;
        float *scales = sparq_malloc(sizeof(float) * (size_t)out, "export scales");
        rc = scales ? export_mask(&use_mask, &mask, ov, i, w, out, in, s.kept) : SPARQ_ENOMEM;
        if (rc) {
            free(scales);
            free(mask);
            break;
        }
        if (ov && ov->scales && ov->scales[i])
            memcpy(scales, ov->scales[i], sizeof(float) * (size_t)out);
        else {
            struct sparq_quantizer q = { s.width, s.grid };
            sparq_quant_scales(scales, w, use_mask, out, in, &q, method);
        }
        struct sparq_packed p;
        struct sparq_pack_options opt = { s.grid, scales };
        rc = sparq_pack(&p, w, use_mask, s.width, s.kept, out, in, &opt);
        if (rc == SPARQ_OK) {
            rc = sparq_mfile_add_packed(&f, t->name, &p);
            if (!rc && ov && ov->readout_clips && ov->readout_clips[i])
                rc = sparq_readout_add(&f, t->name, ov->readout_clips[i], out);
            rep.param_bytes += p.size + 4 * (size_t)out;
            rep.matmul_bytes += p.size + 4 * (size_t)out;
            sparq_packed_free(&p);
        } else
            rc = sparq_fail(rc, "export %s: %s", t->name, sparq_last_error());
        free(scales);
        free(mask);
    }
    rep.fp32_bytes = 4 * m->n_params;
    uint8_t *bytes = NULL;
    if (rc == SPARQ_OK)
        rc = sparq_mfile_serialize(&f, &bytes, &rep.file_bytes);
    if (rc == SPARQ_OK)
        rc = sparq_write_file_atomic(path, bytes, rep.file_bytes);
    free(bytes);
    sparq_mfile_free(&f);
    if (rc == SPARQ_OK && report)
        *report = rep;
    return rc;
}

void sparq_export_report_print(FILE *out, const char *path, const struct sparq_export_report *rep)
{
    // Both percentages over the fp32 parameter bytes: the whole file first
    // (what a user stores), then the parameter payload without headers.
    fprintf(out,
            "exported %s: %zu bytes (%.2f%% of fp32 %zu bytes; parameter payload %zu bytes, %.2f%%); matmul weights "
            "%zu bytes for %zu parameters (%.2f%%)\n",
            path, rep->file_bytes, 100.0 * (double)rep->file_bytes / (double)rep->fp32_bytes, rep->fp32_bytes,
            rep->param_bytes, 100.0 * (double)rep->param_bytes / (double)rep->fp32_bytes, rep->matmul_bytes,
            rep->matmul_params, 100.0 * (double)rep->matmul_bytes / (4.0 * rep->matmul_params));
}
