package gcpace

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/eventually"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name           string
		live, headroom uint64
		want           int
	}{
		{name: "nothing live", live: 0, headroom: 64 * mib, want: 100},
		{name: "small heap: the headroom", live: 32 * mib, headroom: 64 * mib, want: 200},
		{name: "tiny heap: at most MaxPercent", live: 1 * mib, headroom: 64 * mib, want: 400},
		{name: "live equals headroom", live: 64 * mib, headroom: 64 * mib, want: 100},
		{name: "large heap: the headroom", live: 128 * mib, headroom: 64 * mib, want: 50},
		{name: "very large heap: a tenth at least", live: 1024 * mib, headroom: 64 * mib, want: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percent(tt.live, tt.headroom); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// gogc is the GOGC in force.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// TestPacerFollowsLiveHeap holds 64 MiB live with a headroom of 4 MiB:
// GOGC goes down to MinPercent; once it is garbage, back up (the test's
// few MiB live: above 100); Stop leaves 100.
func TestPacerFollowsLiveHeap(t *testing.T) {
	p := Start(4 << 20)
	t.Cleanup(p.Stop)
	held := make([]byte, 64<<20)
	for i := range held {
		held[i] = byte(i)
	}
	if !eventually.Within(10*time.Second, func() bool { runtime.GC(); return gogc() == MinPercent }) {
		t.Fatalf("with 64 MiB live: got GOGC %d, want %d", gogc(), MinPercent)
	}
	runtime.KeepAlive(held)
	held = nil
	if !eventually.Within(10*time.Second, func() bool { runtime.GC(); return gogc() > DefaultPercent }) {
		t.Fatalf("with the 64 MiB garbage: got GOGC %d, want more than %d", gogc(), DefaultPercent)
	}
	p.Stop()
	if got := gogc(); got != DefaultPercent {
		t.Errorf("after Stop: got GOGC %d, want %d", got, DefaultPercent)
	}
}

// TestDesc checks the start line's word on the collector.
func TestGCDesc(t *testing.T) {
	tests := []struct {
		name     string
		embedded bool
		vars     map[string]string
		want     string
	}{
		{name: "paced by default", want: "paced: 32 MiB of headroom, GOGC 10 to 400"},
		{name: "GOMEMLIMIT on top", vars: map[string]string{"GOMEMLIMIT": "200MiB"}, want: "paced: 32 MiB of headroom, GOGC 10 to 400, GOMEMLIMIT=200MiB"},
		{name: "GOGC set: Go's pacing", vars: map[string]string{"GOGC": "50"}, want: "GOGC=50"},
		{name: "embedded NATS: Go's pacing", embedded: true, want: "Go's default (GOGC=100): the embedded NATS server shares the heap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Desc(func(k string) string { return tt.vars[k] }, tt.embedded); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
