package announce

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// maxSlack bounds how early Run sends an announcement to batch it with
// others due at about the same time (one address dump per batch).
const maxSlack = 250 * time.Millisecond

// Run sends each held VIP's burst and periodic refreshes, and re-announces
// an interface's VIPs when it comes back up. It returns nil when ctx ends or
// the Announcer is closed; every goroutine it starts has ended by then.
// Call it once. Without Run, Add still sends the first announcement.
func (a *Announcer) Run(ctx context.Context) error {
	if err := a.startRun(); err != nil {
		return err
	}
	defer a.runs.Done()
	ctx, cancel := context.WithCancel(ctx)
	links := make(chan linkEvent)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.watchLinks(ctx, links)
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()
	up := map[int]bool{}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.done:
			return nil
		case ev := <-links:
			a.linkChanged(ev, up)
		case <-a.wake:
		case <-timer.C:
		}
		timer.Reset(a.announceDue(time.Now()))
	}
}

func (a *Announcer) startRun() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.closed:
		return ErrClosed
	case a.running:
		return errors.New("announce: Run called twice")
	}
	a.running = true
	a.runs.Add(1)
	return nil
}

// poke tells Run that the schedule changed.
func (a *Announcer) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// schedule plans n more announcements of v, BurstInterval apart, then
// refreshes.
func (a *Announcer) schedule(v *vip, now time.Time, n int) {
	v.left = n
	v.next = now.Add(a.cfg.RefreshInterval)
	if n > 0 {
		v.next = now.Add(a.cfg.BurstInterval)
	}
	a.poke()
}

// announceDue sends what is due and returns how long Run may sleep.
func (a *Announcer) announceDue(now time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return a.cfg.RefreshInterval
	}
	a.topUpDueLocked(now)
	if due := a.dueLocked(now); len(due) > 0 {
		a.sendDueLocked(due, now)
	}
	return a.untilNextLocked(now)
}

// dueLocked returns the VIPs due by now (plus slack) and forgets VIPs whose
// lifetime ran out: the kernel drops them, so they are never announced.
func (a *Announcer) dueLocked(now time.Time) []*vip {
	horizon := now.Add(min(a.cfg.BurstInterval/4, maxSlack))
	var due []*vip
	for ip, v := range a.vips {
		if !now.Before(v.expires) {
			delete(a.vips, ip)
			a.log.Info("vip lifetime ran out", "vip", ip, "iface", v.link.name)
			continue
		}
		if !v.next.After(horizon) {
			due = append(due, v)
		}
	}
	return due
}

// sendDueLocked announces due VIPs whose address is verifiably in place
// (PureLB's check-before-send): a VIP whose address vanished is forgotten,
// so the caller's next Add installs and announces it afresh.
func (a *Announcer) sendDueLocked(due []*vip, now time.Time) {
	var placed time.Time
	for _, v := range due {
		if v.placed.After(placed) {
			placed = v.placed
		}
	}
	present, err := a.presentLocked(placed)
	if err != nil {
		a.log.Warn("cannot verify vips before announcing; retrying", "err", err)
		for _, v := range due {
			v.next = now.Add(a.cfg.BurstInterval)
		}
		return
	}
	for _, v := range due {
		if present[v.ip] != v.link.index {
			delete(a.vips, v.ip)
			a.log.Warn("vip address vanished; not announcing it", "vip", v.ip, "iface", v.link.name)
			continue
		}
		if err := a.sendLocked(v); err != nil {
			a.log.Warn("announcement failed", "vip", v.ip, "iface", v.link.name, "err", err)
		}
		if v.left > 0 {
			v.left--
		}
		v.next = now.Add(a.cfg.RefreshInterval)
		if v.left > 0 {
			v.next = now.Add(a.cfg.BurstInterval)
		}
	}
}

