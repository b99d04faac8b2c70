// Manifests and importers on small generated corpora with broken files.
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "sparq_audio.h"
#include "sparq_error.h"
#include "sparq_file.h"
#include "sparq_manifest.h"
#include "sparq_wer.h"

static char root[] = "/tmp/sparq_manifest_XXXXXX";

static const char *P(const char *name)
{
    static char buf[16][512];
    static int k;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], "%s/%s", root, name);
    return buf[k];
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void write_audio(const char *path, int format, int rate, int ch, double seconds)
{
    sf_count_t frames = (sf_count_t)(seconds * rate);
    short *x = calloc((size_t)frames * (size_t)ch, sizeof(short));
    for (sf_count_t i = 0; i < frames * ch; i++)
        x[i] = (short)(3000 * sin(0.05 * (double)i));
    SF_INFO info = { .samplerate = rate, .channels = ch, .format = format };
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    sf_writef_short(sf, x, frames);
    sf_close(sf);
    free(x);
}

static void truncate_copy(const char *from, const char *to, double keep)
{
    char *b;
    size_t got;
    if (sparq_read_file(from, (size_t)1 << 30, &b, &got))
        return;
    FILE *f = fopen(to, "wb");
    fwrite(b, 1, (size_t)(got * keep), f);
    fclose(f);
    free(b);
}

static int log_has(const char *log, const char *a, const char *b)
{
    const char *line = log;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        if (strstr(buf, a) && (!b || strstr(buf, b)))
            return 1;
        line = end ? end + 1 : NULL;
    }
    return 0;
}

static char *read_all(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    char *s = calloc(1, (size_t)n + 1);
    rewind(f);
    if (fread(s, 1, (size_t)n, f) != (size_t)n)
        s[0] = 0;
    return s;
}

