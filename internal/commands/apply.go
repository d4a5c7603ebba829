package commands

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/lease"
	"github.com/gormic/crm-bridge/internal/streams"
)

// CRM is what the processor needs of the CRM client.
type CRM interface {
	Create(ctx context.Context, p crm.CreateParams) (string, error)
	Update(ctx context.Context, id string, p crm.UpdateParams) error
	Delete(ctx context.Context, id string) error
	Export(ctx context.Context, since time.Time) iter.Seq2[crm.ExportPage, error]
}

var _ CRM = (*crm.Client)(nil)

// delivery is what the processor knows of a command's delivery.
type delivery struct {
	// redelivered: JetStream delivered the command before, so an earlier
	// attempt may have reached the CRM.
	redelivered bool
	// published is when the command was stored.
	published time.Time
	// lease is the lease of the command's partition; a CRM call starts
	// only while it holds for the call's timeout. Nil for creates.
	lease *lease.Lease
	// warnings keeps the warnings of the CRM's last answer to the
	// command's own calls (not a lookup's); nil: not kept.
	warnings *crm.Warnings
}

// outcome is how applying a command ended.
type outcome struct {
	status     string // StatusApplied, StatusRejected or StatusFailed
	customerID string
	attempts   int
	err        *ResultError
	// blocked: the CRM refused the credentials; nothing is final, the
	// command waits for the gate and is applied again.
	blocked bool
	// canceled: the processor is stopping; nothing is final.
	canceled bool
	// warnings are the CRM's last answer's warnings (a JSON array), nil
	// when it had none.
	warnings json.RawMessage
}

// applier applies commands to the CRM: it retries transient failures with
// exponential backoff and jitter, honours Retry-After, and decides which
// CRM answers mean applied, rejected or failed.
type applier struct {
	crm     CRM
	cfg     Config
	gate    *gate
	metrics *metrics
}

// apply applies cmd; attempts counts the CRM calls made for it so far.
func (a *applier) apply(ctx context.Context, cmd Command, d delivery, attempts int, log *cmdLog) outcome {
	var bo *backoff.ExponentialBackOff // from the first failure: most commands have none
	start := time.Now()
	for {
		if err := a.fence(ctx, d.lease); err != nil {
			return outcome{canceled: true, attempts: attempts}
		}
		attempts++
		id, err := a.call(ctx, cmd, d.warnings)
		if err == nil {
			a.answered(log)
			return outcome{status: StatusApplied, customerID: id, attempts: attempts}
		}
		if crm.Classify(err) == crm.Permanent {
			a.answered(log)
			out, lerr := a.permanent(ctx, cmd, d, attempts, err, log)
			if lerr == nil {
				return out
			}
			err = lerr // the lookup failed: its error decides, like a call's
		}
		switch crm.Classify(err) {
		case crm.Canceled:
			return outcome{canceled: true, attempts: attempts}
		case crm.Auth, crm.Misrouted:
			a.misconfigured(err, log.logger())
			return outcome{blocked: true, attempts: attempts}
		default:
			// Transient; or Permanent, which only a lookup gets here with
			// (its export refused): the command is not at fault, and
			// only RetryMaxElapsed ends it as failed.
			if errors.Is(err, crm.ErrUnavailable) || errors.Is(err, crm.ErrTimeout) {
				if a.gate.unavailable(err) {
					log.Error("CRM unavailable: new commands wait until it answers again", "err", err)
				}
			}
			if bo == nil {
				bo = backoff.NewExponentialBackOff(
					backoff.WithInitialInterval(a.cfg.InitialBackoff),
					backoff.WithMaxInterval(a.cfg.MaxBackoff),
					backoff.WithMaxElapsedTime(0), // counted from start, below
				)
			}
			wait := bo.NextBackOff()
			if a.cfg.RetryMaxElapsed > 0 && time.Since(start)+wait > a.cfg.RetryMaxElapsed {
				return outcome{status: StatusFailed, attempts: attempts, err: crmError(err)}
			}
			if ra := retryAfter(err); ra > wait {
				wait = ra
			}
			a.metrics.retries.WithLabelValues(cmd.Op).Inc()
			log.Warn("CRM call failed, retrying", "attempt", attempts, "retry_in", wait.Round(time.Millisecond), "err", err)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return outcome{canceled: true, attempts: attempts}
			}
		}
	}
}

// misconfigured closes the gate for err, a crm.Auth or crm.Misrouted
// failure, and logs one error line when it was not closed for it yet.
func (a *applier) misconfigured(err error, log *slog.Logger) {
	class := crm.Classify(err)
	if !a.gate.misconfigured(class, err) {
		return
	}
	if class == crm.Misrouted {
		log.Error("CRM URL does not reach the CRM's API (HTTP 404 without its error envelope; check BRIDGE_CRM_URL): commands stop until it does; nothing is dead-lettered", "err", err)
		return
	}
	log.Error("CRM refused the credentials: commands stop until it accepts them; nothing is dead-lettered", "err", err)
}

