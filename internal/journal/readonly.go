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
	var blocks, events, version int
	err = rdb.QueryRow(`SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'blocks'),
		(SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'events')`).Scan(&blocks, &events)
	if err == nil {
		err = rdb.QueryRow(`PRAGMA user_version`).Scan(&version)
	}
	switch {
	case err != nil:
	case version > formatVersion:
		err = fmt.Errorf("it was written by a newer version (format %d; this one reads %d and older)", version, formatVersion)
	case blocks == 0 && events == 1:
		err = fmt.Errorf("it is in the format of an earlier version: the exporter converts it when it next starts with --journal.path=%s", path)
	case blocks == 0:
		err = fmt.Errorf("it has no table of audit events")
	}
	if err != nil {
		rdb.Close()
		return nil, fmt.Errorf("journal: %s is not a journal: %w", file, err)
	}
	q := make(chan item)
	close(q) // Record panics: sending on a closed channel
	return &Journal{o: Options{Path: path}, rdb: rdb, q: q, log: slog.New(slog.DiscardHandler)}, nil
}
