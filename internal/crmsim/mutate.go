package crmsim

import (
	"fmt"

	"github.com/gormic/crm-bridge/internal/crm"
)

// patch is the set of fields an update changes (the spec's
// UpdateUser_Params without id): a field not Set is left alone, a Set field
// that is not Valid is cleared.
type patch struct {
	FirstName    crm.Nullable[string] `json:"firstName,omitzero"`
	LastName     crm.Nullable[string] `json:"lastName,omitzero"`
	Email        crm.Nullable[string] `json:"email,omitzero"`
	Phone        crm.Nullable[string] `json:"phone,omitzero"`
	CityID       crm.Nullable[string] `json:"cityId,omitzero"`
	BirthDate    crm.Nullable[string] `json:"birthDate,omitzero"`
	Gender       crm.Nullable[string] `json:"gender,omitzero"`
	Passcode     crm.Nullable[string] `json:"passcode,omitzero"`
	Number       crm.Nullable[string] `json:"number,omitzero"`
	Unsubscribed crm.Nullable[bool]   `json:"unsubscribed,omitzero"`
	InternalNote crm.Nullable[string] `json:"internalNote,omitzero"`
}

// create adds a customer made from p at now.
func (st *store) create(now int64, a actor, p crm.CreateParams) (*record, error) {
	calling := phoneCalling(p.PhoneCallingCode, p.Phone, "")
	key := phoneKey(p.Phone, calling)
	if key == "" {
		return nil, fmt.Errorf("%w: phone %q has no digit", ErrInvalid, p.Phone)
	}
	if st.phoneTaken(key, "") {
		return nil, fmt.Errorf("%w: %q", ErrDuplicatePhone, p.Phone)
	}
	r := newRecord(st.newID(), key, calling, p, now, a)
	if p.Gender != nil {
		if err := checkGender(*p.Gender); err != nil {
			return nil, err
		}
		r.gender = *p.Gender
	}
	if p.Number != nil {
		r.number = *p.Number
	} else {
		r.number = st.nextNumber()
	}
	stamp(r, now, a)
	st.insert(r)
	st.logChange(ChangeCreate, r.id, now, a)
	return r, nil
}

// newRecord returns the customer p describes, with the given id, phone key
// and calling code, created by a at now. Its gender and number are
// create's to set.
func newRecord(id, key, calling string, p crm.CreateParams, now int64, a actor) *record {
	return &record{
		id:           id,
		firstName:    p.FirstName,
		lastName:     nullable(p.LastName),
		email:        p.Email,
		phone:        p.Phone,
		phoneKey:     key,
		calling:      calling,
		cityID:       p.CityID,
		birthDate:    p.BirthDate,
		unsubscribed: p.Unsubscribed,
		internalNote: nullable(p.InternalNote),
		passcode:     p.Passcode,
		created:      now,
		createdBy:    a.by,
		createdVia:   a.via,
	}
}

// update applies p to the customer id at now. It returns ErrNotFound,
// ErrNoChanges, ErrDuplicatePhone or ErrInvalid, changing nothing then.
func (st *store) update(now int64, a actor, id string, p patch) (*record, error) {
	r := st.byID[id]
	if r == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	next, changed, err := st.applyPatch(r, p)
	if err != nil {
		return nil, err
	}
	if !changed {
		return nil, fmt.Errorf("%w: %s", ErrNoChanges, id)
	}
	stamp(&next, now, a)
	st.replace(r, next)
	st.logChange(ChangeUpdate, id, now, a)
	return r, nil
}

// applyPatch returns r with p applied and whether anything differs.
func (st *store) applyPatch(r *record, p patch) (next record, changed bool, err error) {
	next = *r
	required, err := patchRequired(&next, p)
	if err != nil {
		return next, false, err
	}
	optional := patchOptional(&next, p)
	gender, err := patchGender(&next, p.Gender)
	if err != nil {
		return next, false, err
	}
	if next.phone != r.phone {
		if err := st.rephone(&next, r); err != nil {
			return next, false, err
		}
	}
	return next, required || optional || gender, nil
}

