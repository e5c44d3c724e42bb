#!/usr/bin/env bash
# package-test.sh DEB VERSION REVISION: installs the built .deb on this
# machine (dpkg -i, as root), checks where every file landed, runs
# systemd-analyze verify on the installed unit, starts the packaged binary
# the way the unit does (as the packaged user, with ARGS from the installed
# /etc/default/vsphere_audit_exporter) on loopback with free ports, scrapes
# it and sends it one syslog message, then purges the package. systemd is
# not PID 1 here, so the unit itself is verified, not started.
#
# A missing tool is installed (apt-get) when root; under CI=true anything
# that stops the test fails it, never skips it.
set -euo pipefail

deb=${1:?usage: package-test.sh DEB VERSION REVISION}
want_version=${2:?usage: package-test.sh DEB VERSION REVISION}
want_revision=${3:?usage: package-test.sh DEB VERSION REVISION}
pkg=vsphere-audit-exporter
user=vsphere_audit_exporter
state=/var/lib/vsphere_audit_exporter
unit=/usr/lib/systemd/system/vsphere_audit_exporter.service
defaults=/etc/default/vsphere_audit_exporter
share=/usr/share/vsphere_audit_exporter

fail() { echo "package-test: FAIL: $*" >&2; exit 1; }
skip() {
  [ "${CI:-}" = true ] && fail "$* (CI=true: not skipped)"
  echo "package-test: SKIP: $*" >&2; exit 0
}
[ -f "$deb" ] || fail "no package $deb (run make package)"
[ "$(id -u)" -eq 0 ] || skip "needs root to install $deb with dpkg -i"
command -v dpkg >/dev/null || skip "dpkg is missing (the .deb test runs on Debian or Ubuntu)"
need=()
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v curl >/dev/null || need+=(curl)
command -v flock >/dev/null && command -v setpriv >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  echo "package-test: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
    fail "cannot install ${need[*]} (apt-get)"
fi

# One run at a time on this machine: the package is installed system-wide.
exec 9>/run/lock/vsphere-audit-exporter-package-test.lock
flock 9
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
  fail "$pkg is already installed on this machine; the test installs and purges it: remove it first (dpkg --purge $pkg)"
fi
had_user=no; getent passwd "$user" >/dev/null && had_user=yes
had_state=no; [ -e "$state" ] && had_state=yes

