package term

import (
	"bytes"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.Local)
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"today", now.Add(-time.Hour), "11:00:00"},
		{"yesterday", now.Add(-24 * time.Hour), "2026-11-26 12:00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Clock(tt.t, now); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPalette(t *testing.T) {
	if got, want := (Palette{On: true}).Bold("x"), "\x1b[1mx\x1b[0m"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := (Palette{}).Paint(Red, "x"); got != "x" {
		t.Errorf("got %q from a palette that is off", got)
	}
	if NewPalette(&bytes.Buffer{}, func(string) string { return "" }).On {
		t.Error("colours on for a buffer")
	}
}

func TestClean(t *testing.T) {
	if got, want := Clean("a\x1b[31mb\n"), "a?[31mb?"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
