package crm

import (
	"bytes"
	"encoding/json"
)

// Nullable is a request field that the CRM's schema lets be null: it is
// absent, null, or a value, and the three stay apart on the wire. The zero
// value is absent; mark the struct field `json:",omitzero"` so that an
// absent field is not sent at all.
type Nullable[T any] struct {
	// Value is the field's value when Valid.
	Value T
	// Valid reports that the field holds Value (it is neither absent nor null).
	Valid bool
	// Set reports that the field is present, as null or as Value.
	Set bool
}

// Some returns a Nullable that holds v.
func Some[T any](v T) Nullable[T] { return Nullable[T]{Value: v, Valid: true, Set: true} }

// Null returns a Nullable that is present and null.
func Null[T any]() Nullable[T] { return Nullable[T]{Set: true} }

// IsZero reports whether n is absent; encoding/json's omitzero uses it.
func (n Nullable[T]) IsZero() bool { return !n.Set }

// IsNull reports whether n is present and null.
func (n Nullable[T]) IsNull() bool { return n.Set && !n.Valid }

// MarshalJSON encodes n as null or as its value. An absent n also encodes
// as null: use omitzero to leave it out.
func (n Nullable[T]) MarshalJSON() ([]byte, error) {
	if !n.Valid {
		return []byte("null"), nil
	}
	return json.Marshal(n.Value)
}

// UnmarshalJSON sets n to null or to the decoded value; either way n is Set.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		var zero T
		*n = Nullable[T]{Value: zero, Set: true}
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*n = Nullable[T]{Value: v, Valid: true, Set: true}
	return nil
}
