#!/bin/bash
# Integration test of several models in one daemon (loopback port chosen by
# the kernel, curl as the client): the demo model (English->German), a
# German->English model and a multilingual English->{French, Spanish,
# Italian} model with >>fra<< >>spa<< >>ita<< tokens.  Every pair's answer
# equals nmtd-translate's on the same model (with the target token before
# every sentence of a multilingual model's text), a German->French request
# goes through English and equals the two models one after the other, and
# the refusals name what is served.  LibreTranslate's API across the models
# (/languages, source "auto" with several sources, /detect), per-model
# metrics, /v1/model, CORS, models_dir and model_languages, and start-up
# errors.
set -u
BUILD=${NMT_BUILDDIR:-.}
SRC=${NMT_SRCDIR:-.}
NMTD="$BUILD/nmtd"
TRANSLATE="$BUILD/nmtd-translate"
DEMO="$SRC/models/en-de-demo"
DE_EN="$SRC/tests/data/models/tiny-de-en"
EN_ROA="$SRC/tests/data/models/tiny-en-roa"
. "$SRC/tests/integration/lib.sh"
with_scratch

start_daemon() { # NAME ARGS...: sets PID and PORT
    local name=$1
    shift
    start_tracked "$name" --access-log no "$@"
}
stop_daemon() { kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
# offline MODEL [PREFIX]: nmtd-translate on stdin's lines, each line prefixed
offline() { sed "s/^/${2:-}/" | "$TRANSLATE" --model "$1" --log-level off; }
json() { jq -n --arg t "$1" '$t'; }

start_daemon three --model "$DEMO" --model "$DE_EN" --model "$EN_ROA" --workers 2 --max-wait-ms 2 || exit 1
check "start-up logs each model with its pairs" 'grep -q "model tiny-en-roa .*en-{fr,es,it}" "$TMP/three.log"'

EN="The old woman reads the newspaper."
EN2="Why did the doctor write a letter?"
DE="der hund sieht die katze"
want_ende=$(printf '%s\n' "$EN" | offline "$DEMO")
want_deen=$(printf '%s\n' "$DE" | offline "$DE_EN")
want_fr1=$(printf '%s\n' "$EN" | offline "$EN_ROA" '>>fra<< ')
want_fr2=$(printf '%s\n' "$EN2" | offline "$EN_ROA" '>>fra<< ')
want_es=$(printf '%s\n' "$EN" | offline "$EN_ROA" '>>spa<< ')
expect "en->de: the demo model" 200 ".translation == $(json "$want_ende")" \
    /translate -d "$(jq -cn --arg t "$EN" '{text: $t, source: "en", target: "de"}')"
expect "de->en, codes in ISO 639-3 and any case" 200 ".translation == $(json "$want_deen") and (has(\"pivot\") | not)" \
    /translate -d "$(jq -cn --arg t "$DE" '{text: $t, source: "DEU", target: "eng"}')"
expect "en->fr: >>fra<< before every sentence" 200 ".translation == $(json "$want_fr1 $want_fr2")" \
    /translate -d "$(jq -cn --arg t "$EN $EN2" '{text: $t, source: "en", target: "fr"}')"
expect "en->es: another target of the same model" 200 ".translation == $(json "$want_es")" \
    /translate -d "$(jq -cn --arg t "$EN" '{text: $t, source: "en", target: "es"}')"
check "French and Spanish differ (the token is used)" '[ "$want_fr1" != "$want_es" ]'
expect "by model name" 200 ".translation == $(json "$want_ende")" \
    /translate -d "$(jq -cn --arg t "$EN" '{text: $t, model: "en-de-demo"}')"
# de -> fr: no model; tiny-de-en then tiny-en-roa with >>fra<< (the
# English in between is cut into sentences for the second model, as the
# daemon does: nmtd-translate --split on one line per first translation)
mid=$(printf '%s\n' "$DE" | offline "$DE_EN")

expect "de->fr through English: \"pivot\": \"en\"" 200 '.pivot == "en" and (.translation | length) > 0' \
    /translate -d "$(jq -cn --arg t "$DE" '{text: $t, source: "de", target: "fr"}')"
want_defr=$(curl -s -d "$(jq -cn --arg t "$DE" '{text: $t, source: "de", target: "fr"}')" "127.0.0.1:$PORT/translate" |
    jq -r .translation)
expect "a list: each text routed the same way" 200 ".translations == [$(json "$want_ende"), $(json "$want_ende")]" \
    /translate -d "$(jq -cn --arg t "$EN" '{text: [$t, $t], source: "en", target: "de"}')"
# refusals
expect "unsupported pair lists what is served" 400 \
    '.error.code == "unsupported_language_pair" and (.error.message | test("served: en-de, de-en, en-\\{fr,es,it\\}; other pairs through en"))' \
    /translate -d '{"text": "x", "source": "fr", "target": "de"}'
expect "several models and no languages: language_required" 400 '.error.code == "language_required"' \
    /translate -d '{"text": "x"}'
expect "a multilingual model needs a target" 400 '.error.code == "language_required"' \
    /translate -d '{"text": "x", "model": "tiny-en-roa"}'
expect "unknown model" 400 '.error.code == "unknown_model" and (.error.message | test("tiny-de-en"))' \
    /translate -d '{"text": "x", "model": "opus-mt-xx"}'
expect "source is not a string" 400 '.error.code == "invalid_request"' /translate -d '{"text": "x", "source": 3}'
# LibreTranslate's API across the models
expect "GET /languages: every source with direct and pivot targets" 200 \
    '.[0] == {"code": "en", "name": "English", "targets": ["de", "fr", "es", "it"]} and
     .[1] == {"code": "de", "name": "German", "targets": ["en", "fr", "es", "it"]} and length == 5' /languages
expect "LibreTranslate q list, target es (Weblate)" 200 ".translatedText == [$(json "$want_es"), $(json "$want_es")]" \
    /translate -H 'Content-Type: application/json' \
    -d "$(jq -cn --arg t "$EN" '{q: [$t, $t], source: "en", target: "es"}')"
DE_LONG="Guten Morgen, wie geht es dir heute? Ich hoffe, es geht dir gut und die Sonne scheint bei dir."
EN_LONG="Good morning, how are you today? I hope you are well and the sun is shining where you are."
fr_of_en_long=$(curl -s -d "$(jq -cn --arg t "$EN_LONG" '{text: $t, source: "en", target: "fr"}')" \
    "127.0.0.1:$PORT/translate" | jq -r .translation)
expect "source auto, several sources: each text its own language and route (Mastodon)" 200 \
    ".detectedLanguage[0].language == \"de\" and .detectedLanguage[1].language == \"en\" and .translatedText[1] == $(json "$fr_of_en_long")" \
    /translate -H 'Content-Type: application/json' \
    -d "$(jq -cn --arg a "$DE_LONG" --arg b "$EN_LONG" '{q: [$a, $b], source: "auto", target: "fr"}')"
expect "source auto: undetectable text among several sources is a 400" 400 '.error | test("say \"source\"")' \
    /translate -d '{"q": "123 456", "source": "auto", "target": "fr"}'
expect "POST /detect among the served sources (Discourse, form)" 200 '.[0].language == "de"' \
    /detect --data-urlencode "q=$DE_LONG"
expect "format html through a multilingual model" 200 \
    ".translatedText == \"<p class=\\\"x\\\">\" + ($(json "$want_es") | gsub(\"&\"; \"&amp;\") | gsub(\"<\"; \"&lt;\") | gsub(\">\"; \"&gt;\")) + \"</p>\"" \
    /translate -d "$(jq -cn --arg t "<p class=\"x\">$EN</p>" '{q: $t, source: "en", target: "es", format: "html"}')"
