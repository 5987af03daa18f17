package election

import (
	"strings"
	"time"
)

// The peer channel of the ride-through: a Send becomes a Received at the addressee after a
// random delay, or never. Messages are lost, duplicated and reordered (each copy draws its
// own delay); a node may be cut from some or all of its peers, independently of its API
// partition. A message goes to the addressee by name: whichever process runs there when it
// arrives takes it (a restarted node gets its predecessor's mail, as a real peer address
// would), a crashed node drops it, a frozen one takes it on thawing.

// simPeerDelay is the usual one-way delay of a peer message.
const simPeerDelay = 300 * time.Millisecond

func (w *simWorld) node(id string) *simNode {
	for _, n := range w.nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}

// peerUp reports whether a and b can talk now: neither is cut from the other.
func (w *simWorld) peerUp(a, b *simNode) bool {
	return w.now >= a.peerCut[b.idx] && w.now >= b.peerCut[a.idx]
}

// sendPeer carries one Send of node from.
func (w *simWorld) sendPeer(from *simNode, s Send) {
	w.stats.ride.sends++
	to := w.node(s.To)
	if to == nil || to == from || !w.peerUp(from, to) || w.chance(w.lossRate()) {
		return
	}
	copies := 1
	if w.chance(0.03) {
		copies = 2 // a retransmission whose original was not lost after all
		w.stats.ride.dups++
	}
	for range copies {
		w.after(w.peerDelay(), func() { w.receive(from, to, s.Msg) })
	}
}

func (w *simWorld) receive(from, to *simNode, m PeerMsg) {
	if !w.peerUp(from, to) || !to.alive {
		return
	}
	w.stats.ride.received++
	to.deliver(to.proc, Received{From: from.id, Msg: m})
}

func (w *simWorld) lossRate() float64 {
	if w.now < w.peerLossUntil {
		return w.peerLoss
	}
	return 0.02
}

// peerDelay is one message's delay: up to simPeerDelay, more on a slow network, and now and
// then far more (an answer arriving after the round, the ride or the incarnation it was for).
func (w *simWorld) peerDelay() time.Duration {
	d := w.uniform(0, simPeerDelay)
	if w.now < w.peerSlowUntil {
		d += w.uniform(0, w.peerLag)
	}
	if w.chance(0.03) {
		d += w.uniform(0, w.cfg.LeaseDuration+w.cfg.Ride.Cap)
	}
	return d
}

// cutPeers cuts n from the peers listed (by index) for d.
func (w *simWorld) cutPeers(n *simNode, peers []int, d time.Duration) {
	var names []string
	for _, i := range peers {
		n.peerCut[i] = max(n.peerCut[i], w.now+d)
		names = append(names, w.nodes[i].id)
	}
	w.logf("%s: cut from peers %s until %.3f", n.id, strings.Join(names, ","), (w.now + d).Seconds())
}

func (w *simWorld) allPeers(n *simNode) []int {
	var out []int
	for i := range w.nodes {
		if i != n.idx {
			out = append(out, i)
		}
	}
	return out
}

// somePeers is a random non-empty subset of n's peers.
func (w *simWorld) somePeers(n *simNode) []int {
	all := w.allPeers(n)
	w.rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	return all[:1+w.rng.IntN(len(all))]
}

// healPeers ends every fault of the peer channel.
func (w *simWorld) healPeers() {
	for _, n := range w.nodes {
		clear(n.peerCut)
	}
	w.peerLossUntil, w.peerSlowUntil = 0, 0
}
