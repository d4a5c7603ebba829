package queries

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/gormic/crm-bridge/internal/model"
	"github.com/gormic/crm-bridge/internal/streams"
)

// Limits of list.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// get answers crm.customer.get.<token>: the model's record, or the CRM's
// with {"fresh": true}.
func (s *Service) get(ctx context.Context, req micro.Request) ([]byte, *Error) {
	subj := req.Subject()
	tok := subj[strings.LastIndexByte(subj, '.')+1:]
	id, err := streams.DecodeToken(tok)
	if err != nil {
		return nil, invalid("customer id token %q: %v", tok, err)
	}
	var q struct {
		Fresh bool `json:"fresh"`
	}
	if qerr := decodeBody(req.Data(), &q); qerr != nil {
		return nil, qerr
	}
	if q.Fresh {
		return s.getFresh(ctx, id)
	}
	st, qerr := s.readyStatus()
	if qerr != nil {
		return nil, qerr
	}
	rec, found, err := s.record(ctx, id)
	switch {
	case err != nil:
		return nil, notReady("read the model: %v", err)
	case !found:
		return nil, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no customer " + quote(id) + " in the read model"}
	case model.IsStub(rec):
		return nil, tooLarge("customer %s's record is larger than the server's maximum payload (%d bytes): the read model holds a stub of it, %s", quote(id), s.nc.MaxPayload(), rec)
	}
	return s.fit(GetReply(rec, "model", st.AsOf), "customer "+quote(id))
}

// getFresh answers from the CRM's get; the model is left alone. Its asOf
// is when the CRM answered.
func (s *Service) getFresh(ctx context.Context, id string) ([]byte, *Error) {
	if s.cfg.CRM == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "CRM_UNAVAILABLE", Message: "this process has no CRM client"}
	}
	c, err := s.cfg.CRM.Get(ctx, id)
	if err != nil {
		return nil, crmFailure(id, err)
	}
	return s.fit(GetReply(c.Raw, "crm", time.Now()), "customer "+quote(id))
}

