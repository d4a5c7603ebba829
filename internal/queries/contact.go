package queries

import (
	"bytes"
	"encoding/json"

	"github.com/gormic/crm-bridge/internal/jsonscan"
)

// contact is what the Index takes from a record.
type contact struct {
	Phone string `json:"phone"`
	Email string `json:"email"`
}

// readContact returns what json.Unmarshal makes of record into a contact,
// and its error. A plain record (an object whose member names hold no
// escape, whose phone and email are strings or null) is checked and read
// in one walk (jsonscan.ValidMembers); any other through json.Unmarshal.
// The watch reads every record the model stores: json.Unmarshal was most
// of the index's cost, and a check of the whole record before a walk of
// it a tenth of a bridge's CPU in the seconds after its start.
func readContact(record []byte) (contact, error) {
	var c contact
	i := jsonscan.Space(record, 0)
	if i == len(record) || record[i] != '{' {
		return unmarshalContact(record)
	}
	plain := true
	end := jsonscan.ValidMembers(record, i, 0, func(m jsonscan.Member) {
		if m.Escaped {
			plain = false
			return
		}
		// No name with a byte beyond ASCII folds to "phone" or "email" in
		// encoding/json's matching: only K and ſ fold to ASCII, to k and s.
		var dst *string
		switch name := record[m.Name+1 : m.NameEnd-1]; {
		case bytes.EqualFold(name, []byte("phone")):
			dst = &c.Phone
		case bytes.EqualFold(name, []byte("email")):
			dst = &c.Email
		default:
			return
		}
		if !jsonscan.SetString(record[m.Value:m.End], dst) {
			plain = false
		}
	})
	if !plain || end < 0 || jsonscan.Space(record, end) != len(record) {
		return unmarshalContact(record)
	}
	return c, nil
}

func unmarshalContact(record []byte) (contact, error) {
	var c contact
	err := json.Unmarshal(record, &c)
	return c, err
}
