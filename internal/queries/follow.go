package queries

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/model"
)

// followCustomers keeps s.index following CRM_CUSTOMERS until ctx ends: a
// watch gives every current record, then each change; the Index built
// from it replaces the one in use once it has seen every current record.
// When the watch ends early it starts again with a new Index, the old one
// answering meanwhile.
//
// It starts once the model is filled. Until then find and list answer
// NOT_READY whatever the index holds, so an index that followed the
// model as the first complete export fills it (a million inserts into a
// sorted index, and the server sending every entry to every process) would
// only slow that first sync; after it, the watch delivers every record at
// once, loaded unsorted and sorted once.
func (s *Service) followCustomers(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-s.filled:
	}
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
			x.Seal()
			s.index.Store(x)
			s.log.Info("read model indexed", "customers", x.Len())
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
		c, err := readContact(e.Value())
		if err != nil {
			s.log.Warn("read model record unreadable, indexed without phone and email", "customer_id", id, "err", err)
		}
		x.Put(id, c.Phone, c.Email)
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
				s.statusSeen.Store(true)
				continue
			}
			var st model.Status
			if e.Operation() == jetstream.KeyValuePut {
				if err := json.Unmarshal(e.Value(), &st); err != nil {
					s.log.Warn("read model status unreadable", "err", err)
					continue
				}
			}
			s.status.Store(&st)
			s.statusSeen.Store(true)
			if st.Filled {
				s.filledOnce.Do(func() { close(s.filled) })
			}
		}
	}
}
