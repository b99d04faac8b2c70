// A float or compressed sparq model written as a PyTorch state dict in
// safetensors (sparq_export_torch.h). The .spq reading mirrors the
// runtime's loader, minus everything the device needs.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sparq_error.h"
#include "sparq_export.h"
#include "sparq_export_torch.h"
#include "sparq_modelfile.h"
#include "sparq_torch.h"
#include "sparq_train.h"

struct packed_side {
    const struct sparq_packed *p; // NULL: float tensor
};

// The float model of a .spq: dequantized weights, BN statistics, CMVN;
// side[i].p points at tensor i's packed section (owned by `f`).
static int load_spq(const char *path, struct sparq_mfile *f, struct sparq_model *m, struct packed_side **side)
{
    int rc = sparq_mfile_read(f, path);
    if (rc)
        return rc;
    const struct sparq_mf_section *kind = sparq_mfile_find(f, "kind", SPARQ_MF_TEXT);
    const struct sparq_mf_section *cfgs = sparq_mfile_find(f, "config", SPARQ_MF_I32);
    static const char want[] = "sparq conformer-ctc";
    if (!kind || kind->count != sizeof want - 1 || memcmp(kind->data, want, sizeof want - 1) || !cfgs ||
        cfgs->count != SPARQ_SPQ_CONFIG_INTS)
        return sparq_fail(SPARQ_EFORMAT, "%s: not a sparq conformer-ctc model (section 'kind' or 'config')", path);
    struct sparq_config c;
    sparq_spq_ints_to_config(&c, cfgs->data);
    if ((rc = sparq_config_validate(&c)) || (rc = sparq_model_create(m, &c))) {
        char msg[256]; // sparq_fail must not format its own message into itself
        snprintf(msg, sizeof msg, "%s", sparq_last_error());
        return sparq_fail(rc, "%s: section 'config': %s", path, msg);
    }
    const float *v;
    char name[48];
    rc = sparq_mfile_get_f32(f, path, "cmvn_mean", (size_t)c.n_mels, &v);
    if (!rc)
        memcpy(m->buf.cmvn_mean, v, sizeof(float) * (size_t)c.n_mels);
    rc = rc ? rc : sparq_mfile_get_f32(f, path, "cmvn_istd", (size_t)c.n_mels, &v);
    if (!rc)
        memcpy(m->buf.cmvn_istd, v, sizeof(float) * (size_t)c.n_mels);
    for (int l = 0; !rc && l < c.n_layers; l++) {
        snprintf(name, sizeof name, "layer%d.bn_mean", l);
        rc = sparq_mfile_get_f32(f, path, name, (size_t)c.d_model, &v);
        if (!rc)
            memcpy(m->buf.bn_mean[l], v, sizeof(float) * (size_t)c.d_model);
        snprintf(name, sizeof name, "layer%d.bn_var", l);
        rc = rc ? rc : sparq_mfile_get_f32(f, path, name, (size_t)c.d_model, &v);
        if (!rc)
            memcpy(m->buf.bn_var[l], v, sizeof(float) * (size_t)c.d_model);
    }
    *side = rc ? NULL : sparq_calloc((size_t)m->n_tensors, sizeof **side, "export side data");
    if (!rc && !*side)
        rc = SPARQ_ENOMEM;
    for (int i = 0; !rc && i < m->n_tensors; i++) {
        const struct sparq_tensor_info *t = &m->tensors[i];
        const struct sparq_mf_section *ps = sparq_mfile_find(f, t->name, SPARQ_MF_PACKED);
        int out = 0, in = 0, matmul = sparq_tensor_is_matmul(t, &out, &in);
        if (ps) {
            if (!matmul || ps->packed.out != out || ps->packed.in != in)
                return sparq_fail(SPARQ_EFORMAT, "%s: section '%s': packed %d x %d, the model needs %s%d x %d", path,
                                  t->name, ps->packed.out, ps->packed.in, matmul ? "" : "float ", out,
                                  matmul ? in : (int)t->size);
            if ((rc = sparq_unpack(&ps->packed, m->param_mem + t->offset)))
                break;
            (*side)[i].p = &ps->packed;
        } else if (!(rc = sparq_mfile_get_f32(f, path, t->name, t->size, &v))) {
            memcpy(m->param_mem + t->offset, v, sizeof(float) * t->size);
        }
    }
    return rc;
}

