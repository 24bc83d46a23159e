/* form.h: HTML form bodies as the clients of LibreTranslate's API send them:
 * application/x-www-form-urlencoded (also a URL's query string) and
 * multipart/form-data (RFC 7578).  The result is a list of name/value
 * fields in the order they came; values are bytes (checked for UTF-8 by
 * whoever reads them).  Pure functions of their input; outside input, so
 * there is a fuzz target (tests/fuzz/fuzz_form.c). */
#ifndef NMT_FORM_H
#define NMT_FORM_H

#include <stddef.h>

#define NMT_FORM_MAX_FIELDS 256

typedef struct nmt_form_field {
    char *name;   /* NUL-terminated */
    char *value;  /* NUL-terminated; may hold NUL bytes before value_len */
    size_t value_len;
} nmt_form_field;

typedef struct nmt_form {
    int n;
    nmt_form_field fields[NMT_FORM_MAX_FIELDS];
} nmt_form;

/* Adds a field (copies of name and value).  Returns 0, or -1 when the form
 * is full or memory runs out. */
int nmt_form_add(nmt_form *f, const char *name, size_t name_len, const char *value, size_t value_len);

/* Parses "a=1&b=x+y%21" (percent-decoding, '+' as space) and adds its
 * fields.  Returns 0, or -1 with a message in err (a bad %-escape, too many
 * fields, out of memory). */
int nmt_form_parse_urlencoded(nmt_form *f, const char *body, size_t len, char *err, size_t err_cap);

/* Parses a multipart/form-data body whose Content-Type header value is
 * content_type (the boundary comes from it).  Every part needs a
 * Content-Disposition: form-data header with a name; a part with a filename
 * is a field like any other.  Returns 0, or -1 with a message in err (no or
 * bad boundary, a part without its name, a missing closing delimiter, too
 * many fields, out of memory). */
int nmt_form_parse_multipart(nmt_form *f, const char *content_type, const char *body, size_t len, char *err,
                             size_t err_cap);

/* The first field called name and how many there are (count may be NULL). */
const nmt_form_field *nmt_form_get(const nmt_form *f, const char *name, int *count);

void nmt_form_free(nmt_form *f);

#endif
