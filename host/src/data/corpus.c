// Generator of the built-in TTS corpus (sparq_corpus.h): this file plans
// every utterance (text, voice, effects) from the seed, hands the jobs to
// worker processes (corpus_worker.c) and keeps the manifests and reports.
// docs/data.md has the design.
#include "sparq_corpus.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corpus_job.h"
#include "sparq_clock.h"
#include "sparq_file.h"
#include "sparq_error.h"
#include "sparq_manifest.h"
#include "sparq_rng.h"
#include "sparq_textsrc.h"

static const char *const split_names[NSPLITS] = { "train", "dev", "test-voices", "test-text" };
static const char *const aug_names[NAUG] = { "speed", "pitch", "reverb", "noise", "phone", "lowpass", "gain" };
static const double aug_prob[NAUG] = { 0.30, 0.20, 0.30, 0.40, 0.15, 0.10, 0.20 };

// Voices. Test voices never appear in train, dev or test-text: whole
// espeak accents and variants are held out, plus the slt and rms speakers
// (flite, and festival's HTS slt).
static const char *const espeak_train_accents[] = { "en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-029" };
// Every espeak-ng variant with a human-like voice (robot, whisper, croak and
// "demonic" variants are left out). Held-out variants are listed below.
static const char *const espeak_train_variants[] = {
    "",        "m1",      "m2",       "m3",     "m4",     "m8",     "f1",        "f2",      "f3",    "klatt",
    "klatt2",  "klatt3",  "klatt5",   "klatt6", "Alex",   "Alicia", "Andrea",    "Andy",    "Annie", "Denis",
    "Diogo",   "Gene",    "Henrique", "Hugo",   "Jacky",  "Lee",    "Marco",     "Mario",   "Michael", "Mike",
    "Nguyen",  "adam",    "anika",    "announcer", "antonio", "aunty", "belinda", "benjamin", "boris", "caleb",
    "david",   "ed",      "edward",   "grandma", "iven",   "iven2",  "iven3",     "john",    "kaukovalta", "linda",
    "marcelo", "max",     "michel",   "miguel", "norbert", "pablo", "paul",      "pedro",   "rob",   "robert",
    "sandro",  "shelby",  "steph",    "steph2", "travis", "victor", "zac",
};
static const char *const espeak_test_accents[] = { "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc" };
static const char *const espeak_test_variants[] = { "m5", "m6", "m7", "f4", "f5", "klatt4", "Gene2",
                                                    "edward2", "grandpa", "gustave", "iven4", "quincy", "steph3" };
static const char *const flite_train[] = { "kal", "kal16", "awb" };
static const char *const flite_test[] = { "slt", "rms" };
static const char *const festival_train[] = { "kal_diphone", "ked_diphone" };
static const char *const festival_test[] = { "cmu_us_slt_arctic_hts" };
#define NA(a) ((int)(sizeof a / sizeof a[0]))

