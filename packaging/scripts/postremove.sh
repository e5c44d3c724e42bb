#!/bin/sh
# postremove of the vsphere-audit-exporter .deb and .rpm. The audit journal
# in /var/lib/vsphere_audit_exporter is evidence: it is kept, even on purge
# (remove it by hand). The system user is kept too, so that the journal's
# owner is not reused.
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
