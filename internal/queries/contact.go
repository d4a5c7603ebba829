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
// escape, whose phone and email are strings or null) is read in one walk
// after a check that it is valid JSON; any other through json.Unmarshal.
// The watch reads every record the model stores, and json.Unmarshal was
// most of the index's cost.
func readContact(record []byte) (contact, error) {
	var c contact
	if !jsonscan.Valid(record) {
		return unmarshalContact(record)
	}
	i := jsonscan.Space(record, 0)
	if record[i] != '{' {
		return unmarshalContact(record)
	}
	ms := jsonscan.Object(record, i)
	for m, ok := ms.Next(); ok; m, ok = ms.Next() {
		if m.Escaped {
			return unmarshalContact(record)
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
			continue
		}
		if !jsonscan.SetString(record[m.Value:m.End], dst) {
			return unmarshalContact(record)
		}
	}
	return c, nil
}

func unmarshalContact(record []byte) (contact, error) {
	var c contact
	err := json.Unmarshal(record, &c)
	return c, err
}
