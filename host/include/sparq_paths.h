// sparq-layer: base
// Guards against a command writing over one of its own inputs
// (`export --model m --out m`, `eval --data M --hyp M`).
#ifndef SPARQ_PATHS_H
#define SPARQ_PATHS_H

#include <stddef.h>

// 1 if both paths name an existing file and it is the same one (st_dev and
// st_ino: catches links and ./ spellings), else 0.
int sparq_same_file(const char *a, const char *b);

// A path given on the command line and the flag that gave it.
struct sparq_path_arg {
    const char *flag;
    const char *path; // NULL: flag not given, skipped
};

// SPARQ_EINVAL with a message naming both flags if an output is one of the
// inputs or two outputs are the same file; else SPARQ_OK. Call before any work.
int sparq_check_outputs(const struct sparq_path_arg *inputs, size_t n_in, const struct sparq_path_arg *outputs,
                        size_t n_out);

// The same for a command writing the files `names` (at most 8) into the
// folder `dir` given by `dir_flag`.
int sparq_check_out_dir(const struct sparq_path_arg *inputs, size_t n_in, const char *dir_flag, const char *dir,
                        const char *const *names, size_t n_names);

#endif
