package crmsim

import "strings"

// callingCountry maps a calling code to the region the CRM reports for it.
// Codes shared by several regions map to the main one (1: US, 7: RU).
var callingCountry = map[string]string{
	"1": "US", "7": "RU", "20": "EG", "27": "ZA", "30": "GR", "31": "NL",
	"32": "BE", "33": "FR", "34": "ES", "36": "HU", "39": "IT", "40": "RO",
	"41": "CH", "43": "AT", "44": "GB", "45": "DK", "46": "SE", "47": "NO",
	"48": "PL", "49": "DE", "52": "MX", "54": "AR", "55": "BR", "61": "AU",
	"64": "NZ", "65": "SG", "81": "JP", "82": "KR", "86": "CN", "90": "TR",
	"91": "IN", "351": "PT", "352": "LU", "353": "IE", "358": "FI",
	"420": "CZ", "971": "AE", "972": "IL",
}

// defaultCalling applies when neither phoneCallingCode nor a leading "+"
// says otherwise (its country is US).
const (
	defaultCalling = "1"
	// unknownCountry is CLDR's "unknown region", for a calling code that
	// callingCountry does not hold.
	unknownCountry = "ZZ"
)

// digits returns the decimal digits of s, in order.
func digits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// phoneCalling derives phoneCountryCalling: from callingCode when given,
// else from the longest known prefix of a phone written with a leading
// "+", else previous (the record's current one) when not empty, else the
// default.
func phoneCalling(callingCode *string, phone, previous string) string {
	if callingCode != nil {
		if calling := digits(*callingCode); calling != "" {
			return calling
		}
	}
	if d := digits(phone); strings.HasPrefix(strings.TrimSpace(phone), "+") {
		for n := min(3, len(d)-1); n >= 1; n-- { // leave at least one digit
			if _, ok := callingCountry[d[:n]]; ok {
				return d[:n]
			}
		}
	}
	if previous != "" {
		return previous
	}
	return defaultCalling
}

// countryOf derives phoneCountry from phoneCountryCalling.
func countryOf(calling string) string {
	if c, ok := callingCountry[calling]; ok {
		return c
	}
	return unknownCountry
}

// phoneKey normalises a phone for the duplicate check: its digits, behind
// the calling code unless the phone is written with a leading "+". It
// returns "" for a phone without digits.
func phoneKey(phone, calling string) string {
	d := digits(phone)
	if d == "" {
		return ""
	}
	if strings.HasPrefix(strings.TrimSpace(phone), "+") {
		return d
	}
	return calling + d
}
