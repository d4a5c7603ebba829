package crm

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/gormic/crm-bridge/internal/jsonscan"
)

// An export page is most of what a first start costs the bridge to read:
// encoding/json's decode into the structs, then recordSpans's walk for
// each record's Raw, two passes over every byte. decodeExportPage does
// it in one walk after one validation (jsonscan.Valid), and gives exactly
// what decodeStructs gives, or hands the body to decodeStructs: a body that is not
// valid JSON, and any member or value whose meaning to encoding/json the
// walk would have to guess (a name with an escape or a non-ASCII byte, a
// known name spelled otherwise, a duplicated envelope or data member, a
// value of another type than the field's). BenchmarkDecodeExportPage
// measures it.

// decodeExportPage decodes an export answer's body as decodeStructs does.
func decodeExportPage(body []byte) (envelope[ExportPage], error) {
	if !jsonscan.Valid(body) {
		return decodeStructs[ExportPage](body)
	}
	env, spans, ok := walkExport(body)
	if !ok {
		return decodeStructs[ExportPage](body)
	}
	if env.Data == nil {
		return env, errors.New("no data")
	}
	if err := env.Data.check(); err != nil {
		return env, err
	}
	return env, env.Data.setRecords(body, spans)
}

// envelopeMembers and exportDataMembers give each member an export
// answer's walk knows its bit, to find one named twice.
var (
	envelopeMembers   = map[string]int{"requestId": 1, "warnings": 2, "data": 4}
	exportDataMembers = map[string]int{"items": 1, "next": 2}
)

// walkExport reads valid JSON body as an export answer, and the spans of
// its records; ok is false where decodeStructs must decide.
func walkExport(body []byte) (env envelope[ExportPage], spans []span, ok bool) {
	i := jsonscan.Space(body, 0)
	if i >= len(body) || body[i] != '{' {
		return env, nil, false
	}
	seen := 0
	ok = eachMember(body, i, func(key []byte, v span) bool {
		bit, known := envelopeMembers[string(key)]
		switch {
		case !known:
			return !foldsTo(key, "requestId", "warnings", "data")
		case seen&bit != 0:
			return false
		}
		seen |= bit
		switch string(key) {
		case "requestId":
			return jsonscan.SetString(body[v.start:v.end], &env.RequestID)
		case "warnings":
			env.Warnings = append(json.RawMessage(nil), body[v.start:v.end]...)
			return true
		}
		if body[v.start] == 'n' {
			env.Data = nil
			return true
		}
		env.Data = new(ExportPage)
		spans = nil
		return walkExportData(body, v, env.Data, &spans)
	})
	return env, spans, ok
}

// walkExportData reads data, the span v of body, into p, and the spans
// of its records into spans.
func walkExportData(body []byte, v span, p *ExportPage, spans *[]span) bool {
	if body[v.start] != '{' {
		return false
	}
	seen := 0
	return eachMember(body, v.start, func(key []byte, v span) bool {
		bit, known := exportDataMembers[string(key)]
		switch {
		case !known:
			return !foldsTo(key, "items", "next")
		case seen&bit != 0:
			return false
		}
		seen |= bit
		if string(key) == "next" {
			return jsonscan.SetString(body[v.start:v.end], &p.Next)
		}
		switch body[v.start] {
		case 'n':
			p.Items = nil
			return true
		case '[':
		default:
			return false
		}
		es := jsonscan.Array(body, v.start)
		for start, end, ok := es.Next(); ok; start, end, ok = es.Next() {
			*spans = append(*spans, span{start, end})
		}
		p.Items = make([]Customer, len(*spans))
		for i, s := range *spans {
			if !walkCustomer(body, s, &p.Items[i]) {
				return false
			}
		}
		return true
	})
}

// customerNames are every member name Customer decodes, lower-cased.
var customerNames = map[string]bool{
	"id": true, "firstname": true, "lastname": true, "email": true, "phone": true,
	"phonecountry": true, "phonecountrycalling": true, "number": true, "cityid": true,
	"birthdate": true, "gender": true, "unsubscribed": true, "internalnote": true,
	"archivedat": true, "archivedby": true, "archivedvia": true, "createdat": true,
	"createdvia": true, "createdby": true, "updatedat": true, "updatedvia": true, "updatedby": true,
}

// customerString returns c's string field named key, and its *string
// field named key; neither for other names.
func customerString(c *Customer, key []byte) (*string, **string) {
	switch string(key) {
	case "id":
		return &c.ID, nil
	case "firstName":
		return &c.FirstName, nil
	case "email":
		return &c.Email, nil
	case "phone":
		return &c.Phone, nil
	case "phoneCountry":
		return &c.PhoneCountry, nil
	case "phoneCountryCalling":
		return &c.PhoneCountryCalling, nil
	case "number":
		return &c.Number, nil
	case "createdAt":
		return &c.CreatedAt, nil
	case "createdVia":
		return &c.CreatedVia, nil
	case "createdBy":
		return &c.CreatedBy, nil
	case "updatedAt":
		return &c.UpdatedAt, nil
	case "updatedVia":
		return &c.UpdatedVia, nil
	case "updatedBy":
		return &c.UpdatedBy, nil
	case "lastName":
		return nil, &c.LastName
	case "cityId":
		return nil, &c.CityID
	case "birthDate":
		return nil, &c.BirthDate
	case "internalNote":
		return nil, &c.InternalNote
	case "archivedAt":
		return nil, &c.ArchivedAt
	case "archivedBy":
		return nil, &c.ArchivedBy
	case "archivedVia":
		return nil, &c.ArchivedVia
	}
	return nil, nil
}

// walkCustomer reads the record at span s of body into c: an object, or
// null (the zero Customer).
func walkCustomer(body []byte, s span, c *Customer) bool {
	if body[s.start] == 'n' {
		return true
	}
	if body[s.start] != '{' {
		return false
	}
	return eachMember(body, s.start, func(key []byte, v span) bool {
		val := body[v.start:v.end]
		str, ptr := customerString(c, key)
		switch {
		case str != nil:
			return jsonscan.SetString(val, str)
		case ptr != nil && val[0] == 'n':
			*ptr = nil
			return true
		case ptr != nil:
			s := new(string)
			*ptr = s
			return jsonscan.SetString(val, s)
		}
		switch string(key) {
		case "gender":
			c.Gender = append(json.RawMessage(nil), val...)
			return true
		case "unsubscribed":
			switch val[0] {
			case 'n':
				c.Unsubscribed = nil
			case 't', 'f':
				b := val[0] == 't'
				c.Unsubscribed = &b
			default:
				return false
			}
			return true
		}
		// A member Customer does not decode, unless encoding/json would
		// match it to one case-insensitively.
		return !customerNames[string(bytes.ToLower(key))]
	})
}

// eachMember calls f with each member of the object at b[i] in valid
// JSON, in order, until f returns false; it returns false then, and for a
// member name that holds an escape or a non-ASCII byte.
func eachMember(b []byte, i int, f func(key []byte, v span) bool) bool {
	ms := jsonscan.Object(b, i)
	for m, ok := ms.Next(); ok; m, ok = ms.Next() {
		raw := b[m.Name+1 : m.NameEnd-1]
		if m.Escaped || !ascii(raw) {
			return false
		}
		if !f(raw, span{m.Value, m.End}) {
			return false
		}
	}
	return true
}

// foldsTo reports whether key is one of names spelled otherwise (as
// encoding/json would match it).
func foldsTo(key []byte, names ...string) bool {
	for _, n := range names {
		if bytes.EqualFold(key, []byte(n)) {
			return true
		}
	}
	return false
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
