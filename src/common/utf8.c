/* utf8.c: see utf8.h (UTF-8 validity lives here with the other character classes). */
#include "utf8.h"

size_t nmt_space_at(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    if (len >= 1 && ((s[0] >= 0x09 && s[0] <= 0x0d) || (s[0] >= 0x1c && s[0] <= 0x20)))
        return 1;
    if (len >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0))
        return 2;
    if (len < 3)
        return 0;
    if (s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80) /* U+1680 */
        return 3;
    if (s[0] == 0xe2 && s[1] == 0x80 && ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf))
        return 3; /* U+2000..200A, U+2028, U+2029, U+202F */
    if (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f) /* U+205F */
        return 3;
    if (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80) /* U+3000 */
        return 3;
    return 0;
}

size_t nmt_space_before(const char *s, size_t len)
{
    for (size_t k = 1; k <= 3 && k <= len; k++)
        if (nmt_space_at(s + len - k, k) == k)
            return k;
    return 0;
}

size_t nmt_skip_space(const char *s, size_t b, size_t e)
{
    size_t k;
    while (b < e && (k = nmt_space_at(s + b, e - b)) > 0)
        b += k;
    return b;
}

size_t nmt_trim_space_end(const char *s, size_t b, size_t e)
{
    size_t k;
    while (e > b && (k = nmt_space_before(s + b, e - b)) > 0)
        e -= k;
    return e;
}

size_t nmt_newline_at(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    if (len >= 2 && s[0] == '\r' && s[1] == '\n')
        return 2;
    if (len >= 1 && (s[0] == '\n' || s[0] == '\r' || s[0] == '\v' || s[0] == '\f'))
        return 1;
    if (len >= 2 && s[0] == 0xc2 && s[1] == 0x85)
        return 2;
    if (len >= 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9))
        return 3;
    return 0;
}

size_t nmt_char_len(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 1;
    return n <= len ? n : 1;
}

int nmt_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp, min;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i <= n) /* truncated sequence */
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

size_t nmt_utf8_length(const char *str, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)str[i] & 0xc0) != 0x80;
    return n;
}
