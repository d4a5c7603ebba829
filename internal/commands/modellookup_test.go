package commands

import (
	"net/http"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/queries"
	"github.com/gormic/crm-bridge/internal/queries/querytest"
)

// readModel returns a queries.Service (real NATS) over a filled read
// model holding records.
func readModel(t *testing.T, records map[string]string) *queries.Service {
	t.Helper()
	nc, js := natstest.Connect(t, natstest.Server(t))
	return querytest.Start(t, nc, js, records)
}

// A create retried after a lost answer finds its customer in the read
// model's phone index, without the CRM's export (which here keeps
// failing: the lookup through the export alone could not end applied), and
// finds through the export one that the model has not seen yet.
func TestLookupUsesTheModel(t *testing.T) {
	now := time.Now().UTC()
	created := now.Format(time.RFC3339Nano)
	old := now.Add(-time.Hour).Format(time.RFC3339Nano)
	tests := []struct {
		name        string
		records     map[string]string
		failExports int64
		want        string
		exports     int64
	}{
		{name: "in the model", failExports: 1 << 40, want: "cus_model", exports: 0, records: map[string]string{
			"cus_model": `{"id":"cus_model","firstName":"Ada","phone":"(555) 0100","createdAt":"` + created + `"}`,
			"cus_other": `{"id":"cus_other","firstName":"Bob","phone":"5550100","createdAt":"` + created + `"}`,
		}},
		{name: "model has only an older one", failExports: 0, want: "cus_made", exports: 1, records: map[string]string{
			"cus_old": `{"id":"cus_old","firstName":"Ada","phone":"5550100","createdAt":"` + old + `"}`,
		}},
		{name: "not yet in the model", failExports: 0, want: "cus_made", exports: 1, records: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, exports := lookupCRM(t, http.StatusBadRequest, tt.failExports)
			cfg := Config{Prefix: "crm", Concurrency: 1, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
				RetryMaxElapsed: 300 * time.Millisecond, Model: readModel(t, tt.records)}
			out := applyOnce(t, url, cfg, Command{Op: "create", Create: crm.CreateParams{FirstName: "Ada", Phone: "5550100"}},
				delivery{published: now})
			if out.status != StatusApplied || out.customerID != tt.want {
				t.Errorf("got %+v (error %+v), want applied %s", out, out.err, tt.want)
			}
			if got := exports.Load(); got != tt.exports {
				t.Errorf("got %d export lookups, want %d", got, tt.exports)
			}
		})
	}
}
