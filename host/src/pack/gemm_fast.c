// Fast CPU GEMM on packed N:M weights: weight preparation, activation table,
// portable kernel and the run-time choice of kernel. See
// gemm_fast_internal.h for the layout.
#include <stdlib.h>
#include <string.h>

#include "gemm_act_internal.h"
#include "gemm_fast_internal.h"
#include "sparq_gemm_act.h"
#include "sparq_error.h"

static const uint8_t pairs_dense[1][2] = { { 0, 1 } };
static const uint8_t pairs_2of4[6][2] = { { 0, 1 }, { 0, 2 }, { 0, 3 }, { 1, 2 }, { 1, 3 }, { 2, 3 } };
static const uint8_t pairs_1of4[16][2] = {
    { 0, 4 }, { 0, 5 }, { 0, 6 }, { 0, 7 }, { 1, 4 }, { 1, 5 }, { 1, 6 }, { 1, 7 },
    { 2, 4 }, { 2, 5 }, { 2, 6 }, { 2, 7 }, { 3, 4 }, { 3, 5 }, { 3, 6 }, { 3, 7 },
};

static int find_choice(const struct sparq_gemm_prepared *p, int a, int b)
{
    for (int c = 0; c < p->choices; c++)
        if (p->pairs[c][0] == a && p->pairs[c][1] == b)
            return c;
    return -1;
}

static void *zalloc64(size_t bytes)
{
    bytes = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p)
        memset(p, 0, bytes);
    return p;
}

// The VNNI layout (gemm_fast_internal.h): kept codes four to a dword lane, in
// storage order, with the channel each one meets for the sparse vpshufb.
static int prepare_vnni(struct sparq_gemm_prepared *p, const struct sparq_packed *w)
{
    const int kept = w->type->kept;
    p->vn_steps = kept; // 4 * kept codes per 16-channel block, 4 per dword
    p->vn_oblocks = (w->out + 15) / 16;
    p->vn_kblocks = w->blocks_per_row;
    size_t bytes = (size_t)p->vn_oblocks * p->vn_kblocks * kept * 64;
    p->vn_w = zalloc64(bytes);
    p->vn_idx = kept < 4 ? zalloc64(bytes) : NULL;
    p->vn_corr = zalloc64(sizeof(int32_t) * 16 * (size_t)p->vn_oblocks);
    if (!p->vn_w || (kept < 4 && !p->vn_idx) || !p->vn_corr)
        return -1;
    uint8_t pos[SPARQ_BLOCK];
    int8_t val[SPARQ_BLOCK];
    for (int o = 0; o < w->out; o++) {
        p->vn_corr[o] = (int32_t)(128u * (uint32_t)p->rowsum[o]);
        for (int b = 0; b < w->blocks_per_row; b++) {
            const uint8_t *block = w->bytes + (size_t)o * w->row_bytes + (size_t)b * w->type->block_bytes;
            int n = sparq_block_decode(w->type, block, pos, val);
            for (int i = 0; i < n; i++) {
                int s = i / 4, byte = i % 4;
                size_t at = (((size_t)(o / 16) * p->vn_kblocks + b) * kept + s) * 64 + (size_t)(o % 16) * 4 + byte;
                p->vn_w[at] = b * SPARQ_BLOCK + pos[i] < w->in ? val[i] : 0;
                if (p->vn_idx) // + 16 * (b % 4) for vpermb on 64-channel blocks; vpshufb ignores bits 4-6
                    p->vn_idx[at] = (uint8_t)(pos[i] + 16 * (b % 4));
            }
        }
    }
    return 0;
}

