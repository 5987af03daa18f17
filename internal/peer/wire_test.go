package peer

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

var sampleMessages = []Message{
	{Kind: KindQuery, From: "node-a", FromInc: "inc-a", To: "node-b", Seq: 7},
	{Kind: KindVouch, From: "node-b", FromInc: "inc-b", To: "node-a", ToInc: "inc-a", Seq: 7},
	{Kind: KindAck, From: "node-a", FromInc: "inc-a", To: "node-b", ToInc: "inc-b"},
	{Kind: KindRelayAsk, From: "node-a", FromInc: "inc-a", To: "node-c", Token: "tok-1"},
	{Kind: KindRelayDone, From: "node-c", To: "node-a", ToInc: "inc-a", Token: "tok-1"},
	{Kind: KindQuery, From: strings.Repeat("n", 255), To: strings.Repeat("m", 255), Seq: 1<<64 - 1},
}

// seal signs body with testKey, as Encode would have.
func seal(body []byte) []byte { return append(bytes.Clone(body), mac(testKey, body)...) }

func testKeys(id string) ([]byte, bool) { return testKey, id == "k1" }

func TestEncode_RoundTripsEveryKind(t *testing.T) {
	for _, m := range sampleMessages {
		b, err := Encode("k1", testKey, 1234, m)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", m, err)
		}
		got, counter, err := Decode(b, testKeys)
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)): %v", m, err)
		}
		if diff := cmp.Diff(m, got); diff != "" || counter != 1234 {
			t.Errorf("round trip of %s: counter %d, diff (-want +got):\n%s", m.Kind, counter, diff)
		}
	}
}

func TestKind_StringGivesTheMetricLabel(t *testing.T) {
	var got []string
	for _, k := range kinds {
		got = append(got, k.String())
	}
	want := []string{"query", "vouch", "ack", "relay_ask", "relay_done"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Kind.String (-want +got):\n%s", diff)
	}
}

func TestEncode_RefusesWhatTheWireCannotCarry(t *testing.T) {
	long := strings.Repeat("x", 256)
	fill := strings.Repeat("x", 255)
	tests := []struct {
		name  string
		keyID string
		m     Message
	}{
		{"no kind", "k1", Message{From: "a"}},
		{"unknown kind", "k1", Message{Kind: KindRelayDone + 1, From: "a"}},
		{"no sender", "k1", Message{Kind: KindQuery}},
		{"no key ID", "", Message{Kind: KindQuery, From: "a"}},
		{"long key ID", long, Message{Kind: KindQuery, From: "a"}},
		{"long token", "k1", Message{Kind: KindQuery, From: "a", Token: long}},
		{"over 1200 bytes", fill, Message{Kind: KindQuery, From: fill, FromInc: fill, To: fill, ToInc: fill}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if b, err := Encode(tc.keyID, testKey, 1, tc.m); err == nil {
				t.Errorf("Encode = %d bytes, want an error", len(b))
			}
		})
	}
}

func TestDecode_RejectsEachKindOfBadDatagram(t *testing.T) {
	good, err := Encode("k1", testKey, 99, sampleMessages[0])
	if err != nil {
		t.Fatal(err)
	}
	body := good[:len(good)-macSize]
	flipped := bytes.Clone(good)
	flipped[len(body)-1] ^= 1
	otherKey, _ := Encode("k2", testKey, 99, sampleMessages[0])
	x, _ := Encode("k1", testKey, 99, Message{Kind: KindQuery, From: "x"})
	noSender := append(append(bytes.Clone(x[:13]), 0), x[15:len(x)-macSize]...) // From "x" cut to ""
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"short", good[:10], ErrMalformed},
		{"oversized", make([]byte, maxDatagram+1), ErrMalformed},
		{"wrong version", append([]byte{2}, good[1:]...), ErrMalformed},
		{"unknown key", otherKey, ErrUnknownKey},
		{"flipped payload bit", flipped, ErrBadMAC},
		{"truncated MAC", good[:len(good)-1], ErrBadMAC},
		{"signed trailing byte", seal(append(bytes.Clone(body), 0)), ErrMalformed},
		{"signed truncated payload", seal(body[:len(body)-1]), ErrMalformed},
		{"signed unknown kind", seal(withByte(body, 1+1+2+8, 9)), ErrMalformed},
		{"signed empty sender", seal(noSender), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := Decode(tc.b, testKeys); !errors.Is(err, tc.want) {
				t.Errorf("Decode = %v, want %v", err, tc.want)
			}
		})
	}
}

// withByte is a copy of b with b[i] = v.
func withByte(b []byte, i int, v byte) []byte {
	c := bytes.Clone(b)
	c[i] = v
	return c
}

// FuzzDecode feeds Decode both the input as it is and the input signed with the test key,
// so that the fuzzer reaches the payload parser behind the MAC.
func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages {
		b, err := Encode("k1", testKey, 42, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-macSize])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, b)
		checkDecode(t, seal(b))
	})
}

// checkDecode decodes b under a key ring that has testKey under every ID, and if that
// succeeds, checks that re-encoding yields b again and decodes to the same message.
func checkDecode(t *testing.T, b []byte) {
	var id string
	keys := func(k string) ([]byte, bool) {
		id = k
		return testKey, true
	}
	m, counter, err := Decode(b, keys)
	if err != nil {
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadMAC) {
			t.Fatalf("Decode error %v is of no known class", err)
		}
		return
	}
	again, err := Encode(id, testKey, counter, m)
	if err != nil {
		t.Fatalf("Encode of decoded %+v: %v", m, err)
	}
	m2, counter2, err := Decode(again, keys)
	if err != nil || m2 != m || counter2 != counter {
		t.Fatalf("re-encoded %+v/%d decodes to %+v/%d, %v", m, counter, m2, counter2, err)
	}
	if !bytes.Equal(again, b) {
		t.Fatalf("encoding is not canonical:\n in  %x\n out %x", b, again)
	}
}
