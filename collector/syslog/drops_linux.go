//go:build linux

package syslog

import (
	"encoding/binary"
	"log/slog"
	"net"
	"syscall"
)

// msgTrunc is the recvmsg flag of a datagram cut to the buffer.
const msgTrunc = syscall.MSG_TRUNC

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

// setReceiveBuffer sets the socket's receive buffer to bytes: with
// SO_RCVBUFFORCE when the process may (CAP_NET_ADMIN), which passes
// net.core.rmem_max, else SO_RCVBUF, which the kernel caps at it. A
// buffer smaller than asked for is logged with the sysctl that raises it.
func setReceiveBuffer(c *net.UDPConn, bytes int, log *slog.Logger) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	var forced bool
	var got int
	_ = rc.Control(func(fd uintptr) {
		forced = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, bytes) == nil
		if !forced {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, bytes)
		}
		// The kernel reports twice what it grants (its bookkeeping).
		if v, gerr := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF); gerr == nil {
			got = v / 2
		}
	})
	switch {
	case err != nil:
		log.Warn("cannot set the UDP receive buffer", "bytes", bytes, "err", err)
	case got > 0 && got < bytes:
		log.Warn("UDP receive buffer smaller than --syslog.udp.receive-buffer: the kernel caps it at net.core.rmem_max; raise that (sysctl -w net.core.rmem_max=...) or run with CAP_NET_ADMIN",
			"bytes", got, "asked", bytes)
	}
}
