package poller

import (
	"testing"

	"github.com/cespare/xxhash/v2"
)

// TestXXH64 pins xxhash.Sum64 to XXH64 with seed 0, which digests and
// sketches are (the values are those of the hand-written XXH64 the poller
// had before it used the library), for the first n bytes of b[i] = i*7+3.
func TestXXH64(t *testing.T) {
	tests := []struct {
		n    int
		want uint64
	}{
		{0, 0xef46db3751d8e999},
		{1, 0x1f25c8d0bc1f4bb6},
		{3, 0x31d2363f52e564c9},
		{4, 0x9bb64b7d66ee9fda},
		{7, 0x9a7b149959ce60d8},
		{8, 0xdab99d95c6f90092},
		{9, 0x170bb6bf975b4c02},
		{15, 0x1b47cb8243cc8e32},
		{31, 0xa2aa5f33cc4a6119},
		{32, 0x23c3c17ef790fd97},
		{33, 0x50a7cfc7ba588784},
		{63, 0x5e3e54b431c7493c},
		{64, 0xeb64b3ef6eeb01f},
		{65, 0xa383b724b2bd12f1},
		{100, 0xa61f8d4c170fe531},
	}
	b := make([]byte, 100)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	for _, tt := range tests {
		if got := xxhash.Sum64(b[:tt.n]); got != tt.want {
			t.Errorf("Sum64(%d bytes): got %#x, want %#x", tt.n, got, tt.want)
		}
	}
}
