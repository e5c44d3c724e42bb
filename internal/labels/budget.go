package labels

import "sync/atomic"

// Budget is the number of series all bounded metrics of one process may
// hold together, beside each metric's own cap. Part of it is reserved for
// the series that page (a direct login, an attack technique): a flood of
// forged label sets of other kinds fills the rest and stops there, so the
// label sets that drive a pager still get series of their own.
type Budget struct {
	limit   int64
	reserve int64
	used    atomic.Int64
}

// NewBudget returns a budget of limit series of which reserve only series
// that page may take. A limit <= 0 means no limit.
func NewBudget(limit, reserve int) *Budget {
	if reserve > limit {
		reserve = limit
	}
	return &Budget{limit: int64(limit), reserve: int64(reserve)}
}

// Take charges n series, the reserve too when paging is set, and reports
// whether they fit. A nil Budget admits everything.
func (b *Budget) Take(n int, paging bool) bool {
	if b == nil {
		return true
	}
	if b.limit <= 0 {
		b.used.Add(int64(n))
		return true
	}
	max := b.limit - b.reserve
	if paging {
		max = b.limit
	}
	for {
		u := b.used.Load()
		if u+int64(n) > max {
			return false
		}
		if b.used.CompareAndSwap(u, u+int64(n)) {
			return true
		}
	}
}

// Release returns n series to the budget.
func (b *Budget) Release(n int) {
	if b != nil {
		b.used.Add(-int64(n))
	}
}

// Used is the number of series charged.
func (b *Budget) Used() int {
	if b == nil {
		return 0
	}
	return int(b.used.Load())
}

// Limit is the budget's size (0: none).
func (b *Budget) Limit() int {
	if b == nil || b.limit <= 0 {
		return 0
	}
	return int(b.limit)
}

// Reserve is the part of the budget only paging series may take.
func (b *Budget) Reserve() int {
	if b == nil {
		return 0
	}
	return int(b.reserve)
}
