package queries

import (
	"slices"
	"sort"
)

// blockSize is the most values a block of a blocks holds.
const blockSize = 512

// blocks is a sorted sequence of values kept in blocks of at most
// blockSize, each allocated at that capacity: an insert or a delete moves
// at most one block's values (and, when a block splits or goes, the block
// pointers after it), so that keeping a million values sorted under
// inserts in random order costs O(log n + blockSize) each, not O(n). Its
// zero value is empty. The caller orders the values: seek takes a
// comparison with its target.
type blocks[T any] struct {
	b [][]T
	n int
}

// at is a position in a blocks: block b, index i in it. b == len(blocks.b)
// is the end.
type at struct{ b, i int }

// fill replaces l's values with vs, which must be sorted, in full blocks.
func (l *blocks[T]) fill(vs []T) {
	l.b, l.n = nil, len(vs)
	for len(vs) > 0 {
		k := min(len(vs), blockSize)
		l.b = append(l.b, append(make([]T, 0, blockSize), vs[:k]...))
		vs = vs[k:]
	}
}

// len returns the number of values.
func (l *blocks[T]) len() int { return l.n }

// seek returns the position of the first value v with f(v) >= 0, f
// comparing v with the target, and whether f(v) == 0 there.
func (l *blocks[T]) seek(f func(T) int) (at, bool) {
	bi := sort.Search(len(l.b), func(k int) bool { blk := l.b[k]; return f(blk[len(blk)-1]) >= 0 })
	if bi == len(l.b) {
		return at{b: bi}, false
	}
	blk := l.b[bi]
	i := sort.Search(len(blk), func(k int) bool { return f(blk[k]) >= 0 })
	return at{bi, i}, f(blk[i]) == 0
}

// insert puts v at p (a position seek returned for v).
func (l *blocks[T]) insert(p at, v T) {
	l.n++
	if len(l.b) == 0 {
		l.b = [][]T{append(make([]T, 0, blockSize), v)}
		return
	}
	if p.b == len(l.b) { // after the last value
		p = at{len(l.b) - 1, len(l.b[len(l.b)-1])}
	}
	blk := l.b[p.b]
	if len(blk) < blockSize {
		l.b[p.b] = slices.Insert(blk, p.i, v)
		return
	}
	if p.i == blockSize { // after a full block: the next one, or a new one
		if p.b+1 < len(l.b) && len(l.b[p.b+1]) < blockSize {
			l.b[p.b+1] = slices.Insert(l.b[p.b+1], 0, v)
		} else {
			l.b = slices.Insert(l.b, p.b+1, append(make([]T, 0, blockSize), v))
		}
		return
	}
	// A full block passes a value to a neighbour with room rather than
	// split: blocks stay fuller (random inserts leave them about 85% full
	// instead of 70%).
	if p.b > 0 && len(l.b[p.b-1]) < blockSize {
		if p.i == 0 {
			l.b[p.b-1] = append(l.b[p.b-1], v)
			return
		}
		l.b[p.b-1] = append(l.b[p.b-1], blk[0])
		copy(blk, blk[1:p.i])
		blk[p.i-1] = v
		return
	}
	if p.b+1 < len(l.b) && len(l.b[p.b+1]) < blockSize {
		l.b[p.b+1] = slices.Insert(l.b[p.b+1], 0, blk[blockSize-1])
		copy(blk[p.i+1:], blk[p.i:blockSize-1])
		blk[p.i] = v
		return
	}
	// Split the full block in two halves.
	half := blockSize / 2
	next := append(make([]T, 0, blockSize), blk[half:]...)
	l.b[p.b] = blk[:half]
	l.b = slices.Insert(l.b, p.b+1, next)
	if p.i > half {
		p = at{p.b + 1, p.i - half}
	}
	l.b[p.b] = slices.Insert(l.b[p.b], p.i, v)
}

// delete removes the value at p (a position seek found).
func (l *blocks[T]) delete(p at) {
	l.n--
	blk := slices.Delete(l.b[p.b], p.i, p.i+1)
	if len(blk) == 0 {
		l.b = slices.Delete(l.b, p.b, p.b+1)
		return
	}
	l.b[p.b] = blk
	// A block left small joins a neighbour when both fit in half a block,
	// so that deletes leave no long run of nearly empty blocks.
	for _, k := range []int{p.b, p.b - 1} {
		if k >= 0 && k+1 < len(l.b) && len(l.b[k])+len(l.b[k+1]) <= blockSize/2 {
			l.b[k] = append(l.b[k], l.b[k+1]...)
			l.b = slices.Delete(l.b, k+1, k+2)
			return
		}
	}
}

// each calls f with the values from p on, in order, until f returns
// false.
func (l *blocks[T]) each(p at, f func(T) bool) {
	for bi := p.b; bi < len(l.b); bi++ {
		i := 0
		if bi == p.b {
			i = p.i
		}
		for _, v := range l.b[bi][i:] {
			if !f(v) {
				return
			}
		}
	}
}
