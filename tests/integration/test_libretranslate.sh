#!/bin/bash
# Integration test of LibreTranslate's API on the real daemon (loopback port
# chosen by the kernel, curl as the client): the request shapes its clients
# send (JSON with q as a string or a list, urlencoded, multipart, the query
# string, source "auto"), the answers' shapes and texts (equal to nmtd's own
# API on the same text), /languages, /detect, and each error with its status
# and {"error": ...} body; nmtd's own API unchanged beside it.
set -u
BUILD=${NMT_BUILDDIR:-.}
SRC=${NMT_SRCDIR:-.}
NMTD="$BUILD/nmtd"
MODEL="$SRC/models/en-de-demo"
. "$SRC/tests/integration/lib.sh"
with_scratch

start_daemon() { # NAME ARGS...: sets PID and PORT
    local name=$1
    shift
    start_tracked "$name" --model "$MODEL" --access-log no "$@"
}

start_daemon main --workers 2 --max-wait-ms 5 || exit 1
S1=$(grep -v '^#' "$SRC/tests/data/en-de-demo.golden.tsv" | sed -n 1p | cut -f1)
S2=$(grep -v '^#' "$SRC/tests/data/en-de-demo.golden.tsv" | sed -n 2p | cut -f1)
T1=$(curl -s -d "$(jq -cn --arg t "$S1" '{text: $t}')" "127.0.0.1:$PORT/translate" | jq -r .translation)
T2=$(curl -s -d "$(jq -cn --arg t "$S2" '{text: $t}')" "127.0.0.1:$PORT/translate" | jq -r .translation)
check "nmtd's own API answers" '[ -n "$T1" ] && [ "$T1" != null ] && [ -n "$T2" ]'

expect "GET /languages" 200 '. == [{"code": "en", "name": "English", "targets": ["de"]},
    {"code": "de", "name": "German", "targets": []}]' /languages
expect "JSON, q a string: the same text as nmtd's API" 200 ".translatedText == $(jq -n --arg t "$T1" '$t')" \
    /translate -H 'Content-Type: application/json' \
    -d "$(jq -cn --arg q "$S1" '{q: $q, source: "en", target: "de"}')"
expect "JSON, q a list (Weblate)" 200 ".translatedText == [$(jq -n --arg t "$T1" '$t'), $(jq -n --arg t "$T2" '$t')]" \
    /translate -H 'Content-Type: application/json' \
    -d "$(jq -cn --arg a "$S1" --arg b "$S2" '{q: [$a, $b], source: "en", target: "de"}')"
expect "ISO 639-3 and 639-2/B codes, any case" 200 ".translatedText == $(jq -n --arg t "$T1" '$t')" \
    /translate -d "$(jq -cn --arg q "$S1" '{q: $q, source: "ENG", target: "ger"}')"
expect "urlencoded form" 200 ".translatedText == $(jq -n --arg t "$T1" '$t')" \
    /translate --data-urlencode "q=$S1" --data-urlencode source=en --data-urlencode target=de
expect "multipart form (curl -F, empty api_key)" 200 ".translatedText == $(jq -n --arg t "$T1" '$t')" \
    /translate -F "q=$S1" -F source=en -F target=de -F api_key=
expect "query string, empty body" 200 ".translatedText == $(jq -n --arg t "$T1" '$t')" \
    "/translate?q=$(jq -rn --arg q "$S1" '$q|@uri')&source=en&target=de" -X POST
expect "source auto: detectedLanguage (Mastodon)" 200 \
    ".translatedText == $(jq -n --arg t "$T1" '$t') and .detectedLanguage.language == \"en\" and (.detectedLanguage.confidence | type) == \"number\"" \
    /translate -d "$(jq -cn --arg q "$S1" '{q: $q, source: "auto", target: "de"}')"
expect "source auto with a list: one detectedLanguage per text" 200 \
    '(.detectedLanguage | length) == 2 and .detectedLanguage[1].language == "en"' \
    /translate -d "$(jq -cn --arg a "$S1" --arg b "$S2" '{q: [$a, $b], source: "auto", target: "de"}')"
