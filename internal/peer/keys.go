package peer

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

const (
	currentFile = "current" // names the signing key; never a key itself
	minKeySize  = 32
)

// keyring is one load of KeyDir: every key accepted and the one to sign with.
type keyring struct {
	keys    map[string][]byte
	current string
}

func (k *keyring) lookup(id string) ([]byte, bool) {
	key, ok := k.keys[id]
	return key, ok
}

// String lists the key IDs and names the signing key, for logs; never the keys.
func (k *keyring) String() string {
	return strings.Join(slices.Sorted(maps.Keys(k.keys)), ",") + " (signing with " + k.current + ")"
}

// loadKeys reads every key in dir. One bad key fails the whole load, so that a typo in
// a new key is reported rather than leaving the nodes signing with different keys.
func loadKeys(dir string) (*keyring, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read peer key dir %s: %w", dir, err)
	}
	k := &keyring{keys: map[string][]byte{}}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.Name() == currentFile {
			continue // the Secret volume's ..data and timestamped dirs
		}
		key, ok, err := readKey(dir, e.Name())
		if err != nil {
			return nil, err
		}
		if ok {
			k.keys[e.Name()] = key
		}
	}
	if len(k.keys) == 0 {
		return nil, fmt.Errorf("peer key dir %s: no keys", dir)
	}
	if k.current, err = currentKey(dir, k); err != nil {
		return nil, err
	}
	return k, nil
}

// readKey reads one key file, following the Secret volume's symlinks. It skips what is
// not a regular file, and a link left dangling while the kubelet swaps ..data.
func readKey(dir, id string) ([]byte, bool, error) {
	path := filepath.Join(dir, id)
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("peer key %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, false, nil
	}
	if len(id) > maxString {
		return nil, false, fmt.Errorf("peer key %s: ID longer than %d bytes", path, maxString)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("peer key %s: %w", path, err)
	}
	key, decoded := parseKey(b)
	if len(key) < minKeySize {
		return nil, false, fmt.Errorf("peer key %s: %d bytes%s, need at least %d", path, len(key), decoded, minKeySize)
	}
	return key, true, nil
}

// parseKey trims trailing newlines and decodes standard base64 if the rest is that;
// otherwise the bytes are the key. Every node applies the same rule to the same file.
// The second result says which, for errors.
func parseKey(b []byte) ([]byte, string) {
	text := bytes.TrimRight(b, "\r\n")
	if key, err := base64.StdEncoding.DecodeString(string(text)); err == nil {
		return key, " (decoded as base64)"
	}
	return text, ""
}

// currentKey is the key ID named in dir/current, else the greatest key ID.
func currentKey(dir string, k *keyring) (string, error) {
	path := filepath.Join(dir, currentFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return slices.Max(slices.Collect(maps.Keys(k.keys))), nil
	}
	if err != nil {
		return "", fmt.Errorf("peer key dir %s: %w", dir, err)
	}
	id := strings.TrimSpace(string(b))
	if _, ok := k.keys[id]; !ok {
		return "", fmt.Errorf("peer key dir %s: current names %q, which is not a key here", dir, id)
	}
	return id, nil
}
