// Transcript normalisation and the CTC character vocabulary (sparq_text.h).
#include "sparq_text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const ones[] = { "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                                    "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                                    "seventeen", "eighteen", "nineteen" };
static const char *const tens[] = { "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety" };
static const char *const scales[] = { "", "thousand", "million", "billion", "trillion" };

struct sbuf {
    char *p;
    size_t n, cap;
    int fail;
};

static void sb_put(struct sbuf *b, const char *s, size_t len)
{
    if (b->fail)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->n + len + 1 > cap)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->fail = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

static void sb_word(struct sbuf *b, const char *w)
{
    if (b->n && b->p[b->n - 1] != ' ')
        sb_put(b, " ", 1);
    sb_put(b, w, strlen(w));
}

static void below_thousand(struct sbuf *b, unsigned n)
{
    if (n >= 100) {
        sb_word(b, ones[n / 100]);
        sb_word(b, "hundred");
        n %= 100;
        if (!n)
            return;
    }
    if (n >= 20) {
        sb_word(b, tens[n / 10]);
        if (n % 10)
            sb_word(b, ones[n % 10]);
    } else
        sb_word(b, ones[n]);
}

static void number_words(struct sbuf *b, unsigned long long n)
{
    if (n == 0) {
        sb_word(b, "zero");
        return;
    }
    unsigned groups[5] = { 0 };
    int top = 0;
    for (int i = 0; i < 5 && n; i++) {
        groups[i] = (unsigned)(n % 1000);
        n /= 1000;
        if (groups[i])
            top = i;
    }
    for (int i = top; i >= 0; i--) {
        if (!groups[i])
            continue;
        below_thousand(b, groups[i]);
        if (i)
            sb_word(b, scales[i]);
    }
}

#define MAX_NUMBER 999999999999999ull

int sparq_number_words(unsigned long long n, char *buf, size_t size)
{
    if (n > MAX_NUMBER)
        return -1;
    struct sbuf b = { 0 };
    number_words(&b, n);
    if (b.fail || b.n + 1 > size) {
        free(b.p);
        return -1;
    }
    memcpy(buf, b.p, b.n + 1);
    int len = (int)b.n;
    free(b.p);
    return len;
}

// Turns the last word of b (a cardinal) into its ordinal.
static void make_ordinal(struct sbuf *b)
{
    size_t start = b->n;
    while (start && b->p[start - 1] != ' ')
        start--;
    char last[16];
    size_t len = b->n - start;
    if (len >= sizeof last)
        return;
    memcpy(last, b->p + start, len);
    last[len] = 0;
    static const char *const irregular[][2] = { { "one", "first" },   { "two", "second" }, { "three", "third" },
                                                { "five", "fifth" },  { "eight", "eighth" }, { "nine", "ninth" },
                                                { "twelve", "twelfth" } };
    for (size_t i = 0; i < sizeof irregular / sizeof irregular[0]; i++)
        if (!strcmp(last, irregular[i][0])) {
            b->n = start;
            sb_put(b, irregular[i][1], strlen(irregular[i][1]));
            return;
        }
    if (len && last[len - 1] == 'y') {
        b->n = start + len - 1;
        sb_put(b, "ieth", 4);
    } else
        sb_put(b, "th", 2);
}

static int is_letter_byte(unsigned char c) { return isalpha(c) || c >= 0x80; }

// Length of the well-formed UTF-8 sequence at s (2..4), 0 if s does not
// start one (ASCII, a stray continuation byte, a truncated sequence).
static size_t utf8_len(const char *s)
{
    unsigned char c = (unsigned char)s[0];
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    for (size_t k = 1; k < len; k++)
        if (((unsigned char)s[k] & 0xC0) != 0x80)
            return 0;
    return len;
}

// U+2000..U+206F: general punctuation (dashes, curly quotes, ellipsis...).
static int is_unicode_punct(const char *s)
{
    return (unsigned char)s[0] == 0xE2 &&
           ((unsigned char)s[1] == 0x80 || ((unsigned char)s[1] == 0x81 && (unsigned char)s[2] < 0xB0));
}

// Reads a digit run at s (commas between 3-digit groups allowed); returns
// the number of bytes used, the value, and the digit string.
static size_t read_digits(const char *s, unsigned long long *value, char *digits, size_t cap, int *overflow)
{
    size_t i = 0, nd = 0;
    *value = 0;
    *overflow = 0;
    while (s[i]) {
        if (isdigit((unsigned char)s[i])) {
            if (*value > MAX_NUMBER / 10)
                *overflow = 1;
            *value = *value * 10 + (unsigned)(s[i] - '0');
            if (nd + 1 < cap)
                digits[nd++] = s[i];
            i++;
        } else if (s[i] == ',' && isdigit((unsigned char)s[i + 1]) && isdigit((unsigned char)s[i + 2]) &&
                   isdigit((unsigned char)s[i + 3]) && !isdigit((unsigned char)s[i + 4]) && nd > 0 && nd <= 3 + 4 * 3) {
            i++;
        } else
            break;
    }
    digits[nd] = 0;
    return i;
}

