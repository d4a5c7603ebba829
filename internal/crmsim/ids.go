package crmsim

import (
	"crypto/sha256"
	"encoding/hex"
)

// idAlphabet is Crockford's base32 in lower case: no i, l, o, u.
const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// base32ID returns prefix followed by 20 base32 characters (100 bits) taken
// from hi (60 bits) and lo (40 bits).
func base32ID(prefix string, hi, lo uint64) string {
	b := make([]byte, len(prefix)+20)
	copy(b, prefix)
	p := b[len(prefix):]
	for i := range 12 {
		p[i] = idAlphabet[hi&31]
		hi >>= 5
	}
	for i := 12; i < 20; i++ {
		p[i] = idAlphabet[lo&31]
		lo >>= 5
	}
	return string(b)
}

// apiUser is the createdBy/updatedBy of a change made with apiKey: a stable
// id derived from the key that does not reveal it.
func apiUser(apiKey string) string {
	sum := sha256.Sum256([]byte(apiKey))
	return "key_" + hex.EncodeToString(sum[:8])
}

// uiUser is the createdBy/updatedBy of a change made out of band, as if
// through the CRM's own UI.
const uiUser = "usr_console"

// via is how a change was made; it is one byte so that records stay small.
type via uint8

const (
	viaNone via = iota
	viaAPI      // over HTTP
	viaUI       // out of band, as through the CRM's UI
)

// String returns "api", "ui" or "".
func (v via) String() string {
	switch v {
	case viaAPI:
		return "api"
	case viaUI:
		return "ui"
	}
	return ""
}
