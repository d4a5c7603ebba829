package crm_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/gormic/crm-bridge/internal/crm"
)

// TestWarningsForTheCaller: a caller that asks (WithWarnings) gets the
// warnings of the CRM's last answer, verbatim and compacted, or nil when
// that answer had none; every answer with warnings is counted by op
// (Config.Warned), whether or not anyone asked.
func TestWarningsForTheCaller(t *testing.T) {
	var mu sync.Mutex
	counted := map[string]int{}
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/crm/customers/warned":
			writeJSON(w, 200, `{"app":"crm","service":"s","instanceId":"i","requestId":"req-w",
				"warnings":[ {"code":"W1", "message":"deprecated"}, {"code":"W3"} ],"data":{"succeed":true}}`)
		case "/v1/crm/customers/refused":
			writeJSON(w, 400, `{"requestId":"req-e","warnings":[{"code":"W2"}],"error":{"code":"NoChanges"}}`)
		default:
			writeJSON(w, 200, `{"app":"crm","service":"s","instanceId":"i","requestId":"req-q","warnings":[],"data":{"succeed":true}}`)
		}
	}), setup{cfg: func(c *crm.Config) {
		c.Warned = func(op string, n int) {
			mu.Lock()
			defer mu.Unlock()
			counted[op] += n
		}
	}})
	var ws crm.Warnings
	wctx := crm.WithWarnings(ctx(t), &ws)
	tests := []struct {
		name, id string
		want     string // "": none
	}{
		{name: "2xx with warnings", id: "warned", want: `[{"code":"W1","message":"deprecated"},{"code":"W3"}]`},
		{name: "2xx with an empty array", id: "quiet", want: ""},
		{name: "error answer with warnings", id: "refused", want: `[{"code":"W2"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = c.Update(wctx, tt.id, crm.UpdateParams{FirstName: ptr("Ada")})
			if got := string(ws.Last()); got != tt.want {
				t.Errorf("got warnings %q, want %q", got, tt.want)
			}
		})
	}
	// A caller that did not ask is not affected, and changes nothing.
	if err := c.Update(ctx(t), "warned", crm.UpdateParams{FirstName: ptr("Ada")}); err != nil {
		t.Fatal(err)
	}
	if got, want := string(ws.Last()), `[{"code":"W2"}]`; got != want {
		t.Errorf("after a call without WithWarnings: got %q, want %q", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := counted["update"], 2+1+2; got != want {
		t.Errorf("got %d warnings counted for update, want %d", got, want)
	}
}
