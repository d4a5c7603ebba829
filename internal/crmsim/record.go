package crmsim

import (
	"encoding/json"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
)

// record is one customer as the simulator stores it. Pointer fields are
// nullable; the strings they point to are never written through, only
// replaced, so a copy of a record shares them safely.
type record struct {
	id           string
	firstName    string
	lastName     *string
	email        *string
	phone        string
	phoneKey     string // normalised phone, see phoneKey
	calling      string // phoneCountryCalling; phoneCountry derives from it
	number       string
	cityID       *string
	birthDate    *string
	gender       string // "F", "M" or "" (none)
	unsubscribed *bool
	internalNote *string
	passcode     *string

	created, updated int64 // Unix nanoseconds, already truncated
	archivedAt       int64
	createdBy        string
	updatedBy        string
	archivedBy       string
	createdVia       via
	updatedVia       via
	archivedVia      via
	archived         bool
}

// userMap is a record on the wire (the spec's UserMap): nullable fields are
// sent as explicit nulls, email is left out when the customer has none.
type userMap struct {
	ID                  string  `json:"id"`
	FirstName           string  `json:"firstName"`
	LastName            *string `json:"lastName"`
	Email               *string `json:"email,omitempty"`
	Phone               string  `json:"phone"`
	PhoneCountry        string  `json:"phoneCountry"`
	PhoneCountryCalling string  `json:"phoneCountryCalling"`
	Number              string  `json:"number"`
	CityID              *string `json:"cityId"`
	BirthDate           *string `json:"birthDate"`
	Gender              *gender `json:"gender,omitempty"`
	Unsubscribed        *bool   `json:"unsubscribed"`
	InternalNote        *string `json:"internalNote"`
	ArchivedAt          *string `json:"archivedAt"`
	ArchivedBy          *string `json:"archivedBy"`
	ArchivedVia         *string `json:"archivedVia"`
	CreatedAt           string  `json:"createdAt"`
	CreatedVia          string  `json:"createdVia"`
	CreatedBy           string  `json:"createdBy"`
	UpdatedAt           string  `json:"updatedAt"`
	UpdatedVia          string  `json:"updatedVia"`
	UpdatedBy           string  `json:"updatedBy"`
}

// gender is how the simulator returns a customer's gender: the spec
// declares it `type: object` in responses, so the code sent ("F" or "M")
// is wrapped as {"code": "F"}.
type gender struct {
	Code string `json:"code"`
}

// wire returns r as it is sent.
func (r *record) wire() userMap {
	u := userMap{
		ID:                  r.id,
		FirstName:           r.firstName,
		LastName:            r.lastName,
		Email:               r.email,
		Phone:               r.phone,
		PhoneCountry:        countryOf(r.calling),
		PhoneCountryCalling: r.calling,
		Number:              r.number,
		CityID:              r.cityID,
		BirthDate:           r.birthDate,
		Unsubscribed:        r.unsubscribed,
		InternalNote:        r.internalNote,
		CreatedAt:           formatTime(r.created),
		CreatedVia:          r.createdVia.String(),
		CreatedBy:           r.createdBy,
		UpdatedAt:           formatTime(r.updated),
		UpdatedVia:          r.updatedVia.String(),
		UpdatedBy:           r.updatedBy,
	}
	if r.gender != "" {
		u.Gender = &gender{Code: r.gender}
	}
	if r.archived {
		at, by, via := formatTime(r.archivedAt), r.archivedBy, r.archivedVia.String()
		u.ArchivedAt, u.ArchivedBy, u.ArchivedVia = &at, &by, &via
	}
	return u
}

// customer returns u decoded as a client would decode it, Raw included.
func (u userMap) customer() crm.Customer {
	raw, err := json.Marshal(u)
	if err != nil {
		panic("crmsim: encode customer: " + err.Error()) // plain data: cannot fail
	}
	var c crm.Customer
	if err := json.Unmarshal(raw, &c); err != nil {
		panic("crmsim: decode customer: " + err.Error())
	}
	c.Raw = raw
	return c
}

// formatTime renders Unix nanoseconds as RFC 3339 in UTC, with as many
// fractional digits as needed (none at a whole second).
func formatTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}
