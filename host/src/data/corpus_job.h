// Private to the corpus generator: corpus.c plans the jobs and keeps the
// manifests, corpus_worker.c runs them in worker processes (TTS engines,
// sox, noise). A job crosses a pipe as one fixed-size write.
#ifndef SPARQ_CORPUS_JOB_H
#define SPARQ_CORPUS_JOB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum engine { ESPEAK, FLITE, FESTIVAL };
// TEST is the held-out-voice split (test-voices.jsonl, also written as
// test.jsonl for older scripts); TEST_TEXT speaks held-out text sources with
// training voices.
enum split { TRAIN, DEV, TEST, TEST_TEXT, NSPLITS };
// Channel effects: each augmented utterance gets every effect with its own
// probability (docs/data.md), at least one.
enum aug { AUG_SPEED, AUG_PITCH, AUG_REVERB, AUG_NOISE, AUG_PHONE, AUG_LOWPASS, AUG_GAIN, NAUG };

struct job {
    int idx;            // index within its split
    int split;
    int engine;
    char voice[40];     // espeak "en-us+m3", flite "awb", festival "kal_diphone"
    int rate, pitch;    // espeak words/minute and pitch 0..99
    float stretch;      // flite/festival duration stretch
    unsigned aug;       // bit (1 << AUG_x) per channel effect
    float aug_param[NAUG]; // speed factor, cents, reverberance %, SNR dB, -, low-pass Hz, peak dBFS
    uint64_t seed;      // noise seed
    int open;           // text from the open-vocabulary sources
    char text[640];
    char out[600];      // absolute output path
};

struct result {
    int idx;
    int ok;
    double seconds;
    char err[300];
};

_Static_assert(sizeof(struct job) < 4096, "job must fit one atomic pipe write (PIPE_BUF)");

struct worker {
    pid_t pid;
    int jobs_fd, results_fd;
    int busy;
};

// Starts n worker processes (at most 16), each with its scratch folder
// OUT/tmp/wK; *started says how many run, also on failure.
int corpus_workers_start(const char *out_dir, int n, struct worker *w, int *started);
// Closes the pipes, waits for the workers and removes their scratch folders.
void corpus_workers_stop(const char *out_dir, struct worker *w, int n);
// Whole-buffer pipe I/O (retries short transfers and EINTR); 0 or -1.
int corpus_read_full(int fd, void *buf, size_t n);
int corpus_write_full(int fd, const void *buf, size_t n);

#endif
