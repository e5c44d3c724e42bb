package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/replay"
)

type replayOptions struct {
	output   string
	host     string
	year     int
	timezone string
	vcenters []string
	journal  string
	console  *consoleFlagValues

	files []string
}

func replayFlags(cmd *kingpin.CmdClause) *replayOptions {
	o := &replayOptions{}
	cmd.Flag("output", "jsonl: one JSON audit event per line; metrics: the Prometheus exposition the events produce.").Default(replay.OutputJSONL).EnumVar(&o.output, replay.OutputJSONL, replay.OutputMetrics)
	cmd.Flag("host", "Host name for lines that carry none (ESXi's own log files: hostd.log, auth.log, shell.log).").StringVar(&o.host)
	cmd.Flag("year", "Year for BSD timestamps (\"Jan  2 10:11:12\"), which carry none. Default: the current year, or the previous one for dates that would lie in the future.").IntVar(&o.year)
	cmd.Flag("timezone", "Time zone for timestamps that carry none.").Default("UTC").StringVar(&o.timezone)
	cmd.Flag("journal", "Also store the events in the journal in this directory (a backfill from archived logs, for the report command). Replaying the same syslog twice stores its events twice.").StringVar(&o.journal)
	cmd.Flag("vcenter.address", "An address or CIDR range vCenter's vpxuser comes from (repeatable); a vpxuser login from any other counts as direct. Without any, vpxuser logins are not judged.").StringsVar(&o.vcenters)

	o.console = consoleFlags(cmd)
	cmd.Arg("file", "Log files to read (default: standard input; \"-\" is standard input).").StringsVar(&o.files)
	return o
}

func runReplay(ctx context.Context, logger *slog.Logger, o *replayOptions, stdin io.Reader, stdout io.Writer) int {
	loc, err := time.LoadLocation(o.timezone)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s replay: --timezone: %v\n", name, err)
		return 2
	}
	vcs, err := audit.ParseVCenterAddrs(o.vcenters)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s replay: --vcenter.address: %v\n", name, err)
		return 2
	}
	consoleOpts, err := o.console.options()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s replay: %v\n", name, err)
		return 2
	}
	var inputs []replay.Input
	if len(o.files) == 0 {
		o.files = []string{"-"}
	}
	for _, f := range o.files {
		if f == "-" || f == "" { // kingpin hands "-" on as ""
			inputs = append(inputs, replay.Input{Name: "stdin", R: stdin})
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s replay: %v\n", name, err)
			return 1
		}
		defer fh.Close()
		if st, err := fh.Stat(); err == nil && st.IsDir() {
			fmt.Fprintf(os.Stderr, "%s replay: %s is a directory; give log files\n", name, f)
			return 1
		}
		inputs = append(inputs, replay.Input{Name: f, R: fh})
	}
	opts := replay.Options{
		Output:   o.output,
		Host:     o.host,
		Parser:   logline.Options{Year: o.year, Location: loc},
		VCenters: vcs,
		Journal:  o.journal,
		Console:  consoleOpts,
	}
	if isTerminal(os.Stderr) {
		opts.Progress = func(lines, events int64) {
			fmt.Fprintf(os.Stderr, "\r%d lines read, %d audit events", lines, events)
		}
	}
	st, err := replay.Run(ctx, opts, inputs, stdout)
	if opts.Progress != nil {
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s replay: %v\n", name, err)
		return 1
	}
	logger.Info("replay finished", "lines", st.Lines, "events", st.Events, "oversize_lines", st.Oversize)
	return 0
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
