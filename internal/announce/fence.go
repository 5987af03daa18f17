package announce

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
)

// fencePort is what the Announcer asks of nftables in fence mode (Config.Fence); *fence is
// the real one. Every method is one atomic batch.
type fencePort interface {
	// arm puts each ip in its family's vips set and makes its live element end after
	// timeout (replacing the previous timeout).
	arm(elems []fenceElem) error
	// disarm deletes the live elements of ips: the kernel stops answering for them at once.
	// An element that is missing or expired is not an error.
	disarm(ips []netip.Addr) error
	// forget deletes ips from the vips sets, so the gate no longer applies to them.
	forget(ips []netip.Addr) error
	// reset empties all four sets and puts keep into the vips sets.
	reset(keep []netip.Addr) error
	// rebuild replaces the tables (someone deleted them: nft flush ruleset), with seed in
	// the vips sets and elems armed.
	rebuild(seed []netip.Addr, elems []fenceElem) error
	close()
}

var _ fencePort = (*fence)(nil)

// fenceElem is one VIP whose gate is open for timeout (whole milliseconds, at least one).
type fenceElem struct {
	ip      netip.Addr
	timeout time.Duration
}

// fenceFamily is one of the fence's two tables with its two sets.
type fenceFamily struct {
	table      *nftables.Table
	vips, live *nftables.Set
}

// fence owns the tables "arp <name>" and "ip6 <name>" in the announcer's network namespace.
type fence struct {
	name   string
	ns     netns.NsHandle
	c      *nftables.Conn
	v4, v6 fenceFamily
}

// newFence replaces the fence tables called name, in one batch, with empty live sets and
// vips sets holding seed (the VIPs an earlier process may have left up, so they stay silent
// until the start-up sweep removes them).
func newFence(ns netns.NsHandle, name string, seed []netip.Addr) (*fence, error) {
	f := &fence{name: name, ns: ns}
	if err := f.dial(); err != nil {
		return nil, err
	}
	f.v4, f.v6 = newFamily(nftables.TableFamilyARP, name), newFamily(nftables.TableFamilyIPv6, name)
	if err := f.build(seed); err != nil {
		f.close()
		return nil, fmt.Errorf("create fence tables arp/ip6 %s: %w", name, err)
	}
	return f, nil
}

func (f *fence) dial() error {
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if f.ns.IsOpen() {
		opts = append(opts, nftables.WithNetNSFd(int(f.ns)))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("fence %s: nftables netlink socket: %w", f.name, err)
	}
	f.c = c
	return nil
}