// GetReply is crm.customer.get's answer: the record rec, where it came
// from (source: model or crm) and as of when (docs/contract.md,
// Queries). The benchmarks' floor answers with it too.
func GetReply(rec []byte, source string, asOf time.Time) []byte {
	b := make([]byte, 0, len(rec)+80)
	b = append(b, `{"customer":`...)
	b = append(b, rec...)
	b = append(b, `,"source":"`...)
	b = append(b, source...)
	b = append(b, `","asOf":"`...)
	b = asOf.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

// find answers crm.customer.find: the customers whose phone has the
// request's digits, or whose email is the request's in any case.
func (s *Service) find(ctx context.Context, req micro.Request) ([]byte, *Error) {
	var q struct {
		Phone *string `json:"phone"`
		Email *string `json:"email"`
	}
	if qerr := decodeBody(req.Data(), &q); qerr != nil {
		return nil, qerr
	}
	var ids []string
	var match func(contact) bool
	x, qerr := s.readyIndex()
	switch {
	case (q.Phone == nil) == (q.Email == nil):
		return nil, invalid(`give exactly one of "phone" and "email"`)
	case q.Phone != nil && PhoneKey(*q.Phone) == "":
		return nil, invalid(`"phone" has no digits`)
	case q.Email != nil && strings.TrimSpace(*q.Email) == "":
		return nil, invalid(`"email" is empty`)
	case qerr != nil:
		return nil, qerr
	case q.Phone != nil:
		want := PhoneKey(*q.Phone)
		ids, match = x.ByPhone(want), func(c contact) bool { return PhoneKey(c.Phone) == want }
	default:
		want := EmailKey(*q.Email)
		ids, match = x.ByEmail(want), func(c contact) bool { return EmailKey(c.Email) == want }
	}
	recs, err := s.records(ctx, ids)
	if err != nil {
		return nil, notReady("read the model: %v", err)
	}
	b := []byte(`{"items":[`)
	n := 0
	for _, rec := range recs {
		var c contact
		if rec == nil || json.Unmarshal(rec, &c) != nil || !match(c) {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, rec...)
		n++
	}
	return s.fit(append(b, "]}"...), "the customers found")
}

// list answers crm.customer.list: a page in id order. Its cursor is the
// model key of the page's last customer.
func (s *Service) list(ctx context.Context, req micro.Request) ([]byte, *Error) {
	var q struct {
		After string `json:"after"`
		Limit *int   `json:"limit"`
	}
	if qerr := decodeBody(req.Data(), &q); qerr != nil {
		return nil, qerr
	}
	limit := DefaultLimit
	if q.Limit != nil {
		limit = *q.Limit
	}
	if limit < 1 || limit > MaxLimit {
		return nil, invalid(`"limit" must be 1 to %d, not %d`, MaxLimit, limit)
	}
	after := ""
	if q.After != "" {
		id, err := model.ID(q.After)
		if err != nil {
			return nil, invalid(`"after" is not a cursor of list: %q`, q.After)
		}
		after = id
	}
	x, qerr := s.readyIndex()
	if qerr != nil {
		return nil, qerr
	}
	ids, more := x.Page(after, limit)
	recs, err := s.records(ctx, ids)
	if err != nil {
		return nil, notReady("read the model: %v", err)
	}
	return s.listReply(ids, recs, more)
}

// listReply puts as many of recs as fit in the server's maximum payload.
func (s *Service) listReply(ids []string, recs [][]byte, more bool) ([]byte, *Error) {
	const tail = `],"next":""}`
	room := int(s.nc.MaxPayload()) - len(tail)
	b := []byte(`{"items":[`)
	last, n := "", 0
	for i, rec := range recs {
		if rec == nil { // deleted meanwhile
			continue
		}
		need := len(rec) + 1 + len(model.Key(ids[i]))
		if len(b)+need > room {
			if n == 0 {
				return nil, tooLarge("customer %s's record alone exceeds the server's maximum payload (%d bytes)", quote(ids[i]), s.nc.MaxPayload())
			}
			more = true
			break
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, rec...)
		last, n = ids[i], n+1
	}
	if last == "" && len(ids) > 0 {
		last = ids[len(ids)-1] // every record of the page deleted meanwhile
	}
	next := ""
	if more {
		next = model.Key(last)
	}
	b = append(b, `],"next":`...)
	nb, _ := json.Marshal(next)
	return append(append(b, nb...), '}'), nil
}

// resync answers crm.bridge.resync with {"started": time}.
func (s *Service) resync(ctx context.Context, req micro.Request) ([]byte, *Error) {
	var q struct{}
	if qerr := decodeBody(req.Data(), &q); qerr != nil {
		return nil, qerr
	}
	if s.cfg.Resync == nil {
		return nil, notReady("no poller can resync: this process does not run one")
	}
	started, err := s.cfg.Resync(ctx)
	if err != nil {
		return nil, notReady("resync: %v", err)
	}
	b, _ := json.Marshal(struct {
		Started time.Time `json:"started"`
	}{started.UTC()})
	return b, nil
}

// fit returns reply, or TOO_LARGE when it exceeds the server's maximum
// payload.
func (s *Service) fit(reply []byte, what string) ([]byte, *Error) {
	if max := s.nc.MaxPayload(); int64(len(reply)) > max {
		return nil, tooLarge("the reply with %s would take %d bytes, more than the server's maximum payload (%d)", what, len(reply), max)
	}
	return reply, nil
}

// decodeBody decodes a request body, empty or one JSON object of v's
// fields, into v.
func decodeBody(data []byte, v any) *Error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if t := bytes.TrimSpace(data); t[0] != '{' {
		return invalid("the body must be empty or a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("the body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("the body holds more than one JSON value")
	}
	return nil
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// record reads one customer's record from the model.
func (s *Service) record(ctx context.Context, id string) (rec []byte, found bool, err error) {
	e, err := s.customers.Get(ctx, model.Key(id))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return e.Value(), true, nil
}

// records reads the records of ids, a few at a time; a customer no
// longer in the model has nil.
func (s *Service) records(ctx context.Context, ids []string) ([][]byte, error) {
	recs := make([][]byte, len(ids))
	errs := make([]error, len(ids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(len(ids), 16) {
		wg.Go(func() {
			for i := range next {
				recs[i], _, errs[i] = s.record(ctx, ids[i])
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	return recs, errors.Join(errs...)
}
