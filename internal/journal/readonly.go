package journal

import (
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// OpenReadOnly opens the existing journal in path for reading only (the
// report command): it creates nothing, neither the directory nor the
// database, and it runs no writer, no retention and no metrics. A journal
// that does not exist is an error that wraps fs.ErrNotExist. Scan, Count,
// Checkpoint, Cursor and LastSeq work as on a journal Open returned; the
// writing methods (Record, Sync, the checkpoints, SetCursor) panic. It may
// be opened while an exporter writes the same journal.
func OpenReadOnly(path string) (*Journal, error) {
	if path == "" {
		return nil, fmt.Errorf("journal: no path")
	}
	file := filepath.Join(path, FileName)
	st, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("journal: no journal in %s: %w", path, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("journal: %s is a directory, not a journal", file)
	}
	rdb, err := sql.Open("sqlite", "file:"+file+"?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)&_pragma=mmap_size(1073741824)")
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	rdb.SetMaxOpenConns(4)
	// A file that is not a journal fails here, not at the first query.
	var n int
	if err := rdb.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'events'`).Scan(&n); err != nil || n != 1 {
		rdb.Close()
		if err == nil {
			err = fmt.Errorf("it has no events table")
		}
		return nil, fmt.Errorf("journal: %s is not a journal: %w", file, err)
	}
	q := make(chan item)
	close(q) // Record panics: sending on a closed channel
	return &Journal{o: Options{Path: path}, rdb: rdb, q: q, log: slog.New(slog.DiscardHandler)}, nil
}
