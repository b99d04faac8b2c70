// Shared by the tests of the GEMM's input and output stages
// (test_gemm_act.c, test_gemm_conv.c): the kernel paths, the line for a path
// the CPU lacks, and the comparison of two row quantizations.
#ifndef SPARQ_GEMM_ACT_CHECK_H
#define SPARQ_GEMM_ACT_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sparq_gemm.h"

#define NPATHS 3
static const char *const paths[NPATHS] = { "scalar", "avx2", "avx512vnni" };

// 1, after a skip line saying what goes untested, if the CPU lacks path p.
static inline int path_skipped(int p, const char *what)
{
    if (sparq_gemm_path_supported(paths[p]))
        return 0;
    printf("# skip: path %s is not supported by this CPU; its %s is not tested\n", paths[p], what);
    return 1;
}

// 1 if two quantizations of `rows` rows agree bit for bit: the codes over
// the whole row stride ldq (padding included) and the row scales.
static inline int rows_equal(const int8_t *qa, const float *sa, const int8_t *qb, const float *sb, int rows, int ldq)
{
    return !memcmp(qa, qb, (size_t)rows * ldq) && !memcmp(sa, sb, sizeof(float) * (size_t)rows);
}

#endif
