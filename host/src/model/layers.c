// Conformer building blocks: forward/backward pairs (see sparq_layers.h).
#include "sparq_layers.h"
#include "sparq_vmath.h"


#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <omp.h>
#include <string.h>

#define LN_EPS 1e-5f
#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

// Below this many multiply-adds a GEMM is not worth splitting across threads.
#define SGEMM_PAR_MIN_FLOPS (1 << 20)

void sparq_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] *= beta;
        return;
    }
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (nt <= 1 || (double)M * N * K < SGEMM_PAR_MIN_FLOPS || M < 2 * nt) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), n = omp_get_num_threads();
        // Row blocks rounded to 8 so the split does not depend on tiny remainders.
        int chunk = ((M + n - 1) / n + 7) / 8 * 8;
        int m0 = t * chunk, m1 = m0 + chunk < M ? m0 + chunk : M;
        if (m0 < m1) {
            const float *a = trans_a ? A + m0 : A + (size_t)m0 * lda;
            cblas_sgemm(CblasRowMajor, ta, tb, m1 - m0, N, K, alpha, a, lda, B, ldb, beta, C + (size_t)m0 * ldc,
                        ldc);
        }
    }
}

void linear_forward_hooked(const struct sparq_linear_hook *hook, float *out, const float *inp, const float *w,
                           const float *b, int N, int IN, int OUT)
{
    int r = hook && hook->fn ? hook->fn(hook->ctx, out, inp, w, b, N, IN, OUT) : 0;
    if (r == SPARQ_LINEAR_NO_ACT) // the hook left out unwritten; this caller reads it
        memset(out, 0, sizeof(float) * (size_t)N * OUT);
    if (!r)
        linear_forward(out, inp, w, b, N, IN, OUT);
}

void linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int IN, int OUT)
{
    sparq_sgemm(0, 1, N, OUT, IN, 1.0f, inp, IN, w, IN, 0.0f, out, OUT);
    if (b) {
#pragma omp parallel for if ((size_t)N * OUT > 65536)
        for (int i = 0; i < N; i++) {
            float *o = out + (size_t)i * OUT;
#pragma omp simd
            for (int j = 0; j < OUT; j++)
                o[j] += b[j];
        }
    }
}

void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                     int N, int IN, int OUT)
{
    if (dinp)
        sparq_sgemm(0, 0, N, IN, OUT, 1.0f, dout, OUT, w, IN, 1.0f, dinp, IN);
    if (dw)
        sparq_sgemm(1, 0, OUT, IN, N, 1.0f, dout, OUT, inp, IN, 1.0f, dw, IN);
    if (db) {
        // db += dout^T 1: a GEMV reads dout row by row (a column loop would stride).
        float *ones = malloc(sizeof(float) * (size_t)(N > 0 ? N : 1));
        if (ones) {
            for (int i = 0; i < N; i++)
                ones[i] = 1.0f;
            cblas_sgemv(CblasRowMajor, CblasTrans, N, OUT, 1.0f, dout, OUT, ones, 1, 1.0f, db, 1);
            free(ones);
        } else {
            for (int i = 0; i < N; i++)
                for (int j = 0; j < OUT; j++)
                    db[j] += dout[(size_t)i * OUT + j];
        }
    }
}

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int N, int C)
{
#pragma omp parallel for if ((size_t)N * C > 65536)
    for (int i = 0; i < N; i++)
        sparq_vlayernorm(out + (size_t)i * C, &mean[i], &rstd[i], inp + (size_t)i * C, w, b, C, LN_EPS);
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C)
{
    // Input gradient row by row (parallel); parameter gradients per column
    // (parallel over columns) so every sum has one fixed order.
#pragma omp parallel for if ((size_t)N * C > 65536)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        const float *g = dout + (size_t)i * C;
        float m = mean[i], s = rstd[i];
        float sum_g = 0.0f, sum_gx = 0.0f;
        for (int j = 0; j < C; j++) {
            float gw = g[j] * w[j];
            sum_g += gw;
            sum_gx += gw * (x[j] - m) * s;
        }
        sum_g /= C;
        sum_gx /= C;
        if (dinp) {
            float *dx = dinp + (size_t)i * C;
            for (int j = 0; j < C; j++) {
                float xh = (x[j] - m) * s;
                dx[j] += (g[j] * w[j] - sum_g - xh * sum_gx) * s;
            }
        }
    }
    if (dw || db) {
#pragma omp parallel for if ((size_t)N * C > 65536)
        for (int j = 0; j < C; j++) {
            float sw = 0.0f, sb = 0.0f;
            for (int i = 0; i < N; i++) {
                float g = dout[(size_t)i * C + j];
                sw += g * (inp[(size_t)i * C + j] - mean[i]) * rstd[i];
                sb += g;
            }
            if (dw)
                dw[j] += sw;
            if (db)
                db[j] += sb;
        }
    }
}

