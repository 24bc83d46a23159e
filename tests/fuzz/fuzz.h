/* fuzz.h: what every fuzz target in tests/fuzz shares.  A target is one
 * libFuzzer entry point over one parser of outside input; built with
 * --enable-fuzzer it is a libFuzzer binary, otherwise it is linked with
 * replay.c, which runs it over a corpus (make check replays the committed
 * seeds).  Besides the sanitizers, a target checks what the parser promises
 * about a success (FUZZ_CHECK), so that a wrong answer is a finding too. */
#ifndef NMT_FUZZ_H
#define NMT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer's entry point: runs the parser once over data[0..size), which is
 * not NUL-terminated.  Returns 0 (libFuzzer reserves other values). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise: print it and abort, which libFuzzer (or the replay
 * driver's caller) reports as a crash with the input that caused it. */
#define FUZZ_CHECK(cond, ...)                                                       \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: fuzz check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
            abort();                                                                \
        }                                                                           \
    } while (0)

#endif
