package poller

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
)

// TestReadyAtOnceWhenMisrouted: an export that gets a 404 without the
// CRM's NotFound cannot tell anything, and waiting does not mend it: the
// poller says so at once, naming BRIDGE_CRM_URL; other failures wait for
// the lag as before.
func TestReadyAtOnceWhenMisrouted(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		err     error
		wantErr string // "": ready
	}{
		{name: "bare 404", err: &crm.Error{Op: "export", Status: 404, Message: "not the CRM's API at http://gw.example/x"},
			wantErr: "BRIDGE_CRM_URL"},
		{name: "404 NO_ROUTE", err: &crm.Error{Op: "export", Status: 404, Code: "NO_ROUTE"}, wantErr: "BRIDGE_CRM_URL"},
		{name: "503", err: &crm.Error{Op: "export", Status: 503}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(nil, nil, Config{Prefix: "crm", OrgID: "o", Interval: 10 * time.Second, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			p.status = Status{Started: true, Active: true, ActiveSince: now.Add(-time.Hour), LastComplete: now.Add(-time.Second), Err: tt.err}
			got := p.Ready()
			switch {
			case tt.wantErr == "" && got != nil:
				t.Errorf("got %v, want ready", got)
			case tt.wantErr != "" && (got == nil || !strings.Contains(got.Error(), tt.wantErr) || !errors.Is(got, tt.err)):
				t.Errorf("got %v, want an error naming %s and wrapping %v", got, tt.wantErr, tt.err)
			}
		})
	}
}