// Elementwise ops run in chunks: vectorized exp (sparq_vmath.h), chunks split
// over the threads for large tensors; a backward recomputes the sigmoid of
// its forward with the same function.
#define EW_CHUNK 1024

void silu_forward(float *out, const float *inp, size_t n)
{
#pragma omp parallel for if (n > 65536)
    for (size_t c = 0; c < n; c += EW_CHUNK)
        sparq_vsilu(out + c, inp + c, n - c < EW_CHUNK ? n - c : EW_CHUNK);
}

void silu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
#pragma omp parallel for if (n > 65536)
    for (size_t c = 0; c < n; c += EW_CHUNK) {
        float s[EW_CHUNK];
        size_t len = n - c < EW_CHUNK ? n - c : EW_CHUNK;
        sparq_vsigmoid(s, inp + c, len);
        for (size_t i = 0; i < len; i++)
            dinp[c + i] += dout[c + i] * s[i] * (1.0f + inp[c + i] * (1.0f - s[i]));
    }
}

void relu_forward(float *out, const float *inp, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void relu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (out[i] > 0.0f)
            dinp[i] += dout[i];
}

int dropout_keep(uint64_t seed, size_t i, float p)
{
    // splitmix64 finalizer of a counter: independent of evaluation order.
    uint64_t z = seed + ((uint64_t)i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53 >= (double)p;
}

void dropout_apply(float *x, size_t n, float p, uint64_t seed)
{
    if (!(p > 0.0f))
        return;
    float scale = 1.0f / (1.0f - p);
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++)
        x[i] = dropout_keep(seed, i, p) ? x[i] * scale : 0.0f;
}

void glu_forward(float *out, const float *inp, int N, int C)
{
#pragma omp parallel for if ((size_t)N * C > 65536)
    for (int i = 0; i < N; i++) {
        const float *a = inp + (size_t)i * 2 * C;
        sparq_vglu(out + (size_t)i * C, a, a + C, (size_t)C);
    }
}

void glu_backward(float *dinp, const float *dout, const float *inp, int N, int C)
{
#pragma omp parallel for if ((size_t)N * C > 65536)
    for (int i = 0; i < N; i++) {
        const float *a = inp + (size_t)i * 2 * C, *g = a + C;
        float *da = dinp + (size_t)i * 2 * C, *dg = da + C;
        const float *d = dout + (size_t)i * C;
        for (int j0 = 0; j0 < C; j0 += EW_CHUNK) {
            float s[EW_CHUNK];
            int len = C - j0 < EW_CHUNK ? C - j0 : EW_CHUNK;
            sparq_vsigmoid(s, g + j0, (size_t)len);
            for (int jj = 0; jj < len; jj++) {
                int j = j0 + jj;
                da[j] += d[j] * s[jj];
                dg[j] += d[j] * a[j] * s[jj] * (1.0f - s[jj]);
            }
        }
    }
}

