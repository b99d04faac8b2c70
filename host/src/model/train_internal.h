// Shared by the files of the training loop (train.c, train_log.c,
// train_bench.c); not a public header.
#ifndef SPARQ_TRAIN_INTERNAL_H
#define SPARQ_TRAIN_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "sparq_train.h"

// Floats per gradient allreduce bucket (4 MB): several in flight at once.
#define GRAD_BUCKET ((size_t)1 << 20)

// BatchNorm statistics summed over the ranks (sparq_dist allreduce).
void train_dist_batch_sum(void *ctx, double *buf, size_t n);

// train_log.tsv on --resume: keeps the lines of steps <= step (and the
// comment lines among them); a crash or a write error may have left lines
// past the checkpoint or fewer than it. The checkpoint is trusted: a log that
// ends early (or is missing) is kept as it is, with a warning on stderr.
int train_log_rewind(const char *path, int64_t step);
// Appends a line to the open log; a failed write or flush (a full disk) is an
// error naming the file, so the run stops instead of losing its log.
int train_log_printf(FILE *f, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

// The run settings of `o` on the training set `train` (what a checkpoint records).
void train_run_info(struct sparq_run_info *run, const struct sparq_train_options *o,
                    const struct sparq_dataset *train);
// One warning line on stderr for each setting of `now` that differs from the
// checkpoint `ckpt` recorded (nothing for a version 1 checkpoint), and for a
// --seed other than the checkpoint's (which the run keeps).
void train_warn_resume(const char *ckpt, const struct sparq_train_state *st, const struct sparq_run_info *now,
                       uint64_t seed);
#endif
