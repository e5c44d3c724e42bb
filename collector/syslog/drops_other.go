//go:build !linux

package syslog

import (
	"log/slog"
	"net"
)

func enableDropCounter(*net.UDPConn, *slog.Logger) {}

func parseDropCount([]byte) (uint32, bool) { return 0, false }
