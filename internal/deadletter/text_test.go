package deadletter

import (
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestLetterText(t *testing.T) {
	l := Letter{
		Seq: 12, Stored: time.Date(2026, 11, 27, 10, 0, 0, 0, time.FixedZone("x", 3600)), Subject: "crm.customer.dlq.update",
		Header: nats.Header{HeaderStatus: {"rejected"}, HeaderReason: {"VALIDATION: bad\nemail\x1b"}, HeaderOriginalSubject: {"crm.customer.update.cus_1"}},
	}
	if got, want := l.Name(), "seq 12 command -"; got != want {
		t.Errorf("Name: got %q, want %q", got, want)
	}
	want := []string{"12", "2026-11-27T09:00:00Z", "update", "-", "cus_1", "rejected", "VALIDATION: bad email "}
	if got := l.Cells(subj); !slices.Equal(got, want) || len(got) != len(Columns) {
		t.Errorf("Cells: got %q, want %q", got, want)
	}
	l.Header.Set(HeaderCommandID, "c-1")
	tests := []struct {
		name string
		r    Report
		want string
	}{
		{"replayed", Report{Plan: Plan{Letter: l}, Outcome: Replayed, How: "replayed as c-1-replay-1"}, "seq 12 command c-1: replayed as c-1-replay-1"},
		{"kept", Report{Plan: Plan{Letter: l}, Outcome: Kept, How: "timeout"}, "seq 12 command c-1: NOT REPLAYED: timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Line(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTally(t *testing.T) {
	var tl Tally
	for _, o := range []Outcome{Replayed, Replayed, Removed, Kept} {
		tl[o]++
	}
	if got, want := tl.Done(), 4; got != want {
		t.Errorf("Done: got %d, want %d", got, want)
	}
	if got, want := tl.Text(false), "2 replayed, 1 removed as replayed already, 1 failed"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := tl.Text(true), "2 would be replayed, 1 would be removed as replayed already, 1 cannot be replayed"; got != want {
		t.Errorf("dry run: got %q, want %q", got, want)
	}
}

func TestNewerText(t *testing.T) {
	plan := []Plan{{Letter: Letter{Seq: 1, Header: nats.Header{HeaderCommandID: {"u-1"}}}}, {Letter: Letter{Seq: 2}}, {Letter: Letter{Seq: 3}}}
	want := []string{"seq 1 command u-1: customer cus_1 has newer commands", "1 of 3 dead letters may go behind newer commands for their customer (above)"}
	if got := NewerText(plan, []string{"customer cus_1 has newer commands", "", ""}); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := NewerText(plan, make([]string, 3)); len(got) != 0 {
		t.Errorf("no warnings: got %q, want none", got)
	}
}
