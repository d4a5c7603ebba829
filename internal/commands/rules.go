// This file holds the value rules of body fields: the go-playground/validator
// set-up, the CRM's own rules it runs besides its built-in tags (phone,
// address, blank) and checkValues, which applies them to a decoded body.

package commands

import (
	"errors"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"

	"github.com/gormic/crm-bridge/internal/streams"
)

// ruleFields holds the values of the fields that have value rules, for
// the validator. It is validated by value, so that the validator reads the
// strings in place (through pointers it would copy each one to the heap).
// An empty value stands for "nothing to check" (omitempty): a field that is
// present but empty breaks its rule whatever the rule is, and checkValues
// reports it with the field's rule (its tag "rule", the FieldError's Rule
// whichever of its validate tags failed).
//
// The validator's own tags do what they can: datetime (time.Parse, so a
// real date), oneof, max (a length in runes; the address is ASCII once
// mailbox holds). Custom tags hold the CRM's own rules, which no built-in
// tag states: notblank (validator's non-standard NotBlank also trims
// U+001C to U+001F, which unicode.IsSpace and the schemas' firstName
// pattern do not count as space), phone, and mailbox, the schemas' address
// pattern. The built-in email is not among the tags: it accepts more
// (quoted local parts, non-ASCII letters, a trailing dot), so it would
// refuse nothing that mailbox lets through, and it costs about 1.4 µs an
// address (a regular expression and net/mail), more than the rest of
// Decode.
type ruleFields struct {
	FirstName string `json:"firstName" rule:"required" validate:"omitempty,notblank"`
	Phone     string `json:"phone" rule:"phone" validate:"omitempty,phone"`
	Email     string `json:"email" rule:"email" validate:"omitempty,max=254,mailbox"`
	BirthDate string `json:"birthDate" rule:"date" validate:"omitempty,datetime=2006-01-02"`
	Gender    string `json:"gender" rule:"oneof" validate:"omitempty,oneof=F M"`
}

// fieldRule is, for each field of ruleFields, the rule its problems
// report; "" for the other fields.
var fieldRule = func() (rules [numFields]string) {
	t := reflect.TypeFor[ruleFields]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		f, ok := lookupField(name)
		if !ok || t.Field(i).Tag.Get("rule") == "" || !strings.HasPrefix(t.Field(i).Tag.Get("validate"), "omitempty,") {
			panic("commands: ruleFields." + t.Field(i).Name + ": want a field name, a rule and validate:\"omitempty,...\"")
		}
		rules[f] = t.Field(i).Tag.Get("rule")
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
	} {
		err := v.RegisterValidation(tag, func(fl validator.FieldLevel) bool { return fn(fl.Field().String()) })
		if err != nil {
			panic("commands: " + err.Error())
		}
	}
	return v
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
	for f, rule := range fieldRule {
		if rule != "" && d.ptr(bodyField(f)) != nil && d.str[f] == "" {
			d.add(bodyField(f), rule, "")
		}
	}
	d.validate()
}

// validate runs bodyValidator on the values of the fields of ruleFields.
func (d *decoded) validate() {
	err := bodyValidator.Struct(ruleFields{
		FirstName: d.value(fieldFirstName),
		Phone:     d.value(fieldPhone),
		Email:     d.value(fieldEmail),
		BirthDate: d.value(fieldBirthDate),
		Gender:    d.value(fieldGender),
	})
	var verrs validator.ValidationErrors
	switch {
	case errors.As(err, &verrs):
		for _, fe := range verrs {
			d.problems = append(d.problems, problem{field: fe.Field(), rule: fieldRule[mustLookup(fe.Field())]})
		}
	case err != nil: // unreachable: only ValidationErrors are returned here
		d.problems = append(d.problems, problem{rule: "internal", detail: err.Error()})
	}
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

// isMailbox reports whether s is an email address the bridge accepts: a
// dot-atom local part of at most 64 ASCII characters, "@", and a domain of
// at least two dot-separated labels (letters, digits, inner hyphens; at most
// 63 characters each, the last starting with a letter). It is the schemas'
// email pattern with the local part's length limit of their `format:
// email`; the limit of 254 characters in all is the tag max=254. It is a
// subset of what go-playground/validator's email accepts.
func isMailbox(s string) bool {
	at := strings.IndexByte(s, '@')
	if at < 1 || at > 64 {
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
