package crmsim

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Faults are the misbehaviours the simulator injects. The zero value
// injects none. Rates are fractions of requests, from 0 to 1; every request
// draws the same number of values from a source seeded with Seed, so a
// test that sends the same requests in the same order sees the same
// faults. Invalid requests are answered as such before the 429, 5xx and
// forced errors apply.
type Faults struct {
	// Seed seeds the fault draws; SetFaults reseeds. Default (0):
	// Options.RandSeed.
	Seed uint64
	// ErrorRate answers this fraction of requests with ErrorStatus without
	// applying their change.
	ErrorRate float64
	// ErrorStatus is the status of those answers. Default: 503.
	ErrorStatus int
	// RateLimitRate answers this fraction of requests with 429 and a
	// Retry-After header, without applying their change.
	RateLimitRate float64
	// RetryAfter is the Retry-After sent with a 429, in whole seconds
	// (rounded up). Default: 1s.
	RetryAfter time.Duration
	// RetryAfterHTTPDate sends Retry-After as an HTTP date (the simulator's
	// clock plus RetryAfter) instead of seconds.
	RetryAfterHTTPDate bool
	// Latency delays every request, plus a uniform random part of
	// LatencyJitter. A client that gives up meanwhile gets nothing and
	// nothing is applied.
	Latency       time.Duration
	LatencyJitter time.Duration
	// DropAfterApplyRate, for this fraction of the creates, updates and
	// deletes that succeed, applies the change and then closes the
	// connection without answering. Without a connection to take over
	// (HTTP/2, or ServeHTTP called with an httptest.ResponseRecorder) the
	// handler panics with http.ErrAbortHandler instead, which net/http
	// turns into a reset stream.
	DropAfterApplyRate float64
	// ForceError answers the next Count valid requests of an operation
	// with 400 and the functional error Code (e.g. COMPACT_INACTIVE),
	// applying nothing. See also Simulator.ForceError.
	ForceError map[Operation]ForcedError
	// Unauthorized answers every request with 401.
	Unauthorized bool
	// Warnings are added to the warnings of every successful response.
	Warnings []Warning
}

// ForcedError is a functional error forced on the next Count requests of
// an operation.
type ForcedError struct {
	Code  string
	Count int
}

// Warning is one entry of a response envelope's warnings.
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// Validate reports every problem with f at once; SetFaults calls it.
func (f Faults) Validate() error {
	var errs []error
	for name, r := range map[string]float64{"error rate": f.ErrorRate, "rate limit rate": f.RateLimitRate, "drop after apply rate": f.DropAfterApplyRate} {
		if r < 0 || r > 1 {
			errs = append(errs, fmt.Errorf("crmsim: %s %v: want 0 to 1", name, r))
		}
	}
	if f.ErrorStatus != 0 && (f.ErrorStatus < 400 || f.ErrorStatus > 599) {
		errs = append(errs, fmt.Errorf("crmsim: error status %d: want 4xx or 5xx", f.ErrorStatus))
	}
	if f.RetryAfter < 0 || f.Latency < 0 || f.LatencyJitter < 0 {
		errs = append(errs, errors.New("crmsim: retry-after, latency and jitter must not be negative"))
	}
	for op, fe := range f.ForceError {
		if fe.Code == "" || fe.Count < 0 {
			errs = append(errs, fmt.Errorf("crmsim: force error for %s: want a code and a count >= 0", op))
		}
	}
	return errors.Join(errs...)
}

// faultState is the faults in force and their random source.
type faultState struct {
	mu     sync.Mutex
	f      Faults
	rng    *rand.Rand
	forced map[Operation]ForcedError
}

func (fs *faultState) init(f Faults, seed uint64) {
	if f.Seed != 0 {
		seed = f.Seed
	}
	if f.ErrorStatus == 0 {
		f.ErrorStatus = http.StatusServiceUnavailable
	}
	if f.RetryAfter == 0 {
		f.RetryAfter = time.Second
	}
	fs.forced = maps.Clone(f.ForceError)
	if fs.forced == nil {
		fs.forced = make(map[Operation]ForcedError)
	}
	f.ForceError = nil
	f.Warnings = append([]Warning(nil), f.Warnings...)
	fs.f = f
	fs.rng = rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
}

// SetFaults replaces the faults in force, for the requests that follow,
// and reseeds their random source. It returns an error, changing nothing,
// when f is invalid.
func (s *Simulator) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.init(f, s.opts.RandSeed)
	return nil
}

// Faults returns the faults in force; ForceError holds the counts left.
func (s *Simulator) Faults() Faults {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	f := s.faults.f
	f.ForceError = maps.Clone(s.faults.forced)
	f.Warnings = append([]Warning(nil), f.Warnings...)
	return f
}

// ForceError makes the next n valid requests of op fail with 400 and the
// functional error code, applying nothing; it replaces what was forced on
// op before and leaves the other faults alone.
func (s *Simulator) ForceError(op Operation, code string, n int) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.forced[op] = ForcedError{Code: code, Count: n}
}

// decision is what the faults do to one request.
type decision struct {
	unauthorized bool
	delay        time.Duration
	rateLimited  bool
	retryAfter   time.Duration
	httpDate     bool
	failStatus   int // 0: none
	drop         bool
	warnings     []Warning
}

// decide draws the faults of one request. It draws the same number of
// values whatever the outcome, so the sequence depends only on the number
// of requests.
func (fs *faultState) decide() decision {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := &fs.f
	jitter, rate, fail, drop := fs.rng.Float64(), fs.rng.Float64(), fs.rng.Float64(), fs.rng.Float64()
	d := decision{
		unauthorized: f.Unauthorized,
		delay:        f.Latency + time.Duration(jitter*float64(f.LatencyJitter)),
		rateLimited:  rate < f.RateLimitRate,
		retryAfter:   f.RetryAfter,
		httpDate:     f.RetryAfterHTTPDate,
		drop:         drop < f.DropAfterApplyRate,
		warnings:     f.Warnings,
	}
	if fail < f.ErrorRate {
		d.failStatus = f.ErrorStatus
	}
	return d
}

// takeForced returns the functional code forced on this request of op, or
// "", counting it down.
func (fs *faultState) takeForced(op Operation) string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fe, ok := fs.forced[op]
	if !ok || fe.Count <= 0 {
		return ""
	}
	fe.Count--
	fs.forced[op] = fe
	return fe.Code
}