# per-model metrics and /v1/model
metrics=$(curl -s "127.0.0.1:$PORT/metrics")
check "metrics: one weight series per model" '[ "$(printf "%s\n" "$metrics" | grep -c "^nmtd_model_weight_bytes{")" = 3 ]'
check "metrics: the multilingual model translated sentences" \
    'printf "%s\n" "$metrics" | grep -Eq "^nmtd_model_sentences_total\{model=\"tiny-en-roa\"\} [1-9]"'
check "metrics: no label from client input" '! printf "%s\n" "$metrics" | grep -q "opus-mt-xx"'
expect "/v1/model lists the three models with their languages" 200 \
    '(.models | length) == 3 and .models[2].targets == ["fr", "es", "it"] and .models[1].source == "de" and .model.name == "en-de-demo"' /v1/model
expect "no CORS header unless cors_origin is set" 200 '. == {"status": "ok"}' /health
check "OPTIONS without cors_origin is 405" '[ "$(curl -s -o /dev/null -w "%{http_code}" -X OPTIONS "127.0.0.1:$PORT/translate")" = 405 ]'
stop_daemon

# models_dir, model_languages, cors_origin
mkdir -p "$TMP/models"
cp -r "$DEMO" "$TMP/models/a-en-de"
cp -r "$DE_EN" "$TMP/models/b-unnamed"
rm "$TMP/models/b-unnamed/tokenizer_config.json"
mkdir "$TMP/models/not-a-model"
start_daemon dir --models-dir "$TMP/models" --model-languages b-unnamed=de-en --cors-origin https://example.org || exit 1
check "models_dir: its two models, in name order" 'grep -q "2 models" "$TMP/dir.log"'
check "model_languages sets the sentence rules of a model that declares none" 'grep -q "sentence rules: de" "$TMP/dir.log"'
expect "model_languages gives a model without tokenizer_config.json its pair" 200 ".translation == $(json "$want_deen")" \
    /translate -d "$(jq -cn --arg t "$DE" '{text: $t, source: "de", target: "en"}')"
hdrs=$(curl -s -i -X OPTIONS -H 'Origin: https://example.org' -H 'Access-Control-Request-Method: POST' \
    "127.0.0.1:$PORT/translate" | tr -d '\r')
