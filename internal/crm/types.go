package crm

import "encoding/json"

// Customer is a customer record as the CRM returns it (the spec's UserMap,
// also GetUser_Data_User). Nullable fields are pointers, nil when null or
// absent. Fields the spec does not name are ignored when decoding; Raw keeps
// the record exactly as received.
type Customer struct {
	ID                  string  `json:"id"`
	FirstName           string  `json:"firstName"`
	LastName            *string `json:"lastName,omitempty"`
	Email               string  `json:"email,omitempty"`
	Phone               string  `json:"phone"`
	PhoneCountry        string  `json:"phoneCountry"`
	PhoneCountryCalling string  `json:"phoneCountryCalling"`
	Number              string  `json:"number"`
	CityID              *string `json:"cityId,omitempty"`
	BirthDate           *string `json:"birthDate,omitempty"`
	// Gender is declared `type: object` in the CRM's responses although
	// requests send "F" or "M"; it is kept as the raw JSON received: nil
	// when absent, `null`, `"F"`, `{...}`, as the CRM sent it.
	Gender       json.RawMessage `json:"gender,omitempty"`
	Unsubscribed *bool           `json:"unsubscribed,omitempty"`
	InternalNote *string         `json:"internalNote,omitempty"`
	ArchivedAt   *string         `json:"archivedAt,omitempty"`
	ArchivedBy   *string         `json:"archivedBy,omitempty"`
	ArchivedVia  *string         `json:"archivedVia,omitempty"`
	CreatedAt    string          `json:"createdAt,omitempty"`
	CreatedVia   string          `json:"createdVia,omitempty"`
	CreatedBy    string          `json:"createdBy,omitempty"`
	UpdatedAt    string          `json:"updatedAt,omitempty"`
	UpdatedVia   string          `json:"updatedVia,omitempty"`
	UpdatedBy    string          `json:"updatedBy,omitempty"`

	// Raw is the record's JSON exactly as the CRM sent it, its own copy;
	// the Client sets it (Get, List, ExportPage, Export), and it is never
	// encoded or decoded by encoding/json.
	Raw json.RawMessage `json:"-"`
}

// CreateParams is the body of a create (the spec's CreateUser_Params).
// FirstName and Phone are required; the pointer fields are sent only when
// non-nil; the Nullable fields are sent only when Set, as null or a value.
type CreateParams struct {
	FirstName        string           `json:"firstName"`
	Phone            string           `json:"phone"`
	LastName         Nullable[string] `json:"lastName,omitzero"`
	Email            *string          `json:"email,omitempty"`
	PhoneCallingCode *string          `json:"phoneCallingCode,omitempty"`
	CityID           *string          `json:"cityId,omitempty"`
	BirthDate        *string          `json:"birthDate,omitempty"`
	Gender           *string          `json:"gender,omitempty"`
	Passcode         *string          `json:"passcode,omitempty"`
	Number           *string          `json:"number,omitempty"`
	Unsubscribed     *bool            `json:"unsubscribed,omitempty"`
	InternalNote     Nullable[string] `json:"internalNote,omitzero"`
}

// UpdateParams is the body of an update (the spec's UpdateUser_Params
// without id, which the client fills in from its argument). Only the fields
// that are set are sent: nil pointers and unset Nullables are left out, so
// the CRM leaves those fields alone. CityID and InternalNote may be sent as
// null to clear them.
type UpdateParams struct {
	FirstName    *string          `json:"firstName,omitempty"`
	LastName     *string          `json:"lastName,omitempty"`
	Email        *string          `json:"email,omitempty"`
	Phone        *string          `json:"phone,omitempty"`
	CityID       Nullable[string] `json:"cityId,omitzero"`
	BirthDate    *string          `json:"birthDate,omitempty"`
	Gender       *string          `json:"gender,omitempty"`
	Passcode     *string          `json:"passcode,omitempty"`
	Number       *string          `json:"number,omitempty"`
	Unsubscribed *bool            `json:"unsubscribed,omitempty"`
	InternalNote Nullable[string] `json:"internalNote,omitzero"`
}

// ListPage is one answer of the list operation.
type ListPage struct {
	Users []Customer `json:"users"`
	Next  string     `json:"next,omitempty"`
}

// ExportPage is one page of the export operation.
type ExportPage struct {
	Items []Customer `json:"items"`
	// Next is the offset of the following page; empty on the last page.
	Next string `json:"next,omitempty"`
}

// Warning is one entry of a response's warnings, kept as received.
type Warning = json.RawMessage

// Functional error codes that the CRM returns in a 400 answer's
// error.code (and NotFound, which the bridge also accepts with a 404).
const (
	CodeDuplicatePhone  = "DUPLICATE_PHONE"
	CodeNotFound        = "NotFound"
	CodeNoChanges       = "NoChanges"
	CodeCompactInactive = "COMPACT_INACTIVE"
	CodeMissingID       = "MISSING_ID"
	CodeNoCreateAction  = "NO_CREATE_ACTION"
)
