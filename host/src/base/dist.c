// Data-parallel helpers over MPI (sparq_dist.h). Built against MPI when
// SPARQ_MPI is defined (host/dist.mk); otherwise the single-process versions.
#include "sparq_dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sparq_clock.h"
#include "sparq_error.h"

#ifdef SPARQ_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1;
static double g_comm_s = 0.0;

static uint64_t fnv1a(const void *buf, size_t n)
{
    const unsigned char *p = buf;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

void sparq_dist_share(size_t n, int rank, int size, size_t *lo, size_t *hi)
{
    size_t q = n / (size_t)size, r = n % (size_t)size, k = (size_t)rank;
    *lo = k * q + (k < r ? k : r);
    *hi = *lo + q + (k < r);
}

int sparq_dist_rank(void) { return g_rank; }
int sparq_dist_size(void) { return g_size; }
double sparq_dist_comm_seconds(void) { return g_comm_s; }

int sparq_dist_write_file_atomic(const char *path, const void *data, size_t bytes)
{
    return g_rank == 0 ? sparq_write_file_atomic(path, data, bytes) : SPARQ_OK;
}

int sparq_dist_require_single(const char *command)
{
    if (sparq_dist_init() != SPARQ_OK || sparq_dist_size() == 1)
        return SPARQ_OK;
    if (sparq_dist_rank() == 0)
        fprintf(stderr, "sparq %s: runs as one process (its work is not sharded across ranks); start it without "
                        "mpirun\n", command);
    return SPARQ_EINVAL;
}

#ifdef SPARQ_MPI

// MPI counts are int: large buffers go in pieces of at most this many items.
#define MAX_COUNT ((size_t)1 << 30)

static int g_active = 0; // MPI_Init done by us (launched by an MPI launcher)

// Waits for requests with short sleeps instead of Open MPI's busy polling: a
// rank that is early (or idle) then leaves its core to the others - on a
// shared or oversubscribed machine a spinning rank slowed the working one
// down (docs/scaling.md). Costs at most ~50 us of latency per call.
static void wait_all(int n, MPI_Request *req)
{
    int done = 0;
    const struct timespec nap = { 0, 50000 };
    for (int spins = 0;; spins++) {
        MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE);
        if (done)
            return;
        if (spins >= 20) // the first few polls catch quick completions without a sleep
            nanosleep(&nap, NULL);
    }
}

static void allreduce(void *buf, size_t n, MPI_Datatype type, size_t item, MPI_Op op)
{
    for (size_t i = 0; i < n; i += MAX_COUNT) {
        MPI_Request req;
        MPI_Iallreduce(MPI_IN_PLACE, (char *)buf + i * item, (int)(n - i < MAX_COUNT ? n - i : MAX_COUNT), type,
                       op, MPI_COMM_WORLD, &req);
        wait_all(1, &req);
    }
}

static void finalize_at_exit(void)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin)
        MPI_Finalize();
}

static int launched_by_mpi(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK") || getenv("PMI_SIZE");
}

int sparq_dist_init(void)
{
    if (g_active || !launched_by_mpi())
        return SPARQ_OK;
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int provided;
        // Only the main thread calls MPI (OpenMP regions never do).
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return sparq_fail(SPARQ_EIO, "MPI_Init_thread failed");
        atexit(finalize_at_exit);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_active = 1;
    // Rank 0 prints the results; the others' stdout would only repeat them.
    if (g_rank != 0 && !freopen("/dev/null", "w", stdout))
        return sparq_fail(SPARQ_EIO, "rank %d: cannot silence stdout", g_rank);
    return SPARQ_OK;
}

const char *sparq_dist_describe(void)
{
    static char buf[MPI_MAX_LIBRARY_VERSION_STRING + 64];
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int n = 0;
    MPI_Get_library_version(lib, &n);
    char *nl = strpbrk(lib, ",\n");
    if (nl)
        *nl = 0;
    if (g_active)
        snprintf(buf, sizeof buf, "MPI (%s), %d rank%s", lib, g_size, g_size == 1 ? "" : "s");
    else
        snprintf(buf, sizeof buf, "single process (built with %s; not started by an MPI launcher)", lib);
    return buf;
}

void sparq_dist_abort(int code)
{
    if (g_active && g_size > 1) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
}

void sparq_dist_barrier(void)
{
    if (g_active && g_size > 1) {
        MPI_Request req;
        MPI_Ibarrier(MPI_COMM_WORLD, &req);
        wait_all(1, &req);
    }
}

void sparq_dist_allreduce_f64(double *buf, size_t n)
{
    if (g_active && g_size > 1)
        allreduce(buf, n, MPI_DOUBLE, sizeof *buf, MPI_SUM);
}

void sparq_dist_allreduce_u64(uint64_t *buf, size_t n)
{
    if (g_active && g_size > 1)
        allreduce(buf, n, MPI_UINT64_T, sizeof *buf, MPI_SUM);
}

void sparq_dist_allreduce_i64_max(int64_t *buf, size_t n)
{
    if (g_active && g_size > 1)
        allreduce(buf, n, MPI_INT64_T, sizeof *buf, MPI_MAX);
}