// presentLocked maps each owned host address in the kernel to its interface, from a dump
// begun after placed and at most installDumpAge old: with thousands of VIPs, announcements
// come due every few milliseconds and a dump costs milliseconds. An address deleted behind
// our back may so get one more announcement within that age; our own withdrawals never do
// (a VIP leaves a.vips before its address goes), nor do expired ones (dueLocked).
func (a *Announcer) presentLocked(placed time.Time) (map[netip.Addr]int, error) {
	addrs := a.addAddrs
	if addrs == nil || a.addAt.Before(placed) || time.Since(a.addAt) >= installDumpAge {
		var err error
		if addrs, err = a.dumpLocked(); err != nil {
			return nil, err
		}
	}
	present := map[netip.Addr]int{}
	for _, ka := range addrs {
		if a.mark.owns(ka) {
			present[ka.prefix.Addr()] = ka.index
		}
	}
	return present, nil
}

func (a *Announcer) untilNextLocked(now time.Time) time.Duration {
	wait := a.cfg.RefreshInterval
	for _, v := range a.vips {
		wait = min(wait, v.next.Sub(now))
		if !v.topUp.IsZero() {
			wait = min(wait, v.topUp.Sub(now))
		}
	}
	return max(wait, 0)
}

// sendLocked sends one announcement round for v. After a failure the
// interface's sockets are reopened next time (the interface may have been
// recreated under a new index).
func (a *Announcer) sendLocked(v *vip) error {
	err := a.tx.announce(v.link, v.ip)
	if err != nil {
		a.tx.drop(v.link.index)
	}
	if a.cfg.OnSend != nil {
		a.cfg.OnSend(v.ip, v.link.name, err)
	}
	a.log.Debug("vip announced", "vip", v.ip, "iface", v.link.name, "err", err)
	return err
}

// linkEvent is one interface change.
type linkEvent struct {
	index int
	up    bool // administratively up and with carrier
	gone  bool
}

// linkChanged re-announces an interface's VIPs when it comes up; up holds
// the last state seen per interface.
func (a *Announcer) linkChanged(ev linkEvent, up map[int]bool) {
	was, known := up[ev.index]
	if ev.gone {
		delete(up, ev.index)
		a.mu.Lock()
		a.tx.drop(ev.index)
		a.mu.Unlock()
		return
	}
	up[ev.index] = ev.up
	if known && !was && ev.up {
		a.relink(ev.index)
	}
	if known && was != ev.up {
		a.forgetCarry()
		if a.cfg.OnLinkChange != nil {
			a.cfg.OnLinkChange()
		}
	}
}

func (a *Announcer) relink(index int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	for _, v := range a.vips {
		if v.link.index == index {
			v.left, v.next = a.cfg.BurstCount+1, now
			a.log.Info("interface up again; re-announcing", "vip", v.ip, "iface", v.link.name)
		}
	}
}

// watchLinks forwards interface changes to out until ctx ends,
// resubscribing if the subscription breaks.
func (a *Announcer) watchLinks(ctx context.Context, out chan<- linkEvent) {
	for {
		a.followLinks(ctx, out)
		select {
		case <-ctx.Done():
			return
		case <-time.After(a.cfg.BurstInterval):
		}
	}
}

func (a *Announcer) followLinks(ctx context.Context, out chan<- linkEvent) {
	ch := make(chan netlink.LinkUpdate, 16)
	done := make(chan struct{})
	opts := netlink.LinkSubscribeOptions{
		ListExisting: true,
		ErrorCallback: func(err error) {
			if ctx.Err() == nil {
				a.log.Debug("link watch", "err", err)
			}
		},
	}
	if a.ns.IsOpen() {
		ns := a.ns
		opts.Namespace = &ns
	}
	if err := netlink.LinkSubscribeWithOptions(ch, done, opts); err != nil {
		close(done)
		a.log.Warn("cannot watch interfaces; no re-announcement on link-up until it works", "err", err)
		return
	}
	defer func() {
		close(done) // closes the socket; the library's goroutine then closes ch
		for range ch {
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-ch:
			if !ok {
				return
			}
			ev := linkEvent{
				index: int(u.Index),
				up:    u.Flags&unix.IFF_UP != 0 && u.Flags&unix.IFF_RUNNING != 0,
				gone:  u.Header.Type == unix.RTM_DELLINK,
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}
}
