package poller

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/gormic/crm-bridge/internal/model"
)

// This file is the only code of the repository that knows the subjects
// under which key-value buckets keep their keys ("$KV.<bucket>.<key>"),
// for three things the key-value API cannot do: publish asynchronously,
// or without a reply (the read model's writes, modelwrite.go; also for
// the black-box floor), read many entries in one batched direct get (the
// read model's, for loadMany), and read the headers of a bucket's entries
// (the migration of legacyStateBucket, migrate.go).
// internal/layout's TestSizes keeps it so.

// modelPrefix is the subject prefix of the read model's keys.
const modelPrefix = "$KV." + model.Bucket + "."

// PutModelAsync puts value under key in the read model, as the key-value
// API's Put would, without waiting for the acknowledgement. It is
// exported for the black-box benchmarks' floor, which writes the read
// model as the poller does and does nothing else.
func PutModelAsync(js jetstream.JetStream, key string, value []byte, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	return js.PublishAsync(modelPrefix+key, value, opts...)
}

// modelStream is the stream of the read model's bucket.
const modelStream = "KV_" + model.Bucket

// lastModelMany calls f with the value of each of keys' read model
// entries (at most multiLastMax), read in one batched direct get; a key
// without an entry, or whose entry is a delete, is left out.
func lastModelMany(ctx context.Context, js jetstream.JetStream, keys []string, f func(key string, value []byte)) error {
	subjects := make([]string, len(keys))
	for i, k := range keys {
		subjects[i] = modelPrefix + k
	}
	msgs, err := jetstreamext.GetLastMsgsFor(ctx, js, modelStream, subjects)
	if err != nil {
		return err
	}
	for m, err := range msgs {
		if err != nil {
			return err
		}
		if m.Header.Get(kvOperation) == "" && strings.HasPrefix(m.Subject, modelPrefix) {
			f(m.Subject[len(modelPrefix):], m.Data)
		}
	}
	return nil
}

// legacyPrefix is the subject prefix of legacyStateBucket's keys, in its
// stream legacyStateStream.
const legacyPrefix = "$KV." + legacyStateBucket + "."

// legacyStateStream is the stream of legacyStateBucket.
const legacyStateStream = "KV_" + legacyStateBucket

// kvOperation is the header with which the key-value API marks an entry
// deleted ("DEL") or purged ("PURGE").
const kvOperation = "KV-Operation"

// modelMsg is the message that writes record as id's read model entry, as
// the key-value API's Put would, or deletes it, as its Delete would, when
// record is nil.
func (p *Poller) modelMsg(id string, record json.RawMessage) *nats.Msg {
	m := nats.NewMsg(modelPrefix + model.Key(id))
	if record == nil {
		m.Header.Set(kvOperation, "DEL")
	} else {
		m.Data = modelValue(id, record, int(p.js.Conn().MaxPayload()))
	}
	return m
}
