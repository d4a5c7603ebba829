package crmsim

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// pageToken is a decoded next/offset token. Tokens are base64url (no
// padding) of one of:
//
//	k<updatedAt ns>.<id>   export, keyset: the last record returned
//	o<position>            export, offset: records already returned
//	c<createdAt ns>.<id>   list: the last record returned
type pageToken struct {
	kind byte // 'k', 'o', 'c'
	at   int64
	id   string
	pos  int
}

func (t pageToken) String() string {
	var s string
	switch t.kind {
	case 'k', 'c':
		s = string(t.kind) + strconv.FormatInt(t.at, 10) + "." + t.id
	case 'o':
		s = "o" + strconv.Itoa(t.pos)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

var errBadToken = errors.New("offset is not a token this simulator issued")

// parseToken decodes a token; kinds lists the kinds the caller accepts.
func parseToken(s, kinds string) (pageToken, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || !strings.ContainsRune(kinds, rune(b[0])) {
		return pageToken{}, errBadToken
	}
	t := pageToken{kind: b[0]}
	rest := string(b[1:])
	switch t.kind {
	case 'k', 'c':
		ns, id, ok := strings.Cut(rest, ".")
		if t.at, err = strconv.ParseInt(ns, 10, 64); err != nil || !ok || id == "" {
			return pageToken{}, errBadToken
		}
		t.id = id
	case 'o':
		if t.pos, err = strconv.Atoi(rest); err != nil || t.pos < 0 {
			return pageToken{}, errBadToken
		}
	}
	return t, nil
}

// parseSince parses updatedSince: RFC 3339 with or without fractional
// seconds; "" means the beginning of time. Times beyond what Unix
// nanoseconds hold are clamped.
func parseSince(s string) (int64, error) {
	if s == "" {
		return math.MinInt64, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("updatedSince %q is not an RFC 3339 timestamp", s)
	}
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64, nil
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64, nil
	}
	return t.UnixNano(), nil
}

// exportPage returns up to size records with updatedAt >= since, in
// (updatedAt, id) order, from the position tok holds (nil: the first), and
// the token of the next page ("" on the last). A new token is of tok's
// kind, or of paging's for a first page. It takes the read lock.
func (st *store) exportPage(since int64, tok *pageToken, size int, paging Paging) ([]userMap, string) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	start, kind, skip := exportFrom(since, tok, paging)
	items := make([]userMap, 0, min(size, 1024))
	var last timeKey
	more := false
	st.byUpdated.AscendGreaterOrEqual(start, func(k timeKey) bool {
		if skip > 0 {
			skip--
			return true
		}
		if len(items) == size {
			more = true
			return false
		}
		items = append(items, st.byID[k.id].wire())
		last = k
		return true
	})
	if !more {
		return items, ""
	}
	return items, nextExportToken(kind, last, len(items), tok)
}

// exportFrom returns where the export page from tok (nil: the first)
// starts: the first key to visit, and how many records to skip from there
// (an offset token's position); and the kind of token the next page gets.
func exportFrom(since int64, tok *pageToken, paging Paging) (start timeKey, kind byte, skip int) {
	start = timeKey{at: since}
	switch {
	case tok == nil && paging == PagingOffset:
		return start, 'o', 0
	case tok == nil:
		return start, 'k', 0
	case tok.kind != 'k':
		return start, tok.kind, tok.pos
	}
	if after := (timeKey{tok.at, tok.id + "\x00"}); timeLess(start, after) {
		start = after
	}
	return start, 'k', 0
}

// nextExportToken returns the token, of the given kind, of the page after
// one of n records that ended at last; tok is that page's token (nil for
// the first).
func nextExportToken(kind byte, last timeKey, n int, tok *pageToken) string {
	if kind == 'k' {
		return pageToken{kind: 'k', at: last.at, id: last.id}.String()
	}
	pos := n
	if tok != nil {
		pos += tok.pos
	}
	return pageToken{kind: 'o', pos: pos}.String()
}

// listPage returns up to size records in (createdAt, id) order after the
// one tok holds (nil: from the first), and the next page's token ("" on the
// last). It takes the read lock.
func (st *store) listPage(tok *pageToken, size int) ([]userMap, string) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	start := timeKey{at: math.MinInt64}
	if tok != nil {
		start = timeKey{tok.at, tok.id + "\x00"}
	}
	users := make([]userMap, 0, min(size, 1024))
	var last timeKey
	more := false
	st.byCreated.AscendGreaterOrEqual(start, func(k timeKey) bool {
		if len(users) == size {
			more = true
			return false
		}
		users = append(users, st.byID[k.id].wire())
		last = k
		return true
	})
	if !more {
		return users, ""
	}
	return users, pageToken{kind: 'c', at: last.at, id: last.id}.String()
}
