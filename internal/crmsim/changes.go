package crmsim

import (
	"encoding/json"
	"time"
)

// ChangeOp is what a change did to a customer.
type ChangeOp string

// The kinds of change in the log.
const (
	ChangeCreate  ChangeOp = "create"
	ChangeUpdate  ChangeOp = "update"
	ChangeDelete  ChangeOp = "delete" // the record was removed
	ChangeArchive ChangeOp = "archive"
	ChangeTouch   ChangeOp = "touch" // only updatedAt changed
)

// Change is one entry of the simulator's log of applied changes.
type Change struct {
	// Seq numbers changes from 1 in the order they were applied.
	Seq uint64
	// Time is the change's timestamp on the simulator's clock (skew and
	// precision applied): the record's new updatedAt, or the time of
	// removal.
	Time time.Time
	// Op is what the change did.
	Op ChangeOp
	// CustomerID is the customer changed.
	CustomerID string
	// Via is "api" for a change made over HTTP, "ui" for one made out of
	// band (the Go methods, Seed excluded, and Churn).
	Via string
	// Params is the request's params object, as sent, for an API create or
	// update; nil otherwise.
	Params json.RawMessage
	// RequestID is the response's requestId for an API change.
	RequestID string
}

// actor says who makes a change and how.
type actor struct {
	via       via
	by        string
	params    json.RawMessage
	requestID string
}

// uiActor makes out-of-band changes.
func uiActor() actor { return actor{via: viaUI, by: uiUser} }

// logChange appends a change; st.mu must be held for writing.
func (st *store) logChange(op ChangeOp, id string, at int64, a actor) {
	st.changeSeq++
	st.changes = append(st.changes, Change{
		Seq:        st.changeSeq,
		Time:       time.Unix(0, at).UTC(),
		Op:         op,
		CustomerID: id,
		Via:        a.via.String(),
		Params:     a.params,
		RequestID:  a.requestID,
	})
	if len(st.changes) >= 2*st.maxChanges {
		st.changes = append([]Change(nil), st.changes[len(st.changes)-st.maxChanges:]...)
	}
}

// Changes returns a copy of the log of applied changes, oldest first (at
// most Options.MaxChanges of the latest, give or take one batch).
func (s *Simulator) Changes() []Change {
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	start := max(0, len(s.store.changes)-s.store.maxChanges)
	return append([]Change(nil), s.store.changes[start:]...)
}

// ChangeSeq returns the Seq of the latest change applied, 0 before the
// first (Seed's customers are not changes; Load restores the count). It
// only grows, and costs a read lock, not a copy of the log: a caller that
// keeps the state (Save) compares it to the value it last saw.
func (s *Simulator) ChangeSeq() uint64 {
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	return s.store.changeSeq
}