// The 2:4 frame kernel's layout (gemm_fast_internal.h): per 8-channel slot
// the pattern (first group's pair * 6 + second group's) and the 4 codes.
static int prepare_f24(struct sparq_gemm_prepared *p, const struct sparq_packed *w)
{
    p->f24_slots = w->in_pad / 8;
    p->f24_ogroups = 2 * ((w->out + 15) / 16);
    size_t n = (size_t)p->f24_ogroups * p->f24_slots * F24_NO;
    p->f24_w = zalloc64(n * sizeof(int32_t));
    p->f24_off = zalloc64(n * sizeof(uint16_t));
    if (!p->f24_w || !p->f24_off)
        return 1;
    uint8_t pos[SPARQ_BLOCK];
    int8_t val[SPARQ_BLOCK];
    for (int o = 0; o < w->out; o++)
        for (int b = 0; b < w->blocks_per_row; b++) {
            const uint8_t *block = w->bytes + (size_t)o * w->row_bytes + (size_t)b * w->type->block_bytes;
            sparq_block_decode(w->type, block, pos, val); // 8 values, 2 per group, position order
            for (int h = 0; h < 2; h++) {
                int slot = 2 * b + h, pattern = 0;
                uint32_t codes = 0;
                for (int g = 0; g < 2; g++) {
                    int i = 4 * h + 2 * g;
                    int c = find_choice(p, pos[i] % 4, pos[i + 1] % 4);
                    if (c < 0 || pos[i] / 4 != 2 * h + g || pos[i + 1] / 4 != 2 * h + g)
                        return sparq_fail(SPARQ_EFORMAT, "gemm prepare: row %d block %d: invalid positions", o, b);
                    pattern = pattern * 6 + c;
                    for (int e = 0; e < 2; e++) {
                        int k = b * SPARQ_BLOCK + pos[i + e];
                        codes |= (uint32_t)(uint8_t)(k < w->in ? val[i + e] : 0) << (8 * (2 * g + e));
                    }
                }
                size_t at = ((size_t)(o / F24_NO) * p->f24_slots + slot) * F24_NO + o % F24_NO;
                p->f24_w[at] = (int32_t)codes;
                p->f24_off[at] = (uint16_t)(pattern * 128);
            }
        }
    return 0;
}

int sparq_gemm_prepare(struct sparq_gemm_prepared **dst, const struct sparq_packed *w)
{
    *dst = NULL;
    struct sparq_gemm_prepared *p = sparq_calloc(1, sizeof *p, "prepared GEMM");
    if (!p)
        return SPARQ_ENOMEM;
    p->out = w->out;
    p->in = w->in;
    p->in_pad = w->in_pad;
    switch (w->type->kept) {
    case 4: p->slot_width = 2; p->choices = 1; p->pairs = pairs_dense; break;
    case 2: p->slot_width = 4; p->choices = 6; p->pairs = pairs_2of4; break;
    default: p->slot_width = 8; p->choices = 16; p->pairs = pairs_1of4; break;
    }
    p->slots = w->in_pad / p->slot_width;
    p->choice = sparq_malloc((size_t)p->out * p->slots, "prepared choices");
    p->wpair = sparq_malloc(sizeof(int32_t) * (size_t)p->out * p->slots, "prepared weights");
    p->narrow = w->type->width <= 4;
    p->chunks = (p->slots + NARROW_CHUNK - 1) / NARROW_CHUNK;
    size_t nsize = (size_t)p->chunks * p->out * NARROW_CHUNK;
    p->nchoice = sparq_calloc(nsize, 1, "prepared narrow choices");
    p->nweights = sparq_calloc(nsize, sizeof(int16_t), "prepared narrow weights");
    p->rowsum = sparq_calloc((size_t)p->out, sizeof(int32_t), "prepared row sums");
    if (!p->choice || !p->wpair || !p->nchoice || !p->nweights || !p->rowsum) {
        sparq_gemm_prepared_free(p);
        return SPARQ_ENOMEM;
    }
    uint8_t pos[SPARQ_BLOCK];
    int8_t val[SPARQ_BLOCK];
    for (int o = 0; o < w->out; o++)
        for (int b = 0; b < w->blocks_per_row; b++) {
            const uint8_t *block = w->bytes + (size_t)o * w->row_bytes + (size_t)b * w->type->block_bytes;
            int n = sparq_block_decode(w->type, block, pos, val);
            // Kept values come in position order, two per slot.
            for (int i = 0; i + 1 < n; i += 2) {
                int k1 = b * SPARQ_BLOCK + pos[i], k2 = b * SPARQ_BLOCK + pos[i + 1];
                int slot = k1 / p->slot_width;
                int c = find_choice(p, k1 - slot * p->slot_width, k2 - slot * p->slot_width);
                if (c < 0 || k2 / p->slot_width != slot) {
                    sparq_gemm_prepared_free(p);
                    return sparq_fail(SPARQ_EFORMAT, "gemm prepare: row %d block %d: invalid positions", o, b);
                }
                // Padding channels (k >= in) hold code 0 by the format; zero them
                // anyway so the table may hold anything there.
                int w1 = k1 < w->in ? val[i] : 0, w2 = k2 < w->in ? val[i + 1] : 0;
                size_t at = (size_t)o * p->slots + slot;
                p->choice[at] = (uint8_t)c;
                p->wpair[at] = (int32_t)(((uint32_t)(uint16_t)(int16_t)w2 << 16) | (uint16_t)(int16_t)w1);
                size_t nat = ((size_t)(slot / NARROW_CHUNK) * p->out + o) * NARROW_CHUNK + slot % NARROW_CHUNK;
                p->nchoice[nat] = (uint8_t)c;
                p->nweights[nat] = (int16_t)(uint16_t)(((unsigned)(uint8_t)w2 << 8) | (uint8_t)w1);
                p->rowsum[o] += w1 + w2;
            }
        }
    if (prepare_vnni(p, w)) {
        sparq_gemm_prepared_free(p);
        return SPARQ_ENOMEM;
    }
    if (w->type->kept == 2) {
        int rc = prepare_f24(p, w);
        if (rc) {
            sparq_gemm_prepared_free(p);
            return rc > 0 ? SPARQ_ENOMEM : rc;
        }
    }
    *dst = p;
    return SPARQ_OK;
}

