package crm

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// customersPath is the collection; a customer is customersPath + "/" +
// escapeID(id).
const customersPath = "/v1/crm/customers"

// Create creates a customer (POST /v1/crm/customers) and returns its id.
// A refused create is an *Error matching ErrDuplicatePhone (or another
// functional sentinel); see Error and Classify for the rest.
func (c *Client) Create(ctx context.Context, p CreateParams) (string, error) {
	d, err := send[createData](ctx, c, call{
		op: "create", method: http.MethodPost, path: customersPath, body: p,
	})
	if err != nil {
		return "", err
	}
	return d.ID, nil
}

// Get returns one customer (GET /v1/crm/customers/{id}), Raw included. A
// missing customer is an *Error matching ErrNotFound. An empty id fails
// with ErrMissingID without a request.
//
// The document also routes GET /v1/crm/customers/export to the export, so
// a customer whose id is "export" cannot be read: the answer fails with
// ErrBadResponse.
func (c *Client) Get(ctx context.Context, id string) (Customer, error) {
	if err := checkID("get", id); err != nil {
		return Customer{}, err
	}
	d, err := send[getData](ctx, c, call{
		op: "get", id: id, method: http.MethodGet, path: customerPath(id),
	})
	if err != nil {
		return Customer{}, err
	}
	return *d.User, nil
}

// updateParams is UpdateUser_Params: the id, then only the fields of
// UpdateParams that are set.
type updateParams struct {
	ID string `json:"id"`
	UpdateParams
}

// Update changes a customer (PATCH /v1/crm/customers/{id}) with body
// {"params":{"id":id, ...only the fields set in p}}. An update that changes
// nothing is an *Error matching ErrNoChanges; a missing customer one
// matching ErrNotFound (as the CRM may answer 400 NotFound or 404). An
// empty id fails with ErrMissingID without a request. An UpdateParams with
// no field set is sent as it is.
func (c *Client) Update(ctx context.Context, id string, p UpdateParams) error {
	if err := checkID("update", id); err != nil {
		return err
	}
	_, err := send[doneData](ctx, c, call{
		op: "update", id: id, method: http.MethodPatch, path: customerPath(id),
		body: updateParams{ID: id, UpdateParams: p},
	})
	return err
}

// Delete deletes a customer (DELETE /v1/crm/customers/{id}). A customer
// already gone is an *Error matching ErrNotFound; whether that is a success
// is the caller's call. An empty id fails with ErrMissingID without a
// request.
func (c *Client) Delete(ctx context.Context, id string) error {
	if err := checkID("delete", id); err != nil {
		return err
	}
	_, err := send[doneData](ctx, c, call{
		op: "delete", id: id, method: http.MethodDelete, path: customerPath(id),
	})
	return err
}

// List returns the CRM's answer to GET /v1/crm/customers, Raw included for
// each customer. The document gives the list no paging parameter, so Next
// is returned as received and cannot be followed; use Export to read every
// customer.
func (c *Client) List(ctx context.Context) (ListPage, error) {
	d, err := send[ListPage](ctx, c, call{op: "list", method: http.MethodGet, path: customersPath})
	if err != nil {
		return ListPage{}, err
	}
	return *d, nil
}

// checkID refuses an empty customer id, as the CRM would (MISSING_ID),
// rather than sending a request to the collection's path.
func checkID(op, id string) error {
	if id == "" {
		return &Error{Op: op, Code: CodeMissingID, Message: "empty customer id"}
	}
	return nil
}

// customerPath returns the escaped path of one customer. The id is one
// path segment whatever it holds: "/" "?" "#" "%" are escaped by
// url.PathEscape, and the dot segments "." and "..", which a server or
// proxy would resolve, are written %2E and %2E%2E.
func customerPath(id string) string {
	switch id {
	case ".":
		return customersPath + "/%2E"
	case "..":
		return customersPath + "/%2E%2E"
	}
	return customersPath + "/" + url.PathEscape(id)
}

// PhoneDigits returns the digits of a phone number, the part of it that
// identifies a customer: what the bridge compares when it looks a phone up
// (a create's duplicate lookup, the queries' find).
func PhoneDigits(phone string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, phone)
}
