package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/journal"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/report"
)

// reportHelp is the report command's --help.
const reportHelp = `Print the audit report from the journal (--journal.path): who logged in to vCenter or a host, from where and when, direct host logins first; failed logins grouped by source address; the VM consoles each administrator opened; the VMs migrated, by whom or by DRS; SSH and the ESXi Shell switched on, and for how long; permission, role, account and configuration changes. Every time in --timezone with its offset.

The journal is opened read-only, also while the exporter writes it; nothing is created. The exporter serves the same report at /audit.

  ` + name + ` report                                # the last 30 days
  ` + name + ` report --since=24h --user=root
  ` + name + ` report --since=2026-11-01 --until=2026-12-01 --format=csv > november.csv
  ` + name + ` report --kind=login --kind=console_opened --host=esx01.lab.local --timezone=Europe/Paris`

type reportOptions struct {
	journal  string
	params   report.Params
	format   string
	timezone string
}

func reportFlags(cmd *kingpin.CmdClause) *reportOptions {
	o := &reportOptions{}
	cmd.Flag("journal.path", "Directory of the journal the exporter writes (its --journal.path).").Default(DefaultJournalPath).StringVar(&o.journal)
	cmd.Flag("since", "Start of the period: a duration before now (30d, 12h, 1h30m), or a time (RFC 3339 such as 2026-11-01T08:00:00+01:00, or 2026-11-01 or 2026-11-01 08:00 in --timezone).").Default(report.DefaultSince).StringVar(&o.params.Since)
	cmd.Flag("until", "End of the period (excluded), as --since; empty: now.").StringVar(&o.params.Until)
	cmd.Flag("user", "Only this user's events (any form: VSPHERE.LOCAL\\alice is alice@vsphere.local).").StringVar(&o.params.User)
	cmd.Flag("host", "Only the events this ESXi host or vCenter reported.").StringVar(&o.params.Host)
	cmd.Flag("vm", "Only the events of this VM.").StringVar(&o.params.VM)
	cmd.Flag("kind", "Only the sections showing this kind (repeatable): "+strings.Join(kindNames(), ", ")+".").StringsVar(&o.params.Kinds)
	cmd.Flag("format", "text (columns a person reads), csv (one file, a section column), json, or html (one page).").Default("text").EnumVar(&o.format, report.Formats...)
	cmd.Flag("timezone", "Time zone of the report's times and of --since and --until without an offset: Local (this machine's), UTC, Europe/Paris, ...").Default("Local").StringVar(&o.timezone)
	return o
}

func kindNames() []string {
	var names []string
	for _, k := range report.Kinds() {
		names = append(names, string(k))
	}
	return names
}

func runReport(ctx context.Context, o *reportOptions, stdout io.Writer) int {
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(os.Stderr, name+" report: "+format+"\n", a...)
		return code
	}
	loc, err := time.LoadLocation(o.timezone)
	if err != nil {
		return fail(2, "--timezone=%s: %v", o.timezone, err)
	}
	f, err := o.params.Filter(time.Now(), loc)
	if pe := (*report.ParamError)(nil); errors.As(err, &pe) {
		return fail(2, "--%s: %v", pe.Param, pe.Err)
	} else if err != nil {
		return fail(2, "%v", err)
	}
	if o.journal == "" {
		return fail(2, "--journal.path is empty: give the directory of the exporter's journal")
	}
	j, err := journal.OpenReadOnly(o.journal)
	if errors.Is(err, fs.ErrNotExist) {
		return fail(2, "--journal.path=%s: no journal there (%v); give the exporter's --journal.path (default %s)", o.journal, err, DefaultJournalPath)
	} else if err != nil {
		return fail(1, "--journal.path=%s: %v", o.journal, err)
	}
	defer j.Close()
	r, err := report.Build(ctx, j, f, report.Options{Location: loc})
	if err != nil {
		return fail(1, "%v", err)
	}
	if err := report.Write(stdout, r, o.format); err != nil {
		return fail(1, "%v", err)
	}
	return 0
}
