// libFuzzer target: the JSONL manifest reader and score's Kaldi-style
// 'id text' reader on untrusted bytes (via a temporary file, since both
// read paths). Whatever the manifest reader accepts must write and read
// back to the same ids and texts; neither reader may crash.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sparq_manifest.h"
#include "sparq_wer.h"

// Files named by the process id, so parallel fuzzers do not collide, in
// /dev/shm when there is one (the manifest writer fsyncs; tmpfs makes that cheap).
static const char *tmp(int slot, const char *suffix)
{
    static char path[3][96];
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path[slot], sizeof path[slot], "%s/sparq_fuzz_manifest.%d.%s", dir, (int)getpid(), suffix);
    return path[slot];
}

static void put(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = tmp(0, "in.jsonl"), *txt = tmp(1, "in.txt");
    put(in, data, size);
    put(txt, data, size);
    struct sparq_manifest m, again;
    if (sparq_manifest_load(in, &m) == 0) {
        const char *out = tmp(2, "out.jsonl");
        if (sparq_manifest_write(&m, out) != 0 || sparq_manifest_load(out, &again) != 0 || again.count != m.count)
            abort();
        for (size_t i = 0; i < m.count; i++)
            if (strcmp(m.utts[i].id, again.utts[i].id) || strcmp(m.utts[i].text, again.utts[i].text))
                abort();
        sparq_manifest_free(&again);
        sparq_manifest_free(&m);
    }
    // Scoring aligns characters in O(n^2): short inputs keep the fuzzer fast.
    struct sparq_score sc;
    if (size <= 512 && sparq_score_files(txt, txt, &sc) == 0)
        sparq_score_free(&sc);
    unlink(in);
    unlink(txt);
    unlink(tmp(2, "out.jsonl"));
    return 0;
}
