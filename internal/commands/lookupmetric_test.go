package commands

import (
	"github.com/gormic/crm-bridge/internal/testlog"

	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gormic/crm-bridge/internal/crm"
)

// lookups returns how many lookups crm_bridge_command_lookup_duration_seconds
// counted with label found.
func lookups(t *testing.T, m *metrics, found string) uint64 {
	t.Helper()
	var d dto.Metric
	if err := m.lookups.WithLabelValues(found).(prometheus.Histogram).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetHistogram().GetSampleCount()
}

// Each lookup of an ambiguous create is observed once, labelled with where
// it found the customer, or that its export failed.
func TestLookupObserved(t *testing.T) {
	created := time.Now().UTC().Format(time.RFC3339Nano)
	tests := []struct {
		name        string
		records     map[string]string
		failExports int64
		want        map[string]uint64
	}{
		{name: "in the model", failExports: 0, want: map[string]uint64{lookupModel: 1}, records: map[string]string{
			"cus_model": `{"id":"cus_model","firstName":"Ada","phone":"5550100","createdAt":"` + created + `"}`,
		}},
		{name: "in the export", failExports: 0, want: map[string]uint64{lookupExport: 1}, records: map[string]string{}},
		{name: "export failed once", failExports: 1, want: map[string]uint64{lookupError: 1, lookupExport: 1}, records: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, _ := lookupCRM(t, http.StatusBadRequest, tt.failExports)
			client, err := crm.New(crm.Config{BaseURL: url, APIKey: "key", OrgID: "org", Timeout: 2 * time.Second, PageRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(client.Close)
			cfg := Config{Prefix: "crm", Concurrency: 1, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
				Model: readModel(t, tt.records)}.withDefaults()
			m := newMetrics(nil, nil)
			a := &applier{crm: client, cfg: cfg, gate: newGate(cfg.OutageAfter), metrics: m}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out := a.apply(ctx, Command{Op: "create", Create: crm.CreateParams{FirstName: "Ada", Phone: "5550100"}},
				delivery{published: time.Now()}, 0, newCmdLog(testlog.New(t), command{id: "c1", op: "create"}))
			if out.status != StatusApplied {
				t.Fatalf("got %+v (error %+v), want applied", out, out.err)
			}
			for _, found := range []string{lookupModel, lookupExport, lookupNotFound, lookupError} {
				if got := lookups(t, m, found); got != tt.want[found] {
					t.Errorf("found=%s: got %d lookups, want %d", found, got, tt.want[found])
				}
			}
		})
	}
}
