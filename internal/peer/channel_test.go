package peer

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// patience bounds every wait on real sockets: generous, because a busy 2-core machine is
// slow, and never part of what is asserted.
const patience = 10 * time.Second

type delivery struct {
	m    Message
	from netip.AddrPort
}

// node is a running Channel on loopback and what it delivered.
type node struct {
	*Channel
	dir string
	got chan delivery
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startNode runs a Channel named name on 127.0.0.1 with the keys of dir, until the test
// ends. The ticker never reloads during a test; tests call reload.
func startNode(t *testing.T, name, dir string, edit ...func(*Config)) *node {
	t.Helper()
	cfg := Config{Node: name, Listen: "127.0.0.1:0", KeyDir: dir, Reload: time.Hour,
		Logger: testLogger(t), Registerer: prometheus.NewRegistry()}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{Channel: c, dir: dir, got: make(chan delivery, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(m Message, from netip.AddrPort) {
			select {
			case n.got <- delivery{m, from}:
			default:
				t.Errorf("node %s: more deliveries than the test reads", name)
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("node %s: Run = %v", name, err)
			}
		case <-time.After(patience):
			t.Errorf("node %s: Run did not return after its context ended", name)
		}
	})
	return n
}

func (n *node) send(t *testing.T, to *node, m Message) {
	t.Helper()
	if err := n.Send(to.Addr(), m); err != nil {
		t.Fatal(err)
	}
}

func (n *node) next(t *testing.T) delivery {
	t.Helper()
	select {
	case d := <-n.got:
		return d
	case <-time.After(patience):
		t.Fatalf("node %s: nothing delivered", n.cfg.Node)
		return delivery{}
	}
}

// awaitDrop waits until n has dropped want datagrams for reason. A drop is counted
// after the datagram was handled, so nothing of it can be delivered later.
func (n *node) awaitDrop(t *testing.T, reason string, want float64) {
	t.Helper()
	c := n.m.dropped.WithLabelValues(reason)
	for deadline := time.Now().Add(patience); testutil.ToFloat64(c) < want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("node %s: %v datagrams dropped as %s, want %v", n.cfg.Node, testutil.ToFloat64(c), reason, want)
		}
	}
	if len(n.got) != 0 {
		t.Errorf("node %s: delivered %+v besides dropping", n.cfg.Node, <-n.got)
	}
}

// sendRaw sends b from a throwaway loopback socket.
func sendRaw(t *testing.T, to netip.AddrPort, b []byte) {
	t.Helper()
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
}

func now() uint64 { return uint64(time.Now().UnixNano()) }

func TestChannel_DeliversAQueryAndItsVouchBetweenTwoNodes(t *testing.T) {
	a := startNode(t, "a", keyDir(t, map[string]string{"k": keyA}))
	b := startNode(t, "b", keyDir(t, map[string]string{"k": keyA}))
	q := Message{Kind: KindQuery, From: "a", FromInc: "inc-a", To: "b", Seq: 7}
	a.send(t, b, q)
	got := b.next(t)
	if diff := cmp.Diff(q, got.m); diff != "" || got.from != a.Addr() {
		t.Fatalf("b got from %s, want from %s; message (-want +got):\n%s", got.from, a.Addr(), diff)
	}
	v := Message{Kind: KindVouch, From: "b", FromInc: "inc-b", To: "a", ToInc: "inc-a", Seq: 7}
	if err := b.Send(got.from, v); err != nil {
		t.Fatal(err)
	}
	if d := a.next(t); d.m != v {
		t.Errorf("a got %+v, want %+v", d.m, v)
	}
	for _, c := range []prometheus.Collector{a.m.sent.WithLabelValues("query"), b.m.received.WithLabelValues("query"),
		b.m.sent.WithLabelValues("vouch"), a.m.received.WithLabelValues("vouch")} {
		if got := testutil.ToFloat64(c); got != 1 {
			t.Errorf("%v = %v, want 1", c.(prometheus.Metric).Desc(), got)
		}
	}
}

func TestChannel_DropsAMessageSignedWithAnotherKey(t *testing.T) {
	b := startNode(t, "b", keyDir(t, map[string]string{"k": keyA}))
	sameID := startNode(t, "a", keyDir(t, map[string]string{"k": keyB}))
	otherID := startNode(t, "c", keyDir(t, map[string]string{"other": keyA}))
	sameID.send(t, b, Message{Kind: KindAck, From: "a", To: "b"})
	b.awaitDrop(t, reasonBadMAC, 1)
	otherID.send(t, b, Message{Kind: KindAck, From: "c", To: "b"})
	b.awaitDrop(t, reasonUnknownKey, 1)
}

func TestChannel_DropsATamperedDatagram(t *testing.T) {
	b := startNode(t, "b", keyDir(t, map[string]string{"k": keyA}))
	good, err := Encode("k", []byte(keyA), now(), Message{Kind: KindRelayAsk, From: "a", To: "b", Token: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range good {
		bad := withByte(good, i, good[i]^0x20)
		sendRaw(t, b.Addr(), bad)
	}
	sent := float64(len(good))
	for deadline := time.Now().Add(patience); dropped(b) < sent; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%v of %v tampered datagrams dropped", dropped(b), sent)
		}
	}
	// The version, the key ID's length and the key ID "k" come before the MAC's key is known.
	if got := testutil.ToFloat64(b.m.dropped.WithLabelValues(reasonBadMAC)); got != sent-3 {
		t.Errorf("%v dropped for a bad MAC, want all %v past the key ID", got, sent-3)
	}
	sendRaw(t, b.Addr(), good)
	if d := b.next(t); d.m.Token != "t1" {
		t.Errorf("untampered datagram delivered as %+v", d.m)
	}
}

