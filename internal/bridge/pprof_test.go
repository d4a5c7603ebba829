package bridge

import (
	"io"
	"net/http"
	"testing"

	"github.com/gormic/crm-bridge/internal/natstest"
)

// TestPProf checks /debug/pprof/ is served with BRIDGE_PPROF and only
// then.
func TestPProf(t *testing.T) {
	tests := []struct {
		name  string
		pprof bool
		want  int
	}{
		{name: "off by default", pprof: false, want: http.StatusNotFound},
		{name: "on", pprof: true, want: http.StatusOK},
	}
	srv := natstest.Server(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.NATSURL = srv.ClientURL()
			cfg.PProf = tt.pprof
			b := start(t, cfg, 0)
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/cmdline"} {
				resp, err := http.Get("http://" + b.HTTPAddr() + path)
				if err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.want {
					t.Errorf("GET %s: got %d, want %d", path, resp.StatusCode, tt.want)
				}
			}
		})
	}
}
