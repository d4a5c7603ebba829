package commands

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/streams"
)

// MaxBodyBytes is the largest command body Decode accepts (64 KiB). A larger
// body is rejected before any of it is parsed.
const MaxBodyBytes = 64 << 10

// maxFieldErrors is how many FieldErrors a ValidationError lists at most;
// the rest are summed up in one last entry with rule "too_many".
const maxFieldErrors = 20

// Command is a command whose body has been decoded and validated.
type Command struct {
	// Op is "create", "update" or "delete".
	Op string
	// CustomerID is the decoded customer id from the subject, for update
	// and delete; empty for create.
	CustomerID string
	// Create is the body of a create.
	Create crm.CreateParams
	// Update is the body of an update, without id (the client sends
	// CustomerID). At least one field is set.
	Update crm.UpdateParams
}

// FieldError is one problem with one field of a body.
type FieldError struct {
	// Field is the body's JSON field name; empty only in the last entry of
	// a list that was cut short (Rule "too_many").
	Field string `json:"field"`
	// Rule names the rule that failed: unknown, duplicate, type, null,
	// required, phone, date, email, oneof, eq_subject, or too_many.
	Rule string `json:"rule"`
	// Message says what is wrong, for a person.
	Message string `json:"message"`
}

// ValidationError says why a body was rejected. Decode returns no other
// error type.
type ValidationError struct {
	// Message says what is wrong, for a person; never empty. With field
	// errors it sums up the first of them.
	Message string
	// Fields lists the problems with single fields, sorted by Field then
	// Rule: at most 20, followed by an entry with Rule "too_many" when there
	// were more. Empty when the body as a whole is wrong: not JSON, not an
	// object, over MaxBodyBytes, invalid UTF-8, an update with no field, a
	// delete with a body other than {}, or an unusable op or customer id.
	Fields []FieldError
}

// Error returns "invalid command body: " and the Message.
func (e *ValidationError) Error() string { return "invalid command body: " + e.Message }

// Decode decodes and validates the body of a command. op is "create",
// "update" or "delete"; customerID is the decoded id from the subject of an
// update or delete (ignored for create). The rules are those of the bridge's
// contract ("Validation"), mirrored by the JSON Schemas in schemas/:
//
//   - the body is at most MaxBodyBytes of valid UTF-8, holding one JSON
//     object (a delete's body is empty or {});
//   - every name is a field of the op's CRM params, and appears once
//     (rules "unknown", "duplicate");
//   - values have the field's JSON type (rule "type"); null only where the
//     CRM allows it: create lastName and internalNote, update cityId and
//     internalNote (rule "null");
//   - create needs firstName and phone; firstName is never empty or blank
//     (rule "required");
//   - phone, birthDate, email and gender hold what their rules say (rules
//     "phone", "date", "email", "oneof");
//   - an update sets at least one field; its optional id equals customerID
//     (rule "eq_subject") and is not sent on.
//
// Absent, null and a value stay apart: nullable fields are crm.Nullable,
// the others pointers (nil when absent). The strings of a Command share one
// copy of body, which they keep alive.
//
// Decode never panics; its error is always a *ValidationError. It is safe
// for concurrent use.
func Decode(op, customerID string, body []byte) (Command, error) {
	var spec *opSpec
	switch op {
	case streams.OpCreate:
		spec = &createSpec
	case streams.OpUpdate:
		spec = &updateSpec
	case streams.OpDelete:
	default:
		return Command{}, wholeBody(fmt.Sprintf("unknown op %q: want create, update or delete", op))
	}
	if op != streams.OpCreate && customerID == "" {
		return Command{}, wholeBody(article(op) + " needs the customer id from its subject, and it is empty")
	}
	if len(body) > MaxBodyBytes {
		return Command{}, wholeBody(fmt.Sprintf("body is %d bytes, over the limit of %d", len(body), MaxBodyBytes))
	}
	if !utf8.Valid(body) {
		return Command{}, wholeBody("body is not valid UTF-8")
	}
	if spec == nil {
		if !isEmptyObject(body) {
			return Command{}, wholeBody("a delete takes an empty body or {}, nothing else")
		}
		return Command{Op: op, CustomerID: customerID}, nil
	}
	if err := checkObject(body); err != nil {
		return Command{}, err
	}

	d := &decoded{spec: spec, op: op, customerID: customerID, src: string(body)}
	d.walk(body)
	d.checkValues()
	if len(d.problems) > 0 || d.unknown.count() > 0 {
		return Command{}, d.validationError()
	}
	if op == streams.OpCreate {
		return Command{Op: op, Create: d.createParams()}, nil
	}
	if (d.present|d.null)&^bit(fieldID) == 0 {
		return Command{}, wholeBody("an update must set at least one field besides id")
	}
	return Command{Op: op, CustomerID: customerID, Update: d.updateParams()}, nil
}

