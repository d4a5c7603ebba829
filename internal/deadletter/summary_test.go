package deadletter

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// letter returns a dead letter at seq of command id, for the text tests.
func letter(seq uint64, id string) Letter {
	return Letter{Seq: seq, Subject: "crm.customer.dlq.update", Header: nats.Header{HeaderCommandID: {id}}}
}

// Progress is due every 1,000 dead letters or 5s, never in a dry run; the
// summary line and the error name what a replay kept and the selectors
// that named none.
func TestSummary(t *testing.T) {
	start := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	s := NewSummary(1001, false, start)
	if got := s.Add(Report{Plan: Plan{Letter: letter(1, "a")}, Outcome: Replayed}, start.Add(time.Second)); got != "" {
		t.Errorf("after 1 in 1s: got progress %q, want none", got)
	}
	want := "2 of 1001 dead letters done: 1 replayed, 0 removed as replayed already, 1 failed, 0/s over 6s"
	if got := s.Add(Report{Plan: Plan{Letter: letter(2, "b")}, Outcome: Kept, How: "timeout"}, start.Add(6*time.Second)); got != want {
		t.Errorf("after 6s: got progress %q, want %q", got, want)
	}
	for i := range 997 {
		if got := s.Add(Report{Plan: Plan{Letter: letter(uint64(i+3), "c")}, Outcome: Removed}, start.Add(7*time.Second)); got != "" {
			t.Fatalf("after %d in 7s: got progress %q, want none", i+3, got)
		}
	}
	if got := s.Add(Report{Plan: Plan{Letter: letter(1000, "d")}, Outcome: Removed}, start.Add(8*time.Second)); !strings.HasPrefix(got, "1000 of 1001 dead letters done: ") {
		t.Errorf("after 1000: got progress %q, want it", got)
	}
	want = "1001 dead letters: 1 replayed, 998 removed as replayed already, 1 failed; 1 not found; 100/s over 10s"
	if got := s.Line([]string{"x"}, start.Add(10*time.Second)); got != want {
		t.Errorf("Line: got %q, want %q", got, want)
	}
	want = "2 not replayed:\n  seq 2 command b: timeout\n  \"x\": no dead letter in CRM_DLQ has this stream sequence or command id"
	if err := s.Err([]string{"x"}); err == nil || err.Error() != want {
		t.Errorf("Err: got %v, want %q", err, want)
	}

	dry := NewSummary(2, true, start)
	for i := range 2 {
		if got := dry.Add(Report{Plan: Plan{Letter: letter(uint64(i+1), "e")}, Outcome: Replayed}, start.Add(time.Hour)); got != "" {
			t.Errorf("dry run: got progress %q, want none", got)
		}
	}
	want = "2 dead letters: 2 would be replayed, 0 would be removed as replayed already, 0 cannot be replayed (dry run: nothing changed)"
	if got := dry.Line(nil, start.Add(time.Hour)); got != want {
		t.Errorf("dry run Line: got %q, want %q", got, want)
	}
	if err := dry.Err(nil); err != nil {
		t.Errorf("dry run Err: got %v, want nil", err)
	}
	if got := NewSummary(0, false, start).Line(nil, start); got != "" {
		t.Errorf("nothing: got Line %q, want none", got)
	}
}

// Err names the first ten problems and counts the rest.
func TestSummaryErrMost(t *testing.T) {
	s := NewSummary(12, false, time.Now())
	for i := range 12 {
		s.Add(Report{Plan: Plan{Letter: letter(uint64(i+1), "k")}, Outcome: Kept, How: "no"}, time.Now())
	}
	err := s.Err([]string{"x"})
	if err == nil || strings.Count(err.Error(), "\n") != 11 || !strings.HasPrefix(err.Error(), "13 not replayed:\n  seq 1 command k: no\n") ||
		!strings.HasSuffix(err.Error(), "\n  seq 10 command k: no\n  and 3 more (above)") {
		t.Errorf("got %v, want 13 not replayed, 10 named, 3 more", err)
	}
}

func TestCheckSelection(t *testing.T) {
	tests := []struct {
		name   string
		sel    []string
		all    bool
		reason string
		want   string // in the error of CheckDiscard; "" for none
	}{
		{"named", []string{"12", "c-1"}, false, "spam", ""},
		{"all", nil, true, "spam", ""},
		{"both", []string{"12", "c-1"}, true, "spam", "--all and named dead letters (12 c-1) together; want one or the other"},
		{"neither", nil, false, "spam", "name the dead letters to discard (SEQ or COMMAND-ID, as bridge dlq list shows them), or give --all"},
		{"no reason", []string{"12"}, false, " \t", "--reason is required: say why the dead letters are discarded (it is logged with each)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDiscard(tt.sel, tt.all, tt.reason)
			if got := ""; err != nil {
				got = err.Error()
				if got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			} else if tt.want != "" {
				t.Errorf("got nil, want %q", tt.want)
			}
		})
	}
	if err := CheckSelection("replay", nil, false); err == nil || !strings.Contains(err.Error(), "name the dead letters to replay ") {
		t.Errorf("replay: got %v, want the verb replay", err)
	}
}

func TestNotFoundError(t *testing.T) {
	want := `no dead letter in CRM_DLQ has the stream sequence or command id "12", "c \"1\""`
	if got := (NotFoundError{Selectors: []string{"12", `c "1"`}}).Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
