// Package model names the customer read model (docs/contract.md, "Customer
// read model"): the key-value bucket CRM_CUSTOMERS, which holds every
// customer's current record under a key derived from its id, and the
// model's status (whether the first complete export filled it, and when it
// last completed a poll) in the bucket StatusBucket.
//
// The poller writes both; every bridge process reads them to answer
// queries. This package holds only what the writer and the readers share:
// the names, the key encoding and the status record.
package model

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the read model's key-value bucket: one entry per customer,
// its value the customer's record exactly as its last change event's
// "after" (a UserMap); a deleted customer's key is deleted.
const Bucket = "CRM_CUSTOMERS"

// StatusBucket holds the model's status, key StatusKey. It is the
// bridge's own, not part of the contract.
const StatusBucket = "crm_bridge_model"

// StatusKey is the key of the model's Status in StatusBucket.
const StatusKey = "status"

// Key returns the read model's key of a customer id: the id itself when it
// is made only of A-Z a-z 0-9 _ -, otherwise '=' followed by the id's
// unpadded base64url. The empty id, which no customer has, is "=".
func Key(id string) string {
	if id == "" {
		return "="
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return "=" + base64.RawURLEncoding.EncodeToString([]byte(id))
		}
	}
	return id
}

// ErrBadKey is returned by ID for a key that Key cannot have made.
var ErrBadKey = errors.New("model: not a customer key")

// ID returns the customer id of a key made by Key, or an error wrapping
// ErrBadKey.
func ID(key string) (string, error) {
	if enc, ok := cutEq(key); ok {
		b, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil || len(b) == 0 || Key(string(b)) != key {
			return "", fmt.Errorf("%w: %q", ErrBadKey, key)
		}
		return string(b), nil
	}
	if key == "" || Key(key) != key {
		return "", fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	return key, nil
}

func cutEq(key string) (string, bool) {
	if len(key) > 0 && key[0] == '=' {
		return key[1:], true
	}
	return "", false
}

// Stub is what the read model holds instead of a record too large for one
// NATS message (the server's max_payload): the customer's id,
// "truncated": true, the record's size in bytes and its updatedAt. A
// reader gets the record itself from the CRM's get; the stub gives way to
// the record once it fits again.
type Stub struct {
	ID        string `json:"id"`
	Truncated bool   `json:"truncated"`
	Bytes     int    `json:"bytes"`
	UpdatedAt string `json:"updatedAt,omitempty"`
}

// IsStub reports whether a read model value is a Stub rather than a
// customer record.
func IsStub(value []byte) bool {
	if !bytes.Contains(value, []byte(`"truncated"`)) {
		return false
	}
	var st Stub
	return json.Unmarshal(value, &st) == nil && st.Truncated && st.Bytes > 0
}

// Status is the read model's state as the poller last wrote it.
type Status struct {
	// Filled is set once a complete export has filled the model; until
	// then queries answer NOT_READY.
	Filled bool `json:"filled"`
	// AsOf is when the last poll that completed started (the bridge's
	// clock): every change the CRM's export showed before then is in the
	// model.
	AsOf time.Time `json:"asOf,omitzero"`
}

// Ensure creates or updates the read model's buckets with replicas
// replicas (history 1, file storage) and returns the model's bucket and
// the status bucket.
func Ensure(ctx context.Context, js jetstream.JetStream, replicas int) (customers, status jetstream.KeyValue, err error) {
	customers, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "crm-bridge read model: every customer's current record (docs/contract.md)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("model: bucket %s: %w", Bucket, err)
	}
	status, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      StatusBucket,
		Description: "crm-bridge read model status",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("model: bucket %s: %w", StatusBucket, err)
	}
	return customers, status, nil
}

// ReadStatus returns the model's status from the status bucket; the zero
// Status (not filled) when none was written yet.
func ReadStatus(ctx context.Context, status jetstream.KeyValue) (Status, error) {
	e, err := status.Get(ctx, StatusKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Status{}, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("model: read status: %w", err)
	}
	var s Status
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return Status{}, fmt.Errorf("model: read status: %w", err)
	}
	return s, nil
}

// WriteStatus saves s in the status bucket.
func WriteStatus(ctx context.Context, status jetstream.KeyValue, s Status) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("model: write status: %w", err)
	}
	if _, err := status.Put(ctx, StatusKey, b); err != nil {
		return fmt.Errorf("model: write status: %w", err)
	}
	return nil
}
