package peer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestChannel_ReloadsItsKeysEveryReloadPeriod runs the reload loop without a socket,
// in a bubble, so that its ticks fall at exact virtual times.
func TestChannel_ReloadsItsKeysEveryReloadPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := keyDir(t, map[string]string{"A": keyA})
		c, err := newChannel(Config{Node: "a", Listen: "unused", KeyDir: dir, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.reloadLoop(ctx)
		}()
		writeFiles(t, dir, map[string]string{"B": keyB, currentFile: "B"})
		time.Sleep(DefaultReload - time.Nanosecond)
		synctest.Wait()
		if got := c.ring.Load().current; got != "A" {
			t.Errorf("before the first tick, signing with %s, want A", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := c.ring.Load().current; got != "B" {
			t.Errorf("after the first tick, signing with %s, want B", got)
		}
		cancel()
		<-done
	})
}

func TestChannel_KeepsItsKeysWhenAReloadFails(t *testing.T) {
	dir := keyDir(t, map[string]string{"A": keyA})
	c, err := newChannel(Config{Node: "a", Listen: "unused", KeyDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.Remove(filepath.Join(dir, "A")))
	writeFiles(t, dir, map[string]string{"short": "too short"})
	if err := c.reload(); err == nil {
		t.Fatal("reload of a directory with only a short key succeeded")
	}
	must(t, os.Remove(filepath.Join(dir, "short")))
	if err := c.reload(); err == nil {
		t.Fatal("reload of an empty directory succeeded")
	}
	if _, ok := c.ring.Load().lookup("A"); !ok {
		t.Error("key A forgotten after failed reloads")
	}
	if got := testutil.ToFloat64(c.m.reloadErrs); got != 2 {
		t.Errorf("vipkeeper_peer_key_reload_errors_total = %v, want 2", got)
	}
	if got := testutil.ToFloat64(c.m.keys); got != 1 {
		t.Errorf("vipkeeper_peer_keys = %v, want 1", got)
	}
}

func TestChannel_CountersFollowTheClockAndNeverRepeat(t *testing.T) {
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c, err := newChannel(Config{Node: "a", Listen: "unused", KeyDir: keyDir(t, map[string]string{"A": keyA}),
		Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	base := uint64(clock.UnixNano())
	got := []uint64{c.next(), c.next()}
	clock = clock.Add(time.Second)
	got = append(got, c.next())
	clock = clock.Add(-time.Minute) // a clock step back
	got = append(got, c.next())
	want := []uint64{base, base + 1, base + uint64(time.Second), base + uint64(time.Second) + 1}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("counter %d = %d, want %d", i, got[i], want[i])
		}
	}
}

func TestConfig_ValidateNamesWhatIsWrong(t *testing.T) {
	ok := Config{Node: "a", Listen: ":9474", KeyDir: "/keys"}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v", ok, err)
	}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"no node", func(c *Config) { c.Node = "" }},
		{"no listen address", func(c *Config) { c.Listen = "" }},
		{"no key dir", func(c *Config) { c.KeyDir = "" }},
		{"node name over 255 bytes", func(c *Config) { c.Node = string(make([]byte, 256)) }},
		{"negative reload period", func(c *Config) { c.Reload = -time.Second }},
		{"negative window", func(c *Config) { c.Window = -time.Second }},
	}
	for _, tc := range tests {
		c := ok
		tc.edit(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate succeeded", tc.name)
		}
	}
}

func TestNew_RefusesAKeyDirWithoutAValidKey(t *testing.T) {
	for _, files := range []map[string]string{{}, {"A": "short"}} {
		c, err := New(Config{Node: "a", Listen: "127.0.0.1:0", KeyDir: keyDir(t, files)})
		if err == nil {
			c.conn.Close()
			t.Errorf("New with keys %v succeeded", files)
		}
	}
}