// One head of one utterance (q, k, v interleaved in rows of 3d): P = softmax(q k^T * scale)
// over the L valid frames (row stride T), o = P v (row stride d); output rows from L on are
// zero. The training forward keeps P for the backward pass, the eval forward reuses it.
void attention_head(float *o, float *P, const float *q, int L, int T, int d, int dh, float scale)
{
    int ld = 3 * d;
    const float *k = q + d, *v = q + 2 * d;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, dh, scale, q, ld, k, ld, 0.0f, P, T);
    for (int i = 0; i < L; i++)
        sparq_vsoftmax(P + (size_t)i * T, L);
    if (L > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, dh, L, 1.0f, P, T, v, ld, 0.0f, o, d);
    for (int i = L; i < T; i++)
        memset(o + (size_t)i * d, 0, sizeof(float) * dh);
}

void attention_forward(float *out, float *att, const float *qkv, const int *lens, int B, int T, int d, int H)
{
    int dh = d / H, ld = 3 * d;
    float scale = 1.0f / sqrtf((float)dh);
#pragma omp parallel for collapse(2) schedule(dynamic)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            int L = lens[b];
            const float *q = qkv + (size_t)b * T * ld + h * dh;
            float *P = att + ((size_t)b * H + h) * T * T;
            memset(P, 0, sizeof(float) * T * T);
            attention_head(out + (size_t)b * T * d + h * dh, P, q, L, T, d, dh, scale);
        }
    }
}

void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, const int *lens,
                        int B, int T, int d, int H)
{
    int dh = d / H, ld = 3 * d;
    float scale = 1.0f / sqrtf((float)dh);
#pragma omp parallel
    {
        float *dP = malloc(sizeof(float) * (size_t)T * T);
#pragma omp for collapse(2) schedule(dynamic)
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                int L = lens[b];
                if (L <= 0)
                    continue;
                const float *q = qkv + (size_t)b * T * ld + h * dh;
                const float *k = q + d, *v = q + 2 * d;
                float *dq = dqkv + (size_t)b * T * ld + h * dh;
                float *dk = dq + d, *dv = dq + 2 * d;
                const float *P = att + ((size_t)b * H + h) * T * T;
                const float *dO = dout + (size_t)b * T * d + h * dh;
                // dP = dO V^T (L, L); dV += P^T dO
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, dh, 1.0f, dO, d, v, ld, 0.0f, dP, L);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, dh, L, 1.0f, P, T, dO, d, 1.0f, dv, ld);
                // softmax backward in place: dS = P * (dP - sum_j P dP)
                for (int i = 0; i < L; i++) {
                    const float *p = P + (size_t)i * T;
                    float *g = dP + (size_t)i * L;
                    float s = 0.0f;
                    for (int j = 0; j < L; j++)
                        s += p[j] * g[j];
                    for (int j = 0; j < L; j++)
                        g[j] = p[j] * (g[j] - s);
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, dh, L, scale, dP, L, k, ld, 1.0f, dq, ld);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, dh, L, scale, dP, L, q, ld, 1.0f, dk, ld);
            }
        }
        free(dP);
    }
}

void dwconv_forward(float *out, const float *inp, const float *w, const float *b, const int *lens, int B, int T,
                    int C, int K)
{
    int P = (K - 1) / 2;
#pragma omp parallel for collapse(2) if ((size_t)B * T * C * K > 262144)
    for (int bi = 0; bi < B; bi++) {
        for (int t = 0; t < T; t++) {
            float *o = out + ((size_t)bi * T + t) * C;
            int L = lens[bi];
            if (t >= L) {
                memset(o, 0, sizeof(float) * C);
                continue;
            }
            for (int c = 0; c < C; c++)
                o[c] = b[c];
            for (int k = 0; k < K; k++) {
                int s = t + k - P;
                if (s < 0 || s >= L)
                    continue;
                const float *x = inp + ((size_t)bi * T + s) * C, *wk = w + (size_t)k * C;
                for (int c = 0; c < C; c++)
                    o[c] += wk[c] * x[c];
            }
        }
    }
}

