/* utf8.h: UTF-8 validity and character classes on UTF-8 bytes (no
 * state, thread-safe).  Whitespace is what Python's str.isspace() calls
 * whitespace, so that stripping here matches Hugging Face's str.strip(). */
#ifndef NMT_UTF8_H
#define NMT_UTF8_H

#include <stddef.h>

/* 1 if s[0..len) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int nmt_utf8_valid(const char *s, size_t len);
/* Code points in valid UTF-8. */
size_t nmt_utf8_length(const char *s, size_t len);

/* Length of the whitespace character at s[0..len), or 0. */
size_t nmt_space_at(const char *s, size_t len);
/* Length of the whitespace character ending at s[len), or 0. */
size_t nmt_space_before(const char *s, size_t len);
/* The first byte of s[b, e) that does not start whitespace (e if none). */
size_t nmt_skip_space(const char *s, size_t b, size_t e);
/* The end of s[b, e) without its trailing whitespace (b if all is). */
size_t nmt_trim_space_end(const char *s, size_t b, size_t e);
/* Length of the line break at s[0..len): "\r\n", "\n", "\r", "\v", "\f",
 * U+0085, U+2028 or U+2029; or 0. */
size_t nmt_newline_at(const char *s, size_t len);
/* Length of the (valid) UTF-8 character at s[0..len); 1 for a stray byte. */
size_t nmt_char_len(const char *s, size_t len);

#endif
