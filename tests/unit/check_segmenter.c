/* check_segmenter.c: sentences as ICU cuts them, and where our lists
 * correct ICU (English and German abbreviations, initials, ordinals);
 * line breaks always end a segment, or join a paragraph's lines; gaps are
 * whatever lies between the spans; segment caps. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segmenter.h"
#include "testutil.h"

/* The segments of text as "a|b|c". */
static char *cut(const char *lang, const char *text, int join)
{
    nmt_segmenter *s;
    nmt_err err;
    ck_assert_msg(nmt_segmenter_new(&s, lang, &err) == NMT_OK, "%s", err.msg);
    nmt_span *spans;
    int n;
    ck_assert_msg(nmt_segmenter_split(s, text, strlen(text), join, 1000, &spans, &n, &err) == NMT_OK, "%s", err.msg);
    static char out[4096];
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        ck_assert_uint_lt(spans[i].begin, spans[i].end);
        if (i)
            ck_assert_uint_le(spans[i - 1].end, spans[i].begin);
        at += (size_t)snprintf(out + at, sizeof out - at, "%s%.*s", i ? "|" : "", (int)(spans[i].end - spans[i].begin),
                               text + spans[i].begin);
    }
    free(spans);
    nmt_segmenter_free(s);
    return out;
}

START_TEST(test_plain_sentences)
{
    ck_assert_str_eq(cut("en", "The dog sees the cat. The cat runs away! Does it?", 0),
                     "The dog sees the cat.|The cat runs away!|Does it?");
    ck_assert_str_eq(cut("en", "  One.  Two.  ", 0), "One.|Two.");
    ck_assert_str_eq(cut("en", "lower case. after a stop", 0), "lower case. after a stop"); /* ICU: no break */
    ck_assert_str_eq(cut("en", "no final stop", 0), "no final stop");
    ck_assert_str_eq(cut("en", "\"Quoted.\" Then more.", 0), "\"Quoted.\"|Then more.");
}
END_TEST

START_TEST(test_english_list)
{
    ck_assert_str_eq(cut("en", "Dr. Smith arrived. He sat down.", 0), "Dr. Smith arrived.|He sat down.");
    ck_assert_str_eq(cut("en", "Mr. Brown and Prof. Green met J. R. Smith. Then they left.", 0),
                     "Mr. Brown and Prof. Green met J. R. Smith.|Then they left.");
    ck_assert_str_eq(cut("en", "Use e.g. This one. Or that.", 0), "Use e.g. This one.|Or that.");
    ck_assert_str_eq(cut("eng", "See Fig. Three. Done.", 0), "See Fig. Three.|Done."); /* ISO 639-2 code */
}
END_TEST

START_TEST(test_german_list)
{
    ck_assert_str_eq(cut("de", "Äpfel, Birnen usw. Sie sind gesund. Das ist gut.", 0),
                     "Äpfel, Birnen usw. Sie sind gesund.|Das ist gut.");
    ck_assert_str_eq(cut("de", "Er kommt am 28. September zurück. Dann geht er.", 0),
                     "Er kommt am 28. September zurück.|Dann geht er.");
    ck_assert_str_eq(cut("de", "Der 3. Platz ist gut. Ja.", 0), "Der 3. Platz ist gut.|Ja.");
    ck_assert_str_eq(cut("de", "Obst, z. B. Äpfel. Oder Birnen, d. h. Obst.", 0),
                     "Obst, z. B. Äpfel.|Oder Birnen, d. h. Obst.");
    ck_assert_str_eq(cut("de", "Es kostet ca. Zehn Euro bzw. Elf. Gut.", 0), "Es kostet ca. Zehn Euro bzw. Elf.|Gut.");
    ck_assert_str_eq(cut("de", "Er kam 1990. Dann ging er.", 0), "Er kam 1990.|Dann ging er."); /* a year ends it */
    /* without our list ICU's root rules break after the abbreviation */
    ck_assert_str_eq(cut("", "Äpfel, Birnen usw. Sie sind gesund.", 0), "Äpfel, Birnen usw.|Sie sind gesund.");
}
END_TEST

START_TEST(test_line_breaks)
{
    ck_assert_str_eq(cut("en", "first line\nsecond line\r\nthird", 0), "first line|second line|third");
    ck_assert_str_eq(cut("en", "a hard-wrapped\nsentence. And\nanother.\n\nNew paragraph", 1),
                     "a hard-wrapped\nsentence.|And\nanother.|New paragraph");
    ck_assert_str_eq(cut("en", "Dr.\nSmith", 0), "Dr.|Smith"); /* a line break always ends a segment */
    ck_assert_str_eq(cut("en", "para one\n \t\npara two", 1), "para one|para two"); /* blank line with spaces */
    ck_assert_str_eq(cut("en", "x\xe2\x80\xa8y", 0), "x|y");                       /* U+2028 */
}
END_TEST

START_TEST(test_nothing_to_translate)
{
    ck_assert_str_eq(cut("en", "", 0), "");
    ck_assert_str_eq(cut("en", " \t\r\n\n \xc2\xa0\xe3\x80\x80", 0), "");
    ck_assert_str_eq(cut("en", "...", 0), "...");
    ck_assert_str_eq(cut("en", "?!", 0), "?!");
}
END_TEST

START_TEST(test_segment_cap)
{
    nmt_segmenter *s;
    nmt_err err;
    ck_assert(nmt_segmenter_new(&s, "en", &err) == NMT_OK);
    const char *text = "One. Two. Three. Four.";
    nmt_span *spans;
    int n;
    ck_assert(nmt_segmenter_split(s, text, strlen(text), 0, 4, &spans, &n, &err) == NMT_OK);
    ck_assert_int_eq(n, 4);
    free(spans);
    ck_assert(nmt_segmenter_split(s, text, strlen(text), 0, 3, &spans, &n, &err) == NMT_ERR_TOO_LONG);
    ck_assert_int_eq(n, 4);
    ck_assert_ptr_null(spans);
    nmt_segmenter_free(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("segmenter");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_plain_sentences);
    tcase_add_test(tc, test_english_list);
    tcase_add_test(tc, test_german_list);
    tcase_add_test(tc, test_line_breaks);
    tcase_add_test(tc, test_nothing_to_translate);
    tcase_add_test(tc, test_segment_cap);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
