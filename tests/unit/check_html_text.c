/* check_html_text.c: cutting HTML into markup and text as Mastodon, Weblate
 * and hand-written pages give it; malformed HTML kept whole; character
 * references decoded for translation and the translation escaped back. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html_text.h"
#include "testutil.h"

/* "[markup]{text}" rendering of a cut, for compact expectations */
static char *render(const char *html)
{
    nmt_html_piece *p = NULL;
    int n = 0;
    ck_assert_int_eq(nmt_html_cut(html, strlen(html), &p, &n), 0);
    char *out = NULL;
    size_t len = 0, cap = 0;
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(p[i].off, at); /* pieces tile the input */
        ck_assert(i == 0 || p[i].is_text != p[i - 1].is_text); /* neighbours differ */
        nmt_html_append(&out, &len, &cap, p[i].is_text ? "{" : "[", 1);
        nmt_html_append(&out, &len, &cap, html + p[i].off, p[i].len);
        nmt_html_append(&out, &len, &cap, p[i].is_text ? "}" : "]", 1);
        at += p[i].len;
    }
    ck_assert_int_eq(at, strlen(html));
    free(p);
    if (!out)
        out = strdup("");
    return out;
}

static void expect_cut(const char *html, const char *want)
{
    char *got = render(html);
    ck_assert_msg(strcmp(got, want) == 0, "%s\n got %s\nwant %s", html, got, want);
    free(got);
}

START_TEST(test_cut)
{
    expect_cut("", "");
    expect_cut("plain text", "{plain text}");
    expect_cut("<p>Hello <b>world</b>!</p>", "[<p>]{Hello }[<b>]{world}[</b>]{!}[</p>]");
    /* Mastodon: a link with attributes, a mention span, line breaks */
    expect_cut("<p>See <a href=\"https://x.org/?a=1&amp;b=2\" rel=\"nofollow\">this</a><br />now</p>",
               "[<p>]{See }[<a href=\"https://x.org/?a=1&amp;b=2\" rel=\"nofollow\">]{this}[</a><br />]{now}[</p>]");
    expect_cut("<img alt='a > b' src=x>caption", "[<img alt='a > b' src=x>]{caption}");
    expect_cut("<!-- a <b>comment</b> -->text", "[<!-- a <b>comment</b> -->]{text}");
    expect_cut("<!DOCTYPE html><title>T</title>", "[<!DOCTYPE html><title>]{T}[</title>]");
    expect_cut("<script>if (a < b) x = '<p>';</script>after", "[<script>if (a < b) x = '<p>';</script>]{after}");
    expect_cut("<STYLE type=text/css>p > a {}</Style>x", "[<STYLE type=text/css>p > a {}</Style>]{x}");
    expect_cut("<scripts>text</scripts>", "[<scripts>]{text}[</scripts>]");
    expect_cut("<p>\n  <b>x</b>\n</p>", "[<p>\n  <b>]{x}[</b>\n</p>]"); /* layout whitespace is markup */
    /* references: known ones stay in the text, others cut it */
    expect_cut("Tom &amp; Jerry don&#39;t &copy; 2024", "{Tom &amp; Jerry don&#39;t }[&copy;]{ 2024}");
    /* malformed: a '<' that starts nothing is text; unterminated things are markup to the end */
    expect_cut("1 < 2 and 3 <> 4", "{1 < 2 and 3 <> 4}");
    expect_cut("text <b unterminated", "{text }[<b unterminated]");
    expect_cut("a <!-- never closed", "{a }[<!-- never closed]");
    expect_cut("<a title=\"never closed>x</a>", "[<a title=\"never closed>x</a>]");
    expect_cut("</p>unbalanced<p>", "[</p>]{unbalanced}[<p>]");
    expect_cut("<script>no end", "[<script>no end]");
}
END_TEST

START_TEST(test_decode_and_escape)
{
    size_t n;
    const char *refs = "a &amp; b &lt;c&gt; &quot;q&quot; &apos;&#39;&#x41;&#X42;&nbsp;|";
    char *d = nmt_html_decode(refs, strlen(refs), &n);
    ck_assert_str_eq(d, "a & b <c> \"q\" ''AB\xc2\xa0|");
    ck_assert_int_eq(n, strlen(d));
    free(d);
    /* not references: kept as they are */
    const char *raw = "&amp &#; &#0; &#xD800; &#1114112; &unknown; & x &#12a;";
    d = nmt_html_decode(raw, strlen(raw), &n);
    ck_assert_str_eq(d, raw);
    free(d);
    d = nmt_html_decode("&#128512;", 9, &n);
    ck_assert_str_eq(d, "\xf0\x9f\x98\x80");
    free(d);

    char *out = NULL;
    size_t len = 0, cap = 0;
    ck_assert_int_eq(nmt_html_append_escaped(&out, &len, &cap, "a<b & c>d \"e\"", 13), 0);
    ck_assert_str_eq(out, "a&lt;b &amp; c&gt;d \"e\"");
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("html_text");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_cut);
    tcase_add_test(tc, test_decode_and_escape);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