void sparq_corpus_default_options(struct sparq_corpus_options *o)
{
    memset(o, 0, sizeof *o);
    o->train_hours = 1.0;
    o->dev_hours = 0.1;
    o->test_hours = 0.1;
    o->seed = 1;
    o->workers = 2;
    o->augment_fraction = 0.5;
    o->open_fraction = 0.5;
    o->test_text_hours = -1;
    o->progress = 1;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; // FNV-1a
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

// Every distinct sentence belongs to exactly one split (by its hash), so
// dev and test sentences are never seen in training.
static int split_of_text(const char *text)
{
    uint64_t h = hash_str(text) % 20;
    return h == 0 ? DEV : h == 1 ? TEST : TRAIN;
}

// Open-vocabulary sentences each split may use: train/dev/test-voices by
// the same text hash as the templates, test-text from held-out sources.
struct pools {
    const char **s[NSPLITS];
    size_t n[NSPLITS];
};

static void plan_job(const struct sparq_corpus_options *o, const struct pools *pl, int split, int idx, struct job *j)
{
    memset(j, 0, sizeof *j);
    uint64_t rng = o->seed * 0x9E3779B97F4A7C15ull ^ ((uint64_t)split << 56) ^ (uint64_t)idx * 0xD1B54A32D192ED03ull;
    sparq_rng_next(&rng);
    j->idx = idx;
    j->split = split;
    double uo = sparq_rng_uniform(&rng);
    if (pl->n[split] && (split == TEST_TEXT || uo < o->open_fraction)) {
        j->open = 1;
        snprintf(j->text, sizeof j->text, "%s", pl->s[split][sparq_rng_next(&rng) % pl->n[split]]);
    } else
        do {
            if (sparq_corpus_sentence(&rng, j->text, sizeof j->text) < 0)
                j->text[0] = 0;
        } while (!j->text[0] || split_of_text(j->text) != split);
    double u = sparq_rng_uniform(&rng);
    if (split == TEST) {
        if (u < 0.5) {
            j->engine = ESPEAK;
            snprintf(j->voice, sizeof j->voice, "%s+%s",
                     espeak_test_accents[sparq_rng_next(&rng) % NA(espeak_test_accents)],
                     espeak_test_variants[sparq_rng_next(&rng) % NA(espeak_test_variants)]);
        } else if (u < 0.85) {
            j->engine = FLITE;
            snprintf(j->voice, sizeof j->voice, "%s", flite_test[sparq_rng_next(&rng) % NA(flite_test)]);
        } else {
            j->engine = FESTIVAL;
            snprintf(j->voice, sizeof j->voice, "%s", festival_test[sparq_rng_next(&rng) % NA(festival_test)]);
        }
    } else if (u < 0.55) {
        j->engine = ESPEAK;
        const char *acc = espeak_train_accents[sparq_rng_next(&rng) % NA(espeak_train_accents)];
        const char *var = espeak_train_variants[sparq_rng_next(&rng) % NA(espeak_train_variants)];
        snprintf(j->voice, sizeof j->voice, "%s%s%s", acc, var[0] ? "+" : "", var);
    } else if (u < 0.85) {
        j->engine = FLITE;
        snprintf(j->voice, sizeof j->voice, "%s", flite_train[sparq_rng_next(&rng) % NA(flite_train)]);
    } else {
        j->engine = FESTIVAL;
        snprintf(j->voice, sizeof j->voice, "%s", festival_train[sparq_rng_next(&rng) % NA(festival_train)]);
    }
    j->rate = 130 + (int)(sparq_rng_next(&rng) % 71);  // 130..200 wpm
    j->pitch = 25 + (int)(sparq_rng_next(&rng) % 51);  // 25..75
    j->stretch = (float)(0.85 + 0.4 * sparq_rng_uniform(&rng));
    j->aug = 0;
    if (split == TRAIN && sparq_rng_uniform(&rng) < o->augment_fraction) {
        for (int a = 0; a < NAUG; a++)
            if (sparq_rng_uniform(&rng) < aug_prob[a])
                j->aug |= 1u << a;
        if (j->aug & (1u << AUG_PHONE)) // the phone channel already limits the band
            j->aug &= ~(1u << AUG_LOWPASS);
        if (!j->aug)
            j->aug = 1u << AUG_NOISE;
        for (int a = 0; a < NAUG; a++) {
            double v = sparq_rng_uniform(&rng);
            float *p = &j->aug_param[a];
            switch (a) {
            case AUG_SPEED: *p = (float)(0.85 + 0.3 * v); break;    // tempo and pitch together
            case AUG_PITCH: *p = (float)(-300 + 600 * v); break;     // cents, tempo kept
            case AUG_REVERB: *p = (float)(20 + 60 * v); break;       // reverberance %
            case AUG_NOISE: *p = (float)(5 + 25 * v); break;         // SNR 5..30 dB
            case AUG_LOWPASS: *p = (float)(4000 + 3000 * v); break;  // top of band, Hz
            case AUG_GAIN: *p = v < 2.0 / 3 ? (float)(-35 + 15 * v * 1.5) : (float)(2 + 18 * (v - 2.0 / 3)); break;
            default: break;
            }
            if (!(j->aug & (1u << a)))
                *p = 0;
        }
    }
    j->seed = sparq_rng_next(&rng);
}

static void voice_tag(const struct job *j, char *tag, size_t n)
{
    static const char *const eng[] = { "espeak", "flite", "festival" };
    snprintf(tag, n, "%s_%s", eng[j->engine], j->voice);
    for (char *p = tag; *p; p++)
        if (*p == '+')
            *p = '_';
}

// ---- parent side ----------------------------------------------------------

static void fmt_time(double s, char *buf, size_t n)
{
    if (s < 0 || !isfinite(s))
        snprintf(buf, n, "--");
    else if (s < 90)
        snprintf(buf, n, "%.0fs", s);
    else
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

struct split_state {
    struct job *jobs;      // (cap) planned jobs by index
    struct result *res;    // (cap)
    char *done;            // (cap)
    int cap, dispatched, completed, failed;
    double seconds_done;
};

static int grow(struct split_state *s, int need)
{
    if (need <= s->cap)
        return 0;
    int cap = s->cap ? s->cap * 2 : 1024;
    while (cap < need)
        cap *= 2;
    struct job *j = realloc(s->jobs, (size_t)cap * sizeof *j);
    if (j)
        s->jobs = j;
    struct result *r = realloc(s->res, (size_t)cap * sizeof *r);
    if (r)
        s->res = r;
    char *d = realloc(s->done, (size_t)cap);
    if (d)
        s->done = d;
    if (!j || !r || !d)
        return -1;
    memset(s->done + s->cap, 0, (size_t)(cap - s->cap));
    s->cap = cap;
    return 0;
}

static int cmp_voice(const void *a, const void *b)
{
    const struct job *x = *(const struct job *const *)a, *y = *(const struct job *const *)b;
    return x->engine != y->engine ? x->engine - y->engine : strcmp(x->voice, y->voice);
}

// Writes the effects of an augmented utterance as "speed=1.07,noise=12.3".
static void describe_aug(const struct job *j, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    for (int a = 0; a < NAUG && len < n; a++)
        if (j->aug & (1u << a))
            len += (size_t)snprintf(buf + len, n - len, "%s%s=%.2f", len ? "," : "", aug_names[a], j->aug_param[a]);
    if (!j->aug)
        snprintf(buf, n, "none");
}

static int generate_split(const struct sparq_corpus_options *o, const struct pools *pl, int split, double target_s,
                          struct worker *w, int nw, double *gen_seconds, int *voices, struct sparq_manifest *out)
{
    struct split_state st = { 0 };
    double t0 = sparq_clock_s(), last_print = 0;
    const double est = 2.5; // seconds per utterance, only to decide how many jobs to keep in flight
    int rc = SPARQ_OK, in_flight = 0;
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/wav/%s", o->out_dir, split_names[split]);
    if ((rc = sparq_mkdir_p(dir)))
        return rc;
    for (;;) {
        // Hand out jobs while the finished audio plus an estimate for the
        // jobs in flight falls short of the target.
        for (int k = 0; k < nw && rc == SPARQ_OK; k++) {
            if (w[k].busy || st.seconds_done + est * in_flight >= target_s)
                continue;
            if (grow(&st, st.dispatched + 1)) {
                rc = sparq_fail(SPARQ_ENOMEM, "out of memory planning jobs");
                break;
            }
            struct job *j = &st.jobs[st.dispatched];
            plan_job(o, pl, split, st.dispatched, j);
            char tag[64];
            voice_tag(j, tag, sizeof tag);
            snprintf(j->out, sizeof j->out, "%.450s/%s-%06d-%s.wav", dir, split_names[split], j->idx, tag);
            if (corpus_write_full(w[k].jobs_fd, j, sizeof *j)) {
                rc = sparq_fail(SPARQ_EIO, "worker %d stopped taking jobs", k);
                break;
            }
            w[k].busy = 1;
            st.dispatched++;
            in_flight++;
        }
        if (rc || in_flight == 0)
            break;
        struct pollfd pf[16];
        for (int k = 0; k < nw; k++)
            pf[k] = (struct pollfd){ .fd = w[k].results_fd, .events = POLLIN };
        if (poll(pf, (nfds_t)nw, -1) < 0 && errno != EINTR) {
            rc = sparq_fail(SPARQ_EIO, "poll: %s", strerror(errno));
            break;
        }
        for (int k = 0; k < nw; k++) {
            if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)) || !w[k].busy)
                continue;
            struct result r;
            if (corpus_read_full(w[k].results_fd, &r, sizeof r) || r.idx < 0 || r.idx >= st.dispatched) {
                rc = sparq_fail(SPARQ_EIO, "worker %d died", k);
                break;
            }
            w[k].busy = 0;
            in_flight--;
            st.res[r.idx] = r;
            st.done[r.idx] = 1;
            st.completed++;
            if (r.ok)
                st.seconds_done += r.seconds;
            else {
                st.failed++;
                fprintf(stderr, "\nsparq data gen: %s utterance %d skipped: %s\n", split_names[split], r.idx, r.err);
            }
        }
        if (rc)
            break;
        if (st.failed > 20 && st.failed * 10 > st.completed) {
            rc = sparq_fail(SPARQ_EIO, "%s: %d of %d utterances failed; is the TTS software installed?",
                            split_names[split], st.failed, st.completed);
            break;
        }
        double t = sparq_clock_s();
        if (o->progress && (t - last_print > 0.5)) {
            last_print = t;
            double el = t - t0, speed = st.seconds_done / fmax(el, 1e-9);
            char eta[32], elapsed[32];
            fmt_time((target_s - st.seconds_done) / fmax(speed, 1e-9), eta, sizeof eta);
            fmt_time(el, elapsed, sizeof elapsed);
            fprintf(stderr, "\r%-5s %6d utts %7.3f / %.3f h audio  %6.1fx real time  %5.1f utt/s  elapsed %s  ETA %s   ",
                    split_names[split], st.completed, st.seconds_done / 3600, target_s / 3600, speed,
                    st.completed / fmax(el, 1e-9), elapsed, eta);
        }
    }
    // The manifest is the shortest prefix of job indices reaching the
    // target, so the result does not depend on worker timing.
    double acc = 0;
    int cut = 0;
    while (rc == SPARQ_OK && cut < st.dispatched && acc < target_s) {
        if (st.res[cut].ok)
            acc += st.res[cut].seconds;
        cut++;
    }
    // SPLIT.info.tsv: how each utterance was made, for per-voice analysis.
    size_t icap = 256 + (size_t)cut * 300, ilen = 0;
    char *info = rc == SPARQ_OK ? malloc(icap) : NULL;
    const struct job **kept = rc == SPARQ_OK ? malloc(((size_t)cut + 1) * sizeof *kept) : NULL;
    int nkept = 0;
    if (info)
        ilen = (size_t)snprintf(info, icap, "id\tengine\tvoice\trate\tpitch\tstretch\ttext\taugment\n");
    for (int i = 0; rc == SPARQ_OK && i < st.dispatched; i++) {
        if (!st.res[i].ok)
            continue;
        if (i >= cut) {
            unlink(st.jobs[i].out);
            continue;
        }
        const char *rel = st.jobs[i].out + strlen(o->out_dir) + 1;
        char id[128];
        snprintf(id, sizeof id, "%.*s", (int)(strlen(strrchr(rel, '/') + 1) - 4), strrchr(rel, '/') + 1);
        rc = sparq_manifest_add(out, id, rel, st.res[i].seconds, st.jobs[i].text);
        const struct job *j = &st.jobs[i];
        static const char *const eng[] = { "espeak-ng", "flite", "festival" };
        char aug[200];
        describe_aug(j, aug, sizeof aug);
        if (info && ilen + 300 < icap)
            ilen += (size_t)snprintf(info + ilen, icap - ilen, "%s\t%s\t%s\t%d\t%d\t%.3f\t%s\t%s\n", id,
                                     eng[j->engine], j->voice, j->engine == ESPEAK ? j->rate : 0,
                                     j->engine == ESPEAK ? j->pitch : 0, j->engine == ESPEAK ? 1.0 : j->stretch,
                                     j->open ? "open" : "template", aug);
        if (kept)
            kept[nkept++] = j;
    }
    *voices = 0;
    if (kept && nkept) {
        qsort(kept, (size_t)nkept, sizeof *kept, cmp_voice);
        for (int i = 0; i < nkept; i++)
            *voices += i == 0 || cmp_voice(&kept[i - 1], &kept[i]) != 0;
    }
    free(kept);
    if (rc == SPARQ_OK && info) {
        char path[1100];
        snprintf(path, sizeof path, "%.900s/%s.info.tsv", o->out_dir, split_names[split]);
        rc = sparq_write_file_atomic(path, info, ilen);
    }
    free(info);
    *gen_seconds = sparq_clock_s() - t0;
    if (o->progress)
        fprintf(stderr, "\r%-5s %6zu utts %7.3f h audio in %.1f s (%.1fx real time), %d voices, %d failed%30s\n",
                split_names[split], out->count, sparq_manifest_hours(out), *gen_seconds,
                sparq_manifest_hours(out) * 3600 / fmax(*gen_seconds, 1e-9), *voices, st.failed, "");
    free(st.jobs);
    free(st.res);
    free(st.done);
    return rc;
}

