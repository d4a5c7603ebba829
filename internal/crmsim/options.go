package crmsim

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Paging selects what the export's next token encodes.
type Paging int

const (
	// PagingKeyset encodes the last (updatedAt, id) returned: the next page
	// starts right after it, found in O(log n), and a record that changes
	// while a client pages is never skipped (it shows up again later).
	PagingKeyset Paging = iota
	// PagingOffset encodes a numeric position in the ordered result, as
	// many real CRMs do: when a record already returned moves to the end
	// while a client pages, every later record shifts down by one and the
	// client skips one. Reaching position p costs O(p).
	PagingOffset
)

// String returns "keyset" or "offset".
func (p Paging) String() string {
	switch p {
	case PagingKeyset:
		return "keyset"
	case PagingOffset:
		return "offset"
	}
	return fmt.Sprintf("Paging(%d)", int(p))
}

// MarshalText implements encoding.TextMarshaler.
func (p Paging) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText accepts "keyset" or "offset".
func (p *Paging) UnmarshalText(b []byte) error {
	switch string(b) {
	case "keyset":
		*p = PagingKeyset
	case "offset":
		*p = PagingOffset
	default:
		return fmt.Errorf("crmsim: paging %q: want keyset or offset", b)
	}
	return nil
}

// DeleteMode selects what a delete does to a customer.
type DeleteMode int

const (
	// DeleteRemove removes the record: it is gone from get, list and export.
	DeleteRemove DeleteMode = iota
	// DeleteArchive sets archivedAt, archivedBy and archivedVia (and
	// updatedAt); the record stays in get, list and export.
	DeleteArchive
)

// String returns "remove" or "archive".
func (m DeleteMode) String() string {
	switch m {
	case DeleteRemove:
		return "remove"
	case DeleteArchive:
		return "archive"
	}
	return fmt.Sprintf("DeleteMode(%d)", int(m))
}

// MarshalText implements encoding.TextMarshaler.
func (m DeleteMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText accepts "remove" or "archive".
func (m *DeleteMode) UnmarshalText(b []byte) error {
	switch string(b) {
	case "remove":
		*m = DeleteRemove
	case "archive":
		*m = DeleteArchive
	default:
		return fmt.Errorf("crmsim: delete mode %q: want remove or archive", b)
	}
	return nil
}

// Options configures a Simulator. The zero value is a working simulator
// that accepts any non-empty api-key and organization-id.
type Options struct {
	// APIKey, when set, is the only api-key accepted (others get 401).
	// Default: any non-empty value.
	APIKey string
	// OrgID, when set, is the only organization-id accepted (others get
	// 403). Default: any non-empty value.
	OrgID string

	// PageSize is the number of records per export or list page; see also
	// Simulator.SetPageSize. Default: 100.
	PageSize int
	// Paging selects what the export's next token encodes. Default:
	// PagingKeyset.
	Paging Paging
	// DeleteMode selects whether a delete removes or archives. Default:
	// DeleteRemove.
	DeleteMode DeleteMode
	// NotFoundAs400 answers an update or delete of a missing customer with
	// 400 {"error":{"code":"NotFound"}} instead of 404. Default: false (404).
	NotFoundAs400 bool

	// Now is the simulator's clock before ClockSkew; it is called from
	// several goroutines. Default: time.Now.
	Now func() time.Time
	// ClockSkew is added to Now, e.g. -90s for a CRM whose clock is behind;
	// see also Simulator.SetClockSkew. Default: 0.
	ClockSkew time.Duration
	// TimestampPrecision truncates every timestamp the simulator stores
	// and returns. Default: 1s.
	TimestampPrecision time.Duration

	// RandSeed seeds every generated value (ids, Seed's customers, churn,
	// and the faults unless Faults.Seed is set): two simulators with the
	// same seed, fed the same calls in the same order, generate the same
	// values. Default: 0, itself a valid seed.
	RandSeed uint64
	// SeedCustomers is how many customers the caller means to Seed; New does
	// not seed by itself (the flag is here so that one flag set configures
	// the simulator). Default: 0.
	SeedCustomers int
	// ChurnInterval and ChurnPerTick are the caller's arguments for Churn;
	// New does not start churning by itself. Defaults: 0 (no churn) and 1.
	ChurnInterval time.Duration
	ChurnPerTick  int

	// MaxBodyBytes caps a request body; a larger one gets 413.
	// Default: 1 MiB.
	MaxBodyBytes int64
	// MaxChanges caps the change log: beyond it the oldest changes are
	// dropped (Change.Seq keeps counting). Default: 1<<20.
	MaxChanges int
	// ValidateResponses validates each response the simulator sends
	// against the document; failures are logged and kept for
	// ResponseErrors. Default: false.
	ValidateResponses bool

	// App, Service and InstanceID fill the response envelope.
	// Defaults: "crm", "customers", "crmsim-1".
	App, Service, InstanceID string

	// Logger receives a debug line per request and an error line per
	// response that fails validation. Default: discards.
	Logger *slog.Logger
}

// Validate reports every problem with o at once; New calls it.
func (o Options) Validate() error {
	var errs []error
	if o.PageSize < 0 {
		errs = append(errs, fmt.Errorf("crmsim: page size %d is negative", o.PageSize))
	}
	if o.Paging != PagingKeyset && o.Paging != PagingOffset {
		errs = append(errs, fmt.Errorf("crmsim: unknown paging %d", o.Paging))
	}
	if o.DeleteMode != DeleteRemove && o.DeleteMode != DeleteArchive {
		errs = append(errs, fmt.Errorf("crmsim: unknown delete mode %d", o.DeleteMode))
	}
	if o.TimestampPrecision < 0 {
		errs = append(errs, fmt.Errorf("crmsim: timestamp precision %v is negative", o.TimestampPrecision))
	}
	if o.SeedCustomers < 0 {
		errs = append(errs, fmt.Errorf("crmsim: seed customers %d is negative", o.SeedCustomers))
	}
	if o.ChurnInterval < 0 || o.ChurnPerTick < 0 {
		errs = append(errs, errors.New("crmsim: churn interval and per-tick must not be negative"))
	}
	if o.MaxBodyBytes < 0 || o.MaxChanges < 0 {
		errs = append(errs, errors.New("crmsim: max body bytes and max changes must not be negative"))
	}
	return errors.Join(errs...)
}

// withDefaults returns o with every zero field that has a default filled in.
func (o Options) withDefaults() Options {
	o.PageSize = cmp.Or(o.PageSize, 100)
	if o.Now == nil {
		o.Now = time.Now
	}
	o.TimestampPrecision = cmp.Or(o.TimestampPrecision, time.Second)
	o.ChurnPerTick = cmp.Or(o.ChurnPerTick, 1)
	o.MaxBodyBytes = cmp.Or(o.MaxBodyBytes, 1<<20)
	o.MaxChanges = cmp.Or(o.MaxChanges, 1<<20)
	o.App = cmp.Or(o.App, "crm")
	o.Service = cmp.Or(o.Service, "customers")
	o.InstanceID = cmp.Or(o.InstanceID, "crmsim-1")
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
