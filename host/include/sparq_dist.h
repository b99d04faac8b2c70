// sparq-layer: base
// Data-parallel scale-out over MPI (docs/scaling.md).
//
// A process joins MPI only when an MPI launcher started it (mpirun/mpiexec or
// Slurm's srun with PMIx: OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK in the
// environment). Otherwise - and always in a build without MPI (make MPI=0) -
// every call below is the single-process case: rank 0 of 1, reductions leave
// buffers unchanged, broadcasts and gathers copy. Commands therefore run the
// same code with and without mpirun.
//
// Errors: MPI's default handler aborts the whole job on a communication
// error; a rank that fails on its own calls sparq_dist_abort() so the others
// never wait forever in a collective.
#ifndef SPARQ_DIST_H
#define SPARQ_DIST_H

#include <stddef.h>
#include <stdint.h>

// Joins MPI if launched by an MPI launcher (idempotent; MPI_Finalize runs at
// exit). Ranks other than 0 then write stdout to /dev/null (results are
// printed once; stderr stays for errors). Returns SPARQ_OK or an error.
int sparq_dist_init(void);
int sparq_dist_rank(void);
int sparq_dist_size(void);
static inline int sparq_dist_is_root(void) { return sparq_dist_rank() == 0; }
// "MPI (Open MPI v4.1.4), 2 ranks" or "single process (built without MPI)".
const char *sparq_dist_describe(void);
// Ends every rank of the job with `code` (MPI_Abort); a no-op when alone.
void sparq_dist_abort(int code);
void sparq_dist_barrier(void);
// For commands that are not data-parallel (every rank would write the same
// files): SPARQ_OK when alone; under mpirun with several ranks rank 0 says
// so on stderr and every rank gets SPARQ_EINVAL.
int sparq_dist_require_single(const char *command);

// In-place sums over all ranks (every rank gets the result).
void sparq_dist_allreduce_f64(double *buf, size_t n);
void sparq_dist_allreduce_u64(uint64_t *buf, size_t n);
void sparq_dist_allreduce_i64_max(int64_t *buf, size_t n);
// Gradient sum in buckets of `bucket` floats: one non-blocking allreduce
// per bucket, all in flight together, then waited for. Adds the wall time
// to sparq_dist_comm_seconds().
void sparq_dist_allreduce_f32_buckets(float *buf, size_t n, size_t bucket);
// Wall seconds spent in sparq_dist_allreduce_f32_buckets() so far.
double sparq_dist_comm_seconds(void);

// Broadcast of raw bytes from `root`.
void sparq_dist_bcast(void *buf, size_t bytes, int root);

// Gathers each rank's byte string on rank 0 in rank order. On rank 0 *all
// (malloc'd, free it) holds the concatenation and counts[r] (size() entries,
// malloc'd) each rank's length; on other ranks both are set to NULL.
int sparq_dist_gather_bytes(const void *buf, size_t n, char **all, size_t **counts);

// Fails on every rank (SPARQ_EINVAL, message naming `what`) unless the
// bytes are identical on all ranks (compares a 64-bit hash with rank 0's).
int sparq_dist_check_same(const void *buf, size_t bytes, const char *what);

// sparq_write_file_atomic() on rank 0; other ranks write nothing.
int sparq_dist_write_file_atomic(const char *path, const void *data, size_t bytes);

// Contiguous share [*lo, *hi) of n items for this rank (sizes differ by at
// most one; early ranks get the extra items).
void sparq_dist_share(size_t n, int rank, int size, size_t *lo, size_t *hi);

#endif
