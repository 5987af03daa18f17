package app

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

func TestLogging_KlogLinesComeOutAsJSONThroughTheSameHandler(t *testing.T) {
	var buf syncLog
	LogConfig{Level: "info", Format: "json"}.Setup(&buf)
	t.Cleanup(func() { klog.ClearLogger() })
	klog.InfoS("Failed to watch", "reflector", "vippools")
	klog.ErrorS(errors.New("the server could not find the requested resource"), "Unhandled Error")
	klog.Flush()
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", out)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q (%v)", l, err)
		}
		if m["logger"] != "klog" || m["msg"] == nil {
			t.Errorf("line lacks logger=klog or msg: %q", l)
		}
	}
}
