package election

import "time"

// MsgKind is the kind of a peer message of the ride-through (issue 11, rule 1). The shell
// carries them over the authenticated peer channel; the core sees only who sent what.
type MsgKind int

// The peer messages.
const (
	MsgQuery     MsgKind = iota + 1 // holder -> member: are you blind? (Seq: the round)
	MsgVouch                        // member -> holder: I am blind (Seq: the round it answers)
	MsgAck                          // holder -> member: I know you (ToInc: your incarnation)
	MsgRelayAsk                     // holder -> peer: renew my presence for me (Token)
	MsgRelayDone                    // peer -> holder: the renewal with Token landed
)

var msgNames = [...]string{"", "query", "vouch", "ack", "relay_ask", "relay_done"}

func (k MsgKind) String() string {
	if k <= 0 || int(k) >= len(msgNames) {
		return "unknown"
	}
	return msgNames[k]
}

// PeerMsg is one peer message. Inc is the sender's incarnation, ToInc the addressee's as
// the sender knows it.
type PeerMsg struct {
	Kind  MsgKind
	Inc   string
	ToInc string
	Seq   uint64
	Token string
}

// Send asks the shell to send Msg to node To over the peer channel, best effort: a message
// lost is an attestation or an acknowledgement missing, which costs availability only.
type Send struct {
	To  string
	Msg PeerMsg
}

// Received is a peer message the shell's channel authenticated, from node From.
type Received struct {
	From string
	Msg  PeerMsg
}

func (Send) action()    {}
func (Received) event() {}

// RideStatus is what the ride-through is doing, for metrics and Events.
type RideStatus struct {
	On      bool
	Riding  bool      // addresses stay past the fence on attestations
	Until   time.Time // the ride's deadline (the shell's clock)
	Members []string  // whose attestations granted it
	Ended   string    // why the last ride that ran out ended ("" while none did)
	Ends    uint64    // rides that ran out (a renewal that lands ends a ride without counting)
	Rounds  uint64    // queries sent
	Granted uint64    // rounds that every member vouched for in time
	Relayed uint64    // renewals that peers made for us and we credited
	Vouched uint64    // attestations this node gave
}
