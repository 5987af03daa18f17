// Package peer is the ride-through's peer channel (issue 11, rule 1): daemons send each
// other small signed UDP datagrams on the node network, so that a VIP holder can keep
// announcing through a control-plane outage on its peers' word
// (docs/ride-through-model.md). The channel only authenticates, deduplicates and
// addresses; what a message means is the daemon's.
//
// # Invariant
//
// A Message handed to deliver was produced by a holder of a key in KeyDir as last loaded,
// is addressed to this node (To == Config.Node), and is delivered at most once by this
// Channel (but see forgetting, below). The last holds because each datagram carries a 64-bit counter under the MAC,
// and the receiver keeps per sender node the highest counter and a 64-entry bitmap below
// it (IPsec style, RFC 4303 3.4.3): a counter seen before, or more than 64 below the
// highest, is dropped. A sender without state (first heard, or forgotten past 4096
// senders) is accepted only if its counter, read as Unix nanoseconds, is within Window of
// the local wall clock; the sender's counter is max(last+1, its wall clock), so it grows
// across restarts.
//
// Every datagram is authenticated with HMAC-SHA256 over all of it (version, key ID,
// counter, payload) and compared in constant time. Whatever fails a check is dropped,
// logged at Debug and counted in vipkeeper_peer_dropped_total{reason}; nothing a peer
// sends can crash the receiver.
//
// # What it does not protect
//
//   - Authenticity is by shared key, as with MetalLB's memberlist key: any holder of a
//     key (every node) can send a message with any From, FromInc or Seq. The channel
//     keeps outsiders out, not nodes honest.
//   - Nothing is secret: datagrams are signed, not encrypted.
//   - Loss, delay and reordering are not repaired, and the ride-through's rules must
//     (and in the model do) tolerate them. Counters follow the clock, so a datagram
//     overtaken by a later one from its sender is usually dropped as a replay.
//   - The replay state lives in memory. A restarted receiver may accept once more a
//     datagram, younger than Window, that its previous process accepted; so may one made
//     to forget a sender, which takes more than 4096 senders and so a key. The daemon
//     must check ToInc against its own incarnation: such a copy after a restart names
//     the previous one.
//   - Clocks must agree within Window for a node to be heard by a receiver that has no
//     state for it; a node whose clock is further off is dropped as stale, which costs
//     availability only.
//
// # Keys and rotation
//
// KeyDir is a mounted Secret (a directory volume, not subPath, so that updates reach the
// pod). Every regular file whose name does not start with '.' is a key, named by its
// file name. Trailing newlines are trimmed; what is then valid standard base64 is decoded
// (so 32 letters are 24 bytes), anything else is the key's raw bytes. A key must have at
// least 32 bytes after decoding. The optional file "current" names the key
// to sign with; without it, the greatest key ID signs. Every key in the directory is
// accepted. KeyDir is re-read every Reload; a reload that fails (no key, a bad key,
// "current" naming no key) keeps the previous keys and counts
// vipkeeper_peer_key_reload_errors_total. To rotate from key A to key B without a restart:
//
//  1. Make sure "current" names A, then add B. Wait until every node shows
//     vipkeeper_peer_keys 2 (the kubelet's sync period and cache TTL, plus Reload).
//  2. Set "current" to B. Nodes that have not reloaded yet still sign with A, which
//     everyone still accepts. Wait as long again.
//  3. Remove A.
//
// Never change a key's bytes under the same ID: until every node has reloaded, their
// datagrams would fail the MAC.
package peer
