//go:build !linux

package syslog

import (
	"log/slog"
	"net"
)

// msgTrunc is 0 where recvmsg reports no truncation flag: a datagram
// longer than the buffer is still caught by its length (the buffer is one
// byte longer than the size limit).
const msgTrunc = 0

func enableDropCounter(*net.UDPConn, *slog.Logger) {}

func parseDropCount([]byte) (uint32, bool) { return 0, false }

func setReceiveBuffer(c *net.UDPConn, bytes int, log *slog.Logger) {
	if err := c.SetReadBuffer(bytes); err != nil {
		log.Warn("cannot set the UDP receive buffer", "bytes", bytes, "err", err)
	}
}
