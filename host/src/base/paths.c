// Output-over-input guard (sparq_paths.h).
#include "sparq_paths.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "sparq_error.h"

int sparq_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (!a || !b || stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// Two outputs that do not exist yet cannot be compared by inode; equal
// spellings are still the same file.
static int same_output(const char *a, const char *b)
{
    return !strcmp(a, b) || sparq_same_file(a, b);
}

int sparq_check_outputs(const struct sparq_path_arg *inputs, size_t n_in, const struct sparq_path_arg *outputs,
                        size_t n_out)
{
    for (size_t o = 0; o < n_out; o++) {
        const struct sparq_path_arg *out = &outputs[o];
        if (!out->path)
            continue;
        for (size_t i = 0; i < n_in; i++)
            if (inputs[i].path && (!strcmp(inputs[i].path, out->path) || sparq_same_file(inputs[i].path, out->path)))
                return sparq_fail(SPARQ_EINVAL, "%s %s is one of the inputs: it is the input %s; refusing to overwrite it",
                                  out->flag, out->path, inputs[i].flag);
        for (size_t p = 0; p < o; p++)
            if (outputs[p].path && same_output(outputs[p].path, out->path))
                return sparq_fail(SPARQ_EINVAL, "%s %s: is also the output %s", out->flag, out->path, outputs[p].flag);
    }
    return SPARQ_OK;
}

int sparq_check_out_dir(const struct sparq_path_arg *inputs, size_t n_in, const char *dir_flag, const char *dir,
                        const char *const *names, size_t n_names)
{
    char paths[8][4096];
    struct sparq_path_arg outs[8];
    if (!dir)
        return SPARQ_OK;
    if (n_names > 8)
        return sparq_fail(SPARQ_EINVAL, "%s: more than 8 output names to check", dir_flag);
    for (size_t i = 0; i < n_names; i++) {
        int n = snprintf(paths[i], sizeof paths[i], "%s/%s", dir, names[i]);
        if (n < 0 || (size_t)n >= sizeof paths[i])
            return sparq_fail(SPARQ_EINVAL, "%s %s: path too long", dir_flag, dir);
        outs[i] = (struct sparq_path_arg){ dir_flag, paths[i] };
    }
    return sparq_check_outputs(inputs, n_in, outs, n_names);
}
