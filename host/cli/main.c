// sparq: one command-line program; each subcommand lives in host/cli/cmd_*.c
// and registers itself with a "// sparq-command:" marker line.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
// OMP_WAIT_POLICY only at start-up, so every command sets it and re-executes
// once (an explicit OMP_WAIT_POLICY in the environment is respected).
static void passive_wait_policy(char **argv)
{
    if (getenv("OMP_WAIT_POLICY"))
        return;
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    // The resolved path, so that ps and top still show "sparq" (not "exe").
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        execv(self, argv);
    }
    execv("/proc/self/exe", argv); // if exec fails: continue with the spinning policy
}

int main(int argc, char **argv)
{
    passive_wait_policy(argv);
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
