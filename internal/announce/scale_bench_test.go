package announce

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkAnnouncer_IPv6 measures Add (install) and Add (lifetime refresh) of one IPv6
// VIP on a node that already holds held VIPs: an IPv6 address change costs the kernel time
// linear in the namespace's addresses (docs/benchmarks.md, "Data plane").
//
//	go test -run '^$' -bench Announcer_IPv6 -benchtime 200x ./internal/announce
func BenchmarkAnnouncer_IPv6(b *testing.B) {
	for _, held := range []int{100, 1000, 2000} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			l := newLab(b)
			a := l.announcer(Config{Interface: "eth0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			ctx := context.Background()
			until := time.Now().Add(time.Hour)
			for i := range held {
				if err := a.Add(ctx, Address{IP: benchVIP(i), Until: until}); err != nil {
					b.Fatalf("Add: %v", err)
				}
			}
			b.Run("install", func(b *testing.B) {
				for i := range b.N {
					ip := benchVIP(held + i)
					if err := a.Add(ctx, Address{IP: ip, Until: until}); err != nil {
						b.Fatalf("Add: %v", err)
					}
					b.StopTimer()
					if err := a.Remove(ctx, ip); err != nil {
						b.Fatalf("Remove: %v", err)
					}
					b.StartTimer()
				}
			})
			b.Run("refresh", func(b *testing.B) {
				for i := range b.N {
					u := until.Add(time.Duration(i+1) * time.Second)
					if err := a.Add(ctx, Address{IP: benchVIP(i % held), Until: u}); err != nil {
						b.Fatalf("Add: %v", err)
					}
				}
			})
		})
	}
}

func benchVIP(i int) netip.Addr {
	b := netip.MustParseAddr("2001:db8::100:0").As16()
	b[13], b[14], b[15] = byte(i>>16), byte(i>>8), byte(i)
	return netip.AddrFrom16(b)
}