check "CORS preflight: 204 with the allowed origin and methods" \
    'printf "%s\n" "$hdrs" | grep -q "^HTTP/1.1 204" && printf "%s\n" "$hdrs" | grep -q "^Access-Control-Allow-Origin: https://example.org" && printf "%s\n" "$hdrs" | grep -q "^Access-Control-Allow-Methods: GET, POST, OPTIONS"'
check "CORS header on an ordinary answer" \
    'curl -s -i "127.0.0.1:$PORT/languages" | tr -d "\r" | grep -q "^Access-Control-Allow-Origin: https://example.org"'
stop_daemon

# weights on demand: nothing loaded at start, each model on its first
# request, at most one resident (one worker: the bound always holds)
start_daemon lazy --model "$DEMO" --model "$DE_EN" --model "$EN_ROA" --preload no --max-loaded-models 1 \
    --workers 1 --max-wait-ms 2 || exit 1
loaded() { curl -s "127.0.0.1:$PORT/metrics" | sed -n "s/^nmtd_model_loaded{model=\"$1\"} //p"; }
metric() { curl -s "127.0.0.1:$PORT/metrics" | sed -n "s/^$1 //p"; }
check "preload no: ready with no weights loaded" \
    '[ "$(curl -s -o /dev/null -w "%{http_code}" "127.0.0.1:$PORT/ready")" = 200 ] && [ "$(loaded en-de-demo)$(loaded tiny-de-en)$(loaded tiny-en-roa)" = 000 ]'
check "preload no: the log says each model loads on first use" '[ "$(grep -c "loads on first use" "$TMP/lazy.log")" = 3 ]'
expect "preload no: the first request loads its model" 200 ".translation == $(json "$want_ende")" \
    /translate -d "$(jq -cn --arg t "$EN" '{text: $t, source: "en", target: "de"}')"
check "... which is now loaded, the others not" '[ "$(loaded en-de-demo)$(loaded tiny-de-en)$(loaded tiny-en-roa)" = 100 ]'
expect "max_loaded_models 1: another model's request" 200 ".translation == $(json "$want_deen")" \
    /translate -d "$(jq -cn --arg t "$DE" '{text: $t, source: "de", target: "en"}')"
check "... unloads the first" \
    '[ "$(loaded en-de-demo)$(loaded tiny-de-en)" = 01 ] && [ "$(metric "nmtd_model_unloads_total{model=\"en-de-demo\"}")" = 1 ]'
expect "a pivot through two models with one resident at a time" 200 ".translation == $(json "$want_defr") and .pivot == \"en\"" \
    /translate -d "$(jq -cn --arg t "$DE" '{text: $t, source: "de", target: "fr"}')"
expect "back to the first model: loaded again, same answer" 200 ".translation == $(json "$want_ende")" \
    /translate -d "$(jq -cn --arg t "$EN" '{text: $t, source: "en", target: "de"}')"
check "metrics: loads counted, weight bytes only for the loaded model" \
    '[ "$(metric "nmtd_model_loads_total{model=\"en-de-demo\"}")" = 2 ] && [ "$(metric "nmtd_model_weight_bytes{model=\"tiny-de-en\"}")" = 0 ] && [ "$(metric "nmtd_model_weight_bytes{model=\"en-de-demo\"}")" != 0 ]'
stop_daemon
"$NMTD" --model "$DEMO" --model "$DE_EN" --preload no --check-config > "$TMP/check.out" 2>&1
check "--check-config with preload no: checked, not loaded" \
    '[ $? -eq 0 ] && [ "$(grep -c "checked (weights load on first use)" "$TMP/check.out")" = 2 ]'
cp -r "$DE_EN" "$TMP/broken"
printf 'not safetensors' > "$TMP/broken/model.safetensors"
"$NMTD" --model "$DEMO" --model "$TMP/broken" --preload no --port 0 2> "$TMP/broken.log"
check "preload no still checks every model at start: a broken one exits 1, named" \
    '[ $? -eq 1 ] && grep -q "broken/model.safetensors" "$TMP/broken.log"'

# start-up errors name what is wrong and exit non-zero
"$NMTD" --model "$DEMO" --model "$DEMO" --port 0 2> "$TMP/dup.log"
check "two models of the same name: exit 1, named" '[ $? -eq 1 ] && grep -q "two models are named en-de-demo" "$TMP/dup.log"'
"$NMTD" --model "$DEMO" --model-languages nosuch=en-de --port 0 2> "$TMP/ml.log"
check "model_languages naming no model: exit 1" '[ $? -eq 1 ] && grep -q "names no served model" "$TMP/ml.log"'
"$NMTD" --model "$DEMO" --model-languages en-de-demo=ende --port 0 2> "$TMP/ml2.log"
check "a malformed model_languages: exit 1" '[ $? -eq 1 ] && grep -q "is not NAME=SRC-TGT" "$TMP/ml2.log"'
"$NMTD" --models-dir "$TMP/models/not-a-model" --port 0 2> "$TMP/md.log"
check "an empty models_dir: exit 1, named" '[ $? -eq 1 ] && grep -q "has no model" "$TMP/md.log"'
finish
