package lab

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

const (
	// peerPort is the UDP port of the daemons' peer channel (issue 11), on the data LAN.
	peerPort = 9474
	// peerKeySize is the length of the lab's random peer key (the daemon needs >= 32 bytes).
	peerKeySize = 32
	// peerKeyID names the lab's one key: the key file's name, and what `current` names.
	peerKeyID = "lab"
	// peerKeysDir and wrongKeysDir are under the lab's dir: the key every node uses, and
	// one with the same key ID but other bytes (the wrong-peer-key scenario).
	peerKeysDir  = "peer-keys"
	wrongKeysDir = "peer-keys-wrong"
)

// peerAddr is node i's peer channel address: its data IPv4 address and peerPort.
func peerAddr(i int) string {
	return netip.AddrPortFrom(nodeIPv4(i), peerPort).String()
}

// withPeer fills a's peer channel fields for node i with the key dir keys.
func withPeer(a DaemonArgs, i int, keys string) DaemonArgs {
	a.PeerKeyDir, a.PeerListen, a.PeerAdvertise = keys, peerAddr(i), peerAddr(i)
	return a
}

// writePeerKeys creates dir/peer-keys and dir/peer-keys-wrong, each holding one fresh
// random key (base64, file name peerKeyID) and a `current` file naming it. Both use the
// same key ID, so a node with the wrong dir signs under a known ID with other bytes: its
// peers drop its datagrams as bad_mac, and it drops theirs.
func writePeerKeys(dir string) (good, wrong string, err error) {
	good, wrong = filepath.Join(dir, peerKeysDir), filepath.Join(dir, wrongKeysDir)
	for _, d := range []string{good, wrong} {
		if err := writeKeyDir(d); err != nil {
			return "", "", err
		}
	}
	return good, wrong, nil
}

// writeKeyDir writes one random key into a new directory d.
func writeKeyDir(d string) error {
	key := make([]byte, peerKeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("peer key for %s: %w", d, err)
	}
	if err := os.Mkdir(d, 0o700); err != nil {
		return fmt.Errorf("peer key dir: %w", err)
	}
	files := map[string]string{peerKeyID: base64.StdEncoding.EncodeToString(key) + "\n", "current": peerKeyID + "\n"}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(d, name), []byte(text), 0o600); err != nil {
			return fmt.Errorf("peer key dir %s: %w", d, err)
		}
	}
	return nil
}
