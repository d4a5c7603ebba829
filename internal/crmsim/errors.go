package crmsim

import "errors"

// Errors returned by the out-of-band methods (CreateCustomer,
// UpdateCustomer, Touch, Archive, Delete), matched with errors.Is. Over
// HTTP the same conditions become the CRM's functional error codes.
var (
	// ErrNotFound: no customer has the id (HTTP: NotFound).
	ErrNotFound = errors.New("crmsim: customer not found")
	// ErrDuplicatePhone: another live customer has the same phone
	// (HTTP: DUPLICATE_PHONE).
	ErrDuplicatePhone = errors.New("crmsim: duplicate phone")
	// ErrNoChanges: an update would change nothing (HTTP: NoChanges).
	ErrNoChanges = errors.New("crmsim: no changes")
	// ErrInvalid: a value the CRM refuses, e.g. a phone with no digit
	// (HTTP: 400 BAD_REQUEST).
	ErrInvalid = errors.New("crmsim: invalid value")
	// ErrMissingID: a blank customer id (HTTP: MISSING_ID).
	ErrMissingID = errors.New("crmsim: missing id")
)
