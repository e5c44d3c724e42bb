// Package syslogserver receives syslog over UDP, TCP and TLS (RFC 5426,
// RFC 6587, RFC 5425). It owns transport only: framing is detected per TCP
// connection from its first byte, each message is parsed by package
// logline, and the record is handed on. A bad connection is closed and
// counted; it never stalls the others.
package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
)

// Transports, as used in metric labels.
const (
	TransportUDP = "udp"
	TransportTCP = "tcp"
	TransportTLS = "tls"
)

// Config configures the listeners. An empty address disables a transport.
type Config struct {
	UDPAddress string
	TCPAddress string
	TLSAddress string
	// TLSCertFile and TLSKeyFile are required when TLSAddress is set.
	TLSCertFile, TLSKeyFile string
	// MaxMessageSize caps one message in bytes.
	MaxMessageSize int
	// UDPReaders is the number of goroutines reading the UDP socket.
	UDPReaders int
	// UDPReceiveBuffer is the requested SO_RCVBUF in bytes.
	UDPReceiveBuffer int
	// IdleTimeout closes TCP/TLS connections that send nothing for this long (0: never).
	IdleTimeout time.Duration
	// TLSHandshakeTimeout closes TLS connections whose handshake has not
	// completed this long after accept, so that stalled handshakes do not
	// hold connection slots for the idle timeout (0: 10s).
	TLSHandshakeTimeout time.Duration
	// MaxConnections caps concurrent TCP+TLS connections.
	MaxConnections int
	// Parser options for every connection's parser.
	Parser logline.Options
}

// Handler is what the server hands messages to. Its methods must be safe
// for concurrent use.
type Handler interface {
	// Skip may drop a raw message before it is parsed (a message no rule
	// could match); it returns the sender it peeked, which may alias b.
	Skip(b []byte) (host string, skip bool)
	// Process receives each parsed record; it must not keep rec after
	// returning.
	Process(rec *logline.Record)
}

// Server is a set of syslog listeners.
type Server struct {
	cfg    Config
	log    *slog.Logger
	health *Health
	handle Handler

	udp     *net.UDPConn
	tcp     net.Listener
	tls     net.Listener
	connSem chan struct{}
	wg      sync.WaitGroup
	// udpDrops is the socket's drop counter (SO_RXQ_OVFL) as last counted:
	// the kernel reports one cumulative count per socket to every reader,
	// so the readers share it.
	udpDrops atomic.Uint32
}

// New returns a server; call Listen, then Serve.
func New(cfg Config, logger *slog.Logger, health *Health, handle Handler) *Server {
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = 64 << 10
	}
	if cfg.UDPReaders <= 0 {
		cfg.UDPReaders = 2
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 1024
	}
	if cfg.TLSHandshakeTimeout <= 0 {
		cfg.TLSHandshakeTimeout = 10 * time.Second
	}
	return &Server{cfg: cfg, log: logger, health: health, handle: handle, connSem: make(chan struct{}, cfg.MaxConnections)}
}

