package crmsim

import (
	"flag"
	"time"
)

// RegisterFlags registers o's fields as kebab-case flags on fs, with o's
// current values (or their defaults, which it stores in o) as the flags'
// defaults. SeedCustomers and the churn flags are for the caller to pass to
// Seed and Churn.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	if o.PageSize == 0 {
		o.PageSize = 100
	}
	if o.TimestampPrecision == 0 {
		o.TimestampPrecision = time.Second
	}
	if o.ChurnPerTick == 0 {
		o.ChurnPerTick = 1
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 1 << 20
	}
	fs.StringVar(&o.APIKey, "api-key", o.APIKey, "the only api-key accepted (empty: any non-empty value)")
	fs.StringVar(&o.OrgID, "org-id", o.OrgID, "the only organization-id accepted (empty: any non-empty value)")
	fs.IntVar(&o.SeedCustomers, "seed-customers", o.SeedCustomers, "customers to create at start")
	fs.IntVar(&o.PageSize, "page-size", o.PageSize, "records per export or list page")
	fs.TextVar(&o.Paging, "paging", o.Paging, "export paging: keyset, or offset (a moved record makes clients skip one)")
	fs.TextVar(&o.DeleteMode, "delete-mode", o.DeleteMode, "what a delete does: remove, or archive")
	fs.BoolVar(&o.NotFoundAs400, "not-found-as-400", o.NotFoundAs400, "answer update/delete of a missing customer with 400 NotFound instead of 404")
	fs.DurationVar(&o.ClockSkew, "clock-skew", o.ClockSkew, "offset of the CRM's clock, e.g. -90s for a clock behind")
	fs.DurationVar(&o.TimestampPrecision, "timestamp-precision", o.TimestampPrecision, "precision of the CRM's timestamps")
	fs.Uint64Var(&o.RandSeed, "rand-seed", o.RandSeed, "seed of generated ids, customers and churn")
	fs.DurationVar(&o.ChurnInterval, "churn-interval", o.ChurnInterval, "change random customers this often (0: never)")
	fs.IntVar(&o.ChurnPerTick, "churn-per-tick", o.ChurnPerTick, "customers changed per churn interval")
	fs.Int64Var(&o.MaxBodyBytes, "max-body-bytes", o.MaxBodyBytes, "largest request body accepted (larger: 413)")
	fs.BoolVar(&o.ValidateResponses, "validate-responses", o.ValidateResponses, "validate every response against the OpenAPI document and log failures")
}

// RegisterFlags registers f's fields as kebab-case flags on fs, with f's
// current values (or their defaults, which it stores in f) as the flags'
// defaults. ForceError and Warnings have no flags.
func (f *Faults) RegisterFlags(fs *flag.FlagSet) {
	if f.ErrorStatus == 0 {
		f.ErrorStatus = 503
	}
	if f.RetryAfter == 0 {
		f.RetryAfter = time.Second
	}
	fs.Uint64Var(&f.Seed, "fault-seed", f.Seed, "seed of the fault draws (0: --rand-seed)")
	fs.Float64Var(&f.ErrorRate, "error-rate", f.ErrorRate, "fraction of requests answered --error-status, unapplied")
	fs.IntVar(&f.ErrorStatus, "error-status", f.ErrorStatus, "status of --error-rate answers")
	fs.Float64Var(&f.RateLimitRate, "rate-limit-rate", f.RateLimitRate, "fraction of requests answered 429, unapplied")
	fs.DurationVar(&f.RetryAfter, "retry-after", f.RetryAfter, "Retry-After of a 429 (sent in whole seconds)")
	fs.BoolVar(&f.RetryAfterHTTPDate, "retry-after-http-date", f.RetryAfterHTTPDate, "send Retry-After as an HTTP date")
	fs.DurationVar(&f.Latency, "latency", f.Latency, "delay added to every request")
	fs.DurationVar(&f.LatencyJitter, "latency-jitter", f.LatencyJitter, "random extra delay, up to this")
	fs.Float64Var(&f.DropAfterApplyRate, "drop-after-apply-rate", f.DropAfterApplyRate, "fraction of successful creates, updates and deletes applied but answered by closing the connection")
	fs.BoolVar(&f.Unauthorized, "unauthorized", f.Unauthorized, "answer every request 401")
}
