//go:build !linux

package syslog

import (
	"log/slog"
	"net"
)

func enableDropCounter(*net.UDPConn, *slog.Logger) {}

func parseDropCount([]byte) (uint32, bool) { return 0, false }

func setReceiveBuffer(c *net.UDPConn, bytes int, log *slog.Logger) {
	if err := c.SetReadBuffer(bytes); err != nil {
		log.Warn("cannot set the UDP receive buffer", "bytes", bytes, "err", err)
	}
}
