#!/bin/sh
# postinstall of the vsphere-audit-exporter .deb and .rpm: the system user,
# the state directory (for a start outside systemd too), the unit enabled
# and (re)started where systemd runs.
set -e
user=vsphere_audit_exporter
state=/var/lib/vsphere_audit_exporter

if ! getent passwd "$user" >/dev/null; then
  if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers vsphere_audit_exporter.conf
  else
    useradd --system --user-group --home-dir "$state" --no-create-home \
      --shell /usr/sbin/nologin --comment "vSphere audit exporter" "$user"
  fi
fi
install -d -o "$user" -g "$user" -m 0750 "$state"

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  case "$1" in
    # deb: configure with no old version; rpm: 1 (first install).
    configure|1)
      if [ -z "$2" ]; then
        systemctl enable vsphere_audit_exporter.service >/dev/null 2>&1 || true
        systemctl start vsphere_audit_exporter.service || true
      else
        systemctl try-restart vsphere_audit_exporter.service || true
      fi
      ;;
    # rpm: 2 (upgrade).
    *) systemctl try-restart vsphere_audit_exporter.service || true ;;
  esac
fi
exit 0
