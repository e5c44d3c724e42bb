//go:build unix

package main

import (
	"log/slog"
	"syscall"
)

// ensureOpenFiles raises the soft RLIMIT_NOFILE to cover need, up to the
// hard limit, or returns an error naming the flags when the hard limit
// cannot (Go itself raises the soft limit to the hard one at start on
// Linux; this also covers systems where it does not).
func ensureOpenFiles(logger *slog.Logger, streamListeners bool, maxConnections, maxRequests int) error {
	need := openFilesNeed(streamListeners, maxConnections, maxRequests)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		logger.Warn("cannot read the open-file limit", "err", err)
		return nil
	}
	if uint64(lim.Cur) >= need {
		return nil
	}
	if uint64(lim.Max) < need {
		return openFilesError(uint64(lim.Cur), uint64(lim.Max), need, streamListeners, maxConnections, maxRequests)
	}
	old := lim.Cur
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return openFilesError(uint64(old), uint64(lim.Max), need, streamListeners, maxConnections, maxRequests)
	}
	logger.Info("raised the soft open-file limit to the hard limit", "from", old, "to", lim.Cur, "needed", need)
	return nil
}
