package main

import (
	"context"
	"fmt"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/console"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/journal"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/pipeline"
)

// consoleFlagValues are the console ledger's flags (--console.*, --guest.map),
// of serve and replay.
type consoleFlagValues struct {
	loginWindow time.Duration
	guestMap    string
}

func consoleFlags(cmd *kingpin.CmdClause) *consoleFlagValues {
	f := &consoleFlagValues{}
	cmd.Flag("console.login-window", "How long after a VM console opened a console logon (or unlock) in the VM's guest means the console asked for credentials. A console opened on a guest session another person left logged on (no logoff, no lock), with no console logon within this window, is a console_session_reused event.").
		Default(console.DefaultLoginWindow.String()).DurationVar(&f.loginWindow)
	cmd.Flag("guest.map", "File mapping VMs to the host names or addresses their guests send syslog as: one vm=hostname line each (repeat a VM for several names), # comments. Before the vCenter inventory's guest host names and addresses; without either, a guest whose host name's first label is the VM's name (case-insensitive) is that VM.").
		PlaceHolder("FILE").StringVar(&f.guestMap)
	return f
}

// options checks the flags, reads the map file and returns the ledger's options.
func (f *consoleFlagValues) options() (console.Options, error) {
	if f.loginWindow <= 0 {
		return console.Options{}, fmt.Errorf("--console.login-window must be positive, got %s", f.loginWindow)
	}
	o := console.Options{LoginWindow: f.loginWindow}
	var static map[string]string
	if f.guestMap != "" {
		m, err := console.ReadMap(f.guestMap)
		if err != nil {
			return o, err
		}
		static = m
	}
	o.Mapper = console.NewMapper(static)
	return o, nil
}

// consoleRestoreSpan is how far back the guests' sessions are read from the
// journal at start.
const consoleRestoreSpan = 30 * 24 * time.Hour

// restoreConsole reads the guests' logons and logoffs of the last
// consoleRestoreSpan back from the journal into the console ledger, oldest
// first, so that a restart remembers who is logged on at which console.
func restoreConsole(ctx context.Context, jr *journal.Journal, p *pipeline.Pipeline, now time.Time) (int, error) {
	n := 0
	err := jr.Scan(ctx, journal.Query{Since: now.Add(-consoleRestoreSpan), Kinds: []audit.Kind{audit.KindGuestLogon, audit.KindGuestLogoff}}, func(r journal.Row) error {
		p.RestoreConsole(r.Event)
		n++
		return nil
	})
	return n, err
}
