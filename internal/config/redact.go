package config

import (
	"net/url"
	"strings"
)

// redactedMark replaces a secret in a URL, as url.URL.Redacted writes it.
const redactedMark = "xxxxx"

// RedactURL returns s, a URL or a comma-separated list of them as
// BRIDGE_NATS_URL and BRIDGE_CRM_URL take them, fit to be printed: each
// URL's password is replaced by "xxxxx" (as url.URL.Redacted does), and so
// is a user that comes without a password, which NATS reads as a token
// (nats://token@host). A list is redacted URL by URL, and an entry
// that does not parse as a URL loses everything before its last "@". Every
// config error, log line, banner and message that shows a URL setting shows
// it through RedactURL.
func RedactURL(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = redactOne(p)
	}
	return strings.Join(parts, ",")
}

// redactOne redacts one URL of a list, keeping the spaces around it.
func redactOne(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	trimmed := strings.TrimSpace(s)
	u, err := url.Parse(trimmed)
	if err != nil || u.User == nil {
		// Unparsable: keep the scheme and what follows the userinfo.
		start := 0
		if i := strings.Index(s, "://"); i >= 0 && i < at {
			start = i + len("://")
		}
		return s[:start] + redactedMark + s[at:]
	}
	if _, hasPassword := u.User.Password(); !hasPassword {
		u.User = url.User(redactedMark)
	}
	return strings.Replace(s, trimmed, u.Redacted(), 1)
}
