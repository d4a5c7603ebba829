package crmsim

import (
	"maps"
	"sync"
)

// Operation names one of the CRM's six operations.
type Operation string

// The CRM's operations, and OpUnknown for a request that matches none.
const (
	OpCreate  Operation = "create"
	OpGet     Operation = "get"
	OpUpdate  Operation = "update"
	OpDelete  Operation = "delete"
	OpList    Operation = "list"
	OpExport  Operation = "export"
	OpUnknown Operation = "unknown"
)

// operationOf maps an operationId of the document to its Operation.
func operationOf(operationID string) Operation {
	switch operationID {
	case "Customers_create":
		return OpCreate
	case "Customers_get":
		return OpGet
	case "Customers_update":
		return OpUpdate
	case "Customers_delete":
		return OpDelete
	case "Customers_list":
		return OpList
	case "Customers_export":
		return OpExport
	}
	return OpUnknown
}

// StatKey counts the requests of one operation answered with one status.
// Status 0 counts connections dropped on purpose (DropAfterApplyRate);
// StatusClientClosed counts requests the client gave up while the
// simulator was delaying them.
type StatKey struct {
	Op     Operation
	Status int
}

// StatusClientClosed is the status counted for a request whose client
// went away before it was answered (nginx's 499).
const StatusClientClosed = 499

type stats struct {
	mu sync.Mutex
	n  map[StatKey]int64
}

func (st *stats) add(op Operation, status int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.n == nil {
		st.n = make(map[StatKey]int64)
	}
	st.n[StatKey{op, status}]++
}

// Stats returns a copy of the request counters by operation and status.
func (s *Simulator) Stats() map[StatKey]int64 {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	if s.stats.n == nil {
		return map[StatKey]int64{}
	}
	return maps.Clone(s.stats.n)
}
