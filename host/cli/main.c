// sparq: one command-line program; each subcommand lives in host/cli/cmd_*.c
// and registers itself with a "// sparq-command:" marker line.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define SPARQ_COMMAND(name, fn, summary) int fn(int argc, char **argv);
#include "sparq_commands.h"
#undef SPARQ_COMMAND

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
#define SPARQ_COMMAND(name, fn, summary) { name, fn, summary },
#include "sparq_commands.h"
#undef SPARQ_COMMAND
};
static const int command_count = (int)(sizeof commands / sizeof commands[0]);

static void print_help(FILE *out)
{
    fprintf(out, "usage: sparq COMMAND [OPTIONS]\n\ncommands:\n");
    fprintf(out, "  %-14s %s\n", "help", "list commands");
    for (int i = 0; i < command_count; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'sparq COMMAND --help' documents each command.\n");
}

// OpenMP threads that spin while waiting halve throughput when the cores are
// shared with other jobs (measured: docs/model.md). libgomp reads
// OMP_WAIT_POLICY only at start-up; an explicit value is respected.
static int passive_wait_policy(void)
{
    if (getenv("OMP_WAIT_POLICY"))
        return 0;
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    return 1;
}

// OpenBLAS 0.3.21 does not recognise some CPUs (virtual machines that report a
// bare "Intel Xeon Processor") and falls back to its SSE3 "Prescott" kernels:
// the float model's sgemm ran 2.5-3x slower than with the kernels the CPU can
// run (docs/runtime.md). It reads OPENBLAS_CORETYPE only at start-up; an
// explicit value is respected.
static int openblas_kernels(void)
{
    if (getenv("OPENBLAS_CORETYPE"))
        return 0;
    const char *core = openblas_get_corename();
    if (!core || (strcasecmp(core, "prescott") && strcasecmp(core, "core2") && strcasecmp(core, "nehalem")))
        return 0;
    __builtin_cpu_init();
    const char *fit = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                              __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")
                          ? "SkylakeX"
                      : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? "Haswell"
                                                                                         : NULL;
    if (!fit)
        return 0;
    setenv("OPENBLAS_CORETYPE", fit, 1);
    return 1;
}

// Both settings take effect in a fresh process image: re-execute once.
static void start_up_environment(char **argv)
{
    int changed = passive_wait_policy();
    changed |= openblas_kernels();
    if (!changed)
        return;
    // The resolved path, so that ps and top still show "sparq" (not "exe").
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        execv(self, argv);
    }
    execv("/proc/self/exe", argv); // if exec fails: continue as we are
}

int main(int argc, char **argv)
{
    start_up_environment(argv);
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        print_help(stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 0; i < command_count; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "sparq: unknown command '%s' (try 'sparq help')\n", argv[1]);
    return 2;
}
