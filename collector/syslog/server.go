// Package syslogserver receives syslog over UDP, TCP and TLS (RFC 5426,
// RFC 6587, RFC 5425). It owns transport only: senders are admitted
// (allowed sources, connection slots, TLS and mTLS), framing is detected
// per TCP connection from its first bytes, each message is parsed by
// package logline, its host name optionally checked against its sender's
// address, and the record is handed on. A bad connection is closed and
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
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/labels"
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
	// TLSCertFile and TLSKeyFile, or TLSConfigFile, are required when
	// TLSAddress is set. The certificate is re-read when its files change.
	TLSCertFile, TLSKeyFile string
	// TLSConfigFile is a YAML file in the exporter-toolkit's web
	// configuration format (its tls_server_config section: cert_file,
	// key_file, client_ca_file, client_auth_type, min_version, ...).
	TLSConfigFile string
	// AllowedSources are the networks each transport accepts senders from
	// (the zero value: any).
	AllowedSources AllowedSources
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
	// MaxConnectionsPerSource caps the concurrent TCP+TLS connections of
	// one source address (0: 64; negative: no cap).
	MaxConnectionsPerSource int
	// NewSourceReserve is how many of MaxConnections only an address
	// with no connection yet may take (0: an eighth; negative: none).
	NewSourceReserve int
	// HostBinding is HostBindingOff (""), HostBindingFlag or
	// HostBindingEnforce.
	HostBinding string
	// MaxHostBindings bounds the host binding table (0: 16384).
	MaxHostBindings int
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

// A SplitHandler splits Skip in two, so that a stream connection's reader
// can peek at messages while its worker parses the ones before them
// (stream.go): Skippable judges b alone and may run ahead of the messages
// before b; Holding, asked when b's turn comes, reports that even a
// skippable message must be parsed now (a split message waits for its
// continuation). Skip(b) is Skippable(b) unless Holding().
type SplitHandler interface {
	Handler
	Skippable(b []byte) (host string, skippable bool)
	Holding() bool
}

// Server is a set of syslog listeners.
type Server struct {
	cfg    Config
	log    *slog.Logger
	health *Health
	handle Handler

	udp   *net.UDPConn
	tcp   net.Listener
	tls   net.Listener
	slots *slots
	wg    sync.WaitGroup
	// batches are the stream connections' buffers (stream.go), shared:
	// an idle connection holds none.
	batches sync.Pool
	// binder is nil when host binding is off.
	binder *hostBinder
	// rejectLog and mismatchLog rate-limit the log lines about one source.
	rejectLog, mismatchLog *logLimiter
	// certCheck is how often a handshake may look for a changed
	// certificate.
	certCheck time.Duration
	// udpDrops is the socket's drop counter (SO_RXQ_OVFL) as last counted:
	// the kernel reports one cumulative count per socket to every reader,
	// so the readers share it.
	udpDrops atomic.Uint32
	// clock is the time (Unix nanoseconds) while Serve runs, advanced
	// every clockTick: the per-host arrival gauge reads it for every
	// message, where time.Now would cost a few percent of ingest.
	clock atomic.Int64
}

// clockTick is the resolution of the arrival times the receivers record.
const clockTick = 50 * time.Millisecond

// now is the server's clock, or time.Now when it is not running.
func (s *Server) now() time.Time {
	if ns := s.clock.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Now()
}

// runClock advances the clock until done is closed.
func (s *Server) runClock(done <-chan struct{}) {
	t := time.NewTicker(clockTick)
	defer t.Stop()
	for {
		select {
		case <-done:
			s.clock.Store(0)
			return
		case now := <-t.C:
			s.clock.Store(now.UnixNano())
		}
	}
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
	switch {
	case cfg.MaxConnectionsPerSource == 0:
		cfg.MaxConnectionsPerSource = DefaultMaxConnectionsPerSource
	case cfg.MaxConnectionsPerSource < 0:
		cfg.MaxConnectionsPerSource = 0
	}
	switch {
	case cfg.NewSourceReserve == 0:
		cfg.NewSourceReserve = defaultReserve(cfg.MaxConnections)
	case cfg.NewSourceReserve < 0:
		cfg.NewSourceReserve = 0
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: logger, health: health, handle: handle,
		slots:     newSlots(cfg.MaxConnections, cfg.MaxConnectionsPerSource, cfg.NewSourceReserve),
		rejectLog: newLogLimiter(time.Minute, 4096, 100), mismatchLog: newLogLimiter(time.Minute, 4096, 100),
		certCheck: time.Second}
	s.batches.New = newStreamBatch
	if cfg.HostBinding == HostBindingFlag || cfg.HostBinding == HostBindingEnforce {
		s.binder = newHostBinder(cfg.MaxHostBindings)
	}
	return s
}

