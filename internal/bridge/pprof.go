package bridge

import (
	"net/http"
	"net/http/pprof"
)

// handlePProf adds Go's profiles (net/http/pprof) under /debug/pprof/ to
// mux: the index, and heap, allocs, goroutine and the other named
// profiles below it, the CPU profile, the execution trace, the command
// line and symbols. Bridge.routes calls it when BRIDGE_PPROF is true.
func handlePProf(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}