void sparq_gemm_prepared_free(struct sparq_gemm_prepared *p)
{
    if (!p)
        return;
    free(p->choice);
    free(p->wpair);
    free(p->nchoice);
    free(p->nweights);
    free(p->rowsum);
    free(p->vn_w);
    free(p->vn_idx);
    free(p->vn_corr);
    free(p->f24_w);
    free(p->f24_off);
    free(p);
}

void fast_fill_table(int16_t *table, const struct sparq_gemm_prepared *w, const int8_t *x, int x_stride,
                     int t0, int rows)
{
    const int sw = w->slot_width, nc = w->choices;
    for (int s = 0; s < w->slots; s++) {
        int16_t *slot_tab = table + (size_t)s * nc * FAST_TBLOCK * 2;
        for (int r = 0; r < FAST_TBLOCK; r++) {
            int16_t xs[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
            if (r < rows) {
                const int8_t *xr = x + (size_t)(t0 + r) * x_stride + s * sw;
                int valid = w->in - s * sw;
                for (int j = 0; j < sw && j < valid; j++)
                    xs[j] = xr[j];
            }
            for (int c = 0; c < nc; c++) {
                int16_t *e = slot_tab + ((size_t)c * FAST_TBLOCK + r) * 2;
                e[0] = xs[w->pairs[c][0]];
                e[1] = xs[w->pairs[c][1]];
            }
        }
    }
}

void fast_block_portable(int32_t *y, int y_stride, const int16_t *table, const struct sparq_gemm_prepared *w,
                         int t0, int rows, int accumulate)
{
    for (int o = 0; o < w->out; o++) {
        int32_t acc[FAST_TBLOCK] = { 0 };
        for (int s = 0; s < w->slots; s++) {
            size_t at = (size_t)o * w->slots + s;
            int32_t wp = w->wpair[at];
            int w1 = (int16_t)(wp & 0xFFFF), w2 = (int16_t)((uint32_t)wp >> 16);
            const int16_t *e = table + ((size_t)s * w->choices + w->choice[at]) * FAST_TBLOCK * 2;
            for (int r = 0; r < FAST_TBLOCK; r++)
                acc[r] = (int32_t)((uint32_t)acc[r] + (uint32_t)(e[2 * r] * w1 + e[2 * r + 1] * w2));
        }
        for (int r = 0; r < rows; r++) {
            int32_t *dst = &y[(size_t)(t0 + r) * y_stride + o];
            *dst = accumulate ? (int32_t)((uint32_t)*dst + (uint32_t)acc[r]) : acc[r];
        }
    }
}

// Kernel paths, slowest first. The fastest the CPU has runs unless
// SPARQ_GEMM_PATH or sparq_gemm_set_path() names another.
enum { PATH_SCALAR = FAST_PATH_SCALAR, PATH_AVX2 = FAST_PATH_AVX2, PATH_AVX512VNNI = FAST_PATH_AVX512VNNI, PATH_COUNT };
static const char *const path_names[PATH_COUNT] = { "scalar", "avx2", "avx512vnni" };
static int disable_narrow, enable_f24;
int sparq_gemm_frame24(int on)
{
    if (on && !__builtin_cpu_supports("avx512vbmi"))
        return sparq_fail(SPARQ_EINVAL, "gemm: the 2:4 frame kernel needs AVX-512 VBMI");
    enable_f24 = on;
    return SPARQ_OK;
}

// The 2:4 frame kernel (opt-in, see gemm_fast24_avx512.c) works on blocks of
// 32 frames and needs VBMI (vpermt2b) besides the VNNI path's instructions.
int fast_f24_wanted(const struct sparq_gemm_prepared *w, int t)
{
    return enable_f24 && w->f24_slots > 0 && t >= 32;
}
static int chosen_path = -1;  // -1: auto
void sparq_gemm_disable_narrow(int on) { disable_narrow = on; }

// The sparse tiles of the VNNI path select with vpermb when the CPU has
// AVX-512 VBMI, unless turned off (tests, A/B timing).
static int disable_vbmi;
void sparq_gemm_disable_vbmi(int on)
{
    disable_vbmi = on;
}
int fast_vbmi_wanted(void)
{
    return !disable_vbmi && __builtin_cpu_supports("avx512vbmi");
}

static int path_by_name(const char *name)
{
    if (!strcmp(name, "portable"))
        return PATH_SCALAR;
    for (int i = 0; i < PATH_COUNT; i++)
        if (!strcmp(name, path_names[i]))
            return i;
    return -1;
}

static int cpu_has(int path)
{
    switch (path) {
    case PATH_SCALAR: return 1;
    case PATH_AVX2: return __builtin_cpu_supports("avx2");
    case PATH_AVX512VNNI:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    default: return 0;
    }
}

int sparq_gemm_path_supported(const char *name)
{
    int p = name ? path_by_name(name) : -1;
    return p >= 0 && cpu_has(p);
}

int sparq_gemm_set_path(const char *name)
{
    if (!name || !strcmp(name, "auto")) {
        chosen_path = -1;
        return SPARQ_OK;
    }
    int p = path_by_name(name);
    if (p < 0)
        return sparq_fail(SPARQ_EINVAL, "gemm path '%s' unknown (scalar, avx2, avx512vnni, auto)", name);
    if (!cpu_has(p))
        return sparq_fail(SPARQ_EINVAL, "gemm path '%s' not supported by this CPU", name);
    chosen_path = p;
    return SPARQ_OK;
}

void sparq_gemm_force_portable(int on) { chosen_path = on ? PATH_SCALAR : -1; }

// The path a call runs, or -1 when SPARQ_GEMM_PATH names no usable path.
// The variable is read at every call (a few ns) so a test may change it.
static int current_path(void)
{
    if (chosen_path >= 0)
        return chosen_path;
    const char *e = getenv("SPARQ_GEMM_PATH");
    if (e && *e && strcmp(e, "auto")) {
        int p = path_by_name(e);
        return p >= 0 && cpu_has(p) ? p : -1;
    }
    for (int p = PATH_COUNT - 1; p > 0; p--)
        if (cpu_has(p))
            return p;
    return PATH_SCALAR;
}

int fast_path_now(void) { return current_path(); }

const char *sparq_gemm_fast_kernel(void)
{
    int p = current_path();
    return p < 0 ? "invalid" : path_names[p];
}

int sparq_gemm_fast(int32_t *y, int y_stride, const int8_t *x, int x_stride,
                    const struct sparq_gemm_prepared *w, int t, int accumulate)
{
    const int path = current_path();
    if (path < 0)
        return sparq_fail(SPARQ_EINVAL, "SPARQ_GEMM_PATH=%s: unknown or unsupported path (scalar, avx2, avx512vnni)",
                          getenv("SPARQ_GEMM_PATH"));
    if (t <= 0)
        return SPARQ_OK;
    if (path == PATH_AVX512VNNI) {
        if (fast_gemm_avx512vnni(y, y_stride, x, x_stride, w, t, accumulate))
            return sparq_fail(SPARQ_ENOMEM, "gemm: out of memory for the activations");
        return SPARQ_OK;
    }
    const int avx2 = path == PATH_AVX2;
    // Table elements: int16 tables have `slots` slots, the u8 table
    // chunks * NARROW_CHUNK (half-size elements).
    const size_t table_elems = (size_t)w->chunks * NARROW_CHUNK * w->choices * FAST_TBLOCK * 2;
    const int nblocks = (t + FAST_TBLOCK - 1) / FAST_TBLOCK;
    int failed = 0;
#pragma omp parallel reduction(| : failed)
    {
        // Cache-line aligned for the AVX2 loads; the u8 table uses half of it.
        int16_t *table = aligned_alloc(64, (table_elems * sizeof(int16_t) + 63) / 64 * 64);
        int16_t *xt = malloc(sizeof(int16_t) * (size_t)w->in_pad * FAST_TBLOCK);
        int32_t *acc = aligned_alloc(64, sizeof(int32_t) * (size_t)w->out * FAST_TBLOCK); // multiple of 128
        if (!table || !xt || !acc)
            failed = 1;
        else {
#pragma omp for schedule(static)
            for (int b = 0; b < nblocks; b++) {
                int t0 = b * FAST_TBLOCK, rows = t - t0 < FAST_TBLOCK ? t - t0 : FAST_TBLOCK;
                if (avx2 && w->narrow && !disable_narrow) {
                    fast_fill_table_u8_avx2((uint8_t *)table, (uint8_t *)xt, w, x, x_stride, t0, rows);
                    fast_block_avx2_narrow(y, y_stride, (const uint8_t *)table, acc, w, t0, rows, accumulate);
                } else if (avx2) {
                    fast_fill_table_avx2(table, xt, w, x, x_stride, t0, rows);
                    fast_block_avx2(y, y_stride, table, w, t0, rows, accumulate);
                } else {
                    fast_fill_table(table, w, x, x_stride, t0, rows);
                    fast_block_portable(y, y_stride, table, w, t0, rows, accumulate);
                }
            }
        }
        free(table);
        free(xt);
        free(acc);
    }
    if (failed)
        return sparq_fail(SPARQ_ENOMEM, "gemm: out of memory for the activation table");
    return SPARQ_OK;
}

// Rows per block of the unfused read-out: the block's int32 sums (256 x
// out, 590 KB at out = 576) stay in L2 between the GEMM and the
// requantization; fewer rows per GEMM call cost the AVX2 path its per-call
// table set-up (64 rows: 1.5x slower at T = 256).
#define RQ_ROWS 256

int sparq_gemm_fast_requant(int8_t *y8, int ldy8, const int8_t *x, int x_stride, const struct sparq_gemm_prepared *w,
                            int t, const struct sparq_requant_params *rq, const int8_t *lut)
{
    const int path = current_path();
    if (path < 0)
        return sparq_gemm_fast(NULL, 0, x, x_stride, w, t, 0); // the same error message
    if (t <= 0)
        return SPARQ_OK;
    if (path == PATH_AVX512VNNI && !fast_f24_wanted(w, t)) {
        void (*lut_fn)(int8_t *, size_t, const int8_t *) =
            __builtin_cpu_supports("avx512vbmi") ? lut_bytes_avx512 : lut_bytes_scalar;
        if (fast_gemm_requant_avx512vnni(y8, ldy8, x, x_stride, w, t, rq, lut, lut_fn))
            return sparq_fail(SPARQ_ENOMEM, "gemm: out of memory for the activations");
        return SPARQ_OK;
    }
    int32_t *acc = malloc(sizeof(int32_t) * (size_t)w->out * (t < RQ_ROWS ? t : RQ_ROWS));
    if (!acc)
        return sparq_fail(SPARQ_ENOMEM, "gemm: out of memory for a block of sums");
    int rc = SPARQ_OK;
    for (int t0 = 0; t0 < t && !rc; t0 += RQ_ROWS) {
        const int n = t - t0 < RQ_ROWS ? t - t0 : RQ_ROWS;
        rc = sparq_gemm_fast(acc, w->out, x + (size_t)t0 * x_stride, x_stride, w, n, 0);
        if (rc)
            break;
        sparq_requant_rows(y8 + (size_t)t0 * ldy8, ldy8, acc, w->out, rq, n, w->out);
        for (int r = 0; lut && r < n; r++)
            sparq_lut_bytes(y8 + (size_t)(t0 + r) * ldy8, (size_t)w->out, lut);
    }
    free(acc);
    return rc;
}
