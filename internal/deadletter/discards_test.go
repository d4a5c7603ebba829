package deadletter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A discard's tally, lines and audit log: one dead letter gone already,
// one removed, and, once CRM_DLQ is gone, one not removed.
func TestDiscards(t *testing.T) {
	q := queue(t)
	store(t, q, rejected("gone", subj.Update("cus_1"), nil), rejected("here", subj.Create(), nil), rejected("kept", subj.Create(), nil))
	ctx := context.Background()
	letters, err := q.All(ctx)
	if err != nil || len(letters) != 3 {
		t.Fatalf("got %d dead letters, %v; want 3", len(letters), err)
	}
	st, err := q.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMsg(ctx, letters[0].Seq); err != nil {
		t.Fatal(err)
	}
	var d Discards
	var lines []string
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	discard := func(chosen []Letter) {
		Discard(ctx, st, chosen, 5*time.Second, func(l Letter, err error) {
			lines = append(lines, d.Add(l, err))
			Audit(log, subj, l, err)
		})
	}
	discard(letters[:2])
	if err := q.JS.DeleteStream(ctx, "CRM_DLQ"); err != nil {
		t.Fatal(err)
	}
	discard(letters[2:])

	want := []string{
		fmt.Sprintf("seq %d command gone: gone already (removed meanwhile)", letters[0].Seq),
		fmt.Sprintf("seq %d command here: discarded", letters[1].Seq),
		fmt.Sprintf("seq %d command kept: NOT DISCARDED: ", letters[2].Seq),
	}
	for i, w := range want {
		if i >= len(lines) || !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: got %q, want %q", i, lines, w)
		}
	}
	if got, want := d.Text(), "3 dead letters: 1 discarded, 1 gone already, 1 failed"; got != want {
		t.Errorf("Text: got %q, want %q", got, want)
	}
	err = d.Err()
	if w := fmt.Sprintf("1 not discarded (the others were):\n  seq %d command kept: ", letters[2].Seq); err == nil || !strings.HasPrefix(err.Error(), w) {
		t.Errorf("Err: got %v, want %q...", err, w)
	}

	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		got = append(got, rec)
	}
	wantLogs := []struct{ level, msg, id, customer string }{
		{"INFO", "dead letter gone already", "gone", "cus_1"},
		{"INFO", "dead letter discarded", "here", ""},
		{"WARN", "dead letter not discarded", "kept", ""},
	}
	if len(got) != len(wantLogs) {
		t.Fatalf("got %d log lines, want %d:\n%s", len(got), len(wantLogs), logs.String())
	}
	for i, w := range wantLogs {
		g := got[i]
		if g["level"] != w.level || g["msg"] != w.msg || g["command_id"] != w.id || g["customer_id"] != w.customer ||
			g["seq"] != float64(letters[i].Seq) || g["dlq_status"] != "rejected" || g["dlq_reason"] != "VALIDATION: phone is required" {
			t.Errorf("log %d: got %v, want %s %q of %s", i, g, w.level, w.msg, w.id)
		}
		if _, ok := g["error"]; ok != (w.level == "WARN") {
			t.Errorf("log %d: got error %v, want one only when not discarded", i, g["error"])
		}
	}
	if got := letters[0].AuditAttrs(subj); len(got) != 12 || got[2] != "command_id" || got[7] != "cus_1" {
		t.Errorf("AuditAttrs: got %v", got)
	}
}

// The zero Discards: nothing discarded, and no error.
func TestDiscardsZero(t *testing.T) {
	var d Discards
	if got, want := d.Text(), "0 dead letters: 0 discarded, 0 gone already, 0 failed"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if err := d.Err(); err != nil {
		t.Errorf("got %v, want nil", err)
	}
}