// Listen opens the configured sockets, so that an address in use or a bad
// certificate is reported before anything runs.
func (s *Server) Listen() error {
	if s.cfg.UDPAddress != "" {
		addr, err := net.ResolveUDPAddr("udp", s.cfg.UDPAddress)
		if err != nil {
			return fmt.Errorf("syslog UDP address %q: %w", s.cfg.UDPAddress, err)
		}
		c, err := net.ListenUDP("udp", addr)
		if err != nil {
			return fmt.Errorf("syslog UDP listener: %w", err)
		}
		if s.cfg.UDPReceiveBuffer > 0 {
			if err := c.SetReadBuffer(s.cfg.UDPReceiveBuffer); err != nil {
				s.log.Warn("cannot set the UDP receive buffer", "bytes", s.cfg.UDPReceiveBuffer, "err", err)
			}
		}
		enableDropCounter(c, s.log)
		s.udp = c
	}
	if s.cfg.TCPAddress != "" {
		l, err := net.Listen("tcp", s.cfg.TCPAddress)
		if err != nil {
			s.Close()
			return fmt.Errorf("syslog TCP listener: %w", err)
		}
		s.tcp = l
	}
	if s.cfg.TLSAddress != "" {
		if s.cfg.TLSCertFile == "" || s.cfg.TLSKeyFile == "" {
			s.Close()
			return errors.New("syslog TLS listener: --syslog.tls.cert-file and --syslog.tls.key-file are required with --syslog.tls.listen-address")
		}
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			s.Close()
			return fmt.Errorf("syslog TLS certificate: %w", err)
		}
		// No session tickets: a TLS 1.3 server sends them after the
		// handshake, and a sender that writes its messages and closes
		// without reading leaves them unread, so its kernel resets the
		// connection and ours discards the messages not yet read.
		// Syslog senders reconnect rarely; resumption buys nothing.
		l, err := tls.Listen("tcp", s.cfg.TLSAddress, &tls.Config{
			Certificates:           []tls.Certificate{cert},
			MinVersion:             tls.VersionTLS12,
			SessionTicketsDisabled: true,
		})
		if err != nil {
			s.Close()
			return fmt.Errorf("syslog TLS listener: %w", err)
		}
		s.tls = l
	}
	return nil
}

// UDPAddr, TCPAddr and TLSAddr return the bound addresses (nil when disabled).
func (s *Server) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

// TCPAddr returns the TCP listener's address.
func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// TLSAddr returns the TLS listener's address.
func (s *Server) TLSAddr() net.Addr {
	if s.tls == nil {
		return nil
	}
	return s.tls.Addr()
}

// Close closes the listeners.
func (s *Server) Close() {
	if s.udp != nil {
		s.udp.Close()
	}
	if s.tcp != nil {
		s.tcp.Close()
	}
	if s.tls != nil {
		s.tls.Close()
	}
}

// Serve runs the listeners until ctx is cancelled, then closes them and
// waits for the connections to finish.
func (s *Server) Serve(ctx context.Context) error {
	var conns sync.Map
	if s.udp != nil {
		for i := 0; i < s.cfg.UDPReaders; i++ {
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.readUDP() }()
		}
	}
	if s.tcp != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.accept(s.tcp, TransportTCP, &conns) }()
	}
	if s.tls != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.accept(s.tls, TransportTLS, &conns) }()
	}
	<-ctx.Done()
	s.Close()
	conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	s.wg.Wait()
	return nil
}

// receiver is the per-goroutine parsing state.
type receiver struct {
	s         *Server
	transport string
	parser    *logline.Parser
	parsed    func()
	unparsed  func()
	oversize  func()
	lastHost  string
	lastSeen  time.Time
}

func (s *Server) newReceiver(transport string) *receiver {
	r := &receiver{s: s, transport: transport, parser: logline.NewParser(s.cfg.Parser)}
	p := s.health.Messages.WithLabelValues(transport, ResultParsed)
	u := s.health.Messages.WithLabelValues(transport, ResultUnparsed)
	o := s.health.Messages.WithLabelValues(transport, ResultOversize)
	r.parsed, r.unparsed, r.oversize = p.Inc, u.Inc, o.Inc
	return r
}

func (r *receiver) message(b []byte) {
	if host, skip := r.s.handle.Skip(b); skip {
		r.parsed()
		r.seen(host)
		return
	}
	rec, err := r.parser.Parse(b)
	if err != nil {
		r.unparsed()
		return
	}
	if rec.Format == "msg" {
		r.unparsed()
	} else {
		r.parsed()
	}
	r.seen(rec.Host)
	r.s.handle.Process(&rec)
}

// seen updates the per-host arrival gauge, at most once a second per sender
// and goroutine: it is for "is this host still logging". host may alias a
// read buffer.
func (r *receiver) seen(host string) {
	if now := time.Now(); host != r.lastHost || now.Sub(r.lastSeen) >= time.Second {
		if host != r.lastHost {
			r.lastHost = strings.Clone(host)
		}
		r.lastSeen = now
		r.s.health.Seen(r.lastHost, float64(now.UnixNano())/1e9)
	}
}

