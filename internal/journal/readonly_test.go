package journal

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
)

// OpenReadOnly reads a journal an exporter is writing, and creates
// nothing: a missing journal is fs.ErrNotExist and leaves no file behind.
func TestOpenReadOnly(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none")
	if _, err := OpenReadOnly(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing journal: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenReadOnly created %s", missing)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReadOnly(dir); err == nil {
		t.Fatal("a file that is not a journal opened")
	}

	path := filepath.Join(dir, "j")
	w, err := Open(Options{Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 0; i < 10; i++ {
		w.Record(ev(i, audit.SourceSyslog))
	}
	w.Sync()
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	if n, err := r.Count(ctx, Query{}); err != nil || n != 10 {
		t.Fatalf("count %d, %v; want 10", n, err)
	}
	// The writer goes on; the reader sees what it commits.
	w.Record(ev(10, audit.SourceSyslog))
	w.Sync()
	if n, err := r.Count(ctx, Query{}); err != nil || n != 11 {
		t.Fatalf("count %d, %v after another commit; want 11", n, err)
	}
	if _, err := r.rdb.Exec(`DELETE FROM events`); err == nil {
		t.Fatal("the read-only journal deleted events")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Record on a read-only journal did not panic")
			}
		}()
		r.Record(ev(11, audit.SourceSyslog))
	}()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

// Direct selects direct logins or the rest; Columns gives the fields it
// names, and only those, in the same order: columns without decoding the
// stored event, other fields decoded from it.
func TestQueryDirectColumns(t *testing.T) {
	j, err := Open(Options{Path: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for i := 0; i < 6; i++ {
		e := ev(i, audit.SourceSyslog)
		e.Direct = i%3 == 0
		e.VM, e.TargetHost = "vm1", "esx02"
		j.Record(e)
	}
	j.Sync()
	ctx := context.Background()
	yes, no := true, false
	if n, _ := j.Count(ctx, Query{Direct: &yes}); n != 2 {
		t.Errorf("direct count %d, want 2", n)
	}
	if n, _ := j.Count(ctx, Query{Direct: &no}); n != 4 {
		t.Errorf("indirect count %d, want 4", n)
	}
	var full, cols []Row
	j.Scan(ctx, Query{Desc: true}, func(r Row) error { full = append(full, r); return nil })
	if err := j.Scan(ctx, Query{Desc: true, Columns: ColumnFields}, func(r Row) error { cols = append(cols, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(cols) != 6 || len(full) != 6 {
		t.Fatalf("%d rows with Columns, %d without", len(cols), len(full))
	}
	for i := range cols {
		f, c := full[i].Event, cols[i].Event
		if c.TargetHost != "" || c.Message != "" {
			t.Errorf("Columns decoded the stored event: %+v", c)
		}
		c.TargetHost, c.Outcome, c.Message = f.TargetHost, f.Outcome, f.Message
		if cols[i].Seq != full[i].Seq || !c.Time.Equal(f.Time) || c.Time.Location() != time.UTC {
			t.Errorf("row %d: seq %d time %v, want %d %v (UTC)", i, cols[i].Seq, c.Time, full[i].Seq, f.Time)
		}
		c.Time = f.Time
		if c != f {
			t.Errorf("row %d with Columns = %+v\nwant %+v", i, c, f)
		}
	}
	var direct []Row
	if err := j.Scan(ctx, Query{Direct: &yes, Columns: []string{"time", "user"}}, func(r Row) error { direct = append(direct, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(direct) != 2 || !direct[0].Event.Time.Equal(ev(0, "").Time) || !direct[1].Event.Time.Equal(ev(3, "").Time) {
		t.Fatalf("direct scan %v", direct)
	}
	if e := direct[1].Event; e.User != "u0" || e.Host != "" || e.Kind != "" || e.Direct {
		t.Errorf("Columns time and user filled more: %+v", e)
	}
	var some []Row
	if err := j.Scan(ctx, Query{Columns: []string{"time", "target_host", "user"}}, func(r Row) error { some = append(some, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if e := some[5].Event; len(some) != 6 || !e.Time.Equal(ev(5, "").Time) || e.TargetHost != "esx02" || e.User != "u2" || e.Host != "" || e.Message != "" || e.VM != "" {
		t.Errorf("Columns time, target_host and user: %+v", e)
	}
	if err := j.Scan(ctx, Query{Columns: []string{"nothing"}}, func(Row) error { return nil }); err == nil {
		t.Error("Columns named a field events do not have")
	}
}
