package peer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Wire format, version 1; integers big-endian, strings a one-byte length and the bytes:
//
//	version(1) keyID(str) counter(8) | kind(1) from inc to toInc (str) seq(8) token(str) | mac(32)
//
// The MAC is HMAC-SHA256 under the named key over every byte before it, so the version,
// the key ID and the counter are authenticated with the payload. Decoding is strict (no
// trailing bytes, known kind), so each message has exactly one encoding per key and counter.
const (
	version     = 1
	maxDatagram = 1200 // fits any path MTU worth supporting, IPv6 minimum 1280 included
	maxString   = 255
	macSize     = sha256.Size
	minDatagram = 1 + 2 + 8 + 1 + 2 + 3 + 8 + 1 + macSize // one-byte key ID and From
)

// The reasons Decode rejects a datagram.
var (
	ErrMalformed  = errors.New("malformed")
	ErrUnknownKey = errors.New("unknown key")
	ErrBadMAC     = errors.New("bad MAC")
)

// Encode seals m under the key named keyID with the given replay counter.
func Encode(keyID string, key []byte, counter uint64, m Message) ([]byte, error) {
	if keyID == "" || len(keyID) > maxString {
		return nil, fmt.Errorf("encode peer message: key ID of %d bytes: %w", len(keyID), errInvalid)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("encode peer message: %w", err)
	}
	b := make([]byte, 0, 128)
	b = append(b, version)
	b = appendString(b, keyID)
	b = binary.BigEndian.AppendUint64(b, counter)
	b = append(b, byte(m.Kind))
	for _, s := range []string{m.From, m.FromInc, m.To, m.ToInc} {
		b = appendString(b, s)
	}
	b = binary.BigEndian.AppendUint64(b, m.Seq)
	b = appendString(b, m.Token)
	b = append(b, mac(key, b)...)
	if len(b) > maxDatagram {
		return nil, fmt.Errorf("encode peer message %s: %d bytes, limit %d: %w", m.Kind, len(b), maxDatagram, errInvalid)
	}
	return b, nil
}

// Decode checks b's MAC under the key keys returns for b's key ID and returns its message
// and replay counter. Errors wrap ErrMalformed, ErrUnknownKey or ErrBadMAC. Replay and
// addressing are the caller's to check.
func Decode(b []byte, keys func(id string) ([]byte, bool)) (Message, uint64, error) {
	if len(b) < minDatagram || len(b) > maxDatagram {
		return Message{}, 0, fmt.Errorf("decode peer datagram of %d bytes: %w", len(b), ErrMalformed)
	}
	body, sum := b[:len(b)-macSize], b[len(b)-macSize:]
	r := reader{b: body}
	if v := r.byte(); v != version {
		return Message{}, 0, fmt.Errorf("decode peer datagram: version %d: %w", v, ErrMalformed)
	}
	id := r.string()
	if r.bad || id == "" {
		return Message{}, 0, fmt.Errorf("decode peer datagram: key ID: %w", ErrMalformed)
	}
	key, ok := keys(id)
	if !ok {
		return Message{}, 0, fmt.Errorf("decode peer datagram: key %q: %w", id, ErrUnknownKey)
	}
	if !hmac.Equal(sum, mac(key, body)) {
		return Message{}, 0, fmt.Errorf("decode peer datagram: key %q: %w", id, ErrBadMAC)
	}
	return decodeSigned(&r)
}

// decodeSigned reads what follows the key ID, once the MAC has been checked.
func decodeSigned(r *reader) (Message, uint64, error) {
	counter := r.uint64()
	m := Message{Kind: Kind(r.byte())}
	m.From, m.FromInc, m.To, m.ToInc = r.string(), r.string(), r.string(), r.string()
	m.Seq = r.uint64()
	m.Token = r.string()
	if r.bad || len(r.b) != 0 {
		return Message{}, 0, fmt.Errorf("decode peer datagram: payload: %w", ErrMalformed)
	}
	if err := m.validate(); err != nil {
		return Message{}, 0, fmt.Errorf("decode peer datagram: %w: %w", err, ErrMalformed)
	}
	return m, counter, nil
}

func mac(key, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(body)
	return h.Sum(nil)
}

func appendString(b []byte, s string) []byte {
	return append(append(b, byte(len(s))), s...)
}

// reader consumes b front to back; once a read runs past the end, bad is set and every
// later read yields zero.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n > len(r.b) {
		r.bad = true
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) byte() byte {
	if p := r.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) uint64() uint64 {
	if p := r.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (r *reader) string() string {
	return string(r.take(int(r.byte())))
}
