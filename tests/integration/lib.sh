# tests/integration/lib.sh: what every integration script shares (POSIX sh;
# sourced as . "$SRC/tests/integration/lib.sh").  Counts results as
# "ok - ..." / "FAIL - ..." lines and ends with the plain closing line
# "N passed, M failed" that the test harness and CI read.
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }
# check NAME SHELL-CONDITION: ok if the condition (eval'd) holds
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
# finish: the closing line; the exit status says whether anything failed
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
# listening_port LOG: the port a daemon logged ("listening on http://127.0.0.1:PORT"), or nothing
listening_port() { sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$1"; }
# call PATH CURL-ARGS...: prints "STATUS BODY" of a request to the daemon on
# $PORT (the body goes through $TMP/body)
call() {
    _path=$1
    shift
    curl -s -m 60 -o "$TMP/body" -w '%{http_code}' "$@" "http://127.0.0.1:$PORT$_path"
    printf ' '
    cat "$TMP/body"
}
# expect NAME WANT-STATUS JQ-FILTER PATH CURL-ARGS...: the status, and a jq
# test on the body
expect() {
    _name=$1 _status=$2 _filter=$3
    shift 3
    _out=$(call "$@")
    if [ "${_out%% *}" = "$_status" ] && printf '%s' "${_out#* }" | jq -e "$_filter" > /dev/null 2>&1; then
        ok "$_name"
    else
        bad "$_name (got: $_out)"
    fi
}
# with_scratch: TMP, a scratch directory, and an EXIT trap that kills every
# process given to track (space-separated in PIDS) and removes TMP
# (KEEP_TMP=1 keeps it)
with_scratch() {
    TMP=$(mktemp -d)
    PIDS=""
    trap end_scratch EXIT
}
track() { PIDS="$PIDS $1"; }
end_scratch() {
    for _p in $PIDS; do kill -KILL "$_p" 2>/dev/null; done
    if [ -n "${KEEP_TMP:-}" ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
# start_tracked NAME ARGS...: start_nmtd with the log in $TMP/NAME.log, the
# process tracked for end_scratch
start_tracked() {
    _name=$1
    shift
    start_nmtd "$TMP/$_name.log" "$@"
    _rc=$?
    track "$PID"
    return $_rc
}
# wait_log LOG PATTERN: up to 10 s for a daemon's log to show PATTERN (what
# a signal starts, the main thread logs in its own time); status 1 if not
wait_log() {
    for _ in $(seq 1 100); do grep -q "$2" "$1" && return 0; sleep 0.1; done
    return 1
}
# start_nmtd LOG ARGS...: starts "$NMTD" ARGS on 127.0.0.1, port 0 (the kernel
# picks), stderr to LOG; sets PID and PORT.  Status 1 (the log printed) when
# it did not start within 30 s; PID is set either way, for the caller to stop.
start_nmtd() {
    _log=$1
    shift
    "$NMTD" --listen-address 127.0.0.1 --port 0 "$@" 2> "$_log" &
    PID=$!
    PORT=""
    for _ in $(seq 1 300); do
        PORT=$(listening_port "$_log")
        [ -n "$PORT" ] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "nmtd did not start:"; cat "$_log"
    return 1
}
