#!/usr/bin/env bash
# Installs what the tests need that Go modules do not bring: Debian's
# Prometheus 2.42 (prometheus, promtool), Alertmanager 0.25, and chromium
# with chromedriver for the status page's browser test.
set -euo pipefail

need=()
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: need Debian packages: ${need[*]} (run as root on Debian, or install them yourself)" >&2
	exit 1
fi
echo "install-test-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The packages ship services; in a container nothing starts them, and tests
# start their own servers on 127.0.0.1 anyway.