func wholeBody(msg string) *ValidationError { return &ValidationError{Message: msg} }

// isEmptyObject reports whether b is empty, blank, or {} with whitespace.
func isEmptyObject(b []byte) bool {
	i := skipSpace(b, 0)
	if i == len(b) {
		return true
	}
	if b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i == len(b) || b[i] != '}' {
		return false
	}
	return skipSpace(b, i+1) == len(b)
}

// checkObject returns a whole-body error unless b is one valid JSON object.
func checkObject(b []byte) *ValidationError {
	i := skipSpace(b, 0)
	if i == len(b) {
		return wholeBody("body is empty; want a JSON object")
	}
	if !json.Valid(b) {
		if depth(b) > maxDepth {
			return wholeBody(fmt.Sprintf("body nests arrays and objects more than %d deep", maxDepth))
		}
		var raw json.RawMessage
		err := json.Unmarshal(b, &raw) // only to say why
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return wholeBody(fmt.Sprintf("body is not valid JSON: %s (at byte %d)", se.Error(), se.Offset))
		}
		return wholeBody("body is not valid JSON")
	}
	if b[i] != '{' {
		return wholeBody("body must be a JSON object, not " + kindName(b[i]))
	}
	return nil
}

// maxDepth is how deep encoding/json lets arrays and objects nest; the
// body beyond it is not parsed at all.
const maxDepth = 10000

// depth returns how deep arrays and objects nest in b, which need not be
// valid JSON. It takes linear time and constant space.
func depth(b []byte) int {
	d, most, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			d++
			most = max(most, d)
		case c == ']' || c == '}':
			d--
		}
	}
	return most
}

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

// unknownNames collects the names that are no field of the op, keeping
// only what a ValidationError shows: how many distinct names there are, and
// the least maxFieldErrors of them. A body of thousands of names costs
// linear time: the names are told apart by a small open-addressing hash
// set (a Go map costs several times more here, where a 64 KiB body can
// hold 10,000 names).
type unknownNames struct {
	names []string // the distinct names, in order of appearance
	slots []int32  // hash set: 1 + an index into names, 0 when free
	least []string // the least names, sorted, at most maxFieldErrors
}

// nameSeed seeds the hash of unknownNames; a maphash.Seed may be shared.
var nameSeed = maphash.MakeSeed()

// add records a name; rest is the number of bytes of the body after it,
// which bounds how many names are to come.
func (u *unknownNames) add(name string, rest int) {
	if !u.insert(name, rest) {
		return
	}
	if len(u.least) == maxFieldErrors && name >= u.least[maxFieldErrors-1] {
		return
	}
	i, _ := slices.BinarySearch(u.least, name)
	u.least = slices.Insert(u.least, i, name)
	if len(u.least) > maxFieldErrors {
		u.least = u.least[:maxFieldErrors]
	}
}

// insert adds name to the set and reports whether it was new. The set is
// at most half full.
func (u *unknownNames) insert(name string, rest int) bool {
	if len(u.slots) == 0 && len(u.names) < 8 {
		if slices.Contains(u.names, name) { // few names: no set yet
			return false
		}
		u.names = append(u.names, name)
		return true
	}
	if 2*(len(u.names)+1) > len(u.slots) {
		// Make room for the names to come, most of which take 8 bytes or
		// more with their value, so as to grow rarely.
		want := len(u.names) + 1 + rest/8
		size := 64
		for size < 2*want {
			size *= 2
		}
		u.slots = make([]int32, size)
		u.names = slices.Grow(u.names, want-len(u.names))
		for i, n := range u.names {
			u.slots[u.probe(n)] = int32(i + 1)
		}
	}
	j := u.probe(name)
	if u.slots[j] != 0 {
		return false
	}
	u.names = append(u.names, name)
	u.slots[j] = int32(len(u.names))
	return true
}