// patchRequired applies p to next's fields that cannot be null (first
// name, phone, number) and reports a change; p clearing one is ErrInvalid.
func patchRequired(next *record, p patch) (changed bool, err error) {
	for _, f := range []struct {
		name string
		cur  *string
		n    crm.Nullable[string]
	}{{"firstName", &next.firstName, p.FirstName}, {"phone", &next.phone, p.Phone}, {"number", &next.number, p.Number}} {
		if !f.n.Set {
			continue
		}
		if !f.n.Valid {
			return false, fmt.Errorf("%w: %s cannot be null", ErrInvalid, f.name)
		}
		if *f.cur != f.n.Value {
			*f.cur, changed = f.n.Value, true
		}
	}
	return changed, nil
}

// patchOptional applies p to next's nullable fields and reports a change.
func patchOptional(next *record, p patch) (changed bool) {
	for _, f := range []struct {
		cur **string
		n   crm.Nullable[string]
	}{{&next.lastName, p.LastName}, {&next.email, p.Email}, {&next.cityID, p.CityID}, {&next.birthDate, p.BirthDate},
		{&next.passcode, p.Passcode}, {&next.internalNote, p.InternalNote}} {
		changed = patchPointer(f.cur, f.n) || changed
	}
	return patchPointer(&next.unsubscribed, p.Unsubscribed) || changed
}

// patchGender applies g to next's gender and reports a change; a gender
// other than F or M is ErrInvalid.
func patchGender(next *record, g crm.Nullable[string]) (changed bool, err error) {
	if !g.Set {
		return false, nil
	}
	if g.Valid {
		if err := checkGender(g.Value); err != nil {
			return false, err
		}
	}
	if next.gender != g.Value {
		next.gender, changed = g.Value, true
	}
	return changed, nil
}

// rephone sets next's calling code and phone key for its new phone, r
// being the customer before the patch. It fails with ErrInvalid when the
// phone has no digit, or ErrDuplicatePhone when another customer has it
// (unless this one is archived).
func (st *store) rephone(next, r *record) error {
	next.calling = phoneCalling(nil, next.phone, r.calling)
	next.phoneKey = phoneKey(next.phone, next.calling)
	if next.phoneKey == "" {
		return fmt.Errorf("%w: phone %q has no digit", ErrInvalid, next.phone)
	}
	if !next.archived && st.phoneTaken(next.phoneKey, r.id) {
		return fmt.Errorf("%w: %q", ErrDuplicatePhone, next.phone)
	}
	return nil
}

// patchPointer applies n to the nullable field *cur and reports a change.
func patchPointer[T comparable](cur **T, n crm.Nullable[T]) bool {
	switch {
	case !n.Set:
		return false
	case !n.Valid:
		if *cur == nil {
			return false
		}
		*cur = nil
		return true
	case *cur != nil && **cur == n.Value:
		return false
	}
	v := n.Value
	*cur = &v
	return true
}

// touch bumps the customer's updatedAt and nothing else.
func (st *store) touch(now int64, a actor, id string) (*record, error) {
	r := st.byID[id]
	if r == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	next := *r
	stamp(&next, now, a)
	st.replace(r, next)
	st.logChange(ChangeTouch, id, now, a)
	return r, nil
}

// archive marks the customer archived; one already archived is left as it
// is (and not logged).
func (st *store) archive(now int64, a actor, id string) (*record, error) {
	r := st.byID[id]
	if r == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if r.archived {
		return r, nil
	}
	next := *r
	next.archived, next.archivedAt, next.archivedBy, next.archivedVia = true, now, a.by, a.via
	stamp(&next, now, a)
	st.replace(r, next)
	st.logChange(ChangeArchive, id, now, a)
	return r, nil
}

// delete removes the customer.
func (st *store) delete(now int64, a actor, id string) error {
	r := st.byID[id]
	if r == nil {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	st.remove(r)
	st.logChange(ChangeDelete, id, now, a)
	return nil
}

func checkGender(g string) error {
	if g != "F" && g != "M" {
		return fmt.Errorf("%w: gender %q: want F or M", ErrInvalid, g)
	}
	return nil
}

// nullable returns n's value as a pointer, nil when absent or null.
func nullable[T any](n crm.Nullable[T]) *T {
	if !n.Valid {
		return nil
	}
	v := n.Value
	return &v
}