// Every option in range before any work starts.
static int check_options(const struct sparq_corpus_options *o)
{
    if (!o->out_dir || !o->out_dir[0])
        return sparq_fail(SPARQ_EINVAL, "corpus: no output folder");
    if (strlen(o->out_dir) > 400)
        return sparq_fail(SPARQ_EINVAL, "corpus: output folder name longer than 400 characters");
    if (o->workers < 1 || o->workers > 16)
        return sparq_fail(SPARQ_EINVAL, "corpus: workers must be 1..16 (got %d)", o->workers);
    if (!(o->train_hours >= 0) || !(o->dev_hours >= 0) || !(o->test_hours >= 0) ||
        o->train_hours + o->dev_hours + o->test_hours > 10000)
        return sparq_fail(SPARQ_EINVAL, "corpus: hours must be non-negative and sum to at most 10000");
    if (!(o->augment_fraction >= 0 && o->augment_fraction <= 1))
        return sparq_fail(SPARQ_EINVAL, "corpus: augment fraction must be in [0, 1]");
    if (!(o->open_fraction >= 0 && o->open_fraction <= 1))
        return sparq_fail(SPARQ_EINVAL, "corpus: open-text fraction must be in [0, 1]");
    if (o->test_text_hours > 10000)
        return sparq_fail(SPARQ_EINVAL, "corpus: test-text hours must be at most 10000");
    return SPARQ_OK;
}