work=$(mktemp -d)
pid=
cleanup() {
  set +e
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  dpkg --purge "$pkg" >/dev/null 2>&1 || true
  [ $had_state = no ] && rm -rf "$state"
  [ $had_user = no ] && getent passwd "$user" >/dev/null && userdel "$user" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "package-test: dpkg -i $deb"
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i $deb"; }

# Where every file lands (README.md, "Install").
for f in /usr/bin/vsphere_audit_exporter "$unit" /usr/lib/sysusers.d/vsphere_audit_exporter.conf "$defaults" \
  "$share/alerts/vsphere-audit.rules.yml" "$share/alerts/vsphere-audit-exporter.rules.yml" \
  "$share/alertmanager/alertmanager.example.yml" "$share/prometheus.example.yml" \
  "$share/dashboards/vsphere-audit-overview.json" "$share/dashboards/provisioning.yml" \
  /usr/share/doc/$pkg/copyright; do
  [ -f "$f" ] || fail "the package did not install $f"
done
[ -x /usr/bin/vsphere_audit_exporter ] || fail "/usr/bin/vsphere_audit_exporter is not executable"
for f in alerts/*.rules.yml; do
  cmp -s "$f" "$share/alerts/${f#alerts/}" || fail "$share/alerts/${f#alerts/} differs from $f"
done
dpkg-query -W -f='${Conffiles}\n' "$pkg" | grep -q " $defaults " || fail "$defaults is not a conffile (kept on upgrade)"
getent passwd "$user" >/dev/null || fail "the postinstall script did not create the system user $user"
got=$(stat -c '%U:%G %a' "$state")
[ "$got" = "$user:$user 750" ] || fail "$state: owner and mode $got, want $user:$user 750"

# A static binary (CGO_ENABLED=0), with the version stamped by the Makefile.
if command -v go >/dev/null; then
  go version -m /usr/bin/vsphere_audit_exporter | grep -q 'CGO_ENABLED=0' || fail "/usr/bin/vsphere_audit_exporter is not built with CGO_ENABLED=0"
fi
if file /usr/bin/vsphere_audit_exporter 2>/dev/null | grep -q 'dynamically linked'; then
  fail "/usr/bin/vsphere_audit_exporter is dynamically linked"
fi
/usr/bin/vsphere_audit_exporter --version >"$work/version" 2>&1
grep -qF "version $want_version (branch:" "$work/version" || fail "--version says $(head -1 "$work/version"), want version $want_version"
grep -qF "revision: $want_revision)" "$work/version" || fail "--version has no revision $want_revision: $(cat "$work/version")"

echo "package-test: systemd-analyze verify $unit"
systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 || { cat "$work/verify.log" >&2; fail "systemd-analyze verify $unit"; }
# Any complaint about our unit fails it too (verify also reports on units
# of the host it pulls in, which are not ours).
if grep -i 'vsphere_audit_exporter' "$work/verify.log"; then fail "systemd-analyze verify complains about $unit"; fi
grep -qx 'ExecStart=/usr/bin/vsphere_audit_exporter serve $ARGS' "$unit" || fail "$unit: ExecStart is not the binary with \$ARGS"
grep -qx "EnvironmentFile=-$defaults" "$unit" || fail "$unit: no EnvironmentFile=-$defaults"

# Start it as the unit does: the packaged user, ARGS from the installed
# defaults; only the listeners are moved to free loopback ports.
# shellcheck disable=SC1090
ARGS=$(. "$defaults"; printf '%s' "${ARGS:-}")
[ -n "$ARGS" ] || fail "$defaults sets no ARGS"
echo "package-test: serve $ARGS (as $user, on loopback)"
# setpriv execs the binary as the user (runuser would stay as a parent
# that answers SIGTERM itself, "Session terminated", with exit code 143).
# shellcheck disable=SC2086
setpriv --reuid="$user" --regid="$user" --init-groups -- /usr/bin/vsphere_audit_exporter serve $ARGS \
  --web.listen-address=127.0.0.1:0 --syslog.udp.listen-address=127.0.0.1:0 --syslog.tcp.listen-address=127.0.0.1:0 \
  >"$work/serve.log" 2>&1 &
pid=$!
web=
for _ in $(seq 1 300); do
  web=$(sed -n 's/.*msg="Listening on" address=\([0-9.:]*\).*/\1/p' "$work/serve.log" | head -1)
  [ -n "$web" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; fail "the packaged binary exited at start with ARGS from $defaults"; }
  sleep 0.1
done
[ -n "$web" ] || { cat "$work/serve.log" >&2; fail "the packaged binary did not open its web listener"; }
tcp=$(sed -n 's/.* syslog_tcp=\([0-9.:]*\).*/\1/p' "$work/serve.log" | head -1)
[ -n "$tcp" ] || { cat "$work/serve.log" >&2; fail "no syslog_tcp address in the start log"; }

curl -fsS "http://$web/metrics" >"$work/metrics" || fail "cannot scrape http://$web/metrics"
grep -E "^vsphere_audit_exporter_build_info\{.*version=\"$want_version\"" "$work/metrics" | grep -q "revision=\"$want_revision\"" ||
  fail "vsphere_audit_exporter_build_info lacks version=\"$want_version\" revision=\"$want_revision\": $(grep build_info "$work/metrics")"
# OpenMetrics is negotiated (--web.* conventions of node_exporter).
ctype=$(curl -fsS -o "$work/om" -w '%{content_type}' -H 'Accept: application/openmetrics-text; version=1.0.0' "http://$web/metrics")
case "$ctype" in application/openmetrics-text*) ;; *) fail "OpenMetrics scrape: Content-Type $ctype" ;; esac
[ "$(tail -1 "$work/om")" = "# EOF" ] || fail "OpenMetrics scrape does not end with # EOF"

# One direct ESXi login over TCP (LF framing): counted, and kept in the
# journal under the packaged state directory, owned by the packaged user.
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
printf '<166>1 %s esx01.lab.local sshd 1234 - - Accepted password for root from 10.0.0.5 port 52000 ssh2\n' "$now" >"$work/msg"
exec 8<>"/dev/tcp/${tcp%:*}/${tcp##*:}"
cat "$work/msg" >&8
exec 8>&-
login='vsphere_audit_logins_total{client_ip="10.0.0.5",direct="true",host="esx01.lab.local",method="ssh",user="root"} 1'
for _ in $(seq 1 100); do
  curl -fsS "http://$web/metrics" >"$work/metrics"
  grep -qxF "$login" "$work/metrics" && grep -qx 'vsphere_audit_journal_appended_total 1' "$work/metrics" && break
  sleep 0.1
done
grep -qxF "$login" "$work/metrics" || fail "after one direct root login over TCP, no line $login: $(grep '^vsphere_audit_logins_total' "$work/metrics")"
grep -qx 'vsphere_audit_journal_appended_total 1' "$work/metrics" || fail "the journal did not append the one event: $(grep '^vsphere_audit_journal_appended_total' "$work/metrics")"
[ -d "$state/journal" ] || fail "no journal in $state/journal with the packaged ARGS"
[ "$(stat -c %U "$state/journal")" = "$user" ] || fail "$state/journal is not owned by $user"

kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=
[ $rc = 0 ] || { cat "$work/serve.log" >&2; fail "the packaged binary exited $rc on SIGTERM"; }

echo "package-test: dpkg --purge $pkg"
dpkg --purge "$pkg" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg --purge $pkg"; }
for f in /usr/bin/vsphere_audit_exporter "$unit" "$defaults" "$share"; do
  [ ! -e "$f" ] || fail "$f is left after dpkg --purge"
done
[ -d "$state/journal" ] || fail "dpkg --purge removed the audit journal in $state (it must be kept)"
echo "package-test: ok: $deb installs, verifies, serves version $want_version, purges"
