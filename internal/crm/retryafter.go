package crm

import (
	"net/http"
	"strings"
	"time"
)

// MaxRetryAfter caps the Retry-After the client reports: a CRM asking for
// an hour's pause is more likely misconfigured than right, and a caller
// retrying every few minutes loses nothing.
const MaxRetryAfter = 5 * time.Minute

// ParseRetryAfter parses a Retry-After header value, delta-seconds ("120")
// or an HTTP date, relative to now. It returns 0 for an empty, invalid,
// negative or past value, and at most MaxRetryAfter.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if isDigits(v) {
		// Count the seconds ourselves: strconv would overflow on
		// "99999999999999999999", which is still just "a long time".
		var secs int64
		for i := 0; i < len(v); i++ {
			secs = secs*10 + int64(v[i]-'0')
			if secs > int64(MaxRetryAfter/time.Second) {
				return MaxRetryAfter
			}
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	switch {
	case d <= 0:
		return 0
	case d > MaxRetryAfter:
		return MaxRetryAfter
	}
	return d
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
