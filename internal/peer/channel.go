package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for zero Config fields.
const (
	DefaultReload = 2 * time.Second
	DefaultWindow = 30 * time.Second
)

// sendTimeout bounds one datagram write; a UDP send that cannot go out this soon is as
// good as lost, and the ride-through tolerates loss.
const sendTimeout = 100 * time.Millisecond

// Config configures a Channel.
type Config struct {
	Node       string                // this node's name; messages whose To != Node are dropped (reason "misaddressed")
	Listen     string                // UDP listen address, e.g. ":9474" or "127.0.0.1:0"
	KeyDir     string                // directory of a mounted Kubernetes Secret: each regular file (not starting with '.') is one key, file name = key ID; optional file "current" names the signing key ID
	Reload     time.Duration         // how often KeyDir is re-read (default 2s)
	Window     time.Duration         // replay/freshness window (default 30s)
	Logger     *slog.Logger          // keys: node, err, peer (remote addr)
	Registerer prometheus.Registerer // may be nil
	Now        func() time.Time      // default time.Now
}

func (c Config) withDefaults() Config {
	if c.Reload == 0 {
		c.Reload = DefaultReload
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate checks the configuration after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Node == "" || c.Listen == "" || c.KeyDir == "":
		return errors.New("peer: Node, Listen and KeyDir are required")
	case len(c.Node) > maxString:
		return fmt.Errorf("peer: node name of %d bytes, limit %d", len(c.Node), maxString)
	case c.Reload < 0:
		return fmt.Errorf("peer: key reload period %s: must be positive", c.Reload)
	case c.Window < 0:
		return fmt.Errorf("peer: replay window %s: must be positive", c.Window)
	}
	return nil
}

// Channel is this node's end of the peer channel: one UDP socket, the keys of KeyDir and
// the replay state of every sender heard from.
type Channel struct {
	cfg  Config
	log  *slog.Logger
	m    *metrics
	conn *net.UDPConn
	ring atomic.Pointer[keyring]
	seen *replay // the receive loop's alone

	mu   sync.Mutex
	last uint64 // the counter of the last datagram sent

	closeOnce sync.Once
	closeErr  error
}

// New loads the keys and binds the socket. Call Run to receive.
func New(cfg Config) (*Channel, error) {
	c, err := newChannel(cfg)
	if err != nil {
		return nil, err
	}
	addr, err := net.ResolveUDPAddr("udp", c.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("peer channel %s: listen address %s: %w", c.cfg.Node, c.cfg.Listen, err)
	}
	if c.conn, err = net.ListenUDP("udp", addr); err != nil {
		return nil, fmt.Errorf("peer channel %s: %w", c.cfg.Node, err)
	}
	if err := c.m.register(c.cfg.Registerer); err != nil {
		c.conn.Close()
		return nil, fmt.Errorf("peer channel %s: register metrics: %w", c.cfg.Node, err)
	}
	return c, nil
}

// newChannel is New without the socket and the registration.
func newChannel(cfg Config) (*Channel, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ring, err := loadKeys(cfg.KeyDir)
	if err != nil {
		return nil, fmt.Errorf("peer channel %s: %w", cfg.Node, err)
	}
	c := &Channel{cfg: cfg, log: cfg.Logger.With("node", cfg.Node), m: newMetrics(), seen: newReplay(cfg.Window)}
	c.setKeys(ring)
	return c, nil
}

// Addr is the bound address, IPv4 unmapped.
func (c *Channel) Addr() netip.AddrPort {
	a := c.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// Run receives until ctx ends, calling deliver for every accepted message from the
// receive goroutine (so deliver must not block for long), and reloads the keys every
// Reload. It closes the socket and returns nil when ctx ends, once every goroutine it
// started has ended. Call it once.
func (c *Channel) Run(ctx context.Context, deliver func(m Message, from netip.AddrPort)) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { c.reloadLoop(ctx) })
	wg.Go(func() {
		<-ctx.Done()
		c.Close() // unblocks ReadFrom
	})
	return c.receive(ctx, deliver)
}