expect "POST /detect, English" 200 '.[0].language == "en" and .[0].confidence > 50' \
    /detect --data-urlencode "q=The weather is lovely today and we are going to walk along the river."
expect "POST /detect, German (not served as a source): no candidate" 200 '. == []' \
    /detect -d '{"q": "Das Wetter ist heute herrlich und wir gehen am Fluss spazieren."}'

# errors: LibreTranslate's statuses and {"error": message}
expect "missing q" 400 '.error | test("missing q parameter")' /translate -d '{"source": "en", "target": "de", "q": null}'
expect "missing target" 400 '.error | test("missing target")' /translate --data-urlencode q=x --data-urlencode source=en
expect "unsupported target" 400 '.error | test("no model translates en into fr \\(served: en-de\\)")' \
    /translate -d '{"q": "x", "source": "en", "target": "fr"}'
expect "unsupported source" 400 '.error | test("served: en")' /translate -d '{"q": "x", "source": "de", "target": "de"}'
# format html (Mastodon): markup, attributes, comments and entities in place, text nodes translated
H=$(jq -cn --arg a "$S1" --arg b "$S2" '{q: ("<p class=\"x\">" + $a + "<br /><a href=\"https://x.org/?a=1&amp;b=2\">" + $b + "</a><!-- keep -->&copy;</p>"),
    source: "auto", target: "de", format: "html"}')
WANT_H="<p class=\"x\">$T1<br /><a href=\"https://x.org/?a=1&amp;b=2\">$T2</a><!-- keep -->&copy;</p>"
expect "format html: text nodes translated, markup kept" 200 \
    ".translatedText == $(jq -n --arg t "$WANT_H" '$t') and .detectedLanguage.language == \"en\"" /translate -d "$H"
expect "format html, markup only: answered as it came" 200 '.translatedText == ["<br/>", "<!-- x -->"]' \
    /translate -d '{"q": ["<br/>", "<!-- x -->"], "source": "en", "target": "de", "format": "html"}'
expect "format html, a translation holding < is escaped" 200 '.translatedText | test("<b>") and (test("<b>[^<]*<[^/]") | not)' \
    /translate -d '{"q": "<b>1 &lt; 2</b>", "source": "en", "target": "de", "format": "html"}'
expect "alternatives" 400 '.error | test("alternatives")' \
    /translate -d '{"q": "x", "source": "en", "target": "de", "alternatives": 3}'
expect "malformed multipart" 400 '.error | test("delimiter")' \
    /translate -H 'Content-Type: multipart/form-data; boundary=XyZ' -d 'q=x'
expect "a bad %-escape" 400 '.error | test("escape")' /translate -d 'q=%zz&source=en&target=de' \
    -H 'Content-Type: application/x-www-form-urlencoded'
expect "GET /detect" 405 '.error | test("not allowed")' /detect
expect "nmtd's own errors keep their shape" 400 '.error.code == "invalid_request"' /translate -d '{"txt": "x"}'
kill -TERM "$PID"
wait "$PID"
check "exit 0 on SIGTERM" '[ $? = 0 ]'

# a full queue is 429 for LibreTranslate's clients (503 for nmtd's own)
start_daemon queue --workers 1 --queue-capacity 2 --max-wait-ms 3000 --max-batch-sentences 8 || exit 1
curl -s -m 60 -o /dev/null -d '{"q": ["a", "b"], "source": "en", "target": "de"}' "127.0.0.1:$PORT/translate" &
first=$!
for _ in $(seq 1 50); do
    [ "$(curl -s "127.0.0.1:$PORT/metrics" | awk '$1 == "nmtd_queue_depth_sentences" { print $2 }')" = 2 ] && break
    sleep 0.05
done
expect "queue full: 429" 429 '.error | test("queue")' /translate -d '{"q": "c", "source": "en", "target": "de"}'
expect "queue full, nmtd's API: 503" 503 '.error.code == "queue_full"' /translate -d '{"text": "c"}'
check "429 carries Retry-After" \
    'curl -s -i -d "{\"q\": \"c\", \"source\": \"en\", \"target\": \"de\"}" "127.0.0.1:$PORT/translate" | tr -d "\r" | grep -q "^Retry-After: 1$"'
