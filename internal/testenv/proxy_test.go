package testenv

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// echoServer echoes every connection on loopback until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = io.Copy(c, c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func newProxy(t *testing.T) *FaultProxy {
	t.Helper()
	p, err := NewFaultProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close proxy: %v", err)
		}
	})
	return p
}

func dial(t *testing.T, p *FaultProxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and reads the echo, waiting at most wait.
func roundTrip(c net.Conn, msg string, wait time.Duration) (string, error) {
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	return readN(c, len(msg), wait)
}

func readN(c net.Conn, n int, wait time.Duration) (string, error) {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, n)
	got, err := io.ReadFull(c, buf)
	return string(buf[:got]), err
}

// closedByPeer: EOF, or a reset when the proxy closed with unread bytes; not a timeout.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

func TestFaultProxy_ForwardsBothWays(t *testing.T) {
	c := dial(t, newProxy(t))
	got, err := roundTrip(c, "hello", 10*time.Second)
	if err != nil || got != "hello" {
		t.Fatalf("round trip = %q, %v; want hello", got, err)
	}
}

func TestFaultProxy_FreezeHoldsBytesUntilResume(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	if _, err := roundTrip(c, "warm", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Freeze()
	got, err := roundTrip(c, "held", 300*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) || got != "" {
		t.Fatalf("while frozen got %q, %v; want nothing and a read timeout", got, err)
	}
	p.Resume()
	if got, err := readN(c, 4, 10*time.Second); err != nil || got != "held" {
		t.Fatalf("after Resume got %q, %v; want the held bytes", got, err)
	}
}

func TestFaultProxy_DelayAddsLatencyPerChunk(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	const d = 150 * time.Millisecond
	p.Delay(d)
	start := time.Now()
	if got, err := roundTrip(c, "slow", 10*time.Second); err != nil || got != "slow" {
		t.Fatalf("round trip = %q, %v", got, err)
	}
	// Each direction waits d, so a round trip takes at least 2d (a lower bound cannot flake).
	if took := time.Since(start); took < 2*d {
		t.Errorf("round trip took %v, want at least %v", took, 2*d)
	}
}

// Delay is latency, not a queue: many chunks in flight at once each wait d, not d times
// their place in line (etcd's requests share one gRPC connection).
func TestFaultProxy_DelayDoesNotQueueChunksBehindEachOther(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	const d, n = 200 * time.Millisecond, 10
	p.Delay(d)
	start := time.Now()
	for i := range n {
		if _, err := c.Write([]byte{byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // separate chunks
	}
	if got, err := readN(c, n, 30*time.Second); err != nil || len(got) != n {
		t.Fatalf("read %q, %v", got, err)
	}
	// Queued behind each other the echo would take n round trips (4 s); pipelined, about one.
	if took := time.Since(start); took > n*d {
		t.Errorf("%d chunks took %v, want them pipelined (well under %v)", n, took, n*d)
	}
}

func TestFaultProxy_ResetClosesCurrentConnectionsOnly(t *testing.T) {
	p := newProxy(t)
	old := dial(t, p)
	if _, err := roundTrip(old, "a", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Reset()
	if _, err := readN(old, 1, 10*time.Second); !closedByPeer(err) {
		t.Errorf("read on a reset connection: %v, want EOF or reset", err)
	}
	if got, err := roundTrip(dial(t, p), "b", 10*time.Second); err != nil || got != "b" {
		t.Errorf("new connection after Reset: %q, %v", got, err)
	}
}

func TestFaultProxy_CloseEndsFrozenConnections(t *testing.T) {
	p, err := NewFaultProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p)
	if _, err := roundTrip(c, "x", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Freeze()
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	// Close returns only once every goroutine of the proxy has ended (it waits for them).
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := readN(c, 1, 10*time.Second); !closedByPeer(err) {
		t.Errorf("read after Close: %v, want EOF or reset", err)
	}
}
