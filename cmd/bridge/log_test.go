package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLogDurationsReadable: JSON and text logs write a duration as "10s",
// also inside a group, never as nanoseconds.
func TestLogDurationsReadable(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			log := newLogger(format, slog.LevelInfo, &buf)
			log.Info("stopping", "timeout", 10*time.Second, slog.Group("poll", "took", 1500*time.Millisecond))
			out := buf.String()
			if format == "json" {
				var m struct {
					Timeout any `json:"timeout"`
					Poll    struct {
						Took any `json:"took"`
					} `json:"poll"`
				}
				if err := json.Unmarshal([]byte(out), &m); err != nil {
					t.Fatalf("got %q: %v", out, err)
				}
				if m.Timeout != "10s" || m.Poll.Took != "1.5s" {
					t.Errorf("got timeout %v, poll.took %v; want \"10s\", \"1.5s\"", m.Timeout, m.Poll.Took)
				}
				return
			}
			if !strings.Contains(out, "timeout=10s") || !strings.Contains(out, "poll.took=1.5s") {
				t.Errorf("got %q, want timeout=10s and poll.took=1.5s", out)
			}
		})
	}
}
