// sparq-layer: data
// Transcript normalisation applied to references, hypotheses and corpus
// text alike (docs/data.md): lowercase, digits spelled out in English
// words, punctuation removed except apostrophes inside words, whitespace
// collapsed to single spaces.
#ifndef SPARQ_TEXT_H
#define SPARQ_TEXT_H

#include <stddef.h>

// Returns a malloc'd normalised copy of `in` (UTF-8), or NULL on allocation
// failure. Examples: "Set a timer for 15 minutes!" -> "set a timer for
// fifteen minutes"; "It's 7:30" -> "it's seven thirty"; "21st" ->
// "twenty first"; "3.5" -> "three point five".
char *sparq_text_normalize(const char *in);

// Writes the English words for n (0 <= n < 10^15) into buf; returns the
// length or -1 if buf is too small. 2024 -> "two thousand twenty four".
int sparq_number_words(unsigned long long n, char *buf, size_t size);

// The CTC vocabulary the models use: index 0 is the blank, then space,
// apostrophe and 'a'..'z' (29 symbols). Returns -1 for characters outside it.
#define SPARQ_VOCAB_SIZE 29
int sparq_vocab_index(int ch);
int sparq_vocab_char(int index); // inverse; blank -> 0 (no character)

#endif
