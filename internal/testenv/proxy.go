package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// FaultProxy is a loopback TCP proxy to one target (etcd, for kube-apiserver) whose traffic a
// test can freeze, slow down or cut. It forwards chunk by chunk; a connection ends in both
// directions as soon as either side closes it.
type FaultProxy struct {
	target string
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	idle     *sync.Cond // broadcast when inflight drops to zero
	links    map[*link]struct{}
	frozen   bool
	thawed   chan struct{} // closed by Resume; replaced by Freeze
	delay    time.Duration
	inflight int // chunk writes in progress
}

// link is one proxied connection: the client's and ours to the target.
type link struct {
	ctx    context.Context
	cancel context.CancelFunc
	client net.Conn
	remote net.Conn
}

func (l *link) close() {
	l.cancel()
	l.client.Close()
	l.remote.Close()
}

// NewFaultProxy listens on a free loopback port and forwards every connection to target.
func NewFaultProxy(target string) (*FaultProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fault proxy to %s: listen: %w", target, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &FaultProxy{target: target, ln: ln, ctx: ctx, cancel: cancel,
		links: map[*link]struct{}{}, thawed: make(chan struct{})}
	p.idle = sync.NewCond(&p.mu)
	close(p.thawed)
	p.wg.Add(1)
	go p.acceptLoop(ctx)
	return p, nil
}

// Addr is the proxy's host:port.
func (p *FaultProxy) Addr() string { return p.ln.Addr().String() }

// Freeze holds every byte in both directions: connections stay open, nothing is forwarded.
// When Freeze returns, no chunk is being written and none will be until Resume; it waits
// for a chunk write in progress, which on loopback to a live peer is short.
func (p *FaultProxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.frozen {
		p.frozen = true
		p.thawed = make(chan struct{})
	}
	for p.inflight > 0 {
		p.idle.Wait()
	}
}

// Resume ends Freeze and Delay: held bytes are forwarded, in order.
func (p *FaultProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = 0
	if p.frozen {
		p.frozen = false
		close(p.thawed)
	}
}

// Delay adds d of latency to every chunk, in both directions (so 2d to a request's round
// trip through the proxy) without limiting throughput; zero removes it.
func (p *FaultProxy) Delay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Reset closes every current connection (both sides). New connections are accepted, and
// they are frozen or delayed like the old ones were.
func (p *FaultProxy) Reset() {
	p.mu.Lock()
	links := p.links
	p.links = map[*link]struct{}{}
	p.mu.Unlock()
	for l := range links {
		l.close()
	}
}

// Close stops the proxy: it closes the listener and every connection and returns once all
// of its goroutines have ended. It is safe to call more than once.
func (p *FaultProxy) Close() error {
	p.cancel()
	err := p.ln.Close()
	p.Reset()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (p *FaultProxy) acceptLoop(ctx context.Context) {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			select { // transient (e.g. EMFILE): back off briefly
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p.wg.Add(1)
		go p.connect(ctx, c)
	}
}

// connect dials the target for client c and starts the two pumps.
func (p *FaultProxy) connect(ctx context.Context, c net.Conn) {
	defer p.wg.Done()
	d := net.Dialer{Timeout: 5 * time.Second}
	r, err := d.DialContext(ctx, "tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	lctx, cancel := context.WithCancel(ctx)
	l := &link{ctx: lctx, cancel: cancel, client: c, remote: r}
	if !p.register(l) {
		l.close()
		return
	}
	p.wg.Add(2)
	go p.pump(l, r, c)
	go p.pump(l, c, r)
}

// activeLinks counts the proxied connections, for tests.
func (p *FaultProxy) activeLinks() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

func (p *FaultProxy) register(l *link) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return false
	}
	p.links[l] = struct{}{}
	return true
}

func (p *FaultProxy) unregister(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.links, l)
}

// pump copies src to dst chunk by chunk until either fails or the link is closed. A reader
// stamps each chunk with the time it is due (now + the delay) and a writer delivers it
// then, in order, so a delay adds latency to every chunk without limiting throughput:
// several requests on one connection (gRPC multiplexes etcd's) are slowed, not queued.
func (p *FaultProxy) pump(l *link, dst, src net.Conn) {
	defer p.wg.Done()
	defer p.unregister(l)
	defer l.close()
	q := make(chan chunk, 256)
	p.wg.Add(1)
	go p.deliver(l, dst, q)
	defer close(q)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			c := chunk{due: time.Now().Add(p.currentDelay()), b: append([]byte(nil), buf[:n]...)}
			select {
			case q <- c:
			case <-l.ctx.Done():
				return
			}
		}
		if err != nil {
			return
		}
	}
}

type chunk struct {
	due time.Time
	b   []byte
}

func (p *FaultProxy) currentDelay() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delay
}

// deliver writes the chunks of q, each at its due time and once the proxy is not frozen.
func (p *FaultProxy) deliver(l *link, dst net.Conn, q <-chan chunk) {
	defer p.wg.Done()
	defer l.close()
	for c := range q {
		if !p.waitUntil(l.ctx, c.due) || !p.forward(l, dst, c.b) {
			return
		}
	}
}

// forward writes one chunk once the proxy is not frozen.
func (p *FaultProxy) forward(l *link, dst net.Conn, b []byte) bool {
	if !p.acquire(l.ctx) {
		return false
	}
	defer p.release()
	_, err := dst.Write(b)
	return err == nil
}

func (p *FaultProxy) waitUntil(ctx context.Context, due time.Time) bool {
	d := time.Until(due)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// acquire waits until the proxy is not frozen and counts a write in progress.
func (p *FaultProxy) acquire(ctx context.Context) bool {
	for {
		p.mu.Lock()
		if !p.frozen {
			p.inflight++
			p.mu.Unlock()
			return true
		}
		thawed := p.thawed
		p.mu.Unlock()
		select {
		case <-thawed:
		case <-ctx.Done():
			return false
		}
	}
}

func (p *FaultProxy) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight--
	if p.inflight == 0 {
		p.idle.Broadcast()
	}
}
