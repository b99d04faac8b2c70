// Config files (issue 14): the reader is bounded inside sparq_config_load
// itself, so /dev/zero or an endless pipe is a prompt error for every caller,
// and a signal while it waits on a FIFO ends the wait; the text rules (a key
// given twice, NUL bytes, unknown keys) are errors naming file and line.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_model.h"
#include "sparq_train.h"

static int parse(const char *text, struct sparq_config *c)
{
    return sparq_config_parse(c, text, strlen(text), "t.cfg");
}

// Runs sparq_config_load(path) in a child that an alarm kills after
// `limit` s; returns the child's exit status (0 loaded, 3 refused) or
// 100 + the signal that ended it. `poke` > 0: SIGTERM after that many ms,
// with the trainer's stop handlers installed (they set a flag only).
static int load_in_child(const char *path, int limit, int poke_ms, char *msg, size_t msg_cap)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        alarm((unsigned)limit);
        if (poke_ms > 0)
            sparq_train_stop_on_signals();
        struct sparq_config c;
        int rc = sparq_config_load(&c, path);
        const char *e = sparq_last_error();
        ssize_t w = write(fd[1], e, strlen(e));
        (void)w;
        _exit(rc == SPARQ_OK ? 0 : 3);
    }
    close(fd[1]);
    if (poke_ms > 0) {
        struct timespec ts = { poke_ms / 1000, (long)(poke_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        kill(pid, SIGTERM);
    }
    ssize_t n = read(fd[0], msg, msg_cap - 1);
    msg[n > 0 ? n : 0] = 0;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

int main(void)
{
    struct sparq_config c;
    char msg[512];
    int rc = parse("# tiny\nd_model = 32 # trailing comment\r\nn_heads = 2\n\ndropout = 0.25\n", &c);
    CHECK(rc == SPARQ_OK && c.d_model == 32 && c.n_heads == 2 && c.n_mels == 80 && c.dropout == 0.25f,
          "keys over the defaults, comments, CR and blank lines");
    rc = parse("d_model = 32\nn_heads = 2\nd_model = 64\n", &c);
    CHECK(rc == SPARQ_EFORMAT && strstr(sparq_last_error(), "t.cfg:3: d_model given twice (first on line 1)"),
          "a key given twice is refused: %s", sparq_last_error());
    rc = sparq_config_parse(&c, "d_model = 32\n\0n_heads = 2\n", 26, "t.cfg");
    CHECK(rc == SPARQ_EFORMAT && strstr(sparq_last_error(), "t.cfg: holds NUL bytes"), "NUL bytes refused: %s",
          sparq_last_error());
    rc = parse("d_model = 32\nwidth = 3\n", &c);
    CHECK(rc == SPARQ_EFORMAT && strstr(sparq_last_error(), "t.cfg:2: unknown key 'width'"), "unknown key: %s",
          sparq_last_error());
    rc = parse("d_model = 30\nn_heads = 4\n", &c);
    CHECK(rc == SPARQ_EINVAL && strstr(sparq_last_error(), "t.cfg: config: n_heads = 4 must divide d_model = 30"),
          "invalid combination named with the file: %s", sparq_last_error());
    rc = parse("dropout = nan\n", &c);
    CHECK(rc == SPARQ_EFORMAT && strstr(sparq_last_error(), "t.cfg:1: dropout: 'nan'"), "dropout nan: %s",
          sparq_last_error());
    size_t big = SPARQ_CONFIG_MAX_BYTES + 1;
    char *text = malloc(big);
    memset(text, '\n', big);
    rc = sparq_config_parse(&c, text, big, "t.cfg");
    free(text);
    CHECK(rc == SPARQ_EFORMAT && strstr(sparq_last_error(), "at most 65536"), "over the cap: %s",
          sparq_last_error());

    // /dev/zero: the old line reader looped forever (alarm: status 100 + SIGALRM).
    time_t t0 = time(NULL);
    int st = load_in_child("/dev/zero", 20, 0, msg, sizeof msg);
    CHECK(st == 3 && strstr(msg, "/dev/zero: larger than 65536 bytes") && time(NULL) - t0 < 10,
          "/dev/zero is a prompt error (status %d): %s", st, msg);

    char dir[] = "/tmp/sparq_test_config.XXXXXX", fifo[64];
    if (!mkdtemp(dir))
        return 1;
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo %s", fifo);
    // A FIFO that never ends: a writer repeating a valid line.
    pid_t writer = fork();
    if (writer == 0) {
        signal(SIGPIPE, SIG_DFL);
        FILE *f = fopen(fifo, "w");
        for (;;)
            if (!f || fputs("n_mels = 80\n", f) < 0)
                _exit(0);
    }
    t0 = time(NULL);
    st = load_in_child(fifo, 20, 0, msg, sizeof msg);
    kill(writer, SIGKILL);
    waitpid(writer, NULL, 0);
    CHECK(st == 3 && strstr(msg, "larger than 65536 bytes") && time(NULL) - t0 < 10,
          "an endless FIFO is a prompt error (status %d): %s", st, msg);
    // A FIFO nobody writes to: SIGTERM (trainer handlers installed) ends the wait.
    t0 = time(NULL);
    st = load_in_child(fifo, 20, 300, msg, sizeof msg);
    CHECK(st == 3 && strstr(msg, fifo) && time(NULL) - t0 < 10,
          "SIGTERM while waiting on a silent FIFO ends the load with an error (status %d): %s", st, msg);
    unlink(fifo);
    rmdir(dir);
    return check_done();
}