// Close closes the socket; Run closes it too when its ctx ends. A Channel that never ran
// (its owner failed to start) must be closed. Safe to call more than once.
func (c *Channel) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.conn.Close() })
	return c.closeErr
}

func (c *Channel) receive(ctx context.Context, deliver func(Message, netip.AddrPort)) error {
	buf := make([]byte, maxDatagram+1) // one more, so that an oversized datagram shows
	for {
		n, from, err := c.conn.ReadFromUDPAddrPort(buf)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, net.ErrClosed):
			return fmt.Errorf("peer channel %s: receive on %s: %w", c.cfg.Node, c.cfg.Listen, err)
		case err != nil:
			c.log.Warn("peer receive failed", "err", err)
			pause(ctx, 10*time.Millisecond)
			continue
		}
		c.handle(buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), deliver)
	}
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (c *Channel) handle(b []byte, from netip.AddrPort, deliver func(Message, netip.AddrPort)) {
	m, err := c.accept(b)
	if err != nil {
		r := reason(err)
		c.m.dropped.WithLabelValues(r).Inc()
		c.log.Debug("peer datagram dropped", "peer", from, "reason", r, "err", err)
		return
	}
	c.m.received.WithLabelValues(m.Kind.String()).Inc()
	deliver(m, from)
}

// accept authenticates b, then checks its addressee and, last, its counter, so that
// only a datagram about to be delivered moves its sender's replay window.
func (c *Channel) accept(b []byte) (Message, error) {
	m, counter, err := Decode(b, c.ring.Load().lookup)
	if err != nil {
		return Message{}, err
	}
	if m.To != c.cfg.Node {
		return Message{}, fmt.Errorf("peer message %s from %s to %q: %w", m.Kind, m.From, m.To, errMisaddressed)
	}
	if err := c.seen.check(m.From, counter, c.cfg.Now()); err != nil {
		return Message{}, fmt.Errorf("peer message %s from %s, counter %d: %w", m.Kind, m.From, counter, err)
	}
	return m, nil
}

// Send signs m with the current key and sends it to one peer as one datagram. The
// caller fills m.From and m.FromInc. Safe for concurrent use.
func (c *Channel) Send(to netip.AddrPort, m Message) error {
	if err := c.send(to, m); err != nil {
		c.m.sendErrors.Inc()
		return err
	}
	c.m.sent.WithLabelValues(m.Kind.String()).Inc()
	return nil
}

func (c *Channel) send(to netip.AddrPort, m Message) error {
	ring := c.ring.Load()
	b, err := Encode(ring.current, ring.keys[ring.current], c.next(), m)
	if err != nil {
		return fmt.Errorf("send to %s: %w", to, err)
	}
	if err := c.conn.SetWriteDeadline(time.Now().Add(sendTimeout)); err != nil {
		return fmt.Errorf("send peer message %s to %s: %w", m.Kind, to, err)
	}
	if _, err := c.conn.WriteToUDPAddrPort(b, to); err != nil {
		return fmt.Errorf("send peer message %s to %s: %w", m.Kind, to, err)
	}
	return nil
}

// next is the counter of the next datagram: max(last+1, wall clock in Unix nanoseconds),
// so it grows across restarts and stays near the sender's clock, which is what lets a
// receiver without state for this node check its freshness.
func (c *Channel) next() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = max(c.last+1, uint64(max(c.cfg.Now().UnixNano(), 0)))
	return c.last
}

func (c *Channel) reloadLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.Reload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = c.reload() // logged and counted
		}
	}
}

// reload re-reads KeyDir; on failure the previous keys stay in use.
func (c *Channel) reload() error {
	ring, err := loadKeys(c.cfg.KeyDir)
	if err != nil {
		c.m.reloadErrs.Inc()
		c.log.Error("peer key reload failed; keeping the previous keys", "err", err)
		return err
	}
	c.setKeys(ring)
	return nil
}

func (c *Channel) setKeys(ring *keyring) {
	old := c.ring.Swap(ring)
	c.m.keys.Set(float64(len(ring.keys)))
	if old == nil || old.String() != ring.String() {
		c.log.Info("peer keys loaded", "keys", ring.String())
	}
}