struct oov {
    double tokens, types; // fractions of running words / distinct words
};

// corpus.json: what was generated and how fast, for docs and reports, with
// the words actually spoken in train and test-text's OOV against them.
static int write_report(const struct sparq_corpus_options *o, int open_text, const struct pools *pl,
                        const struct sparq_manifest m[NSPLITS], const double secs[NSPLITS], const int voices[NSPLITS],
                        size_t train_text_words, struct oov pool_oov)
{
    int rc = SPARQ_OK;
    struct sparq_wordset spoken = { 0 };
    const char **tt = malloc((m[TRAIN].count + m[TEST_TEXT].count + 1) * sizeof *tt);
    double oov_tok = 0, oov_type = 0;
    if (!tt)
        rc = sparq_fail(SPARQ_ENOMEM, "corpus: out of memory");
    for (size_t i = 0; tt && i < m[TRAIN].count; i++)
        tt[i] = m[TRAIN].utts[i].text;
    for (size_t i = 0; tt && i < m[TEST_TEXT].count; i++)
        tt[m[TRAIN].count + i] = m[TEST_TEXT].utts[i].text;
    if (rc == SPARQ_OK)
        rc = sparq_wordset_add(&spoken, tt, m[TRAIN].count);
    if (rc == SPARQ_OK)
        sparq_wordset_oov(&spoken, tt + m[TRAIN].count, m[TEST_TEXT].count, &oov_tok, &oov_type);
    free(tt);
    char buf[4096];
    int n = snprintf(buf, sizeof buf,
                     "{\n  \"format\": \"sparq-corpus\",\n  \"version\": 2,\n  \"seed\": %llu,\n  \"workers\": %d,\n"
                     "  \"augment_fraction\": %.3f,\n  \"open_fraction\": %.3f,\n  \"text_sources\": \"%s\",\n"
                     "  \"text\": {\"open_sentences\": {\"train\": %zu, \"dev\": %zu, \"test-voices\": %zu, "
                     "\"test-text\": %zu},\n"
                     "           \"train_text_words\": %zu, \"test_text_oov_vs_train_text\": {\"tokens\": %.4f, "
                     "\"types\": %.4f},\n"
                     "           \"train_spoken_words\": %zu, \"test_text_oov_vs_train_spoken\": {\"tokens\": %.4f, "
                     "\"types\": %.4f}},\n"
                     "  \"splits\": {\n",
                     (unsigned long long)o->seed, o->workers, o->augment_fraction, o->open_fraction,
                     open_text ? (o->text_sources ? o->text_sources : "default") : "none", pl->n[TRAIN], pl->n[DEV],
                     pl->n[TEST], pl->n[TEST_TEXT], train_text_words, pool_oov.tokens, pool_oov.types, spoken.count,
                     oov_tok, oov_type);
    sparq_wordset_free(&spoken);
    for (int s = 0; s < NSPLITS; s++)
        n += snprintf(buf + n, sizeof buf - (size_t)n,
                      "    \"%s\": {\"utterances\": %zu, \"hours\": %.4f, \"voices\": %d, "
                      "\"generation_seconds\": %.2f, \"real_time_factor\": %.2f}%s\n",
                      split_names[s], m[s].count, sparq_manifest_hours(&m[s]), voices[s], secs[s],
                      sparq_manifest_hours(&m[s]) * 3600 / fmax(secs[s], 1e-9), s + 1 < NSPLITS ? "," : "");
    n += snprintf(buf + n, sizeof buf - (size_t)n, "  }\n}\n");
    char path[1100];
    snprintf(path, sizeof path, "%s/corpus.json", o->out_dir);
    if (rc == SPARQ_OK)
        rc = sparq_write_file_atomic(path, buf, (size_t)n);
    return rc;
}