// probe returns the slot that holds name, or the free slot where it goes.
func (u *unknownNames) probe(name string) int {
	mask := len(u.slots) - 1
	for j := int(maphash.String(nameSeed, name)) & mask; ; j = (j + 1) & mask {
		if k := u.slots[j]; k == 0 || u.names[k-1] == name {
			return j
		}
	}
}

// count returns the number of distinct names.
func (u *unknownNames) count() int { return len(u.names) }

// problem is a FieldError before its message is written.
type problem struct {
	field  string
	rule   string
	detail string // rule "type": the kind received
}

// walk reads the members of the object in b (valid JSON, an object).
func (d *decoded) walk(b []byte) {
	s := d.src
	i := skipSpace(b, 0) + 1 // past '{'
	i = skipSpace(b, i)
	if s[i] == '}' {
		return
	}
	for {
		ke, kesc := scanString(s, i)
		key := s[i+1 : ke-1]
		if kesc {
			key = unquote(b[i:ke])
		}
		i = skipSpace(b, ke)  // at ':'
		i = skipSpace(b, i+1) // at the value
		ve, vesc := skipValue(s, i)
		d.member(key, b, i, ve, vesc)
		i = skipSpace(b, ve) // at ',' or '}'
		if s[i] == '}' {
			return
		}
		i = skipSpace(b, i+1)
	}
}

// member records one name and its value b[vs:ve].
func (d *decoded) member(key string, b []byte, vs, ve int, esc bool) {
	f, ok := lookupField(key)
	if !ok || d.spec.allowed&bit(f) == 0 {
		d.unknown.add(key, len(d.src)-ve)
		return
	}
	if d.seen&bit(f) != 0 {
		if d.dup&bit(f) == 0 {
			d.dup |= bit(f)
			d.add(f, "duplicate", "")
		}
		return
	}
	d.seen |= bit(f)
	kind := b[vs]
	switch {
	case kind == 'n':
		if d.spec.nullable&bit(f) == 0 {
			d.add(f, "null", "")
			return
		}
		d.null |= bit(f)
	case f == fieldUnsubscribed:
		if kind != 't' && kind != 'f' {
			d.add(f, "type", kindName(kind))
			return
		}
		d.unsub = kind == 't'
		d.present |= bit(f)
	case kind != '"':
		d.add(f, "type", kindName(kind))
	default:
		v := d.src[vs+1 : ve-1]
		if esc {
			v = unquote(b[vs:ve])
		}
		d.str[f] = v
		d.present |= bit(f)
	}
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

// unquote decodes a JSON string literal that holds escapes.
func unquote(lit []byte) string {
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		// Unreachable: lit is a string literal of a valid document.
		return string(lit)
	}
	return s
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString returns the index just past the string literal that starts
// with the quote at s[i], and whether it holds escapes. s is valid JSON.
func scanString(s string, i int) (end int, esc bool) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j + 1, esc
		}
	}
	return len(s), esc
}

// skipValue returns the index just past the value that starts at s[i],
// and for a string whether it holds escapes. s is valid JSON. Nesting is
// followed with a counter, not recursion, so depth costs no stack.
func skipValue(s string, i int) (end int, esc bool) {
	switch s[i] {
	case '"':
		return scanString(s, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(s); j++ {
			switch s[j] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, false
				}
			case '"':
				j, _ = scanString(s, j)
				j--
			}
		}
		return len(s), false
	}
	j := i
	for j < len(s) {
		switch s[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j, false
		}
		j++
	}
	return j, false
}

