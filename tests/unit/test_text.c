// Text normalisation and number spelling against hand-written expectations.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sparq_rng.h"
#include "sparq_text.h"

static void norm(const char *in, const char *want)
{
    char *got = sparq_text_normalize(in);
    CHECK(got && !strcmp(got, want), "normalize \"%s\" -> \"%s\" (got \"%s\")", in, want, got ? got : "(null)");
    free(got);
}

static void num(unsigned long long n, const char *want)
{
    char buf[256];
    int len = sparq_number_words(n, buf, sizeof buf);
    CHECK(len == (int)strlen(want) && !strcmp(buf, want), "number %llu -> \"%s\" (got \"%s\")", n, want,
          len >= 0 ? buf : "(error)");
}

int main(void)
{
    num(0, "zero");
    num(7, "seven");
    num(13, "thirteen");
    num(40, "forty");
    num(99, "ninety nine");
    num(100, "one hundred");
    num(101, "one hundred one");
    num(2024, "two thousand twenty four");
    num(1000000, "one million");
    num(1002003, "one million two thousand three");
    num(999999999999999ull, "nine hundred ninety nine trillion nine hundred ninety nine billion nine hundred ninety "
                            "nine million nine hundred ninety nine thousand nine hundred ninety nine");
    char small[8];
    CHECK(sparq_number_words(1234, small, sizeof small) == -1, "number: too small a buffer is an error");
    CHECK(sparq_number_words(1000000000000000ull, small, sizeof small) == -1, "number: 10^15 is out of range");

    norm("Set a timer for 15 minutes!", "set a timer for fifteen minutes");
    norm("It's 7:30 in the morning.", "it's seven thirty in the morning");
    norm("Wake me at 6:05", "wake me at six oh five");
    norm("at 9:00", "at nine o'clock");
    norm("the 21st of May, the 2nd and 3rd, 12th, 100th", "the twenty first of may the second and third twelfth one hundredth");
    norm("3.5 degrees", "three point five degrees");
    norm("1,000 people and 12,345,678", "one thousand people and twelve million three hundred forty five thousand six hundred seventy eight");
    norm("agent 007", "agent zero zero seven");
    norm("  \"Hello,\"   WORLD...  ", "hello world");
    norm("rock-and-roll", "rock and roll");
    norm("'quoted' words' don't", "quoted words don't");
    norm("it\xE2\x80\x99s \xE2\x80\x9C" "fine\xE2\x80\x9D", "it's fine");
    norm("50% off & more", "fifty percent off and more");
    norm("caf\xC3\xA9 ol\xC3\xA9", "caf\xC3\xA9 ol\xC3\xA9");
    norm("", "");
    norm("?!.", "");
    norm("COVID19", "covid nineteen");
    norm("99999999999999999999", "nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine");

    norm("a\xff" "b \xe6" "x \xc3", "a b x");                  // malformed UTF-8 -> spaces
    norm("don'\xff" "t", "don t");
    norm("x\xe2\x81\xb0" "y", "x\xe2\x81\xb0" "y");           // U+2070 is kept, not punctuation

    // Normalising twice changes nothing, whatever the bytes (found by fuzzing).
    uint64_t seed = check_seed(99), s = seed;
    int stable = 1;
    for (int k = 0; k < 2000 && stable; k++) {
        char in[33];
        for (int i = 0; i < 32; i++) {
            unsigned v = (unsigned)(sparq_rng_next(&s) >> 56);
            in[i] = (char)(v % 3 == 0 ? "ab '\xe2\x80\x99\xc3\xa9 7:3.0,"[v % 18] : (int)(v | 1));
        }
        in[32] = 0;
        char *a = sparq_text_normalize(in), *b = a ? sparq_text_normalize(a) : NULL;
        stable = a && b && !strcmp(a, b);
        if (!stable)
            printf("# not idempotent on case %d\n", k);
        free(a);
        free(b);
    }
    CHECK(stable, "normalize is idempotent on 2000 random byte strings");

    int ok = sparq_vocab_index(0) == -1 && sparq_vocab_index(' ') == 1 && sparq_vocab_index('\'') == 2 &&
             sparq_vocab_index('a') == 3 && sparq_vocab_index('z') == SPARQ_VOCAB_SIZE - 1 && sparq_vocab_index('A') == -1;
    for (int i = 1; i < SPARQ_VOCAB_SIZE; i++)
        ok &= sparq_vocab_index(sparq_vocab_char(i)) == i;
    CHECK(ok && sparq_vocab_char(0) == 0, "vocabulary: blank, space, apostrophe, a..z round-trip");
    return check_done();
}