void dwconv_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                     const int *lens, int B, int T, int C, int K)
{
    int P = (K - 1) / 2;
    if (dinp) {
        // dinp[s] += sum_k dout[s - k + P] w[k]: gather form, each row written once.
#pragma omp parallel for collapse(2) if ((size_t)B * T * C * K > 262144)
        for (int bi = 0; bi < B; bi++) {
            for (int s = 0; s < T; s++) {
                int L = lens[bi];
                if (s >= L)
                    continue;
                float *dx = dinp + ((size_t)bi * T + s) * C;
                for (int k = 0; k < K; k++) {
                    int t = s - k + P;
                    if (t < 0 || t >= L)
                        continue;
                    const float *g = dout + ((size_t)bi * T + t) * C, *wk = w + (size_t)k * C;
                    for (int c = 0; c < C; c++)
                        dx[c] += g[c] * wk[c];
                }
            }
        }
    }
    // Parameter gradients: parallel over kernel taps, fixed summation order.
#pragma omp parallel for if ((size_t)B * T * C * K > 262144)
    for (int k = -1; k < K; k++) {
        float *acc = k < 0 ? db : dw + (size_t)k * C;
        if (!acc)
            continue;
        for (int bi = 0; bi < B; bi++) {
            int L = lens[bi];
            for (int t = 0; t < L; t++) {
                const float *g = dout + ((size_t)bi * T + t) * C;
                if (k < 0) {
                    for (int c = 0; c < C; c++)
                        acc[c] += g[c];
                    continue;
                }
                int s = t + k - P;
                if (s < 0 || s >= L)
                    continue;
                const float *x = inp + ((size_t)bi * T + s) * C;
                for (int c = 0; c < C; c++)
                    acc[c] += g[c] * x[c];
            }
        }
    }
}

static int summing(const struct sparq_batch_sum *sum) { return sum && sum->fn; }

void batchnorm_forward_idle(const struct sparq_batch_sum *sum, int C)
{
    if (!summing(sum))
        return;
    double *z = calloc((size_t)C + 1, sizeof(double));
    if (!z)
        abort(); // a replica that cannot take part would hang the others
    sum->fn(sum->ctx, z, (size_t)C + 1);
    memset(z, 0, sizeof(double) * (size_t)C);
    sum->fn(sum->ctx, z, (size_t)C);
    free(z);
}

void batchnorm_backward_idle(const struct sparq_batch_sum *sum, int C)
{
    if (!summing(sum))
        return;
    double *z = calloc((size_t)2 * C + 1, sizeof(double));
    if (!z)
        abort();
    sum->fn(sum->ctx, z, (size_t)2 * C + 1);
    free(z);
}

void batchnorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       float *run_mean, float *run_var, const int *lens, int B, int T, int C, int training,
                       const struct sparq_batch_sum *sum)
{
    if (training) {
        long n = 0;
        for (int bi = 0; bi < B; bi++)
            n += lens[bi];
        // Two passes in double: batch statistics over valid frames only.
        // acc: sums (C), frame count, squared deviations (C).
        double *acc = calloc((size_t)2 * C + 1, sizeof(double));
        for (int bi = 0; bi < B; bi++)
            for (int t = 0; t < lens[bi]; t++) {
                const float *x = inp + ((size_t)bi * T + t) * C;
                for (int c = 0; c < C; c++)
                    acc[c] += x[c];
            }
        if (summing(sum)) {
            acc[C] = (double)n;
            sum->fn(sum->ctx, acc, (size_t)C + 1);
            n = (long)acc[C];
        }
        for (int c = 0; c < C; c++)
            acc[c] /= (double)(n > 0 ? n : 1);
        for (int bi = 0; bi < B; bi++)
            for (int t = 0; t < lens[bi]; t++) {
                const float *x = inp + ((size_t)bi * T + t) * C;
                for (int c = 0; c < C; c++) {
                    double dd = x[c] - acc[c];
                    acc[C + 1 + c] += dd * dd;
                }
            }
        if (summing(sum))
            sum->fn(sum->ctx, acc + C + 1, (size_t)C);
        for (int c = 0; c < C; c++) {
            double var = acc[C + 1 + c] / (double)(n > 0 ? n : 1);
            mean[c] = (float)acc[c];
            rstd[c] = (float)(1.0 / sqrt(var + BN_EPS));
            if (run_mean && n > 0) {
                double unbiased = n > 1 ? acc[C + 1 + c] / (double)(n - 1) : var;
                run_mean[c] = (1.0f - BN_MOMENTUM) * run_mean[c] + BN_MOMENTUM * (float)acc[c];
                run_var[c] = (1.0f - BN_MOMENTUM) * run_var[c] + BN_MOMENTUM * (float)unbiased;
            }
        }
        free(acc);
    } else {
        for (int c = 0; c < C; c++) {
            mean[c] = run_mean[c];
            rstd[c] = 1.0f / sqrtf(run_var[c] + BN_EPS);
        }
    }
#pragma omp parallel for collapse(2) if ((size_t)B * T * C > 65536)
    for (int bi = 0; bi < B; bi++)
        for (int t = 0; t < T; t++) {
            const float *x = inp + ((size_t)bi * T + t) * C;
            float *o = out + ((size_t)bi * T + t) * C;
            if (t >= lens[bi]) {
                memset(o, 0, sizeof(float) * C);
                continue;
            }
            for (int c = 0; c < C; c++)
                o[c] = (x[c] - mean[c]) * rstd[c] * w[c] + b[c];
        }
}

void batchnorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, const int *lens, int B, int T, int C, int training,
                        const struct sparq_batch_sum *sum)
{
    long n = 0;
    for (int bi = 0; bi < B; bi++)
        n += lens[bi];
    double *sg = calloc((size_t)2 * C + 1, sizeof(double)); // sum dout, sum dout*xhat, frames
    for (int bi = 0; bi < B; bi++)
        for (int t = 0; t < lens[bi]; t++) {
            const float *x = inp + ((size_t)bi * T + t) * C;
            const float *g = dout + ((size_t)bi * T + t) * C;
            for (int c = 0; c < C; c++) {
                sg[c] += g[c];
                sg[C + c] += (double)g[c] * (x[c] - mean[c]) * rstd[c];
            }
        }
    for (int c = 0; c < C; c++) {
        if (dw)
            dw[c] += (float)sg[C + c];
        if (db)
            db[c] += (float)sg[c];
    }
    // The parameter gradients above stay this replica's share (the trainer
    // sums them); the input gradient needs the global batch's sums.
    if (training && summing(sum)) {
        sg[2 * C] = (double)n;
        sum->fn(sum->ctx, sg, (size_t)2 * C + 1);
        n = (long)sg[2 * C];
    }
    if (dinp) {
        float *k1 = malloc(sizeof(float) * 2 * (size_t)C), *k2 = k1 + C;
        for (int c = 0; c < C; c++) {
            k1[c] = training && n > 0 ? (float)(sg[c] / n) : 0.0f;
            k2[c] = training && n > 0 ? (float)(sg[C + c] / n) : 0.0f;
        }
#pragma omp parallel for collapse(2) if ((size_t)B * T * C > 65536)
        for (int bi = 0; bi < B; bi++)
            for (int t = 0; t < T; t++) {
                if (t >= lens[bi])
                    continue;
                const float *x = inp + ((size_t)bi * T + t) * C;
                const float *g = dout + ((size_t)bi * T + t) * C;
                float *dx = dinp + ((size_t)bi * T + t) * C;
                for (int c = 0; c < C; c++) {
                    float xh = (x[c] - mean[c]) * rstd[c];
                    dx[c] += w[c] * rstd[c] * (g[c] - k1[c] - xh * k2[c]);
                }
            }
        free(k1);
    }
    free(sg);
}

