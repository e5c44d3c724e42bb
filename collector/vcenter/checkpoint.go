package vcenter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// Checkpoint is how far a vCenter's event history has been recorded: the
// creation time of the newest recorded event and the keys of every
// recorded event created at that exact time. Keys are neither dense nor
// monotonic (a filtered collector skips keys, vCenter's counter can wrap or
// reset), so time is the order and the keys only break ties.
type Checkpoint struct {
	VCenter     string    `json:"vcenter"`
	CreatedTime time.Time `json:"created_time"` // RFC 3339 with nanoseconds
	Keys        []int32   `json:"keys"`
}

// IsZero reports whether nothing was recorded yet.
func (c *Checkpoint) IsZero() bool { return c.CreatedTime.IsZero() }

// Seen reports whether ev was recorded already: created before the
// checkpoint, or at its time with a key in its set.
func (c *Checkpoint) Seen(ev types.BaseEvent) bool {
	if c.IsZero() {
		return false
	}
	b := ev.GetEvent()
	if b.CreatedTime.Before(c.CreatedTime) {
		return true
	}
	return b.CreatedTime.Equal(c.CreatedTime) && slices.Contains(c.Keys, b.Key)
}

// Advance records ev as recorded.
func (c *Checkpoint) Advance(ev types.BaseEvent) {
	b := ev.GetEvent()
	switch {
	case b.CreatedTime.After(c.CreatedTime) || c.IsZero():
		c.CreatedTime = b.CreatedTime
		c.Keys = append(c.Keys[:0], b.Key)
	case b.CreatedTime.Equal(c.CreatedTime):
		if !slices.Contains(c.Keys, b.Key) {
			c.Keys = append(c.Keys, b.Key)
		}
	}
}

// CheckpointFile is the file of vCenter name in dir.
func CheckpointFile(dir, name string) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, name)
	return filepath.Join(dir, "vcenter-"+safe+".json")
}

// LoadCheckpoint reads path; a missing file is an empty checkpoint.
func LoadCheckpoint(path string) (Checkpoint, error) {
	var c Checkpoint
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return c, nil
}

// Save writes c to path atomically: a temporary file in the same
// directory, fsynced, renamed over path, and the directory fsynced.
func (c *Checkpoint) Save(path string) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// CheckpointStore keeps the checkpoints of vCenters by name.
type CheckpointStore interface {
	Load(name string) (Checkpoint, error)
	// Save may keep the checkpoint later than it returns, but never
	// ahead of the events recorded before the call.
	Save(name string, cp Checkpoint) error
}

// fileStore keeps one checkpoint in its file (Checkpoint.Save, LoadCheckpoint).
type fileStore string

func (f fileStore) Load(string) (Checkpoint, error)    { return LoadCheckpoint(string(f)) }
func (f fileStore) Save(_ string, cp Checkpoint) error { return cp.Save(string(f)) }
func (f fileStore) String() string                     { return string(f) }