func (s *Server) readUDP() {
	r := s.newReceiver(TransportUDP)
	dropped := s.health.Messages.WithLabelValues(TransportUDP, ResultDropped)
	empty := s.health.Messages.WithLabelValues(TransportUDP, ResultEmpty)
	buf := make([]byte, s.cfg.MaxMessageSize+1)
	oob := make([]byte, 64)
	for {
		n, oobn, flags, _, err := s.udp.ReadMsgUDP(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("UDP read failed", "err", err)
			continue
		}
		if d, ok := parseDropCount(oob[:oobn]); ok {
			s.countDrops(d, dropped)
		}
		if n > s.cfg.MaxMessageSize || flags&syscall.MSG_TRUNC != 0 {
			r.oversize()
			continue
		}
		if n == 0 {
			empty.Inc()
			continue
		}
		r.message(buf[:n])
	}
}

// countDrops adds what the socket's cumulative drop count d adds to the
// count already seen by any reader. A reader may see an older count than
// another already counted: it adds nothing then.
func (s *Server) countDrops(d uint32, dropped prometheus.Counter) {
	for {
		last := s.udpDrops.Load()
		if d-last == 0 || d-last > 1<<31 { // equal, or older (wrapping arithmetic)
			return
		}
		if s.udpDrops.CompareAndSwap(last, d) {
			dropped.Add(float64(d - last))
			return
		}
	}
}

func (s *Server) accept(l net.Listener, transport string, conns *sync.Map) {
	closed := s.health.ConnectionsClosed
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accept failed", "transport", transport, "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		select {
		case s.connSem <- struct{}{}:
		default:
			closed.WithLabelValues(transport, "limit").Inc()
			s.log.Warn("connection limit reached; closing new connection", "transport", transport, "remote", c.RemoteAddr(), "limit", s.cfg.MaxConnections)
			c.Close()
			continue
		}
		conns.Store(c, struct{}{})
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.connSem }()
			defer conns.Delete(c)
			s.serveConn(c, transport)
		}()
	}
}

func (s *Server) serveConn(c net.Conn, transport string) {
	defer c.Close()
	g := s.health.Connections.WithLabelValues(transport)
	g.Inc()
	defer g.Dec()
	closed := s.health.ConnectionsClosed
	if tc, ok := c.(*tls.Conn); ok {
		c.SetDeadline(time.Now().Add(s.cfg.TLSHandshakeTimeout))
		if err := tc.Handshake(); err != nil {
			closed.WithLabelValues(transport, "tls_handshake").Inc()
			s.log.Debug("TLS handshake failed", "remote", c.RemoteAddr(), "err", err)
			return
		}
		c.SetDeadline(time.Time{})
	}
	r := s.newReceiver(transport)
	br := bufio.NewReaderSize(c, 64<<10)
	deadline := func() {
		if s.cfg.IdleTimeout > 0 && br.Buffered() == 0 {
			c.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		}
	}
	deadline()
	fr, framing, err := newFrameReader(br, s.cfg.MaxMessageSize)
	if err != nil {
		closed.WithLabelValues(transport, closeReason(err)).Inc()
		return
	}
	s.log.Debug("syslog connection", "transport", transport, "remote", c.RemoteAddr(), "framing", framing)
	for {
		deadline()
		msg, skipped, err := fr.Next()
		for i := 0; i < skipped; i++ {
			r.oversize()
		}
		if err != nil {
			reason := closeReason(err)
			if reason == "oversize" {
				r.oversize()
			}
			closed.WithLabelValues(transport, reason).Inc()
			if reason != "eof" {
				s.log.Warn("closing syslog connection", "transport", transport, "remote", c.RemoteAddr(), "reason", reason, "err", err)
			}
			return
		}
		if len(msg) == 0 {
			continue
		}
		r.message(msg)
	}
}

func closeReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return "eof"
	case errors.Is(err, ErrTooLong):
		return "oversize"
	case errors.Is(err, ErrFraming):
		return "framing_error"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "idle_timeout"
	}
	return "error"
}
