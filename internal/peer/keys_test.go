package peer

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles writes name -> contents into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, s := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// keyDir makes a key directory holding files.
func keyDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	return dir
}

var (
	// Raw keys; not base64 text because of the spaces.
	keyA = strings.Repeat("key a ", 6)
	keyB = strings.Repeat("key b ", 7)
)

func TestLoadKeys_ReadsRawAndBase64Keys(t *testing.T) {
	random := []byte("\x00\xff binary key material, 32+ bytes!")
	dir := keyDir(t, map[string]string{
		"raw":    keyA + "\n",
		"b64":    base64.StdEncoding.EncodeToString(random) + "\n",
		".hid":   "ignored",
		"binary": string(random),
	})
	k, err := loadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"raw": keyA, "b64": string(random), "binary": string(random)}
	for id, w := range want {
		if got, ok := k.lookup(id); !ok || string(got) != w {
			t.Errorf("key %s = %q, %v; want %q", id, got, ok, w)
		}
	}
	if len(k.keys) != len(want) {
		t.Errorf("keys %s, want only %d", k, len(want))
	}
}

func TestLoadKeys_SignsWithCurrentElseTheGreatestID(t *testing.T) {
	dir := keyDir(t, map[string]string{"2026-01": keyA, "2026-06": keyB})
	if k, err := loadKeys(dir); err != nil || k.current != "2026-06" {
		t.Errorf("without current: %v, %v; want signing with 2026-06", k, err)
	}
	writeFiles(t, dir, map[string]string{currentFile: "2026-01\n"})
	if k, err := loadKeys(dir); err != nil || k.current != "2026-01" {
		t.Errorf("with current: %v, %v; want signing with 2026-01", k, err)
	}
}

func TestLoadKeys_RefusesWhatWouldLeaveNodesDisagreeing(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
	}{
		{"no keys", map[string]string{".hidden": keyA}},
		{"only current", map[string]string{currentFile: "a"}},
		{"a short key", map[string]string{"a": keyA, "b": "short\n"}},
		{"32 characters that are base64 of 24 bytes", map[string]string{"a": strings.Repeat("a", 32)}},
		{"a short base64 key", map[string]string{"a": base64.StdEncoding.EncodeToString([]byte(keyA[:31]))}},
		{"current names no key", map[string]string{"a": keyA, currentFile: "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if k, err := loadKeys(keyDir(t, tc.files)); err == nil {
				t.Errorf("loadKeys = %s, want an error", k)
			}
		})
	}
	if _, err := loadKeys(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("loadKeys of a missing directory succeeded")
	}
}

// TestLoadKeys_FollowsTheSecretVolumeLayout builds what the kubelet's atomic writer
// makes: key links into ..data, itself a link to a timestamped directory, swapped whole.
func TestLoadKeys_FollowsTheSecretVolumeLayout(t *testing.T) {
	dir := t.TempDir()
	v1 := filepath.Join(dir, "..2026_12_01_v1")
	must(t, os.Mkdir(v1, 0o700))
	writeFiles(t, v1, map[string]string{"a": keyA})
	must(t, os.Symlink("..2026_12_01_v1", filepath.Join(dir, "..data")))
	must(t, os.Symlink("..data/a", filepath.Join(dir, "a")))
	must(t, os.Mkdir(filepath.Join(dir, "subdir"), 0o700))
	if k, err := loadKeys(dir); err != nil || k.String() != "a (signing with a)" {
		t.Fatalf("v1: %v, %v", k, err)
	}
	v2 := filepath.Join(dir, "..2026_12_02_v2")
	must(t, os.Mkdir(v2, 0o700))
	writeFiles(t, v2, map[string]string{"a": keyA, "b": keyB, currentFile: "b"})
	must(t, os.Symlink("..2026_12_02_v2", filepath.Join(dir, "..data_tmp")))
	must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	must(t, os.Symlink("..data/b", filepath.Join(dir, "b")))
	must(t, os.Symlink("..data/current", filepath.Join(dir, currentFile)))
	must(t, os.Symlink("..data/gone", filepath.Join(dir, "gone"))) // dangling, mid-swap
	if k, err := loadKeys(dir); err != nil || k.String() != "a,b (signing with b)" {
		t.Fatalf("v2: %v, %v", k, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