// A sentence's split in the generated corpus: held-out sources go to
// test-text only, the rest by hash; -1 for a sentence longer than a job's
// text buffer, which no split uses.
static int split_of_sentence(const struct sparq_textsrc *ts, size_t i)
{
    if (strlen(ts->sent[i].text) >= sizeof ((struct job *)0)->text)
        return -1;
    return ts->sources[ts->sent[i].source].heldout ? TEST_TEXT : split_of_text(ts->sent[i].text);
}

int sparq_corpus_text_pool(const char *split, const char *text_root, const char *text_sources, char **text,
                           size_t *len, size_t *count)
{
    int want = -1;
    for (int s = 0; s < NSPLITS; s++)
        if (!strcmp(split, split_names[s]))
            want = s;
    if (want < 0)
        return sparq_fail(SPARQ_EINVAL, "--split: '%s' is not train, dev, test-voices or test-text", split);
    struct sparq_textsrc ts = { 0 };
    int rc = sparq_textsrc_load(&ts, text_root, text_sources);
    size_t n = 0, cap = 1;
    for (size_t i = 0; rc == SPARQ_OK && i < ts.count; i++)
        cap += strlen(ts.sent[i].text) + 1;
    char *buf = rc ? NULL : malloc(cap);
    if (!rc && !buf)
        rc = sparq_fail(SPARQ_ENOMEM, "corpus text: out of memory");
    *count = 0;
    for (size_t i = 0; rc == SPARQ_OK && i < ts.count; i++) {
        if (split_of_sentence(&ts, i) != want)
            continue;
        n += (size_t)sprintf(buf + n, "%s\n", ts.sent[i].text);
        ++*count;
    }
    sparq_textsrc_free(&ts);
    if (rc) {
        free(buf);
        return rc;
    }
    *text = buf;
    *len = n;
    return SPARQ_OK;
}