static void test_jsonl(void)
{
    sparq_mkdir_p(P("m"));
    write_audio(P("m/a.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 0.5);
    write_text(P("m/good.jsonl"),
               "{\"audio_filepath\": \"a.wav\", \"duration\": 0.5, \"text\": \"hello there\"}\n"
               "\n"
               "{\"id\": \"x7\", \"audio_filepath\": \"/abs/b.flac\", \"duration\": 2, \"text\": \"General Kenobi!\", "
               "\"extra\": 1}\n");
    struct sparq_manifest m;
    int rc = sparq_manifest_load(P("m/good.jsonl"), &m);
    CHECK(rc == 0 && m.count == 2, "jsonl: two entries, blank line ignored, extra fields allowed");
    if (rc)
        return;
    CHECK(!strcmp(m.utts[0].id, "a") && !strcmp(m.utts[0].audio_path, P("m/a.wav")) && m.utts[0].duration == 0.5 &&
              !strcmp(m.utts[1].id, "x7") && !strcmp(m.utts[1].audio_path, "/abs/b.flac") &&
              !strcmp(m.utts[1].text, "General Kenobi!"),
          "jsonl: id from the audio name or the id field; relative paths resolved against the manifest folder");
    CHECK(fabs(sparq_manifest_hours(&m) - 2.5 / 3600) < 1e-12, "hours sums durations");
    rc = sparq_manifest_write(&m, P("m/out.jsonl"));
    struct sparq_manifest m2;
    rc = rc ? rc : sparq_manifest_load(P("m/out.jsonl"), &m2);
    CHECK(rc == 0 && m2.count == 2 && !strcmp(m2.utts[1].text, m.utts[1].text) && !strcmp(m2.utts[1].id, "x7") &&
              !strcmp(m2.utts[0].audio_path, P("m/a.wav")) && m2.utts[1].duration == 2.0,
          "write then load round-trips");
    if (!rc)
        sparq_manifest_free(&m2);
    struct sparq_manifest keep;
    struct sparq_import_stats st;
    rc = sparq_manifest_check(&m, &keep, &st, NULL);
    CHECK(rc == 0 && st.imported == 1 && st.skipped == 1 && keep.count == 1 && !strcmp(keep.utts[0].id, "a"),
          "check keeps the readable entry and reports the missing file");
    if (!rc)
        sparq_manifest_free(&keep);
    sparq_manifest_free(&m);

    static const struct {
        const char *line, *want;
    } bad[] = {
        { "{\"audio_filepath\": \"a.wav\", \"text\": \"x\"}", "duration" },
        { "{\"audio_filepath\": \"a.wav\", \"duration\": -1, \"text\": \"x\"}", "duration" },
        { "{\"duration\": 1, \"text\": \"x\"}", "audio_filepath" },
        { "{\"audio_filepath\": \"a.wav\", \"duration\": 1}", "text" },
        { "{\"audio_filepath\": \"a.wav\", \"duration\": 1, \"text\": 5}", "text" },
        { "[1, 2]", "not a JSON object" },
        { "{\"audio_filepath\": \"a.wav\", \"duration\": 1, \"text\": \"x\"", "not a JSON object" },
        { "{\"audio_filepath\": \"b.wav\", \"duration\": 1, \"text\": \"cut\\u0000here\"}", "u0000" },
        { "{\"audio_filepath\": \"b.wav\", \"duration\": 1, \"text\": \"x\"} junk", "text after the JSON object" },
        { "{\"audio_filepath\": \"b.wav\", \"duration\": 1, \"text\": \"x\"}{}", "column 56" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "{\"audio_filepath\": \"a.wav\", \"duration\": 0.5, \"text\": \"ok\"}\n%s\n",
                 bad[i].line);
        write_text(P("m/bad.jsonl"), text);
        rc = sparq_manifest_load(P("m/bad.jsonl"), &m);
        char want[600];
        snprintf(want, sizeof want, "%s:2:", P("m/bad.jsonl"));
        CHECK(rc != 0 && m.count == 0 && strstr(sparq_last_error(), want) && strstr(sparq_last_error(), bad[i].want),
              "bad manifest line rejected: %s", sparq_last_error());
    }
    // The same id twice (here from the file name) is an error, as in score.
    write_text(P("m/dup.jsonl"), "{\"audio_filepath\": \"a.wav\", \"duration\": 0.5, \"text\": \"x\"}\n\n"
                                 "{\"audio_filepath\": \"b.wav\", \"id\": \"a\", \"duration\": 0.5, \"text\": \"y\"}\n");
    rc = sparq_manifest_load(P("m/dup.jsonl"), &m);
    CHECK(rc != 0 && m.count == 0 && strstr(sparq_last_error(), "id 'a' appears twice (entries 1 and 2)"),
          "duplicate ids rejected: %s", sparq_last_error());
    // NUL bytes: a line starting with one, or one inside a line, is an error
    // naming the line (not skipped, not truncated).
    static const char nul1[] = "{\"audio_filepath\": \"a.wav\", \"duration\": 0.5, \"text\": \"x\"}\n\0junk\n";
    static const char nul2[] = "{\"audio_filepath\": \"a.wav\", \"duration\": 0.5, \"text\": \"x\0y\"}\n";
    const char *nuls[] = { nul1, nul2 };
    const size_t nul_len[] = { sizeof nul1 - 1, sizeof nul2 - 1 };
    const char *nul_want[] = { ":2: NUL byte at column 1", ":1: NUL byte at column 56" };
    for (int k = 0; k < 2; k++) {
        FILE *nf = fopen(P("m/nul.jsonl"), "wb");
        fwrite(nuls[k], 1, nul_len[k], nf);
        fclose(nf);
        rc = sparq_manifest_load(P("m/nul.jsonl"), &m);
        CHECK(rc != 0 && strstr(sparq_last_error(), nul_want[k]), "NUL byte rejected: %s", sparq_last_error());
    }
    // An escaped backslash before u0000 is plain text.
    write_text(P("m/esc.jsonl"), "{\"audio_filepath\": \"a.wav\", \"duration\": 0.5, \"text\": \"a\\\\u0000b\"}\n");
    rc = sparq_manifest_load(P("m/esc.jsonl"), &m);
    CHECK(rc == 0 && m.count == 1 && !strcmp(m.utts[0].text, "a\\u0000b"), "escaped backslash + u0000 is text: %s",
          rc ? sparq_last_error() : m.utts[0].text);
    if (!rc)
        sparq_manifest_free(&m);
    // score's id-text reader on an empty file: an error, no undefined
    // memcpy from a NULL id array (found by fuzz_manifest; UBSan build).
    write_text(P("m/empty.txt"), "");
    struct sparq_score sc;
    rc = sparq_score_files(P("m/empty.txt"), P("m/empty.txt"), &sc);
    CHECK(rc != 0 && strstr(sparq_last_error(), "empty.txt: no utterances"),
          "empty id-text file is a one-line error, without undefined behaviour: %s", sparq_last_error());
    if (!rc)
        sparq_score_free(&sc);
    // A manifest whose duration disagrees with the file is caught by check.
    write_text(P("m/dur.jsonl"), "{\"audio_filepath\": \"a.wav\", \"duration\": 3.0, \"text\": \"hello\"}\n"
                                 "{\"audio_filepath\": \"a.wav\", \"id\": \"b\", \"duration\": 0.5, \"text\": \" ?! \"}\n");
    rc = sparq_manifest_load(P("m/dur.jsonl"), &m);
    FILE *log = tmpfile();
    rc = rc ? rc : sparq_manifest_check(&m, NULL, &st, log);
    char *text = read_all(log);
    CHECK(rc == 0 && st.skipped == 2 && log_has(text, "duration 3.000", NULL) && log_has(text, "empty transcript", NULL),
          "check reports a wrong duration and an empty transcript");
    free(text);
    fclose(log);
    if (!rc)
        sparq_manifest_free(&m);
}

static void test_kaldi(void)
{
    sparq_mkdir_p(P("k/audio"));
    write_audio(P("k/audio/good.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 1.0);
    write_audio(P("k/audio/8k.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 2, 0.75);
    write_audio(P("k/audio/full.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 1.0);
    truncate_copy(P("k/audio/full.wav"), P("k/audio/trunc.wav"), 0.5);
    truncate_copy(P("k/audio/full.wav"), P("k/audio/empty.wav"), 0.0);
    write_text(P("k/audio/junk.wav"), "not audio\n");
    char scp[4096];
    snprintf(scp, sizeof scp,
             "utt1 %s\nutt2 audio/8k.wav\nutt3 %s\nutt4 %s\nutt5 %s\nutt6 %s\n"
             "utt7 sox %s -t wav - |\nutt8 %s\n",
             P("k/audio/good.wav"), P("k/audio/trunc.wav"), P("k/audio/empty.wav"), P("k/audio/junk.wav"),
             P("k/audio/missing.wav"), P("k/audio/good.wav"), P("k/audio/good.wav"));
    write_text(P("k/wav.scp"), scp);
    write_text(P("k/text"), "utt1 HELLO WORLD\nutt2 it's 5 o'clock\nutt3 a\nutt4 b\nutt5 c\nutt6 d\nutt7 e\n"
                            "utt9 orphan transcript\n");
    struct sparq_manifest m;
    struct sparq_import_stats st;
    FILE *log = tmpfile();
    int rc = sparq_import_kaldi(P("k"), &m, &st, log);
    char *text = read_all(log);
    // utt8 has no transcript, utt9 no audio; utt3..utt7 are bad audio.
    CHECK(rc == 0 && m.count == 2 && st.imported == 2 && st.converted == 1 && st.skipped == 7,
          "kaldi: 2 imported, 1 to convert, 7 skipped (got %zu/%zu/%zu)", st.imported, st.converted, st.skipped);
    CHECK(rc == 0 && !strcmp(m.utts[0].id, "utt1") && fabs(m.utts[0].duration - 1.0) < 1e-9 &&
              !strcmp(m.utts[1].audio_path, P("k/audio/8k.wav")) && fabs(m.utts[1].duration - 0.75) < 1e-9,
          "kaldi: durations from the audio; relative wav.scp path found under the data dir");
    CHECK(log_has(text, "utt3", "truncated") && log_has(text, "utt4", "empty") && log_has(text, "utt5", "junk.wav") &&
              log_has(text, "utt6", "missing.wav") && log_has(text, "utt7", "piped") &&
              log_has(text, "utt8", "no transcript") && log_has(text, "1 transcript", "no audio") &&
              log_has(text, "utt2", "8000 Hz"),
          "kaldi: every skipped or converted file is reported with its path and reason");
    free(text);
    fclose(log);
    if (!rc)
        sparq_manifest_free(&m);
    write_text(P("k/text"), "utt1 a\nutt1 b\n");
    rc = sparq_import_kaldi(P("k"), &m, &st, NULL);
    CHECK(rc != 0 && strstr(sparq_last_error(), "twice"), "kaldi: duplicate ids rejected: %s", sparq_last_error());
    rc = sparq_import_kaldi(P("nope"), &m, &st, NULL);
    CHECK(rc != 0 && strstr(sparq_last_error(), P("nope/wav.scp")), "kaldi: missing dir named: %s",
          sparq_last_error());
}

static void test_librispeech(void)
{
    sparq_mkdir_p(P("ls/19/198"));
    sparq_mkdir_p(P("ls/26/495"));
    write_audio(P("ls/19/198/19-198-0000.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, 0.5);
    write_audio(P("ls/19/198/19-198-0001.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, 1.5);
    truncate_copy(P("ls/19/198/19-198-0001.flac"), P("ls/19/198/19-198-0002.flac"), 0.4);
    write_text(P("ls/19/198/19-198-0003.flac"), "garbage");
    write_text(P("ls/19/198/19-198.trans.txt"), "19-198-0000 NORTHANGER ABBEY\n19-198-0001 THIS LITTLE WORK\n"
                                                "19-198-0002 WAS FINISHED\n19-198-0003 IN THE YEAR\n"
                                                "19-198-0004 EIGHTEEN O THREE\n");
    write_audio(P("ls/26/495/26-495-0000.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, 0.25);
    write_text(P("ls/26/495/26-495.trans.txt"), "26-495-0000 CHAPTER ONE\n");
    struct sparq_manifest m;
    struct sparq_import_stats st;
    FILE *log = tmpfile();
    int rc = sparq_import_librispeech(P("ls"), &m, &st, log);
    char *text = read_all(log);
    CHECK(rc == 0 && m.count == 3 && st.skipped == 3 && st.converted == 0,
          "librispeech: 3 imported, 3 skipped (got %zu, %zu)", m.count, st.skipped);
    CHECK(rc == 0 && !strcmp(m.utts[0].id, "19-198-0000") && !strcmp(m.utts[2].id, "26-495-0000") &&
              !strcmp(m.utts[1].text, "THIS LITTLE WORK") && fabs(m.utts[1].duration - 1.5) < 1e-9,
          "librispeech: sorted ids, transcripts and durations");
    CHECK(log_has(text, "19-198-0002", "truncated") && log_has(text, "19-198-0003", "cannot read audio") &&
              log_has(text, "19-198-0004", "19-198-0004.flac"),
          "librispeech: truncated, corrupt and missing flac reported with their paths");
    free(text);
    fclose(log);
    if (!rc)
        sparq_manifest_free(&m);
    sparq_mkdir_p(P("empty"));
    rc = sparq_import_librispeech(P("empty"), &m, &st, NULL);
    CHECK(rc != 0 && strstr(sparq_last_error(), "trans.txt"), "librispeech: a tree without transcripts is an error");
}

int main(void)
{
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_jsonl();
    test_kaldi();
    test_librispeech();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", root);
    return check_done();
}
