package crmsim

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gormic/crm-bridge/internal/crmspec"
)

// Simulator is an in-memory Gormic CRM that speaks the CRM's HTTP API. It
// is safe for concurrent use. Serve it with Start or through Handler; Close
// releases what Start took.
type Simulator struct {
	opts      Options
	log       *slog.Logger
	validator *crmspec.Validator
	declared  map[Operation]map[string]bool // functional codes each operation's 400 declares
	store     *store
	faults    faultState
	stats     stats

	skew      atomic.Int64 // time.Duration
	pageSize  atomic.Int64
	reqSeq    atomic.Uint64
	reqPrefix string

	respMu   sync.Mutex
	respErrs []error

	srv server
}

// New returns a simulator configured by opts, holding no customers. It
// returns an error when opts are invalid (see Options.Validate).
func New(opts Options) (*Simulator, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	v, err := crmspec.NewValidator(crmspec.Options{Strict: true})
	if err != nil {
		return nil, fmt.Errorf("crmsim: %w", err)
	}
	doc, err := crmspec.Load()
	if err != nil {
		return nil, fmt.Errorf("crmsim: %w", err)
	}
	s := &Simulator{
		opts:      opts,
		log:       opts.Logger,
		validator: v,
		declared:  declaredCodes(doc),
		store:     newStore(opts.RandSeed, opts.MaxChanges),
		reqPrefix: requestPrefix(),
	}
	s.skew.Store(int64(opts.ClockSkew))
	s.pageSize.Store(int64(opts.PageSize))
	s.faults.init(Faults{}, opts.RandSeed)
	return s, nil
}

// SetClockSkew sets how far the simulator's clock is from Options.Now,
// e.g. -90*time.Second for a CRM whose clock is behind. It applies to the
// changes that follow and to the Date header.
func (s *Simulator) SetClockSkew(d time.Duration) { s.skew.Store(int64(d)) }

// ClockSkew returns the current clock skew.
func (s *Simulator) ClockSkew() time.Duration { return time.Duration(s.skew.Load()) }

// Now returns the simulator's time: Options.Now plus the clock skew, in
// UTC, truncated to Options.TimestampPrecision. Every timestamp the
// simulator stores comes from it.
func (s *Simulator) Now() time.Time {
	return s.opts.Now().Add(s.ClockSkew()).UTC().Truncate(s.opts.TimestampPrecision)
}

// nowNanos is Now in Unix nanoseconds.
func (s *Simulator) nowNanos() int64 { return s.Now().UnixNano() }

// SetPageSize sets the number of records per export or list page for the
// requests that follow; n < 1 means 1.
func (s *Simulator) SetPageSize(n int) { s.pageSize.Store(int64(max(n, 1))) }

// PageSize returns the current page size.
func (s *Simulator) PageSize() int { return int(s.pageSize.Load()) }

// requestPrefix returns a random prefix that keeps request ids unique
// across simulators.
func requestPrefix() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return "req_" + base32ID("", binary.LittleEndian.Uint64(b[:]), 0)[:8]
}

// newRequestID returns a request id unique to this simulator.
func (s *Simulator) newRequestID() string {
	return fmt.Sprintf("%s%012d", s.reqPrefix, s.reqSeq.Add(1))
}

// declaredCodes lists, per operation, the functional error codes its 400
// response declares.
func declaredCodes(doc *openapi3.T) map[Operation]map[string]bool {
	out := make(map[Operation]map[string]bool)
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			out[operationOf(op.OperationID)] = errorCodes(op)
		}
	}
	return out
}

// errorCodes returns the codes op's 400 response declares: the strings of
// the enum of its error.code, and of the schemas that one is allOf.
func errorCodes(op *openapi3.Operation) map[string]bool {
	codes := map[string]bool{}
	code := errorCodeSchema(op)
	if code == nil {
		return codes
	}
	for _, sr := range append([]*openapi3.SchemaRef{code}, code.Value.AllOf...) {
		for _, e := range sr.Value.Enum {
			if str, ok := e.(string); ok {
				codes[str] = true
			}
		}
	}
	return codes
}

// errorCodeSchema returns the schema of error.code in op's 400 JSON
// response, or nil when op declares none.
func errorCodeSchema(op *openapi3.Operation) *openapi3.SchemaRef {
	resp := op.Responses.Status(400)
	if resp == nil || resp.Value == nil {
		return nil
	}
	mt := resp.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return nil
	}
	errProp := mt.Schema.Value.Properties["error"]
	if errProp == nil {
		return nil
	}
	return errProp.Value.Properties["code"]
}