// sparq.mask.W, sparq.scale.W and "sparq_format:W" for every packed weight.
static int add_side(struct sparq_st_writer *w, const struct sparq_model *m, const struct packed_side *side, int *n)
{
    int rc = SPARQ_OK;
    for (int i = 0; !rc && i < m->n_tensors; i++) {
        const struct sparq_packed *p = side[i].p;
        if (!p)
            continue;
        char tname[128], name[160];
        int64_t shape[4], rows = p->out;
        int nd;
        if ((rc = sparq_torch_tensor(&m->cfg, m->tensors[i].name, tname, sizeof tname, shape, &nd)))
            break;
        size_t cells = (size_t)p->out * (size_t)p->in;
        uint8_t *mask = sparq_malloc(cells, "mask"), *tmask = sparq_malloc(cells, "mask");
        if (!mask || !tmask) {
            free(mask);
            free(tmask);
            return SPARQ_ENOMEM;
        }
        sparq_unpack_mask(p, mask);
        sparq_torch_permute(&m->cfg, m->tensors[i].name, mask, tmask, 1, 1);
        snprintf(name, sizeof name, SPARQ_TORCH_EXTRA "mask.%s", tname);
        rc = sparq_st_writer_add(w, name, SPARQ_ST_U8, nd, shape, tmask);
        free(mask);
        free(tmask);
        snprintf(name, sizeof name, SPARQ_TORCH_EXTRA "scale.%s", tname);
        rc = rc ? rc : sparq_st_writer_add(w, name, SPARQ_ST_F32, 1, &rows, p->scales);
        snprintf(name, sizeof name, "sparq_format:%s", tname);
        rc = rc ? rc : sparq_st_writer_meta(w, name, p->type->name);
        (*n)++;
    }
    return rc;
}

static int magic_of(const char *path, char magic[8])
{
    FILE *fp = sparq_fopen(path, "rb");
    if (!fp)
        return SPARQ_EIO;
    int rc = sparq_fread_exact(magic, 8, fp, path, "magic");
    fclose(fp);
    return rc;
}

int sparq_export_safetensors(const char *model_path, const char *out_path, struct sparq_torch_export_report *rep)
{
    memset(rep, 0, sizeof *rep);
    char magic[8];
    int rc = magic_of(model_path, magic);
    if (rc)
        return rc;
    struct sparq_model m;
    struct sparq_mfile f;
    struct packed_side *side = NULL;
    struct sparq_st_writer w;
    memset(&m, 0, sizeof m);
    sparq_mfile_init(&f);
    sparq_st_writer_init(&w);
    if (!memcmp(magic, SPARQ_MF_MAGIC, 8)) {
        rep->compressed = 1;
        rc = load_spq(model_path, &f, &m, &side);
    } else {
        rc = sparq_checkpoint_load(model_path, &m, NULL, NULL);
    }
    rc = rc ? rc : sparq_torch_export(&m, &w);
    if (!rc && side)
        rc = add_side(&w, &m, side, &rep->packed_weights);
    if (!rc && !(rc = sparq_st_write(&w, out_path))) {
        struct stat st;
        rep->tensors = w.count;
        rep->file_bytes = stat(out_path, &st) ? 0 : (size_t)st.st_size;
    }
    sparq_st_writer_free(&w);
    free(side);
    sparq_mfile_free(&f);
    if (m.param_mem)
        sparq_model_free(&m);
    return rc;
}
