package crm

import (
	"bytes"
	"encoding/json"
)

// Contact is what json.Unmarshal of a customer record into a struct of
// its phone and email members gives, and the error it returns, for the
// queries' index, which reads a million records at a first sync: one
// validation (json.Valid) and a walk of the record's top level instead of
// encoding/json's two scans and its decoding. Whatever the walk would
// have to guess (a member name with an escape or a non-ASCII byte, or
// spelled otherwise than "phone" or "email", a value of those members
// that is not a plain string or null, a record that is not an object) is
// left to json.Unmarshal itself.
func Contact(record []byte) (phone, email string, err error) {
	if json.Valid(record) {
		if phone, email, ok := walkContact(record); ok {
			return phone, email, nil
		}
	}
	var c struct {
		Phone string `json:"phone"`
		Email string `json:"email"`
	}
	err = json.Unmarshal(record, &c)
	return c.Phone, c.Email, err
}

// walkContact reads the phone and email members of valid JSON record.
func walkContact(record []byte) (phone, email string, ok bool) {
	w := walker{b: record}
	w.space()
	if w.i >= len(record) || record[w.i] != '{' {
		return "", "", false
	}
	ok = eachMember(&w, func(key []byte, v span) bool {
		val := record[v.start:v.end]
		switch string(key) {
		case "phone":
			return plainString(val, &phone)
		case "email":
			return plainString(val, &email)
		}
		return !foldsTo(key, "phone", "email")
	})
	return phone, email, ok
}

// plainString is setString for a value without an escape.
func plainString(val []byte, dst *string) bool {
	return bytes.IndexByte(val, '\\') < 0 && setString(val, dst)
}
