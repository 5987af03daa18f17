package app

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"k8s.io/client-go/tools/record"
)

type arpFindings struct {
	warns []string
	err   error
}

func (f arpFindings) ARPWarnings() ([]string, error) { return f.warns, f.err }

func TestWarnARP_RecordsEachFindingOnTheNode(t *testing.T) {
	rec := record.NewFakeRecorder(10)
	warnARP(arpFindings{warns: []string{"arp_ignore is 0 on eth0", "arp_announce is 0 on eth0"}}, rec, "node-1", slog.New(slog.DiscardHandler))
	warnARP(arpFindings{err: errors.New("no /proc")}, rec, "node-1", slog.New(slog.DiscardHandler))
	close(rec.Events)
	var got []string
	for e := range rec.Events {
		got = append(got, e)
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "Warning "+ReasonARPNotStrict+" arp_ignore is 0") {
		t.Errorf("events = %q, want two %s warnings", got, ReasonARPNotStrict)
	}
}
