package crm

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
)

// Warnings keeps the warnings of the CRM's last answer to the calls made
// with a context from WithWarnings, so that a caller who wants them (a
// command's result) gets them and every other caller pays nothing. The
// zero value is ready; it is safe for concurrent use.
type Warnings struct {
	mu   sync.Mutex
	last json.RawMessage
}

type warningsKey struct{}

// WithWarnings returns ctx carrying w: every CRM answer to a call made
// with it (a 2xx or an error answer; not a request that got none)
// replaces what w holds.
func WithWarnings(ctx context.Context, w *Warnings) context.Context {
	return context.WithValue(ctx, warningsKey{}, w)
}

// Last returns the warnings of the last answer, compacted, when they are a
// non-empty JSON array; nil when that answer had none (or no answer came).
func (w *Warnings) Last() json.RawMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// note records raw, the warnings member of an answer, in ctx's Warnings,
// if it has one.
func noteWarnings(ctx context.Context, raw json.RawMessage) {
	w, _ := ctx.Value(warningsKey{}).(*Warnings)
	if w == nil {
		return
	}
	var kept json.RawMessage
	if n, ok := warningCount(raw); ok && n > 0 {
		var b bytes.Buffer
		if json.Compact(&b, raw) == nil {
			kept = b.Bytes()
		}
	}
	w.mu.Lock()
	w.last = kept
	w.mu.Unlock()
}

// warningCount returns the number of entries of raw when it is a JSON
// array (ok true); otherwise ok is false.
func warningCount(raw json.RawMessage) (n int, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return 0, false
	}
	var ws []json.RawMessage
	if json.Unmarshal(raw, &ws) != nil {
		return 0, false
	}
	return len(ws), true
}
