#!/usr/bin/env bash
# Renders an inference report (unetrun --infer --report) in headless Chromium and fails if the
# page logs anything to its console (it has no script, so any message is an error: a bad data:
# URI, a parse error) or asks the network for anything (it must be self-contained). Writes a
# screenshot to look at. Not part of CI: Debian's chromium is large; ctest's checks of the
# report (tests/inference_report) are what CI runs.
#   scripts/check_report.sh preds/report.html /tmp/report.png [WIDTH,HEIGHT]
set -euo pipefail

if (($# < 2)); then
  echo "usage: $0 REPORT.html OUT.png [WIDTH,HEIGHT]" >&2
  exit 2
fi
report=$1
shot=$2
size=${3:-1200,2400}
[[ -f $report ]] || { echo "check_report: $report: no such file" >&2; exit 1; }
python=/usr/bin/python3  # Debian's, whatever a virtualenv puts first on PATH

if ! command -v chromium >/dev/null; then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "check_report: installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends chromium
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
url="file://$(realpath "$report")"
rm -f "$shot"
# A fresh profile each time; every host name fails to resolve, so a request that slipped in
# fails rather than reaching out; the net log records what the page asked for all the same.
status=0
timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$work/profile" --host-resolver-rules="MAP * ~NOTFOUND" \
  --disable-background-networking --disable-component-update --no-first-run \
  --enable-logging=stderr --v=0 --log-net-log="$work/net.json" \
  --window-size="$size" --screenshot="$shot" "$url" 2>"$work/stderr.log" || status=$?
if ((status != 0)) || [[ ! -s $shot ]]; then
  echo "check_report: chromium failed (exit $status) or wrote no screenshot; its log:" >&2
  tail -20 "$work/stderr.log" >&2
  exit 1
fi

failed=0
# Chromium logs every console message of the page as "...:CONSOLE:<line>] "text", source: ...".
if grep -E 'CONSOLE|Uncaught' "$work/stderr.log" >"$work/console.log"; then
  echo "check_report: $report: the page logged to the console:" >&2
  cat "$work/console.log" >&2
  failed=1
else
  echo "check_report: no console messages"
fi

# Requests the page made (those keyed to the file:// page), as opposed to the browser's own.
"$python" - "$work/net.json" "$report" <<'EOF' || failed=1
import json, sys
log = json.load(open(sys.argv[1]))
fetched = set()
for event in log.get("events", []):
    p = event.get("params", {})
    url = p.get("url", "")
    if url and not url.startswith(("file:", "data:")) and "file://" in str(p.get("network_isolation_key", "")):
        fetched.add(url)
if fetched:
    print(f"check_report: {sys.argv[2]}: the page fetched {', '.join(sorted(fetched))}", file=sys.stderr)
    sys.exit(1)
print("check_report: no network requests")
EOF

"$python" - "$shot" <<'EOF' || failed=1
import sys, png
w, h, _, info = png.Reader(filename=sys.argv[1]).read()
print(f"check_report: screenshot {sys.argv[1]}: {w}x{h}")
EOF
exit "$failed"
