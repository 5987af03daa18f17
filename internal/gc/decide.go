package gc

import (
	"net/netip"
	"slices"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/election"
)

// State is what the collector knows and remembers. Decide updates the memory fields.
type State struct {
	Records map[election.Ref]election.Record // every record of ours (the informer's cache)
	Wanted  map[netip.Addr]bool              // VIPs some Service wants
	Nodes   map[string]bool                  // nodes with a Node object

	unwanted map[netip.Addr]time.Time // since when a VIP with a record is not wanted
	gone     map[string]time.Time     // since when a node with a presence has no Node object
	seen     map[string]seenVersion   // presence versions, first seen (for the revocation wait)
}

type seenVersion struct {
	rv    string
	since time.Time
}

// Timing is the collector's patience.
type Timing struct {
	Grace         time.Duration // how long a VIP stays unwanted, or a node gone, before collection
	LeaseDuration time.Duration // the agents' lease duration
	// RevokeWait is how long a presence version must stand still before revocation: with
	// the ride-through the unacknowledged wait, (LD + X)(1+ρ)/(1−ρ); default LeaseDuration.
	RevokeWait time.Duration
}

func (tm Timing) revokeWait() time.Duration { return max(tm.RevokeWait, tm.LeaseDuration) }

// Decide returns the writes that collect what may be collected at now (a monotonic time).
func Decide(now time.Time, st *State, tm Timing) []election.Write {
	st.remember(now)
	var out []election.Write
	for _, ref := range sortedRefs(st.Records) {
		rec := st.Records[ref]
		var w election.Write
		var ok bool
		if ref.Kind == election.KindVIP {
			w, ok = st.vip(now, ref, rec, tm)
		} else {
			w, ok = st.presence(now, ref, rec, tm)
		}
		if ok {
			out = append(out, w)
		}
	}
	return out
}

// remember starts and forgets the waits.
func (st *State) remember(now time.Time) {
	if st.unwanted == nil {
		st.unwanted, st.gone, st.seen = map[netip.Addr]time.Time{}, map[string]time.Time{}, map[string]seenVersion{}
	}
	for ref, rec := range st.Records {
		switch {
		case ref.Kind == election.KindVIP && !st.Wanted[ref.VIP]:
			since(st.unwanted, ref.VIP, now)
		case ref.Kind == election.KindVIP:
			delete(st.unwanted, ref.VIP)
		case !st.Nodes[ref.Node]:
			since(st.gone, ref.Node, now)
			if sv, ok := st.seen[ref.Node]; !ok || sv.rv != rec.RV {
				st.seen[ref.Node] = seenVersion{rv: rec.RV, since: now}
			}
		default:
			delete(st.gone, ref.Node)
			delete(st.seen, ref.Node)
		}
	}
}

func since[K comparable](m map[K]time.Time, k K, now time.Time) {
	if _, ok := m[k]; !ok {
		m[k] = now
	}
}

func (st *State) vip(now time.Time, ref election.Ref, rec election.Record, tm Timing) (election.Write, bool) {
	at, ok := st.unwanted[ref.VIP]
	if !ok || now.Sub(at) < tm.Grace {
		return election.Write{}, false
	}
	switch {
	case rec.Holder == "" && !rec.Terminating:
		return election.Write{Ref: ref, Op: election.OpDelete, Base: rec, Reason: "no Service wants the VIP"}, true
	case rec.Holder == "":
		return election.Write{}, false // being deleted already
	case st.revoked(rec.Holder, rec.Incarnation):
		return election.Write{Ref: ref, Op: election.OpRelease, Base: rec,
			Reason: "released by the collector: no Service wants the VIP and " + rec.Holder + "'s incarnation ended"}, true
	}
	return election.Write{}, false // a live holder deletes its own unwanted record
}

// revoked reports whether node's presence shows inc revoked (its holder withdrew first, or
// a challenger waited the holder's fence out before revoking).
func (st *State) revoked(node, inc string) bool {
	p, ok := st.Records[election.NodeRef(node)]
	return ok && p.Exists && p.Holder == "" && p.Incarnation == inc
}

func (st *State) presence(now time.Time, ref election.Ref, rec election.Record, tm Timing) (election.Write, bool) {
	at, ok := st.gone[ref.Node]
	if !ok || now.Sub(at) < tm.Grace {
		return election.Write{}, false
	}
	if rec.Holder != "" {
		if sv := st.seen[ref.Node]; now.Sub(sv.since) < tm.revokeWait() {
			return election.Write{}, false
		}
		return election.Write{Ref: ref, Op: election.OpRevoke, Base: rec, Reason: "the node left the cluster"}, true
	}
	if st.named(ref.Node) {
		return election.Write{}, false // its VIP records are taken over or collected first
	}
	return election.Write{Ref: ref, Op: election.OpDelete, Base: rec, Reason: "the node left the cluster"}, true
}

func (st *State) named(node string) bool {
	for ref, rec := range st.Records {
		if ref.Kind == election.KindVIP && rec.Holder == node {
			return true
		}
	}
	return false
}

func sortedRefs(m map[election.Ref]election.Record) []election.Ref {
	refs := make([]election.Ref, 0, len(m))
	for r := range m {
		refs = append(refs, r)
	}
	slices.SortFunc(refs, func(a, b election.Ref) int {
		if a.Kind != b.Kind {
			return int(a.Kind) - int(b.Kind)
		}
		if a.Kind == election.KindVIP {
			return a.VIP.Compare(b.VIP)
		}
		if a.Node < b.Node {
			return -1
		}
		if a.Node > b.Node {
			return 1
		}
		return 0
	})
	return refs
}
