package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/internal/term"
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

// Text returns f for a person, ending in a newline: where the record of
// customer id comes from and as of when (local time), then the record,
// indented. It fails when the record is not JSON.
func (f Found) Text(id string) (string, error) {
	var rec bytes.Buffer
	if err := json.Indent(&rec, f.Customer, "", "  "); err != nil {
		return "", fmt.Errorf("unreadable record: %w", err)
	}
	from := "the read model"
	if f.Source == "crm" {
		from = "the CRM"
	}
	return fmt.Sprintf("customer %s from %s as of %s\n%s\n", term.Clean(id), from, f.AsOf.Local().Format(time.DateTime), rec.Bytes()), nil
}

// FoundText returns a get's reply for a person: its Found's Text for
// customer id. It fails, "unreadable reply: ..." or "unreadable record:
// ...", when the reply is not a Found or its record is not JSON.
func FoundText(reply []byte, id string) (string, error) {
	var f Found
	if err := json.Unmarshal(reply, &f); err != nil {
		return "", fmt.Errorf("unreadable reply: %w", err)
	}
	return f.Text(id)
}

// ReadPage returns the Page of a find's or a list's reply. It fails,
// "unreadable reply: ...", when the reply is not one.
func ReadPage(reply []byte) (Page, error) {
	var p Page
	if err := json.Unmarshal(reply, &p); err != nil {
		return p, fmt.Errorf("unreadable reply: %w", err)
	}
	return p, nil
}

// Page is the reply to a find or a list; Next is the cursor of the next
// page of a list, "" when none follows.
type Page struct {
	Items []Customer `json:"items"`
	Next  string     `json:"next"`
}

// Text returns p's items for a person, a Line each, each ending in a
// newline.
func (p Page) Text() string {
	var b strings.Builder
	for _, c := range p.Items {
		b.WriteString(c.Line() + "\n")
	}
	return b.String()
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

// Line returns c on one line for a person, made safe to print
// (term.Clean): id, name, phone (with its country calling code), email,
// and "(archived)" when it is.
func (c Customer) Line() string {
	name := c.FirstName
	if c.LastName != nil && *c.LastName != "" {
		name += " " + *c.LastName
	}
	phone := c.Phone
	if c.PhoneCountryCalling != "" {
		phone = "+" + c.PhoneCountryCalling + " " + phone
	}
	line := strings.Join([]string{c.ID, name, phone, c.Email}, "  ")
	if c.ArchivedAt != nil {
		line += "  (archived)"
	}
	return term.Clean(strings.TrimRight(line, " "))
}
