#!/usr/bin/env bash
# Installs the programs the tests (or benchmarks) use when they are missing.
# Debian packages: prometheus (promtool), bsdutils (logger), gcc (make race), mtail (bench only).
set -euo pipefail
what="${1:-test}"
need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v logger >/dev/null || need+=(bsdutils)
# make race: the race detector needs cgo, hence a C compiler.
command -v gcc >/dev/null || need+=(gcc libc6-dev)
# alerts/ and e2e/: amtool and Alertmanager, and the Prometheus server itself.
command -v amtool >/dev/null && command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v prometheus >/dev/null || need+=(prometheus)
if [ "$what" = bench ]; then
  command -v mtail >/dev/null || need+=(mtail)
fi
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing: ${need[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "need root to install ${need[*]} (apt-get); install them and re-run" >&2; exit 1
  fi
else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
