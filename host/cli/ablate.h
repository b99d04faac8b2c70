// Private to `sparq ablate` (host/cli/cmd_ablate.c and ablate_*.c): the
// settings grid, the result rows and the report share these types.
#ifndef SPARQ_ABLATE_H
#define SPARQ_ABLATE_H

#include <cJSON.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "sparq_lm.h"
#include "sparq_train.h"

#define MARK_BEGIN "<!-- ablate:begin -->"
#define MARK_END "<!-- ablate:end -->"
#define MAX_SETTINGS 64
#define MAX_ROWS 256 // rows.json keeps the rows of every setting run into OUT with the same options
#define DECODE_FRAMES 20000 // padded input frames per decoding batch (as sparq eval)

enum kind { K_BASE, K_FINETUNE, K_PTQ, K_MIXED };
extern const char *const KIND_NAME[]; // indexed by enum kind

struct setting {
    char name[64];   // as in --settings: "int4-2:4", "ptq-int4", "mixed@9.4", "base"
    char dir[80];    // its folder under OUT
    enum kind kind;
    char spec[128];  // compression before --keep is appended ("" for mixed: the search decides)
    double budget;   // mixed: % of fp32
};

struct row {
    char name[64];
    enum kind kind;
    char *spec;              // the full spec exported
    char formats[256];       // matmul formats and counts, e.g. "int4-2:4 x36, int8 x1"
    int64_t steps;           // fine-tuning steps done (0: none)
    int resumed;             // the fine-tune continued from an interrupted run
    double wer;              // test WER (fraction), greedy
    // With --beam / --lm: the same export decoded by the prefix beam search
    // without and with the LM (-1: not measured); dec_key says how.
    double wer_beam, wer_lm;
    char dec_key[600];
    int64_t word_errors, ref_words;
    size_t file_bytes, param_bytes, fp32_bytes, matmul_params, matmul_bytes;
    double ft_seconds, eval_seconds, search_seconds;
    double budget;           // mixed
    size_t search_bytes;     // mixed: exported size the search predicted
};

struct ablate {
    // options
    const char *from, *corpus, *out, *results, *keep;
    int64_t steps;
    int epochs, batch_frames, quiet, verbose, resume, threads;
    int search_utts;        // dev utterances for the mixed-precision search (0: its default)
    int beam;               // > 1: also decode with the prefix beam search (and the LM, if any)
    const char *lm_path;
    double lm_weight, word_bonus;
    struct sparq_lm *lm;
    char dec_key[600];      // the beam decoding's options ("": greedy only); not in fingerprint
    double lr, distill;
    int64_t warmup;
    char fingerprint[2048]; // options a resumed run must share with the rows it reuses
    char command[4096];
    char date[64];
    // state
    struct setting settings[MAX_SETTINGS];
    int n_settings;
    struct row rows[MAX_ROWS];
    int n_rows;
    struct sparq_dataset test, dev;
    int have_dev;
    int reused;             // rows taken from an earlier run's rows.json (--resume)
    int redecoded;          // of those, decoded again with this run's --beam / --lm
    volatile sig_atomic_t *stop;
    double t_start;
};

// ablate_grid.c: which settings run, and their compression specs
int ablate_parse_budgets(const char *list, double *b, int *n);
int ablate_make_settings(struct ablate *a, const char *list, const double *budgets, int n_budgets);
char *ablate_full_spec(const struct ablate *a, const char *spec);

// ablate_rows.c: result rows, OUT/rows.json, small file helpers
// The row of a setting (index into a->rows, -1 / NULL if none).
int ablate_row_index(const struct ablate *a, const char *name);
const struct row *ablate_find_row(const struct ablate *a, const char *name);
int ablate_json_num(const cJSON *o, const char *key, double *v);
int ablate_load_rows(struct ablate *a);
cJSON *ablate_row_json(const struct ablate *a, const struct row *r, int with_derived);
double ablate_row_matmul_pct(const struct row *r);
double ablate_row_pct(const struct row *r);
double ablate_row_rel(const struct ablate *a, const struct row *r, int *ok);
// The row's WER by decoder (0 greedy, 1 beam, 2 beam + LM; -1: not
// measured) and its change relative to the float control's with the same.
double ablate_row_wer(const struct row *r, int decoder);
double ablate_row_rel_by(const struct ablate *a, const struct row *r, int decoder, int *ok);
int ablate_save_rows(const struct ablate *a);
int ablate_write_json_file(const char *path, cJSON *root);
int ablate_read_text(const char *path, char **out, size_t *len, int *missing);

// ablate_run.c: one setting from fine-tune to test WER; 1 if stopped by a signal
int ablate_run_setting(struct ablate *a, const struct setting *s, struct row *r);
// A finished row of an earlier run decoded again with this run's beam / LM
// options (its exported OUT/SETTING/model.spq; nothing is fine-tuned).
int ablate_decode_row(struct ablate *a, const struct setting *s, struct row *r);

// ablate_report.c: table, OUT/ablate.json, the plot and the results file
int ablate_report(const struct ablate *a);

#endif