// kindName names the kind of JSON value that starts with c.
func kindName(c byte) string {
	switch c {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// ruleFields holds the values of the fields that have value rules, for
// the validator. It is validated by value, so that the validator reads the
// strings in place (through pointers it would copy each one to the heap).
// An empty value stands for "nothing to check" (omitempty): a field that is
// present but empty breaks its rule whatever the rule is, and checkValues
// reports it with the rule of its tag (emptyRule).
type ruleFields struct {
	FirstName string `json:"firstName" validate:"omitempty,notblank"`
	Phone     string `json:"phone" validate:"omitempty,phone"`
	Email     string `json:"email" validate:"omitempty,mailbox"`
	BirthDate string `json:"birthDate" validate:"omitempty,date"`
	Gender    string `json:"gender" validate:"omitempty,oneof=F M"`
}

// emptyRule is, for each field of ruleFields, the rule that its tag
// reports; "" for the other fields.
var emptyRule = func() (rules [numFields]string) {
	t := reflect.TypeFor[ruleFields]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		tags := strings.Split(t.Field(i).Tag.Get("validate"), ",")
		f, ok := lookupField(name)
		if !ok || len(tags) != 2 || tags[0] != "omitempty" {
			panic("commands: ruleFields." + t.Field(i).Name + ": want a field name and validate:\"omitempty,RULE\"")
		}
		tag, _, _ := strings.Cut(tags[1], "=")
		rules[f] = ruleOfTag(tag)
	}
	return rules
}()

// bodyValidator checks ruleFields. Built once: a *validator.Validate is
// safe for concurrent use and costly to build.
var bodyValidator = newBodyValidator()

func newBodyValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		return name
	})
	for tag, fn := range map[string]func(string) bool{
		"notblank": notBlank,
		"phone":    isPhone,
		"mailbox":  isMailbox,
		"date":     isDate,
	} {
		err := v.RegisterValidation(tag, func(fl validator.FieldLevel) bool { return fn(fl.Field().String()) })
		if err != nil {
			panic("commands: " + err.Error())
		}
	}
	return v
}

// ruleOfTag maps a validator tag to the rule it reports.
func ruleOfTag(tag string) string {
	switch tag {
	case "notblank":
		return "required"
	case "mailbox":
		return "email"
	}
	return tag
}

// checkValues runs the value rules, and create's required fields, on the
// fields that have no problem yet.
func (d *decoded) checkValues() {
	if d.op == streams.OpCreate {
		for _, f := range [...]bodyField{fieldFirstName, fieldPhone} {
			if d.present&bit(f) == 0 && d.bad&bit(f) == 0 {
				d.add(f, "required", "")
			}
		}
	}
	if d.op == streams.OpUpdate && d.ptr(fieldID) != nil && d.str[fieldID] != d.customerID {
		d.add(fieldID, "eq_subject", "")
	}
	for f, rule := range emptyRule {
		if rule != "" && d.ptr(bodyField(f)) != nil && d.str[f] == "" {
			d.add(bodyField(f), rule, "")
		}
	}
	rules := ruleFields{
		FirstName: d.value(fieldFirstName),
		Phone:     d.value(fieldPhone),
		Email:     d.value(fieldEmail),
		BirthDate: d.value(fieldBirthDate),
		Gender:    d.value(fieldGender),
	}
	err := bodyValidator.Struct(rules)
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		if err != nil { // unreachable: only ValidationErrors are returned here
			d.problems = append(d.problems, problem{rule: "internal", detail: err.Error()})
		}
		return
	}
	for _, fe := range verrs {
		d.problems = append(d.problems, problem{field: fe.Field(), rule: ruleOfTag(fe.Tag())})
	}
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

// validationError sorts the problems, keeps the first
// maxFieldErrors and writes their messages.
func (d *decoded) validationError() *ValidationError {
	ps := d.problems
	for _, name := range d.unknown.least {
		ps = append(ps, problem{field: name, rule: "unknown"})
	}
	slices.SortFunc(ps, func(a, b problem) int {
		if c := strings.Compare(a.field, b.field); c != 0 {
			return c
		}
		return strings.Compare(a.rule, b.rule)
	})
	total := len(d.problems) + d.unknown.count() // no two alike
	shown := ps[:min(len(ps), maxFieldErrors)]
	fields := make([]FieldError, len(shown), len(shown)+1)
	for i, p := range shown {
		fields[i] = FieldError{Field: p.field, Rule: p.rule, Message: d.message(p)}
	}
	msg := fields[0].Message
	switch total {
	case 1:
	case 2:
		msg += " (and 1 more problem)"
	default:
		msg += " (and " + strconv.Itoa(total-1) + " more problems)"
	}
	if more := total - len(shown); more > 0 {
		fields = append(fields, FieldError{Rule: "too_many", Message: "... and " + strconv.Itoa(more) + " more"})
	}
	return &ValidationError{Message: msg, Fields: fields}
}

