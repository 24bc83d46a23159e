#!/bin/sh
# clients/examples.sh: one curl call for every nmtd endpoint (the same calls
# README shows).  Usage: clients/examples.sh [BASE_URL]  (default
# http://127.0.0.1:8080).  Loopback by default; read-only except translations.
set -u
base=${1:-http://127.0.0.1:8080}
run() { printf '$ %s\n' "$*"; "$@"; printf '\n\n'; }
run curl -s -d '{"text": "Today the dog sees the cat."}' "$base/translate"
run curl -s -d '{"text": ["twenty one", "", "one hundred one"], "max_length": 64}' "$base/translate"
run curl -s -d '{"text": 42}' "$base/translate"
run curl -s "$base/health"
run curl -s "$base/ready"
run curl -s "$base/v1/model"
printf '$ curl -s %s/metrics | head -20\n' "$base"
curl -s "$base/metrics" | head -20