int sparq_corpus_generate(const struct sparq_corpus_options *o)
{
    int rc = check_options(o);
    if (rc)
        return rc;
    double test_text_hours = o->test_text_hours < 0 ? o->test_hours : o->test_text_hours;
    // Open text first: a missing source package is reported before any work.
    struct sparq_textsrc ts = { 0 };
    struct pools pl;
    memset(&pl, 0, sizeof pl);
    int open_text = !(o->text_sources && !strcmp(o->text_sources, "none"));
    rc = open_text ? sparq_textsrc_load(&ts, o->text_root, o->text_sources) : SPARQ_OK;
    if (rc)
        return rc;
    for (int s = 0; s < NSPLITS && rc == SPARQ_OK; s++)
        if (!(pl.s[s] = malloc((ts.count + 1) * sizeof *pl.s[s])))
            rc = sparq_fail(SPARQ_ENOMEM, "corpus: out of memory");
    for (size_t i = 0; rc == SPARQ_OK && i < ts.count; i++) {
        int s = split_of_sentence(&ts, i);
        if (s >= 0)
            pl.s[s][pl.n[s]++] = ts.sent[i].text;
    }
    if (!pl.n[TEST_TEXT])
        test_text_hours = 0; // no held-out source chosen: no test-text split
    // Vocabulary the training text can show the model (templates + open
    // text), and how much of test-text lies outside it.
    struct sparq_wordset train_words = { 0 };
    const char **tvocab;
    size_t ntv = sparq_corpus_vocabulary(&tvocab);
    double pool_oov_tok = 0, pool_oov_type = 0;
    if (rc == SPARQ_OK)
        rc = sparq_wordset_add(&train_words, tvocab, ntv);
    if (rc == SPARQ_OK)
        rc = sparq_wordset_add(&train_words, pl.s[TRAIN], pl.n[TRAIN]);
    if (rc == SPARQ_OK)
        sparq_wordset_oov(&train_words, pl.s[TEST_TEXT], pl.n[TEST_TEXT], &pool_oov_tok, &pool_oov_type);
    if (rc == SPARQ_OK)
        rc = sparq_mkdir_p(o->out_dir);
    if (rc) {
        for (int s = 0; s < NSPLITS; s++)
            free(pl.s[s]);
        sparq_wordset_free(&train_words);
        sparq_textsrc_free(&ts);
        return rc;
    }
    struct worker w[16];
    int nw = 0;
    if (rc == SPARQ_OK)
        rc = corpus_workers_start(o->out_dir, o->workers, w, &nw);
    const double hours[NSPLITS] = { o->train_hours, o->dev_hours, o->test_hours, test_text_hours };
    double secs[NSPLITS] = { 0 };
    int voices[NSPLITS] = { 0 };
    struct sparq_manifest m[NSPLITS];
    memset(m, 0, sizeof m);
    for (int s = 0; s < NSPLITS && rc == SPARQ_OK; s++) {
        rc = generate_split(o, &pl, s, hours[s] * 3600.0, w, nw, &secs[s], &voices[s], &m[s]);
        char path[1100];
        snprintf(path, sizeof path, "%s/%s.jsonl", o->out_dir, split_names[s]);
        if (rc == SPARQ_OK)
            rc = sparq_manifest_write(&m[s], path);
        // test.jsonl: the held-out-voice split under its older name.
        snprintf(path, sizeof path, "%s/test.jsonl", o->out_dir);
        if (rc == SPARQ_OK && s == TEST)
            rc = sparq_manifest_write(&m[s], path);
    }
    corpus_workers_stop(o->out_dir, w, nw);
    if (rc == SPARQ_OK) {
        struct oov pool_oov = { pool_oov_tok, pool_oov_type };
        rc = write_report(o, open_text, &pl, m, secs, voices, train_words.count, pool_oov);
    }
    for (int s = 0; s < NSPLITS; s++) {
        sparq_manifest_free(&m[s]);
        free(pl.s[s]);
    }
    sparq_wordset_free(&train_words);
    sparq_textsrc_free(&ts);
    return rc;
}
