package crmsim

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/gormic/crm-bridge/internal/crm"
)

// The methods below change customers out of band, as the CRM's own UI
// would: createdVia/updatedVia "ui", By "usr_console". Each change bumps
// updatedAt to Now (which, at a coarse TimestampPrecision, may equal the
// previous value) and is logged in Changes.

// CreateCustomer creates a customer from p. It returns ErrDuplicatePhone
// when a live customer has the same phone, or ErrInvalid (a phone without
// digits, a gender other than F or M).
func (s *Simulator) CreateCustomer(p crm.CreateParams) (crm.Customer, error) {
	return s.change(func(st *store, now int64) (*record, error) { return st.create(now, uiActor(), p) })
}

// UpdateCustomer calls edit with a copy of the customer and applies the
// fields edit changed: firstName, lastName, email ("" clears it), phone,
// number, cityId, birthDate, gender (nil clears it; {"code":"F"} or "F"),
// unsubscribed, internalNote; nil clears a nullable field. Other fields are
// the CRM's and are ignored. edit runs without the simulator's lock, so a
// concurrent change of other fields survives. It returns ErrNotFound,
// ErrNoChanges when edit changed nothing, ErrDuplicatePhone or ErrInvalid.
func (s *Simulator) UpdateCustomer(id string, edit func(c *crm.Customer)) (crm.Customer, error) {
	u, ok := s.store.wire(id)
	if !ok {
		return crm.Customer{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	before, after := u.customer(), u.customer()
	edit(&after)
	p, err := editPatch(before, after)
	if err != nil {
		return crm.Customer{}, err
	}
	return s.change(func(st *store, now int64) (*record, error) { return st.update(now, uiActor(), id, p) })
}

// Touch bumps the customer's updatedAt (and updatedBy/updatedVia) and
// nothing else. It returns ErrNotFound.
func (s *Simulator) Touch(id string) (crm.Customer, error) {
	return s.change(func(st *store, now int64) (*record, error) { return st.touch(now, uiActor(), id) })
}

// Archive sets the customer's archivedAt/By/Via; an archived customer
// stays in get, list and export. Archiving an archived customer changes
// nothing. It returns ErrNotFound.
func (s *Simulator) Archive(id string) (crm.Customer, error) {
	return s.change(func(st *store, now int64) (*record, error) { return st.archive(now, uiActor(), id) })
}

// Delete removes the customer, whatever Options.DeleteMode says. It
// returns ErrNotFound.
func (s *Simulator) Delete(id string) error {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	return s.store.delete(s.nowNanos(), uiActor(), id)
}

// change runs fn under the write lock at the current time and returns the
// changed customer.
func (s *Simulator) change(fn func(st *store, now int64) (*record, error)) (crm.Customer, error) {
	s.store.mu.Lock()
	r, err := fn(s.store, s.nowNanos())
	var u userMap
	if err == nil {
		u = r.wire()
	}
	s.store.mu.Unlock()
	if err != nil {
		return crm.Customer{}, err
	}
	return u.customer(), nil
}

// Customer returns the customer as get would, and whether it exists.
func (s *Simulator) Customer(id string) (crm.Customer, bool) {
	u, ok := s.store.wire(id)
	if !ok {
		return crm.Customer{}, false
	}
	return u.customer(), true
}

// Customers returns every customer, archived ones included, in list
// order: by createdAt, then id. It costs O(n): meant for tests, not for a
// million customers.
func (s *Simulator) Customers() []crm.Customer {
	s.store.mu.RLock()
	us := make([]userMap, 0, len(s.store.byID))
	s.store.byCreated.Ascend(func(k timeKey) bool {
		us = append(us, s.store.byID[k.id].wire())
		return true
	})
	s.store.mu.RUnlock()
	out := make([]crm.Customer, len(us))
	for i, u := range us {
		out[i] = u.customer()
	}
	return out
}

// editPatch is the patch that turns before into after.
func editPatch(before, after crm.Customer) (patch, error) {
	var p patch
	if after.FirstName != before.FirstName {
		p.FirstName = crm.Some(after.FirstName)
	}
	if after.Phone != before.Phone {
		p.Phone = crm.Some(after.Phone)
	}
	if after.Number != before.Number {
		p.Number = crm.Some(after.Number)
	}
	if after.Email != before.Email {
		p.Email = crm.Some(after.Email)
		if after.Email == "" {
			p.Email = crm.Null[string]()
		}
	}
	p.LastName = pointerDiff(before.LastName, after.LastName)
	p.CityID = pointerDiff(before.CityID, after.CityID)
	p.BirthDate = pointerDiff(before.BirthDate, after.BirthDate)
	p.InternalNote = pointerDiff(before.InternalNote, after.InternalNote)
	p.Unsubscribed = pointerDiff(before.Unsubscribed, after.Unsubscribed)
	var err error
	p.Gender, err = genderDiff(before.Gender, after.Gender)
	return p, err
}

// genderDiff is the change from b to a of the gender, each as the API
// writes it: unset when equal, null when a has none. It fails on a gender
// genderCode cannot read.
func genderDiff(b, a json.RawMessage) (crm.Nullable[string], error) {
	gb, err := genderCode(b)
	if err != nil {
		return crm.Nullable[string]{}, err
	}
	ga, err := genderCode(a)
	switch {
	case err != nil:
		return crm.Nullable[string]{}, err
	case ga == gb:
		return crm.Nullable[string]{}, nil
	case ga == "":
		return crm.Null[string](), nil
	}
	return crm.Some(ga), nil
}

// pointerDiff is the change from b to a of a nullable field: unset when
// equal, null when a is nil.
func pointerDiff[T comparable](b, a *T) crm.Nullable[T] {
	switch {
	case a == nil && b == nil, a != nil && b != nil && *a == *b:
		return crm.Nullable[T]{}
	case a == nil:
		return crm.Null[T]()
	}
	return crm.Some(*a)
}

// genderCode reads a gender as the simulator returns it ({"code":"F"}),
// or as a plain string; absent or null is "".
func genderCode(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	var g gender
	if err := json.Unmarshal(raw, &g.Code); err == nil {
		return g.Code, nil
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		return "", fmt.Errorf("%w: gender %s", ErrInvalid, raw)
	}
	return g.Code, nil
}
