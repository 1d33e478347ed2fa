#!/usr/bin/env bash
# Renders slod's status page in headless Chromium and saves it as
# docs/status-page.png. It runs `slod --demo`, waits until the scripted
# checkout outage has paged and the api-gateway route burn is ranked too
# (about 6 minutes in), then takes the screenshot. Needs Debian's chromium
# (apt-get install -y chromium); CI does not run this. The screenshots in
# docs/ come from the browser test instead, on a fixed demo clock:
#   go test ./daemon -run Browser -screenshots
set -euo pipefail
cd "$(dirname "$0")/.."

port="${PORT:-19797}"
url="http://127.0.0.1:${port}/"
out="${OUT:-docs/status-page.png}"
bin="$(mktemp -d)/slod"
go build -o "$bin" ./cmd/slod

"$bin" --demo --listen "127.0.0.1:${port}" >/dev/null 2>"${bin}.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT

# Wait for two open pages (checkout, then the /v1/orders route), up to 10 minutes.
for _ in $(seq 1 600); do
	pages=$(curl -fsS "${url}api/v1/incidents" 2>/dev/null | grep -c '"severity": "page"' || true)
	[ "${pages:-0}" -ge 2 ] && break
	sleep 1
done

profile="$(mktemp -d)"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
	--disable-component-update --disable-sync --no-first-run --disable-quic \
	--user-data-dir="$profile" --hide-scrollbars \
	--screenshot="$out" --window-size=1280,1000 "$url"
rm -rf "$profile"
echo "wrote $out"