// flush sends the queued batch. After a failure the socket is replaced: acknowledgements
// of an aborted batch may still be queued on it.
func (f *fence) flush() error {
	err := f.c.Flush()
	if err != nil {
		_ = f.c.CloseLasting()
		if derr := f.dial(); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	return err
}

func newFamily(fam nftables.TableFamily, name string) fenceFamily {
	t := &nftables.Table{Name: name, Family: fam}
	key, vips, live := nftables.TypeIPAddr, "vips4", "live4"
	id := uint32(1) // set IDs name the sets within a batch; fixed, as the library's counter is global
	if fam == nftables.TableFamilyIPv6 {
		key, vips, live, id = nftables.TypeIP6Addr, "vips6", "live6", 3
	}
	return fenceFamily{table: t,
		vips: &nftables.Set{Table: t, ID: id, Name: vips, KeyType: key},
		live: &nftables.Set{Table: t, ID: id + 1, Name: live, KeyType: key, HasTimeout: true},
	}
}

func (f *fence) build(seed []netip.Addr) error {
	if err := f.queueBuild(seed); err != nil {
		return err
	}
	return f.flush()
}

func (f *fence) rebuild(seed []netip.Addr, elems []fenceElem) error {
	if err := f.queueBuild(seed); err != nil {
		return err
	}
	if err := f.queueArm(elems); err != nil {
		return err
	}
	return f.flush()
}

// queueBuild queues the replacement of both tables. "add; delete; add" replaces a table
// whether or not it exists, atomically (as nft -f does).
func (f *fence) queueBuild(seed []netip.Addr) error {
	for _, fam := range []fenceFamily{f.v4, f.v6} {
		f.c.AddTable(fam.table)
		f.c.DelTable(fam.table)
		f.c.AddTable(fam.table)
		if err := f.c.AddSet(fam.vips, keys(seed, fam)); err != nil {
			return err
		}
		if err := f.c.AddSet(fam.live, nil); err != nil {
			return err
		}
		chain := f.c.AddChain(&nftables.Chain{Name: "output", Table: fam.table, Type: nftables.ChainTypeFilter,
			Hooknum: outputHook(fam.table.Family), Priority: nftables.ChainPriorityFilter})
		for _, r := range gateRules(fam) {
			r.Table, r.Chain = fam.table, chain
			f.c.AddRule(r)
		}
	}
	return nil
}

func (f *fence) arm(elems []fenceElem) error {
	if err := f.queueArm(elems); err != nil {
		return err
	}
	return f.flush()
}

func (f *fence) queueArm(elems []fenceElem) error {
	byFam := map[*fenceFamily][]nftables.SetElement{}
	for _, e := range elems {
		if e.timeout < time.Millisecond {
			// An element without a timeout would never expire: refuse rather than fence forever.
			return fmt.Errorf("arm %s: timeout %s is less than a millisecond", e.ip, e.timeout)
		}
		fam := f.of(e.ip)
		byFam[fam] = append(byFam[fam], nftables.SetElement{Key: e.ip.AsSlice(), Timeout: e.timeout.Truncate(time.Millisecond)})
	}
	for fam, live := range byFam {
		if err := f.c.SetAddElements(fam.vips, bare(live)); err != nil {
			return err
		}
		// Delete and add again rather than add again: Linux (6.18 included) restarts the
		// timeout of an element added again only when the timeout differs from the stored
		// one in jiffies, or with NFTA_SET_ELEM_EXPIRATION, which google/nftables v0.3.0
		// cannot send; a refresh to the same timeout (Until = now + lease) would do
		// nothing. Both take effect in one commit, so the gate never blinks.
		if err := f.delete(fam.live, bare(live)); err != nil {
			return err
		}
		if err := f.c.SetAddElements(fam.live, live); err != nil {
			return err
		}
	}
	return nil
}

func (f *fence) disarm(ips []netip.Addr) error {
	return f.deleteAll(ips, func(fam *fenceFamily) *nftables.Set { return fam.live })
}

func (f *fence) forget(ips []netip.Addr) error {
	return f.deleteAll(ips, func(fam *fenceFamily) *nftables.Set { return fam.vips })
}

func (f *fence) deleteAll(ips []netip.Addr, set func(*fenceFamily) *nftables.Set) error {
	for _, fam := range []*fenceFamily{&f.v4, &f.v6} {
		if err := f.delete(set(fam), keys(ips, *fam)); err != nil {
			return err
		}
	}
	return f.flush()
}

// delete queues the deletion of elems from s whether or not they are there: deleting a
// missing (or expired) element fails the whole batch, so each is added (without a timeout,
// a no-op when present) first; both take effect in the same commit.
func (f *fence) delete(s *nftables.Set, elems []nftables.SetElement) error {
	if len(elems) == 0 {
		return nil
	}
	if err := f.c.SetAddElements(s, elems); err != nil {
		return err
	}
	return f.c.SetDeleteElements(s, elems)
}

func (f *fence) reset(keep []netip.Addr) error {
	for _, fam := range []fenceFamily{f.v4, f.v6} {
		f.c.FlushSet(fam.live)
		f.c.FlushSet(fam.vips)
		if k := keys(keep, fam); len(k) > 0 {
			if err := f.c.SetAddElements(fam.vips, k); err != nil {
				return err
			}
		}
	}
	return f.flush()
}

// close closes the socket and leaves the tables: elements expire by themselves, as they
// would if the process were killed.
func (f *fence) close() { _ = f.c.CloseLasting() }

func (f *fence) of(ip netip.Addr) *fenceFamily {
	if ip.Is4() {
		return &f.v4
	}
	return &f.v6
}

// keys returns the elements (without timeouts) for the addresses of fam's family.
func keys(ips []netip.Addr, fam fenceFamily) []nftables.SetElement {
	var out []nftables.SetElement
	for _, ip := range ips {
		if ip.Is4() == (fam.table.Family == nftables.TableFamilyARP) {
			out = append(out, nftables.SetElement{Key: ip.AsSlice()})
		}
	}
	return out
}

// bare strips the timeouts.
func bare(elems []nftables.SetElement) []nftables.SetElement {
	out := make([]nftables.SetElement, len(elems))
	for i, e := range elems {
		out[i] = nftables.SetElement{Key: e.Key}
	}
	return out
}
