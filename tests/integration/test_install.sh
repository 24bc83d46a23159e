#!/bin/bash
# make install into a scratch DESTDIR: the installed binaries run and
# translate with the installed demo model and configuration; the installed
# systemd unit passes systemd-analyze verify and rates at most 2.0 in
# systemd-analyze security (where systemd-analyze exists); make uninstall
# leaves no file behind.
set -u
BUILD=${NMT_BUILDDIR:-.}
SRC=${NMT_SRCDIR:-.}
DEST=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$DEST"' EXIT
. "$SRC/tests/integration/lib.sh"
: "${NMT_BINDIR:?} ${NMT_SYSCONFDIR:?} ${NMT_DATADIR:?}"

make -s -C "$BUILD" install DESTDIR="$DEST" > "$DEST.log" 2>&1; rc=$?
check "make install DESTDIR=... (exit $rc)" '[ $rc -eq 0 ]'
BIN="$DEST$NMT_BINDIR" CONF="$DEST$NMT_SYSCONFDIR/nmtd/nmtd.conf" MODEL="$DEST$NMT_DATADIR/nmtd/models/en-de-demo"
check "installed: binaries, configuration, demo model" '[ -x "$BIN/nmtd" ] && [ -x "$BIN/nmtd-translate" ] && [ -f "$CONF" ] && [ -f "$MODEL/model.safetensors" ]'
check "manual pages nmtd(8) and nmtd-translate(1) installed" '[ -n "$(find "$DEST" -path "*man8/nmtd.8")" ] && [ -n "$(find "$DEST" -path "*man1/nmtd-translate.1")" ]'
check "the installed configuration points at the installed model" 'grep -q "^model = $NMT_DATADIR/nmtd/models/en-de-demo$" "$CONF"'
out=$(echo "twenty one" | "$BIN/nmtd-translate" --model "$MODEL")
check "installed nmtd-translate translates ($out)" '[ "$out" = einundzwanzig ]'
"$BIN/nmtd" --config "$CONF" --model "$MODEL" --port 0 2> "$DEST/nmtd.log" &
NPID=$!; PIDS+=("$NPID")
PORT=""
for _ in $(seq 1 100); do
    PORT=$(listening_port "$DEST/nmtd.log"); [ -n "$PORT" ] && break; sleep 0.05
done
got=$(curl -s -m 10 -d '{"text": "one hundred one"}' "127.0.0.1:$PORT/translate")
check "installed nmtd serves with the installed configuration" '[ "$got" = "{\"translation\":\"einhunderteins\"}" ]'
kill -TERM "$NPID"; wait "$NPID"; rc=$?
check "and stops cleanly" '[ $rc -eq 0 ]'

UNIT=$(find "$DEST" -name nmtd.service | head -1)
if [ -n "$UNIT" ] && command -v systemd-analyze >/dev/null 2>&1; then
    # verify the unit as installed, with ExecStart pointing into the scratch tree
    sed "s|$NMT_BINDIR/nmtd|$BIN/nmtd|" "$UNIT" > "$DEST/nmtd.service"
    systemd-analyze verify "$DEST/nmtd.service" > "$DEST/verify.txt" 2>&1; rc=$?
    check "systemd-analyze verify is clean ($(tr '\n' ' ' < "$DEST/verify.txt"))" '[ $rc -eq 0 ] && [ ! -s "$DEST/verify.txt" ]'
    score=$(systemd-analyze security --offline=true "$DEST/nmtd.service" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
    check "systemd-analyze security exposure ${score:-?} <= 2.0" 'awk -v s="${score:-99}" "BEGIN { exit !(s <= 2.0) }"'
    # the per-port template, as instance 8081
    TEMPLATE=$(find "$DEST" -name 'nmtd@.service' | head -1)
    sed "s|$NMT_BINDIR/nmtd|$BIN/nmtd|" "$TEMPLATE" > "$DEST/nmtd@8081.service"
    systemd-analyze verify "$DEST/nmtd@8081.service" > "$DEST/verify2.txt" 2>&1; rc=$?
    check "the nmtd@.service template verifies as nmtd@8081 ($(tr '\n' ' ' < "$DEST/verify2.txt"))" '[ $rc -eq 0 ] && [ ! -s "$DEST/verify2.txt" ]'
else
    echo "skip - systemd-analyze or the unit is absent (configure --with-systemdsystemunitdir=no?)"
fi

make -s -C "$BUILD" uninstall DESTDIR="$DEST" >> "$DEST.log" 2>&1
left=$(find "$DEST" -type f ! -name 'nmtd.log' ! -name '*.service' ! -name 'verify*.txt' | wc -l)
check "make uninstall leaves no installed file ($left left)" '[ "$left" -eq 0 ]'
rm -f "$DEST.log"
finish
