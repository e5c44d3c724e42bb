//go:build linux

package syslog

import (
	"encoding/binary"
	"log/slog"
	"net"
	"syscall"
)

// enableDropCounter asks the kernel to report, with every datagram, how many
// datagrams it dropped on this socket because the receive buffer was full
// (SO_RXQ_OVFL).
func enableDropCounter(c *net.UDPConn, log *slog.Logger) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	var serr error
	_ = rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RXQ_OVFL, 1)
	})
	if serr != nil {
		log.Warn("UDP drop counting unavailable", "err", serr)
	}
}

// parseDropCount reads the SO_RXQ_OVFL counter from control messages.
func parseDropCount(oob []byte) (uint32, bool) {
	if len(oob) == 0 {
		return 0, false
	}
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_RXQ_OVFL && len(m.Data) >= 4 {
			return binary.NativeEndian.Uint32(m.Data), true
		}
	}
	return 0, false
}
