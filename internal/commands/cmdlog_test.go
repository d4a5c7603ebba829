package commands

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestCommandLog checks that every line of a command starts with its
// attributes, the last line's own after them, and that a logger that
// takes no debug lines makes no logger for one.
func TestCommandLog(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	cl := newCmdLog(base, command{id: "c1", op: "update", customerID: "cus_1"})
	cl.Debug("create lookup", "found", "model")
	if cl.l != nil || buf.Len() != 0 {
		t.Fatalf("a debug line under info: logger made %v, wrote %q", cl.l != nil, buf.String())
	}
	cl.Warn("CRM call failed, retrying", "attempt", 1)
	cl.done(slog.LevelInfo, "command done", slog.String("status", "applied"), slog.Int("attempts", 2))
	create := newCmdLog(base, command{id: "c2", op: "create"})
	create.done(slog.LevelWarn, "command done", slog.String("status", "rejected"), slog.String("customer_id", "cus_2"))
	want := strings.Join([]string{
		`{"level":"WARN","msg":"CRM call failed, retrying","command_id":"c1","op":"update","customer_id":"cus_1","attempt":1}`,
		`{"level":"INFO","msg":"command done","command_id":"c1","op":"update","customer_id":"cus_1","status":"applied","attempts":2}`,
		`{"level":"WARN","msg":"command done","command_id":"c2","op":"create","status":"rejected","customer_id":"cus_2"}`,
	}, "\n") + "\n"
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
