package client

import (
	"encoding/json"
	"time"

	"github.com/gormic/crm-bridge/internal/streams"
)

// GetRequest returns the subject and body of the crm-bridge service's
// get of customer id (docs/queries.md); with fresh the bridge reads the
// CRM instead of the read model. Its reply is a Found.
func (c Config) GetRequest(id string, fresh bool) (subject string, body []byte) {
	if fresh {
		body = []byte(`{"fresh":true}`)
	}
	return c.Prefix + ".customer.get." + streams.EncodeToken(id), body
}

// FindRequest returns the subject and body of a find by phone digits, or
// by email when email is not empty. Its reply is a Page.
func (c Config) FindRequest(phone, email string) (subject string, body []byte) {
	q := map[string]string{"phone": phone}
	if email != "" {
		q = map[string]string{"email": email}
	}
	body, _ = json.Marshal(q)
	return c.Prefix + ".customer.find", body
}

// ListRequest returns the subject and body of a list of up to limit
// customers in id order, after the cursor after ("" for the first page).
// Its reply is a Page.
func (c Config) ListRequest(limit int, after string) (subject string, body []byte) {
	body, _ = json.Marshal(map[string]any{"limit": limit, "after": after})
	return c.Prefix + ".customer.list", body
}

// Found is the reply to a get: the customer's record, where it comes
// from ("model" or "crm") and as of when.
type Found struct {
	Customer json.RawMessage `json:"customer"`
	Source   string          `json:"source"`
	AsOf     time.Time       `json:"asOf"`
}

// Page is the reply to a find or a list; Next is the cursor of the next
// page of a list, "" when none follows.
type Page struct {
	Items []Customer `json:"items"`
	Next  string     `json:"next"`
}

// Customer is what a Page shows of a customer.
type Customer struct {
	ID                  string  `json:"id"`
	FirstName           string  `json:"firstName"`
	LastName            *string `json:"lastName"`
	Phone               string  `json:"phone"`
	PhoneCountryCalling string  `json:"phoneCountryCalling"`
	Email               string  `json:"email"`
	ArchivedAt          *string `json:"archivedAt"`
}
