package client

import (
	"testing"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/poller"
	"github.com/gormic/crm-bridge/internal/syncbuf"
	"github.com/gormic/crm-bridge/internal/term"
)

// TestPalette was cmd/bridge's TestWatchColours.
func TestPalette(t *testing.T) {
	p := Palette{term.Palette{On: true}}
	got := p.Result(commands.Result{CommandID: "c-1", Op: "create", Status: commands.StatusApplied, CustomerID: "cus_1", Attempts: 2})
	if want := "\x1b[32mapplied\x1b[0m create \x1b[1mcus_1\x1b[0m (command c-1, 2 attempts)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := p.Change(poller.Deleted), "\x1b[31mdeleted\x1b[0m"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := (Palette{}).Status(commands.StatusFailed); got != "failed" {
		t.Errorf("got %q from a palette that is off", got)
	}
	var out syncbuf.Buffer
	if NewPalette(&out, func(string) string { return "" }).On {
		t.Error("colours on for a buffer")
	}
}
