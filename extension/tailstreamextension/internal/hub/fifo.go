package hub

// fifo is a bounded circular queue that holds memory for what it holds, not for its bound.
// A stream's bound (buffer_size, up to streams.max_buffer_size) is what a slow client may
// fall behind by, yet most streams hold a line or two between drains: 500 streams of
// buffer_size 10,000 allocated 240 KB each up front (120 MB of pointer slots the GC scanned
// on every cycle, which set scenario (c)'s p99). It grows by doubling up to limit and gives
// the memory back once a drain finds it mostly unused.
type fifo[T any] struct {
	buf       []T
	head, n   int
	limit     int
	peak      int // most held since the last shrink check
	drainsLow int // consecutive drains that found peak far below len(buf)
}

const (
	fifoMinCap = 16
	// A queue shrinks after this many drains in a row that each saw it less than a quarter
	// full: one quiet drain after a burst does not throw away what the next burst needs.
	fifoShrinkAfter = 64
)

func newFIFO[T any](limit int) fifo[T] { return fifo[T]{limit: max(limit, 1)} }

func (q *fifo[T]) len() int   { return q.n }
func (q *fifo[T]) full() bool { return q.n >= q.limit }

// push appends v; false when the queue holds limit items already.
func (q *fifo[T]) push(v T) bool {
	if q.n >= q.limit {
		return false
	}
	if q.n == len(q.buf) {
		q.resize(min(max(2*len(q.buf), fifoMinCap), q.limit))
	}
	q.buf[(q.head+q.n)%len(q.buf)] = v
	q.n++
	q.peak = max(q.peak, q.n)
	return true
}

// drain appends everything queued to out, oldest first, and empties the queue.
func (q *fifo[T]) drain(out []T) []T {
	var zero T
	for q.n > 0 {
		out = append(out, q.buf[q.head])
		q.buf[q.head] = zero
		q.head = (q.head + 1) % len(q.buf)
		q.n--
	}
	q.head = 0
	if len(q.buf) > fifoMinCap && q.peak < len(q.buf)/4 {
		q.drainsLow++
		if q.drainsLow >= fifoShrinkAfter {
			q.resize(max(len(q.buf)/2, fifoMinCap))
			q.drainsLow = 0
		}
	} else {
		q.drainsLow = 0
	}
	q.peak = 0
	return out
}

// resize moves what is queued into a new buffer of size c (c >= q.n).
func (q *fifo[T]) resize(c int) {
	nb := make([]T, c)
	for i := 0; i < q.n; i++ {
		nb[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = nb, 0
}