// DefaultUDPReceiveBuffer is the default of --syslog.udp.receive-buffer.
const DefaultUDPReceiveBuffer = 8 << 20

// DefaultMaxConnectionsPerSource is the default of
// --syslog.max-connections-per-source.
const DefaultMaxConnectionsPerSource = 64

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
			setReceiveBuffer(c, s.cfg.UDPReceiveBuffer, s.log)
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
		tc, err := s.serverTLSConfig()
		if err != nil {
			s.Close()
			return err
		}
		l, err := tls.Listen("tcp", s.cfg.TLSAddress, tc)
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
	s.clock.Store(time.Now().UnixNano())
	clockDone := make(chan struct{})
	clockStopped := make(chan struct{})
	go func() { defer close(clockStopped); s.runClock(clockDone) }()
	defer func() { close(clockDone); <-clockStopped }()
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
	mismatch  func()
	// seenAt is when this receiver last set each host's arrival gauge
	// (at most maxSeenHosts hosts; cleared when full).
	seenAt map[string]*seenHost
	// src is the sending address of the message being received.
	src netip.Addr
	// boundSrc and boundHost cache the last host name found bound to its
	// address, so that a connection's messages skip the binder's lock.
	boundSrc  netip.Addr
	boundHost string
}

func (s *Server) newReceiver(transport string) *receiver {
	r := &receiver{s: s, transport: transport, parser: logline.NewParser(s.cfg.Parser)}
	p := s.health.Messages.WithLabelValues(transport, ResultParsed)
	u := s.health.Messages.WithLabelValues(transport, ResultUnparsed)
	o := s.health.Messages.WithLabelValues(transport, ResultOversize)
	m := s.health.HostMismatch.WithLabelValues(transport)
	r.parsed, r.unparsed, r.oversize, r.mismatch = p.Inc, u.Inc, o.Inc, m.Inc
	return r
}

func (r *receiver) message(b []byte) {
	if host, skip := r.s.handle.Skip(b); skip {
		r.skipped(host)
		return
	}
	r.parse(b)
}

// skipped counts a message dropped unparsed from host.
func (r *receiver) skipped(host string) {
	r.parsed()
	if r.hostBound(host) {
		r.seen(host)
	}
}

// parse parses a message and hands its record on.
func (r *receiver) parse(b []byte) {
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
	if !r.hostBound(rec.Host) {
		return
	}
	r.seen(rec.Host)
	r.s.handle.Process(&rec)
}

// hostBound checks host against the name the sending address is bound to
// (--syslog.host-binding): a mismatch is counted and logged, and it
// reports false (drop the message) only in enforce mode. host may alias a
// read buffer.
func (r *receiver) hostBound(host string) bool {
	b := r.s.binder
	if b == nil || host == "" || !r.src.IsValid() {
		return true
	}
	if r.src == r.boundSrc && host == r.boundHost {
		return true
	}
	ok, bound, full := b.check(r.src, host)
	if full {
		if log, _ := r.s.mismatchLog.allow(netip.Addr{}); log {
			r.s.log.Warn("host binding table full; new sending addresses are not bound", "limit", b.max, "remote", r.src)
		}
		return true
	}
	if ok {
		if host == bound {
			r.boundSrc, r.boundHost = r.src, bound
		}
		return true
	}
	r.mismatch()
	if log, suppressed := r.s.mismatchLog.allow(r.src); log {
		r.s.log.Warn("syslog host name differs from the one this address sent first", "transport", r.transport, "remote", r.src,
			"bound_host", bound, "host", labels.Clean(host, labels.DefaultMaxLabelLen), "mode", r.s.cfg.HostBinding, "suppressed_since_last", suppressed)
	}
	return r.s.cfg.HostBinding != HostBindingEnforce
}

// seen updates the per-host arrival gauge, at most once a second per sender
// and goroutine: it is for "is this host still logging". host may alias a
// read buffer. A connection or socket may carry many hosts interleaved (a
// relay): each has its own second.
func (r *receiver) seen(host string) {
	now := r.s.now()
	h, ok := r.seenAt[host]
	switch {
	case ok && now.Sub(h.at) < time.Second:
		return
	case ok:
		h.at = now
	default:
		if r.seenAt == nil || len(r.seenAt) >= maxSeenHosts {
			r.seenAt = make(map[string]*seenHost)
		}
		h = &seenHost{name: strings.Clone(host), at: now}
		r.seenAt[h.name] = h
	}
	r.s.health.Seen(h.name, float64(now.UnixNano())/1e9)
}