void sparq_dist_allreduce_f32_buckets(float *buf, size_t n, size_t bucket)
{
    if (!g_active || g_size == 1)
        return;
    double t0 = sparq_clock_s();
    if (bucket == 0 || bucket > MAX_COUNT)
        bucket = MAX_COUNT;
    size_t nb = (n + bucket - 1) / bucket;
    MPI_Request *req = malloc(sizeof(MPI_Request) * (nb ? nb : 1));
    if (!req) { // no memory for the requests: the same sums, one bucket at a time
        for (size_t i = 0; i < n; i += bucket)
            MPI_Allreduce(MPI_IN_PLACE, buf + i, (int)(n - i < bucket ? n - i : bucket), MPI_FLOAT, MPI_SUM,
                          MPI_COMM_WORLD);
    } else {
        for (size_t k = 0; k < nb; k++) {
            size_t i = k * bucket;
            MPI_Iallreduce(MPI_IN_PLACE, buf + i, (int)(n - i < bucket ? n - i : bucket), MPI_FLOAT, MPI_SUM,
                           MPI_COMM_WORLD, &req[k]);
        }
        wait_all((int)nb, req);
        free(req);
    }
    g_comm_s += sparq_clock_s() - t0;
}

void sparq_dist_bcast(void *buf, size_t bytes, int root)
{
    for (size_t i = 0; g_active && g_size > 1 && i < bytes; i += MAX_COUNT) {
        MPI_Request req;
        MPI_Ibcast((char *)buf + i, (int)(bytes - i < MAX_COUNT ? bytes - i : MAX_COUNT), MPI_BYTE, root,
                   MPI_COMM_WORLD, &req);
        wait_all(1, &req);
    }
}

int sparq_dist_gather_bytes(const void *buf, size_t n, char **all, size_t **counts)
{
    *all = NULL;
    *counts = NULL;
    int size = g_active ? g_size : 1;
    uint64_t mine = n, *lens = NULL;
    if (g_rank == 0) {
        lens = sparq_calloc((size_t)size, sizeof *lens, "gather lengths");
        *counts = sparq_calloc((size_t)size, sizeof **counts, "gather counts");
        if (!lens || !*counts) {
            free(lens);
            free(*counts);
            *counts = NULL;
            sparq_dist_abort(1); // the other ranks are about to wait in the gather
            return SPARQ_ENOMEM;
        }
    }
    if (size == 1) {
        lens[0] = mine;
    } else {
        MPI_Request req;
        MPI_Igather(&mine, 1, MPI_UINT64_T, lens, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD, &req);
        wait_all(1, &req);
    }
    int *rc = NULL, *displ = NULL;
    size_t total = 0;
    if (g_rank == 0) {
        for (int r = 0; r < size; r++) {
            (*counts)[r] = (size_t)lens[r];
            total += (size_t)lens[r];
        }
        rc = malloc(sizeof(int) * (size_t)size);
        displ = malloc(sizeof(int) * (size_t)size);
        *all = malloc(total + 1);
        if (!rc || !displ || !*all || total > (size_t)0x7fffffff) {
            sparq_fail(SPARQ_ENOMEM, "gathering %zu bytes on rank 0", total);
            sparq_dist_abort(1);
            free(rc);
            free(displ);
            free(lens);
            return SPARQ_ENOMEM;
        }
        for (int r = 0, off = 0; r < size; r++) {
            rc[r] = (int)lens[r];
            displ[r] = off;
            off += rc[r];
        }
    }
    if (size == 1)
        memcpy(*all, buf, n);
    else {
        if (n > (size_t)0x7fffffff) {
            sparq_fail(SPARQ_EINVAL, "rank %d: %zu bytes to gather (more than 2 GB)", g_rank, n);
            sparq_dist_abort(1);
        }
        MPI_Request req;
        MPI_Igatherv(buf, (int)n, MPI_BYTE, g_rank == 0 ? *all : NULL, rc, displ, MPI_BYTE, 0, MPI_COMM_WORLD, &req);
        wait_all(1, &req);
    }
    free(rc);
    free(displ);
    free(lens);
    return SPARQ_OK;
}

int sparq_dist_check_same(const void *buf, size_t bytes, const char *what)
{
    if (!g_active || g_size == 1)
        return SPARQ_OK;
    uint64_t h = fnv1a(buf, bytes), h0 = h;
    sparq_dist_bcast(&h0, sizeof h0, 0);
    int64_t differ = h != h0;
    sparq_dist_allreduce_i64_max(&differ, 1);
    if (differ)
        return sparq_fail(SPARQ_EINVAL, "%s differs between MPI ranks%s", what,
                          h != h0 ? " (this rank's copy differs from rank 0's)" : "");
    return SPARQ_OK;
}

#else // single process

int sparq_dist_init(void) { return SPARQ_OK; }
const char *sparq_dist_describe(void) { return "single process (built without MPI)"; }
void sparq_dist_abort(int code) { (void)code; }
void sparq_dist_barrier(void) {}
void sparq_dist_allreduce_f64(double *buf, size_t n) { (void)buf, (void)n; }
void sparq_dist_allreduce_u64(uint64_t *buf, size_t n) { (void)buf, (void)n; }
void sparq_dist_allreduce_i64_max(int64_t *buf, size_t n) { (void)buf, (void)n; }
void sparq_dist_allreduce_f32_buckets(float *buf, size_t n, size_t bucket) { (void)buf, (void)n, (void)bucket; }
void sparq_dist_bcast(void *buf, size_t bytes, int root) { (void)buf, (void)bytes, (void)root; }

int sparq_dist_gather_bytes(const void *buf, size_t n, char **all, size_t **counts)
{
    *all = sparq_malloc(n + 1, "gathered bytes");
    *counts = sparq_malloc(sizeof **counts, "gather counts");
    if (!*all || !*counts) {
        free(*all);
        free(*counts);
        *all = NULL;
        *counts = NULL;
        return SPARQ_ENOMEM;
    }
    memcpy(*all, buf, n);
    (*counts)[0] = n;
    return SPARQ_OK;
}

int sparq_dist_check_same(const void *buf, size_t bytes, const char *what)
{
    (void)buf, (void)bytes, (void)what, (void)fnv1a;
    return SPARQ_OK;
}

#endif