wait "$first"
kill -TERM "$PID"
wait "$PID"

# API keys: translate and detect need one (api_key or X-API-Key); the rest stays open
printf '# test keys\nkey-for-weblate-1\nkey-for-mastodon-2\n' > "$TMP/keys"
start_daemon keys --api-keys-file "$TMP/keys" || exit 1
LT_BODY=$(jq -cn --arg q "$S1" '{q: $q, source: "en", target: "de"}')
expect "keys: LibreTranslate without a key: 403" 403 '.error | test("Invalid API key")' /translate -d "$LT_BODY"
expect "keys: a wrong key: 403" 403 '.error | test("Invalid API key")' \
    /translate -d "$(jq -cn --arg q "$S1" '{q: $q, source: "en", target: "de", api_key: "key-for-weblate-"}')"
expect "keys: api_key in the body" 200 ".translatedText == $(jq -n --arg t "$T1" '$t')" \
    /translate -d "$(jq -cn --arg q "$S1" '{q: $q, source: "en", target: "de", api_key: "key-for-weblate-1"}')"
expect "keys: api_key in a multipart form" 200 ".translatedText == $(jq -n --arg t "$T1" '$t')" \
    /translate -F "q=$S1" -F source=en -F target=de -F api_key=key-for-mastodon-2
expect "keys: the X-API-Key header" 200 ".translatedText == $(jq -n --arg t "$T1" '$t')" \
    /translate -H 'X-API-Key: key-for-mastodon-2' -d "$LT_BODY"
expect "keys: nmtd's API without a key: 403" 403 '.error.code == "invalid_api_key"' /translate -d '{"text": "x"}'
expect "keys: nmtd's API with X-API-Key" 200 ".translation == $(jq -n --arg t "$T1" '$t')" \
    /translate -H 'X-API-Key: key-for-weblate-1' -d "$(jq -cn --arg t "$S1" '{text: $t}')"
expect "keys: /detect without a key: 403" 403 '.error | test("Invalid API key")' /detect -d '{"q": "hello there"}'
expect "keys: /languages stays open" 200 'length == 2' /languages
# SIGHUP reads the file again: a new key works at once, a removed one no longer
printf 'key-for-discourse-3\n' > "$TMP/keys"
kill -HUP "$PID"
check "keys: SIGHUP re-reads api_keys_file" 'wait_log "$TMP/keys.log" "SIGHUP: 1 API keys"'
expect "keys: after SIGHUP the new key works" 200 ".translatedText == $(jq -n --arg t "$T1" '$t')" \
    /translate -H 'X-API-Key: key-for-discourse-3' -d "$LT_BODY"
expect "keys: after SIGHUP a removed key is refused" 403 '.error | test("Invalid API key")' \
    /translate -H 'X-API-Key: key-for-mastodon-2' -d "$LT_BODY"
printf 'key-for-discourse-3\nbad key\n' > "$TMP/keys"
kill -HUP "$PID"
check "keys: a bad file on SIGHUP is refused naming file:line" 'wait_log "$TMP/keys.log" "keys:2: a key may hold.*the keys in use stay"'
expect "keys: ... and the keys in use stay" 200 ".translatedText == $(jq -n --arg t "$T1" '$t')" \
    /translate -H 'X-API-Key: key-for-discourse-3' -d "$LT_BODY"
kill -TERM "$PID"
wait "$PID"
printf 'good-key-0001\nbad key\n' > "$TMP/badkeys"
"$NMTD" --model "$MODEL" --port 0 --api-keys-file "$TMP/badkeys" 2> "$TMP/badkeys.log"
rc=$?
check "a bad keys file stops start-up naming file:line (exit $rc)" \
    '[ "$rc" != 0 ] && grep -q "badkeys:2: a key may hold printable ASCII" "$TMP/badkeys.log"'

check "no sanitizer reports" '! grep -l "Sanitizer\|runtime error" "$TMP"/*.log'
finish
