#!/bin/sh
# preremove of the vsphere-audit-exporter .deb and .rpm: stop and disable
# the service when the package goes (not on an upgrade).
set -e
case "$1" in
  remove|0)
    if [ -d /run/systemd/system ]; then
      systemctl stop vsphere_audit_exporter.service >/dev/null 2>&1 || true
      systemctl disable vsphere_audit_exporter.service >/dev/null 2>&1 || true
    fi
    ;;
esac
exit 0
