#!/bin/bash
# Scale-out through nginx (conf/nginx-nmtd.conf): two nmtd instances behind
# nginx on loopback, clients/loadtest through nginx, one instance sent
# SIGTERM in the middle: zero failed requests.  Skipped (exit 77) where nginx
# is absent; CI installs Debian's nginx-light.  Bounded; stops what it starts.
set -u
BUILD=${NMT_BUILDDIR:-.}
SRC=${NMT_SRCDIR:-.}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
    echo "skip: nginx is not installed (apt-get install nginx-light)"
    exit 77
fi
TMP=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT
. "$SRC/tests/integration/lib.sh"

start_nmtd() { # NAME -> sets PID, PORT
    "$BUILD/nmtd" --model "$SRC/models/en-de-demo" --port 0 --access-log no 2> "$TMP/$1.log" &
    PID=$!; PIDS+=("$PID"); PORT=""
    for _ in $(seq 1 100); do
        PORT=$(listening_port "$TMP/$1.log"); [ -n "$PORT" ] && return 0; sleep 0.05
    done
    return 1
}
start_nmtd a || exit 1; PID_A=$PID PORT_A=$PORT
start_nmtd b || exit 1; PID_B=$PID PORT_B=$PORT
# a free port for nginx: bind to 0 is not possible in its config, so probe
for NPORT in $(seq 18180 18280); do
    (echo > /dev/tcp/127.0.0.1/$NPORT) 2>/dev/null || break
done
sed -e "s|127.0.0.1:8081|127.0.0.1:$PORT_A|; s|127.0.0.1:8082|127.0.0.1:$PORT_B|" \
    -e "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$NPORT;|" "$SRC/conf/nginx-nmtd.conf" > "$TMP/nmtd-upstream.conf"
mkdir -p "$TMP/nginx"
cat > "$TMP/nginx.conf" <<NG
daemon off;
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    include $TMP/nmtd-upstream.conf;
}
NG
"$NGINX" -c "$TMP/nginx.conf" -p "$TMP" 2> "$TMP/nginx.out" &
NGPID=$!; PIDS+=("$NGPID")
for _ in $(seq 1 100); do curl -s -o /dev/null "127.0.0.1:$NPORT/health" && break; sleep 0.05; done
got=$(curl -s -d '{"text": "twenty one"}' "127.0.0.1:$NPORT/translate")
check "a translation through nginx" '[ "$got" = "{\"translation\":\"einundzwanzig\"}" ]'

# load through nginx; instance A drains in the middle
"$SRC/clients/loadtest" -u "http://127.0.0.1:$NPORT" -n 1500 -c 32 -t 120 > "$TMP/load.out" 2>/dev/null &
LPID=$!; PIDS+=("$LPID")
sleep 0.4
kill -TERM "$PID_A"
wait "$LPID"; lrc=$?
wait "$PID_A"; arc=$?
cat "$TMP/load.out"
check "instance A drained and exited 0" '[ $arc -eq 0 ]'
check "zero failed requests through nginx while A stopped (loadtest exit $lrc)" \
    '[ $lrc -eq 0 ] && grep -q "^status: 200=1500$" "$TMP/load.out" && grep -q "^malformed JSON answers: 0$" "$TMP/load.out"'
kill -TERM "$PID_B"; wait "$PID_B"
kill -TERM "$NGPID" 2>/dev/null; wait "$NGPID" 2>/dev/null
finish
