package poller

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// FuzzPlainEnd holds plainEnd, which tests eight bytes at a time, to the
// byte-by-byte definition, from every start offset.
func FuzzPlainEnd(f *testing.F) {
	for _, s := range []string{"", "abcdefgh", "abcdefghijklmnop\"", "abcdefg\\h", "a\x1fbcdefghij", "abcdefgh\x00",
		"abcdefghijklmno\x80", "ééééé", "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x20", "aaaaaaa\x21\x22\x23\x5b\x5c\x5d"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for i := 0; i <= len(b); i++ {
			want := i
			for want < len(b) {
				if c := b[want]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
					break
				}
				want++
			}
			if got := plainEnd(b, i); got != want {
				t.Fatalf("plainEnd(%q, %d) = %d, want %d", b, i, got, want)
			}
		}
	})
}

// TestCanonReorder parses objects of many members, in orders that repeat,
// change and hold repeated names, through one canon, which learns their
// order (reorder), and each through a new canon: the canonical forms must
// be the same.
func TestCanonReorder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		names := []string{"id", "firstName", "lastName", "email", "phone", "phoneCountry", "phoneCountryCalling",
			"number", "cityId", "birthDate", "gender", "unsubscribed", "updatedAt", "updatedBy", "a", "b", "\u00e9"}
		warm := new(canon)
		base := rapid.Permutation(names).Draw(t, "base")
		for i := range rapid.IntRange(1, 6).Draw(t, "objects") {
			ms := base
			switch rapid.IntRange(0, 3).Draw(t, fmt.Sprint("kind", i)) {
			case 1: // another order
				ms = rapid.Permutation(names).Draw(t, fmt.Sprint("order", i))
			case 2: // a name repeated
				ms = append(slices.Clone(base), rapid.SampledFrom(names).Draw(t, fmt.Sprint("again", i)))
			case 3: // fewer members
				ms = base[:rapid.IntRange(0, len(base)).Draw(t, fmt.Sprint("n", i))]
			}
			var in strings.Builder
			in.WriteString("{")
			for j, n := range ms {
				if j > 0 {
					in.WriteString(",")
				}
				fmt.Fprintf(&in, `%q:{"v":%d,"w":[%d]}`, n, j, i)
			}
			in.WriteString("}")
			cold := new(canon)
			for _, record := range []bool{false, true} {
				var got, want []byte
				if record {
					if err := warm.record([]byte(in.String())); err != nil {
						t.Fatal(err)
					}
					if err := cold.record([]byte(in.String())); err != nil {
						t.Fatal(err)
					}
					got, want = warm.wholeForm(), cold.wholeForm()
				} else {
					if err := warm.whole([]byte(in.String())); err != nil {
						t.Fatal(err)
					}
					if err := cold.whole([]byte(in.String())); err != nil {
						t.Fatal(err)
					}
					got, want = warm.buf, cold.buf
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%s (record %v): warm canon gives %q, new one %q", in.String(), record, got, want)
				}
			}
		}
	})
}