// fence waits until ls is certain to hold for a CRM call's whole timeout,
// or ctx ends (the partition is lost or the processor stops). A nil ls
// (a create) needs no waiting.
func (a *applier) fence(ctx context.Context, ls *lease.Lease) error {
	for ls != nil && !ls.Valid(a.cfg.CallTimeout+time.Second) {
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func (a *applier) answered(log *cmdLog) {
	if a.gate.answered() {
		log.Info("CRM answers again: taking new commands")
	}
}

// call makes the one CRM call of cmd and returns the customer id; ws,
// when not nil, gets the warnings of the CRM's answer.
func (a *applier) call(ctx context.Context, cmd Command, ws *crm.Warnings) (string, error) {
	if ws != nil {
		ctx = crm.WithWarnings(ctx, ws)
	}
	switch cmd.Op {
	case streams.OpCreate:
		return a.crm.Create(ctx, cmd.Create)
	case streams.OpUpdate:
		return cmd.CustomerID, a.crm.Update(ctx, cmd.CustomerID, cmd.Update)
	default:
		return cmd.CustomerID, a.crm.Delete(ctx, cmd.CustomerID)
	}
}

// permanent decides what a functional error means for cmd. Commands are
// idempotent: an update that changes nothing and a delete of a customer
// already gone are applied. A create refused as a duplicate phone after an
// attempt whose answer was lost is applied when the customer that attempt
// made is found. An error return means that lookup failed.
func (a *applier) permanent(ctx context.Context, cmd Command, d delivery, attempts int, err error, log *cmdLog) (outcome, error) {
	applied := outcome{status: StatusApplied, customerID: cmd.CustomerID, attempts: attempts}
	switch {
	case cmd.Op == streams.OpUpdate && errors.Is(err, crm.ErrNoChanges):
		return applied, nil
	case cmd.Op == streams.OpDelete && errors.Is(err, crm.ErrNotFound):
		return applied, nil
	case cmd.Op == streams.OpCreate && errors.Is(err, crm.ErrDuplicatePhone) && (attempts > 1 || d.redelivered):
		id, found, lerr := a.findCreated(ctx, cmd.Create, d.published.Add(-a.cfg.LookupWindow), log)
		if lerr != nil {
			return outcome{}, lerr
		}
		if found {
			applied.customerID = id
			return applied, nil
		}
	}
	return outcome{status: StatusRejected, customerID: cmd.CustomerID, attempts: attempts, err: crmError(err)}, nil
}

// Model is what the processor needs of the read model: the customers
// whose phone has the digits of phone (queries.Service.ByPhone). ok false
// means the model cannot answer yet.
type Model interface {
	ByPhone(ctx context.Context, phone string) (customers []crm.Customer, ok bool, err error)
}

// findCreated looks for the customer that an earlier attempt of the create
// p made: same phone digits, and the same first name and, where p sets
// them, last name and email, created since then. It looks first in the
// read model's phone index (Config.Model: a map lookup), then in the CRM's
// export of the customers changed since then, for one the model has not
// seen yet (it is at most a poll behind). A model that cannot answer is
// passed over: the export alone decides. Its duration is observed in
// crm_bridge_command_lookup_duration_seconds and logged (debug, "create
// lookup").
func (a *applier) findCreated(ctx context.Context, p crm.CreateParams, since time.Time, log *cmdLog) (id string, found bool, err error) {
	start, where := time.Now(), lookupExport
	defer func() {
		switch {
		case err != nil:
			where = lookupError
		case !found:
			where = lookupNotFound
		}
		took := time.Since(start)
		a.metrics.lookups.WithLabelValues(where).Observe(took.Seconds())
		log.Debug("create lookup", "found", where, "duration", took)
	}()
	if a.cfg.Model != nil {
		cs, ok, err := a.cfg.Model.ByPhone(ctx, p.Phone)
		if err != nil {
			a.cfg.Logger.Warn("read model lookup failed, looking in the export", "err", err)
		}
		for _, c := range cs {
			if ok && createdBy(p, c, since) {
				where = lookupModel
				return c.ID, true, nil
			}
		}
	}
	for page, err := range a.crm.Export(ctx, since) {
		if err != nil {
			return "", false, err
		}
		for _, c := range page.Items {
			if createdBy(p, c, since) {
				return c.ID, true, nil
			}
		}
	}
	return "", false, nil
}

// createdBy reports whether c may be the customer that the create p made
// at since or later.
func createdBy(p crm.CreateParams, c crm.Customer, since time.Time) bool {
	if crm.PhoneDigits(c.Phone) != crm.PhoneDigits(p.Phone) || c.FirstName != p.FirstName {
		return false
	}
	if p.LastName.Valid && (c.LastName == nil || *c.LastName != p.LastName.Value) {
		return false
	}
	if p.Email != nil && c.Email != *p.Email {
		return false
	}
	if created, err := time.Parse(time.RFC3339Nano, c.CreatedAt); err == nil && created.Before(since) {
		return false
	}
	return true
}

// crmError turns a CRM failure into a result's error.
func crmError(err error) *ResultError {
	code := "CRM_ERROR"
	var e *crm.Error
	if errors.As(err, &e) {
		code = e.ResultCode()
	}
	return &ResultError{Code: code, Message: err.Error(), Fields: []FieldError{}}
}

func retryAfter(err error) time.Duration {
	var e *crm.Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