static void digits_one_by_one(struct sbuf *b, const char *d)
{
    for (; *d; d++)
        sb_word(b, ones[*d - '0']);
}

static void spell_number(struct sbuf *b, unsigned long long v, const char *digits, int overflow)
{
    if (overflow || (digits[0] == '0' && digits[1]))
        digits_one_by_one(b, digits); // "007", very long ids
    else
        number_words(b, v);
}

char *sparq_text_normalize(const char *in)
{
    struct sbuf b = { 0 };
    sb_put(&b, "", 0);
    const char *s = in;
    while (*s && !b.fail) {
        unsigned char c = (unsigned char)*s;
        if (isdigit(c)) {
            unsigned long long v;
            char digits[64];
            int overflow;
            size_t used = read_digits(s, &v, digits, sizeof digits, &overflow);
            s += used;
            if (*s == ':' && isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
                !isdigit((unsigned char)s[3])) {
                // clock time h:mm
                unsigned mm = (unsigned)((s[1] - '0') * 10 + (s[2] - '0'));
                spell_number(&b, v, digits, overflow);
                if (mm == 0)
                    sb_word(&b, "o'clock");
                else {
                    if (mm < 10)
                        sb_word(&b, "oh");
                    number_words(&b, mm);
                }
                s += 3;
            } else if (*s == '.' && isdigit((unsigned char)s[1])) {
                spell_number(&b, v, digits, overflow);
                sb_word(&b, "point");
                s++;
                while (isdigit((unsigned char)*s)) {
                    sb_word(&b, ones[*s - '0']);
                    s++;
                }
            } else {
                spell_number(&b, v, digits, overflow);
                char suf[3] = { (char)tolower((unsigned char)s[0]), s[0] ? (char)tolower((unsigned char)s[1]) : 0, 0 };
                if ((!strcmp(suf, "st") || !strcmp(suf, "nd") || !strcmp(suf, "rd") || !strcmp(suf, "th")) &&
                    !is_letter_byte((unsigned char)s[2]) && !overflow) {
                    make_ordinal(&b);
                    s += 2;
                }
            }
            sb_put(&b, " ", 1);
            continue;
        }
        if (isalpha(c)) {
            char l = (char)tolower(c);
            sb_put(&b, &l, 1);
            s++;
            continue;
        }
        // Apostrophes (ASCII or U+2018/U+2019) survive only inside a word.
        int apos_len = c == '\'' ? 1 : (!strncmp(s, "\xE2\x80\x99", 3) || !strncmp(s, "\xE2\x80\x98", 3)) ? 3 : 0;
        if (apos_len) {
            int prev_letter = b.n && is_letter_byte((unsigned char)b.p[b.n - 1]) && b.p[b.n - 1] != ' ';
            const char *nx = s + apos_len;
            int next_letter = isalpha((unsigned char)*nx) || (utf8_len(nx) && !is_unicode_punct(nx));
            if (prev_letter && next_letter)
                sb_put(&b, "'", 1);
            else
                sb_put(&b, " ", 1);
            s += apos_len;
            continue;
        }
        if (c == '%') {
            sb_word(&b, "percent");
            sb_put(&b, " ", 1);
            s++;
            continue;
        }
        if (c == '&') {
            sb_word(&b, "and");
            sb_put(&b, " ", 1);
            s++;
            continue;
        }
        if (c >= 0x80) {
            // Valid UTF-8 sequences only; a stray or malformed byte becomes a
            // space. Unicode punctuation in U+2000..U+206F becomes a space too;
            // other characters (letters of other scripts) are kept.
            size_t len = utf8_len(s);
            if (!len || is_unicode_punct(s)) {
                sb_put(&b, " ", 1);
                s += len ? len : 1;
                continue;
            }
            sb_put(&b, s, len);
            s += len;
            continue;
        }
        sb_put(&b, " ", 1); // other punctuation, whitespace, control characters
        s++;
    }
    if (b.fail) {
        free(b.p);
        return NULL;
    }
    // Collapse whitespace and trim.
    size_t w = 0;
    for (size_t r = 0; r < b.n; r++) {
        if (b.p[r] == ' ' && (w == 0 || b.p[w - 1] == ' '))
            continue;
        b.p[w++] = b.p[r];
    }
    while (w && b.p[w - 1] == ' ')
        w--;
    b.p[w] = 0;
    return b.p;
}

int sparq_vocab_index(int ch)
{
    if (ch == ' ')
        return 1;
    if (ch == '\'')
        return 2;
    if (ch >= 'a' && ch <= 'z')
        return 3 + (ch - 'a');
    return -1;
}

int sparq_vocab_char(int index)
{
    if (index == 1)
        return ' ';
    if (index == 2)
        return '\'';
    if (index >= 3 && index < SPARQ_VOCAB_SIZE)
        return 'a' + (index - 3);
    return 0;
}
