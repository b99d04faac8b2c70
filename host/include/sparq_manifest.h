// sparq-layer: data
// Utterance lists: JSONL manifests as NeMo writes them (one object per
// line: "audio_filepath", "duration", "text", optional "id"), plus
// importers from a Kaldi data directory (wav.scp + text) and from the
// LibriSpeech layout (SPEAKER/CHAPTER/*.flac + *.trans.txt).
#ifndef SPARQ_MANIFEST_H
#define SPARQ_MANIFEST_H

#include <stddef.h>
#include <stdio.h>

struct sparq_utt {
    char *id;         // unique; "id" field or the audio file name without extension
    char *audio_path; // as resolved: relative paths in a manifest are relative to its folder
    double duration;  // seconds
    char *text;       // transcript as stored (normalise with sparq_text_normalize)
};

struct sparq_manifest {
    struct sparq_utt *utts; // (count)
    size_t count, cap;
};

// Loads a JSONL manifest. A malformed line or missing field fails with
// "path:line: ..." (nothing half-loaded is returned). The rules every
// line-based reader (manifests, Kaldi wav.scp/text, score's id-text files)
// shares: a NUL byte anywhere fails (sparq_manifest_line_check); a "\u0000"
// escape in a JSON string fails; text after the object fails; blank lines
// are skipped; an id appearing twice fails (sparq_manifest_check_unique).
int sparq_manifest_load(const char *path, struct sparq_manifest *m);
// One raw line of `len` bytes (as getline returned it): a NUL byte fails
// with "path:line: NUL byte at column N".
int sparq_manifest_line_check(const char *path, int lineno, const char *line, size_t len);
// Fails with "path: utterance id 'X' appears twice (entries i and j)".
int sparq_manifest_check_unique(const char *path, const struct sparq_manifest *m);
// Appends a copy of the strings.
int sparq_manifest_add(struct sparq_manifest *m, const char *id, const char *audio_path, double duration,
                       const char *text);
// Writes JSONL atomically. Audio paths are written as stored.
int sparq_manifest_write(const struct sparq_manifest *m, const char *path);
double sparq_manifest_hours(const struct sparq_manifest *m);
void sparq_manifest_free(struct sparq_manifest *m);

// What an importer did. Every skipped or converted file is also reported
// on `log` (one line naming the file and the reason) if log is not NULL.
struct sparq_import_stats {
    size_t imported;   // utterances in the manifest
    size_t skipped;    // unreadable / empty / truncated audio, missing transcript or audio
    size_t converted;  // readable but not 16 kHz mono: kept, converted when loaded
};

// `dir` holds wav.scp ("id path" lines; piped commands are skipped as
// unsupported) and text ("id transcript"). Audio is probed with libsndfile.
int sparq_import_kaldi(const char *dir, struct sparq_manifest *out, struct sparq_import_stats *stats, FILE *log);
// `root` is searched recursively for *.trans.txt; each line "ID text" names
// ID.flac in the same folder.
int sparq_import_librispeech(const char *root, struct sparq_manifest *out, struct sparq_import_stats *stats,
                             FILE *log);
// Checks every entry of a manifest: audio readable, duration within 0.05 s
// of the header, text non-empty after normalisation. Bad entries are
// reported and, if `keep` is not NULL, the good ones are copied into it.
int sparq_manifest_check(const struct sparq_manifest *m, struct sparq_manifest *keep, struct sparq_import_stats *stats,
                         FILE *log);

#endif
