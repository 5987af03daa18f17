package peer

import (
	"errors"
	"fmt"
)

// Kind says what a Message asks or answers (docs/ride-through-model.md, rules 3-5).
type Kind uint8

const (
	KindQuery     Kind = iota + 1 // holder -> member: "are you blind?" (Seq = round)
	KindVouch                     // member -> holder: "I am blind" for round Seq
	KindAck                       // holder -> member: "I know you (incarnation ToInc)"
	KindRelayAsk                  // holder -> peer: renew my presence record (Token = write token)
	KindRelayDone                 // peer -> holder: your relayed renewal landed (Token)
)

// kinds lists every valid Kind, for metric labels.
var kinds = []Kind{KindQuery, KindVouch, KindAck, KindRelayAsk, KindRelayDone}

// String gives the kind's metric label value.
func (k Kind) String() string {
	switch k {
	case KindQuery:
		return "query"
	case KindVouch:
		return "vouch"
	case KindAck:
		return "ack"
	case KindRelayAsk:
		return "relay_ask"
	case KindRelayDone:
		return "relay_done"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

func (k Kind) valid() bool { return k >= KindQuery && k <= KindRelayDone }

// Message is what one daemon tells another. Which fields matter depends on Kind.
type Message struct {
	Kind    Kind
	From    string // sender node name
	FromInc string // sender's incarnation
	To      string // addressee node name
	ToInc   string // addressee's incarnation as the sender knows it ("" if none)
	Seq     uint64
	Token   string
}

// validate checks what the wire format can carry: a known kind, a sender (replay state
// is kept per sender) and strings short enough for their one-byte length.
func (m Message) validate() error {
	switch {
	case !m.Kind.valid():
		return fmt.Errorf("message kind %d: %w", uint8(m.Kind), errInvalid)
	case m.From == "":
		return fmt.Errorf("message %s: empty From: %w", m.Kind, errInvalid)
	}
	for _, s := range []string{m.From, m.FromInc, m.To, m.ToInc, m.Token} {
		if len(s) > maxString {
			return fmt.Errorf("message %s: field of %d bytes, limit %d: %w", m.Kind, len(s), maxString, errInvalid)
		}
	}
	return nil
}

var errInvalid = errors.New("invalid on the wire")