// seenHost is a host name (owned, not aliasing a read buffer) and when
// its arrival gauge was last set.
type seenHost struct {
	name string
	at   time.Time
}

// maxSeenHosts bounds a receiver's seenAt.
const maxSeenHosts = 1024

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

// logReject logs a rejected datagram or connection, at most once a
// minute per source address.
func (s *Server) logReject(transport, reason string, addr netip.Addr) {
	if ok, suppressed := s.rejectLog.allow(addr); ok {
		s.log.Warn("syslog sender rejected", "transport", transport, "reason", reason, "remote", addr,
			"suppressed_since_last", suppressed, "max_connections", s.cfg.MaxConnections, "max_connections_per_source", s.cfg.MaxConnectionsPerSource)
	}
}

// remoteAddr is a connection's source address (unmapped: an IPv4 sender
// on a dual-stack socket is its IPv4 address).
func remoteAddr(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (s *Server) accept(l net.Listener, transport string, conns *sync.Map) {
	closed := s.health.ConnectionsClosed
	reject := func(c net.Conn, reason, closeReason string, addr netip.Addr) {
		// Counted before the close that the sender sees.
		s.health.Rejected.WithLabelValues(transport, reason).Inc()
		closed.WithLabelValues(transport, closeReason).Inc()
		c.Close()
		s.logReject(transport, reason, addr)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE when the open-file limit is reached: once a minute,
			// not twenty times a second.
			if ok, suppressed := s.rejectLog.allow(netip.Addr{}); ok {
				s.log.Warn("accept failed", "transport", transport, "err", err, "suppressed_since_last", suppressed)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		// Refused at once, before any byte is read: outside the allowed
		// sources, or no slot.
		addr := remoteAddr(c)
		if !s.cfg.AllowedSources.Allowed(transport, addr) {
			reject(c, RejectNotAllowed, "not_allowed", addr)
			continue
		}
		if reason, ok := s.slots.acquire(addr); !ok {
			reject(c, reason, "limit", addr)
			continue
		}
		conns.Store(c, struct{}{})
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.slots.release(addr)
			defer conns.Delete(c)
			s.serveConn(c, transport, addr)
		}()
	}
}

func (s *Server) serveConn(c net.Conn, transport string, addr netip.Addr) {
	defer c.Close()
	g := s.health.Connections.WithLabelValues(transport)
	g.Inc()
	defer g.Dec()
	closed := s.health.ConnectionsClosed
	if tc, ok := c.(*tls.Conn); ok {
		c.SetDeadline(time.Now().Add(s.cfg.TLSHandshakeTimeout))
		if err := tc.Handshake(); err != nil {
			reason := RejectTLSHandshake
			if isClientCertError(err) {
				reason = RejectClientCert
			}
			closed.WithLabelValues(transport, "tls_handshake").Inc()
			s.health.Rejected.WithLabelValues(transport, reason).Inc()
			s.logReject(transport, reason, addr)
			s.log.Debug("TLS handshake failed", "remote", c.RemoteAddr(), "err", err)
			return
		}
		c.SetDeadline(time.Time{})
	}
	r := s.newReceiver(transport)
	r.src = addr
	// The buffer holds a message at the size limit and its trailer (up to
	// 64 KiB), so that a longer line is seen, and counted, when it passes
	// the limit (or within 64 KiB of it), not only when it ends.
	br := bufio.NewReaderSize(c, min(max(s.cfg.MaxMessageSize+2, 512), 64<<10))
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
	handle := r.message
	if sh, ok := s.handle.(SplitHandler); ok {
		st := s.newStream(sh, transport, addr)
		defer st.close()
		handle = func(b []byte) { st.add(b, br.Buffered() == 0) }
	}
	for {
		deadline()
		msg, skipped, err := fr.Next()
		for i := 0; i < skipped; i++ {
			r.oversize()
		}
		if err != nil {
			reason := closeReason(err)
			switch {
			case errors.Is(err, ErrTooLong):
				r.oversize()
			case errors.Is(err, ErrTruncated):
				s.health.Messages.WithLabelValues(transport, ResultTruncated).Inc()
			case errors.Is(err, ErrFraming):
				s.health.Messages.WithLabelValues(transport, ResultFramingError).Inc()
			}
			closed.WithLabelValues(transport, reason).Inc()
			if reason != "eof" {
				if ok, suppressed := s.rejectLog.allow(addr); ok {
					s.log.Warn("closing syslog connection", "transport", transport, "remote", c.RemoteAddr(), "reason", reason, "err", err, "suppressed_since_last", suppressed)
				}
			}
			return
		}
		if len(msg) == 0 {
			continue
		}
		handle(msg)
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
