package queries

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/model"
)

// contact is what the Index takes from a record.
type contact struct {
	Phone string `json:"phone"`
	Email string `json:"email"`
}

// followCustomers keeps s.index following CRM_CUSTOMERS until ctx ends: a
// watch gives every current record, then each change; the Index built
// from it replaces the one in use once it has seen every current record
// and the model's status, read, says the model is filled. While the model
// fills (a first sync), nothing answers from an index (NOT_READY), so the
// Index keeps loading, each record appended, and is sorted by the status
// watch as it reads that the model is filled, before it lets answers see
// that status: kept sorted, each of a first sync's new customers would
// cost a search and an insert. When the watch ends early it starts again
// with a new Index, the old one answering meanwhile.
func (s *Service) followCustomers(ctx context.Context) {
	for ctx.Err() == nil {
		if err := s.watchCustomers(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("read model watch ended, watching again", "bucket", model.Bucket, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (s *Service) watchCustomers(ctx context.Context) error {
	w, err := s.customers.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	x := NewIndex()
	defer s.loading.CompareAndSwap(x, nil)
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case e, ok = <-w.Updates():
		}
		if !ok {
			return errWatchClosed
		}
		if e == nil { // every current record seen
			s.loaded.Store(true)
			// Loading until the model is filled; the status watch may
			// have read that it is between the two checks.
			if s.filled() || (s.loading.CompareAndSwap(nil, x) && s.filled()) {
				s.useLoaded(x)
			}
			continue
		}
		id, err := model.ID(e.Key())
		if err != nil {
			s.log.Warn("read model key is no customer's, ignored", "key", e.Key())
			continue
		}
		if e.Operation() != jetstream.KeyValuePut {
			x.Delete(id)
			continue
		}
		// json.Unmarshal into a contact, in one walk (crm.Contact).
		phone, email, err := crm.Contact(e.Value())
		if err != nil {
			s.log.Warn("read model record unreadable, indexed without phone and email", "customer_id", id, "err", err)
		}
		x.Put(id, phone, email)
	}
}

type watchError string

func (e watchError) Error() string { return string(e) }

const errWatchClosed = watchError("watch closed")

// followStatus keeps s.status following the model's status until ctx ends.
func (s *Service) followStatus(ctx context.Context) {
	for ctx.Err() == nil {
		if err := s.watchStatus(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("read model status watch ended, watching again", "bucket", model.StatusBucket, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (s *Service) watchStatus(ctx context.Context) error {
	w, err := s.statusKV.Watch(ctx, model.StatusKey)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errWatchClosed
			}
			if e == nil {
				if st := s.status.Load(); st != nil && st.Filled {
					s.sealLoading()
				}
				s.statusSeen.Store(true)
				if s.filled() {
					s.sealLoading()
				}
				continue
			}
			var st model.Status
			if e.Operation() == jetstream.KeyValuePut {
				if err := json.Unmarshal(e.Value(), &st); err != nil {
					s.log.Warn("read model status unreadable", "err", err)
					continue
				}
			}
			if st.Filled {
				s.sealLoading()
			}
			s.status.Store(&st)
			if st.Filled && s.statusSeen.Load() {
				s.sealLoading()
			}
		}
	}
}

// filled reports whether the model's status, read, says it is filled.
func (s *Service) filled() bool {
	st := s.status.Load()
	return s.statusSeen.Load() && st != nil && st.Filled
}

// sealLoading puts the Index loaded while the model filled in use, if
// there is one.
func (s *Service) sealLoading() {
	if x := s.loading.Swap(nil); x != nil {
		s.useLoaded(x)
	}
}

// useLoaded seals x, which has seen every current record, and puts it in
// use.
func (s *Service) useLoaded(x *Index) {
	s.loading.CompareAndSwap(x, nil)
	x.Seal()
	s.index.Store(x)
	s.log.Info("read model indexed", "customers", x.Len())
}
