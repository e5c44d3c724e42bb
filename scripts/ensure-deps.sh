#!/usr/bin/env bash
# Installs the programs the tests (or benchmarks) use when they are missing.
# Debian packages: prometheus (promtool), bsdutils (logger), gcc (make race), chromium (the /audit browser test), mtail, time and rsyslog (bench only).
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
# e2e/audit_browser_test.go: headless Chromium loads /audit (--dump-dom, --screenshot).
command -v chromium >/dev/null || need+=(chromium)
if [ "$what" = bench ]; then
  command -v mtail >/dev/null || need+=(mtail)
  # bench/replay_cost_test.go: a whole process's peak RSS (GNU time's %M).
  [ -x /usr/bin/time ] || need+=(time)
  # The UDP and TCP baselines: rsyslogd (imudp, imtcp -> omfile), run by the bench unprivileged in its own directory.
  command -v rsyslogd >/dev/null || [ -x /usr/sbin/rsyslogd ] || need+=(rsyslog)
fi
# e2e/victorialogs_test.go: VictoriaLogs, built from source with go install
# (no Debian package), cached in the Go bin dir: built once per machine.
VICTORIALOGS_MODULE=github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.1
gobin="$(go env GOBIN)"; [ -n "$gobin" ] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
if ! command -v victoria-logs >/dev/null && [ ! -x "$gobin/victoria-logs" ]; then
  echo "installing: victoria-logs (go install $VICTORIALOGS_MODULE, about a minute)"
  GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install "$VICTORIALOGS_MODULE"
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
