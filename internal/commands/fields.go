// This file holds the table of body fields, what each op allows, and
// decoded, the state of one body being decoded, with the CRM params built
// from it.

package commands

import "github.com/gormic/crm-bridge/internal/crm"

// bodyField numbers the names of CreateUser_Params and UpdateUser_Params.
type bodyField uint8

const (
	fieldFirstName bodyField = iota
	fieldLastName
	fieldEmail
	fieldPhone
	fieldPhoneCallingCode
	fieldCityID
	fieldBirthDate
	fieldGender
	fieldPasscode
	fieldNumber
	fieldUnsubscribed
	fieldInternalNote
	fieldID
	numFields
)

func bit(f bodyField) uint16 { return 1 << f }

// lookupField returns the id of a field name; ok is false for a name that
// is no field of either op.
func lookupField(name string) (f bodyField, ok bool) {
	switch name {
	case "firstName":
		return fieldFirstName, true
	case "lastName":
		return fieldLastName, true
	case "email":
		return fieldEmail, true
	case "phone":
		return fieldPhone, true
	case "phoneCallingCode":
		return fieldPhoneCallingCode, true
	case "cityId":
		return fieldCityID, true
	case "birthDate":
		return fieldBirthDate, true
	case "gender":
		return fieldGender, true
	case "passcode":
		return fieldPasscode, true
	case "number":
		return fieldNumber, true
	case "unsubscribed":
		return fieldUnsubscribed, true
	case "internalNote":
		return fieldInternalNote, true
	case "id":
		return fieldID, true
	}
	return 0, false
}

// opSpec is what an op's body may hold, as the CRM's schema says.
type opSpec struct {
	allowed  uint16 // fields of the op
	nullable uint16 // fields that may be null
}

var (
	allFields  = uint16(1)<<numFields - 1
	createSpec = opSpec{
		allowed:  allFields &^ bit(fieldID),
		nullable: bit(fieldLastName) | bit(fieldInternalNote),
	}
	updateSpec = opSpec{
		allowed:  allFields &^ bit(fieldPhoneCallingCode),
		nullable: bit(fieldCityID) | bit(fieldInternalNote),
	}
)

// decoded is one body being decoded: the values seen, then the problems.
type decoded struct {
	spec       *opSpec
	op         string
	customerID string
	src        string // the body, one copy shared by all the strings below

	seen    uint16 // names met, to find duplicates
	dup     uint16 // names met more than once
	present uint16 // fields holding a value
	null    uint16 // fields holding null
	bad     uint16 // fields with a problem already
	str     [numFields]string
	unsub   bool

	problems []problem    // problems with the op's fields
	unknown  unknownNames // names that are no field of the op
}

func (d *decoded) add(f bodyField, rule, detail string) {
	d.bad |= bit(f)
	d.problems = append(d.problems, problem{field: fieldNames[f], rule: rule, detail: detail})
}

var fieldNames = [numFields]string{
	fieldFirstName:        "firstName",
	fieldLastName:         "lastName",
	fieldEmail:            "email",
	fieldPhone:            "phone",
	fieldPhoneCallingCode: "phoneCallingCode",
	fieldCityID:           "cityId",
	fieldBirthDate:        "birthDate",
	fieldGender:           "gender",
	fieldPasscode:         "passcode",
	fieldNumber:           "number",
	fieldUnsubscribed:     "unsubscribed",
	fieldInternalNote:     "internalNote",
	fieldID:               "id",
}

// ptr returns a pointer to field f's value, nil unless it holds one (and
// has no problem).
func (d *decoded) ptr(f bodyField) *string {
	if d.present&bit(f) == 0 || d.bad&bit(f) != 0 {
		return nil
	}
	return &d.str[f]
}

// value returns field f's value, "" unless it holds one (and has no
// problem).
func (d *decoded) value(f bodyField) string {
	if p := d.ptr(f); p != nil {
		return *p
	}
	return ""
}

func (d *decoded) nullable(f bodyField) crm.Nullable[string] {
	switch {
	case d.present&bit(f) != 0:
		return crm.Some(d.str[f])
	case d.null&bit(f) != 0:
		return crm.Null[string]()
	}
	return crm.Nullable[string]{}
}

func (d *decoded) unsubscribed() *bool {
	if d.present&bit(fieldUnsubscribed) == 0 {
		return nil
	}
	return &d.unsub
}

func (d *decoded) createParams() crm.CreateParams {
	return crm.CreateParams{
		FirstName:        d.str[fieldFirstName],
		Phone:            d.str[fieldPhone],
		LastName:         d.nullable(fieldLastName),
		Email:            d.ptr(fieldEmail),
		PhoneCallingCode: d.ptr(fieldPhoneCallingCode),
		CityID:           d.ptr(fieldCityID),
		BirthDate:        d.ptr(fieldBirthDate),
		Gender:           d.ptr(fieldGender),
		Passcode:         d.ptr(fieldPasscode),
		Number:           d.ptr(fieldNumber),
		Unsubscribed:     d.unsubscribed(),
		InternalNote:     d.nullable(fieldInternalNote),
	}
}

func (d *decoded) updateParams() crm.UpdateParams {
	return crm.UpdateParams{
		FirstName:    d.ptr(fieldFirstName),
		LastName:     d.ptr(fieldLastName),
		Email:        d.ptr(fieldEmail),
		Phone:        d.ptr(fieldPhone),
		CityID:       d.nullable(fieldCityID),
		BirthDate:    d.ptr(fieldBirthDate),
		Gender:       d.ptr(fieldGender),
		Passcode:     d.ptr(fieldPasscode),
		Number:       d.ptr(fieldNumber),
		Unsubscribed: d.unsubscribed(),
		InternalNote: d.nullable(fieldInternalNote),
	}
}

func mustLookup(name string) bodyField {
	f, _ := lookupField(name)
	return f
}