// dropped sums n's drops over every reason.
func dropped(n *node) float64 {
	var sum float64
	for _, r := range reasons {
		sum += testutil.ToFloat64(n.m.dropped.WithLabelValues(r.reason))
	}
	return sum
}

func TestChannel_DropsAReplayedDatagram(t *testing.T) {
	b := startNode(t, "b", keyDir(t, map[string]string{"k": keyA}))
	dgram, err := Encode("k", []byte(keyA), now(), Message{Kind: KindVouch, From: "a", To: "b", Seq: 3})
	if err != nil {
		t.Fatal(err)
	}
	sendRaw(t, b.Addr(), dgram)
	if d := b.next(t); d.m.Seq != 3 {
		t.Fatalf("first copy delivered as %+v", d.m)
	}
	sendRaw(t, b.Addr(), dgram)
	b.awaitDrop(t, reasonReplay, 1)
}

func TestChannel_DropsAnHourOldCounterFromANewSenderAsStale(t *testing.T) {
	b := startNode(t, "b", keyDir(t, map[string]string{"k": keyA}))
	a := startNode(t, "a", keyDir(t, map[string]string{"k": keyA}), func(c *Config) {
		c.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	})
	a.send(t, b, Message{Kind: KindQuery, From: "a", To: "b"})
	b.awaitDrop(t, reasonStale, 1)
}

func TestChannel_DropsAMisaddressedMessage(t *testing.T) {
	a := startNode(t, "a", keyDir(t, map[string]string{"k": keyA}))
	b := startNode(t, "b", keyDir(t, map[string]string{"k": keyA}))
	a.send(t, b, Message{Kind: KindQuery, From: "a", To: "c"})
	b.awaitDrop(t, reasonMisaddressed, 1)
}

func TestChannel_DropsAMalformedDatagram(t *testing.T) {
	b := startNode(t, "b", keyDir(t, map[string]string{"k": keyA}))
	sendRaw(t, b.Addr(), []byte("GET / HTTP/1.0\r\n\r\n"))
	b.awaitDrop(t, reasonMalformed, 1)
}

func TestChannel_AcceptsARotatedKeyAndRejectsTheRemovedOne(t *testing.T) {
	b := startNode(t, "b", keyDir(t, map[string]string{"A": keyA}))
	old := startNode(t, "old", keyDir(t, map[string]string{"A": keyA}))
	rotated := startNode(t, "new", keyDir(t, map[string]string{"A": keyA, "B": keyB, currentFile: "B"}))
	rotated.send(t, b, Message{Kind: KindAck, From: "new", To: "b"})
	b.awaitDrop(t, reasonUnknownKey, 1)

	writeFiles(t, b.dir, map[string]string{"B": keyB, currentFile: "B"})
	must(t, b.reload())
	rotated.send(t, b, Message{Kind: KindAck, From: "new", To: "b"})
	old.send(t, b, Message{Kind: KindAck, From: "old", To: "b"})
	from := map[string]bool{b.next(t).m.From: true, b.next(t).m.From: true}
	if !from["new"] || !from["old"] {
		t.Fatalf("with A and B, delivered from %v; want new and old", from)
	}
	b.send(t, rotated, Message{Kind: KindAck, From: "b", To: "new"}) // b now signs with B
	rotated.next(t)

	must(t, os.Remove(filepath.Join(b.dir, "A")))
	must(t, b.reload())
	old.send(t, b, Message{Kind: KindAck, From: "old", To: "b"})
	b.awaitDrop(t, reasonUnknownKey, 2)
	if got := testutil.ToFloat64(b.m.keys); got != 1 {
		t.Errorf("vipkeeper_peer_keys = %v, want 1", got)
	}
}

func TestChannel_RunEndsWithItsContextAndLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	c, err := New(Config{Node: "a", Listen: "127.0.0.1:0", KeyDir: keyDir(t, map[string]string{"k": keyA}),
		Reload: time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- c.Run(ctx, func(Message, netip.AddrPort) {}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		t.Logf("Run returned %s after it started (context: 50ms)", time.Since(start))
	case <-time.After(patience):
		t.Fatal("Run did not return after its context ended")
	}
	if err := c.Send(c.Addr(), Message{Kind: KindQuery, From: "a", To: "a"}); err == nil {
		t.Error("Send after Run succeeded on a closed socket")
	}
	for deadline := time.Now().Add(patience); runtime.NumGoroutine() > before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before New", runtime.NumGoroutine(), before)
		}
	}
}

// A Channel whose owner fails before Run (the agent's Lease store, say) is closed by Close:
// its port is free again, and a second Close is harmless.
func TestChannel_CloseWithoutRunFreesThePort(t *testing.T) {
	dir := keyDir(t, map[string]string{"k": keyA})
	c, err := New(Config{Node: "a", Listen: "127.0.0.1:0", KeyDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.Addr().String()
	if err := c.Close(); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	again, err := New(Config{Node: "a", Listen: addr, KeyDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("New on the closed channel's port %s: %v", addr, err)
	}
	if err := again.Close(); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
}