static void im2col_s2(float *col, const float *inp, int tout, int Fin, int Cin)
{
    int Fout = (Fin - 1) / 2, row = 9 * Cin;
#pragma omp parallel for if ((size_t)tout * Fout * row > 262144)
    for (int t = 0; t < tout; t++)
        for (int f = 0; f < Fout; f++) {
            float *dst = col + ((size_t)t * Fout + f) * row;
            for (int kh = 0; kh < 3; kh++) {
                const float *src = inp + ((size_t)(2 * t + kh) * Fin + 2 * f) * Cin;
                if (Cin == 1) { // the first conv: a memcpy call per 12 bytes is mostly call overhead
                    dst[kh * 3] = src[0];
                    dst[kh * 3 + 1] = src[1];
                    dst[kh * 3 + 2] = src[2];
                } else
                    memcpy(dst + kh * 3 * Cin, src, sizeof(float) * 3 * Cin);
            }
        }
}

void conv2d_s2_forward(const struct sparq_linear_hook *hook, float *out, const float *inp, const float *w,
                       const float *b, float *col, int tout, int Fin, int Cin, int Cout)
{
    int Fout = (Fin - 1) / 2;
    if (tout <= 0)
        return;
    im2col_s2(col, inp, tout, Fin, Cin);
    linear_forward_hooked(hook, out, col, w, b, tout * Fout, 9 * Cin, Cout);
}

void conv2d_s2_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        float *col, float *dcol, int tout, int Fin, int Cin, int Cout)
{
    int Fout = (Fin - 1) / 2, row = 9 * Cin;
    if (tout <= 0)
        return;
    im2col_s2(col, inp, tout, Fin, Cin);
    if (dinp)
        memset(dcol, 0, sizeof(float) * (size_t)tout * Fout * row);
    linear_backward(dinp ? dcol : NULL, dw, db, dout, col, w, tout * Fout, row, Cout);
    if (!dinp)
        return;
    // col2im: scatter-add. Input rows 2t+kh overlap between t and t+1 (kh=2
    // vs kh=0), so run serially to keep one summation order.
    for (int t = 0; t < tout; t++)
        for (int f = 0; f < Fout; f++) {
            const float *src = dcol + ((size_t)t * Fout + f) * row;
            for (int kh = 0; kh < 3; kh++) {
                float *dst = dinp + ((size_t)(2 * t + kh) * Fin + 2 * f) * Cin;
                const float *s = src + kh * 3 * Cin;
#pragma omp simd
                for (int j = 0; j < 3 * Cin; j++)
                    dst[j] += s[j];
            }
        }
}

void dwconv2d_s2_forward(float *out, const float *inp, const float *w, const float *b, int tout, int Fin, int C)
{
    int Fout = (Fin - 1) / 2;
    for (int t = 0; t < tout; t++)
        for (int f = 0; f < Fout; f++) {
            float *o = out + ((size_t)t * Fout + f) * C;
            for (int c = 0; c < C; c++)
                o[c] = b[c];
            for (int k = 0; k < 9; k++) {
                const float *x = inp + ((size_t)(2 * t + k / 3) * Fin + 2 * f + k % 3) * C;
#pragma omp simd
                for (int c = 0; c < C; c++)
                    o[c] += w[(size_t)c * 9 + k] * x[c];
            }
        }
}

void dwconv2d_s2_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                          int tout, int Fin, int C)
{
    int Fout = (Fin - 1) / 2;
    for (int t = 0; t < tout; t++)
        for (int f = 0; f < Fout; f++) {
            const float *g = dout + ((size_t)t * Fout + f) * C;
            if (db)
                for (int c = 0; c < C; c++)
                    db[c] += g[c];
            for (int k = 0; k < 9; k++) {
                size_t at = ((size_t)(2 * t + k / 3) * Fin + 2 * f + k % 3) * C;
                const float *x = inp + at;
                if (dw)
                    for (int c = 0; c < C; c++)
                        dw[(size_t)c * 9 + k] += g[c] * x[c];
                if (dinp) {
                    float *dx = dinp + at;
#pragma omp simd
                    for (int c = 0; c < C; c++)
                        dx[c] += w[(size_t)c * 9 + k] * g[c];
                }
            }
        }
}
