package main

import (
	"strings"
	"testing"

	"github.com/gormic/crm-bridge/internal/embedded"
)

// Without a bridge, bridge resync fails within --timeout, saying that no
// poller answered; a stray argument is a usage error.
func TestResyncWithoutPoller(t *testing.T) {
	vars, _ := clientStreams(t, embedded.Options{})
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "no poller", args: []string{"resync", "--timeout", "500ms"}, wantCode: 1, wantErr: "no active poller answered"},
		{name: "argument", args: []string{"resync", "now"}, wantCode: 2, wantErr: `unexpected argument "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := cli(t, vars, "", tt.args...)
			if got := exitCode(err); got != tt.wantCode || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got exit %d, %v; want exit %d, %q", got, err, tt.wantCode, tt.wantErr)
			}
		})
	}
}