// message writes the message of one problem.
func (d *decoded) message(p problem) string {
	f := p.field
	switch p.rule {
	case "unknown":
		return strconv.Quote(f) + " is not a field of " + article(d.op) + " command"
	case "duplicate":
		return f + " appears more than once"
	case "type":
		want := "a string"
		if f == "unsubscribed" {
			want = "true or false"
		}
		return f + " must be " + want + ", not " + p.detail
	case "null":
		return f + " must not be null in " + article(d.op) + " command"
	case "required":
		if d.seen&bit(mustLookup(f)) != 0 {
			return f + " must not be empty or blank"
		}
		return f + " is required"
	case "phone":
		return "phone must hold 4 to 20 digits, and besides digits only + - . ( ) and spaces"
	case "date":
		return "birthDate must be a real date written YYYY-MM-DD"
	case "email":
		return "email must be an address such as name@example.com"
	case "oneof":
		return "gender must be F or M"
	case "eq_subject":
		return "id must be left out or equal the subject's customer id " + strconv.Quote(d.customerID)
	}
	return f + " is invalid (" + p.rule + " " + p.detail + ")"
}

// article returns op with "a" or "an" before it.
func article(op string) string {
	if op == streams.OpUpdate {
		return "an " + op
	}
	return "a " + op
}

func mustLookup(name string) bodyField {
	f, _ := lookupField(name)
	return f
}

// notBlank reports whether s holds a rune that is not white space
// (unicode.IsSpace). The schemas spell the same set out in a pattern.
func notBlank(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return !unicode.IsSpace(r) }) >= 0
}

// isPhone reports whether s holds 4 to 20 ASCII digits and otherwise only
// '+', ' ', '-', '.', '(' and ')'.
func isPhone(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '+' || c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return false
		}
	}
	return digits >= 4 && digits <= 20
}

// isDate reports whether s is a date of the proleptic Gregorian calendar
// written YYYY-MM-DD (RFC 3339 full-date), as time.Parse("2006-01-02")
// accepts it.
func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	num := func(t string) int {
		n := 0
		for i := 0; i < len(t); i++ {
			if t[i] < '0' || t[i] > '9' {
				return -1
			}
			n = n*10 + int(t[i]-'0')
		}
		return n
	}
	y, m, dd := num(s[:4]), num(s[5:7]), num(s[8:])
	if y < 0 || m < 1 || m > 12 || dd < 1 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return dd <= days
}

// isMailbox reports whether s is an email address the bridge accepts: a
// dot-atom local part of at most 64 ASCII characters, "@", and a domain of
// at least two dot-separated labels (letters, digits, inner hyphens; at most
// 63 characters each, the last starting with a letter), at most 254
// characters in all. It is the schemas' email pattern together with the
// length limits of their `format: email`, and a subset of what
// go-playground/validator's email accepts.
func isMailbox(s string) bool {
	at := strings.IndexByte(s, '@')
	if len(s) > 254 || at < 1 || at > 64 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	for label := range strings.SplitSeq(local, ".") {
		if label == "" || strings.IndexFunc(label, notAtext) >= 0 {
			return false
		}
	}
	labels := 0
	last := ""
	for label := range strings.SplitSeq(domain, ".") {
		if !isLabel(label) {
			return false
		}
		labels++
		last = label
	}
	return labels >= 2 && isLetter(last[0])
}

// notAtext reports whether r may not appear in a dot-atom's atom (RFC 5322).
func notAtext(r rune) bool {
	switch {
	case r < utf8.RuneSelf && (isLetter(byte(r)) || isDigit(byte(r))):
		return false
	case r < utf8.RuneSelf && strings.IndexByte("!#$%&'*+-/=?^_`{|}~", byte(r)) >= 0:
		return false
	}
	return true
}

// isLabel reports whether s is a DNS label: 1 to 63 letters, digits and
// hyphens, not starting or ending with a hyphen.
func isLabel(s string) bool {
	if len(s) < 1 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !isDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
