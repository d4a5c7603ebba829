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
// in one walk of its members, each value checked as jsonscan.Valid checks
// it; any other through json.Unmarshal. The watch reads every record the
// model stores: json.Unmarshal was most of the index's cost, and a check
// of the whole record before a walk of it a tenth of a bridge's CPU in
// the seconds after its start.
func readContact(record []byte) (contact, error) {
	var c contact
	i := jsonscan.Space(record, 0)
	if i == len(record) || record[i] != '{' {
		return unmarshalContact(record)
	}
	i = jsonscan.Space(record, i+1)
	if i < len(record) && record[i] == '}' {
		i++
	} else {
		for {
			// A member's name starts at record[i].
			if i == len(record) || record[i] != '"' {
				return unmarshalContact(record)
			}
			nameEnd := jsonscan.ValidValue(record, i, 1)
			if nameEnd < 0 || bytes.IndexByte(record[i+1:nameEnd-1], '\\') >= 0 {
				return unmarshalContact(record)
			}
			name := record[i+1 : nameEnd-1]
			if i = jsonscan.Space(record, nameEnd); i == len(record) || record[i] != ':' {
				return unmarshalContact(record)
			}
			start := jsonscan.Space(record, i+1)
			end := jsonscan.ValidValue(record, start, 1)
			if end < 0 {
				return unmarshalContact(record)
			}
			// No name with a byte beyond ASCII folds to "phone" or "email"
			// in encoding/json's matching: only K and ſ fold to ASCII, to
			// k and s.
			var dst *string
			switch {
			case bytes.EqualFold(name, []byte("phone")):
				dst = &c.Phone
			case bytes.EqualFold(name, []byte("email")):
				dst = &c.Email
			}
			if dst != nil && !jsonscan.SetString(record[start:end], dst) {
				return unmarshalContact(record)
			}
			i = jsonscan.Space(record, end)
			if i < len(record) && record[i] == ',' {
				i = jsonscan.Space(record, i+1)
				continue
			}
			if i < len(record) && record[i] == '}' {
				i++
				break
			}
			return unmarshalContact(record)
		}
	}
	if jsonscan.Space(record, i) != len(record) {
		return unmarshalContact(record)
	}
	return c, nil
}

func unmarshalContact(record []byte) (contact, error) {
	var c contact
	err := json.Unmarshal(record, &c)
	return c, err
}
