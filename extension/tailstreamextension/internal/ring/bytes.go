package ring // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"

// retention.max_bytes: besides its line count, the ring can be bounded by the bytes its
// entries hold, so that "24 h in memory" is sized by memory rather than guessed in lines.

// SetMaxBytes bounds the entries' estimated bytes (0: no byte bound). Set it before the first
// Append; lines already stored are not re-counted.
func (b *Buffer) SetMaxBytes(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.maxBytes = max(n, 0)
	if b.maxBytes > 0 && b.sizes == nil {
		b.sizes = make([]int32, len(b.items))
	}
}

// Bytes returns the estimated bytes held (0 without a byte bound).
func (b *Buffer) Bytes() int64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.bytes
}

// account adds e, stored at slot i, to the byte count and drops the oldest entries while the
// bound is exceeded (the newest always stays). Called with the lock held.
func (b *Buffer) account(i int, e *Entry) {
	b.bytes -= int64(b.sizes[i]) // the entry this one overwrote
	sz := e.Size()
	b.sizes[i] = int32(min(sz, 1<<31-1))
	b.bytes += sz
	n := uint64(len(b.items))
	for b.bytes > b.maxBytes {
		o := b.oldest()
		if o >= e.Seq {
			break
		}
		j := int(o % n)
		b.bytes -= int64(b.sizes[j])
		b.sizes[j] = 0
		b.items[j] = nil
		b.floor = o + 1
	}
}

// Size estimates the heap bytes an entry holds, as retained in a Buffer: the entry and its
// ring slot, its own strings, and its attributes (the slice plus each value; keys and the
// values of fewValues keys are interned, the trace/span id attributes share the fields'
// strings). Resource and scope are shared by the lines of one batch, and the job, worker,
// queue and service fields by the attributes they come from: neither is counted per line.
// The JSON the newest JSONKeep lines cache comes on top. TestSizeTracksHeap holds it to the
// real heap.
func (e *Entry) Size() int64 {
	n := int64(entryBytes) + strBytes(e.Message) + strBytes(e.TraceID) + strBytes(e.SpanID)
	n += attrsSize(e.Attrs)
	if e.Source != nil {
		n += 64 + strBytes(e.Source.Host) + strBytes(e.Source.Container) + strBytes(e.Source.File)
	}
	if e.Raw.Body != nil {
		n += anySize(e.Raw.Body)
	}
	return n
}

// entryBytes is the Entry struct's allocation (unsafe.Sizeof(Entry{}), a size class) plus its
// slot in the ring (a pointer and an int32 size).
const entryBytes = 320 + 12

// strBytes approximates the allocation behind a string of s's length (Go's size classes).
func strBytes(s string) int64 { return allocBytes(len(s)) }

func allocBytes(n int) int64 {
	switch {
	case n == 0:
		return 0
	case n <= 8:
		return 8
	case n <= 256:
		return int64(n+15) &^ 15
	}
	return int64(n + n/16)
}

func attrsSize(a Attrs) int64 {
	if a == nil {
		return 0
	}
	n := int64(32 * cap(a))
	for _, kv := range a {
		if s, ok := kv.Value.(string); ok {
			n += 16 // the string header boxed in the interface
			if !fewValues[kv.Key] && kv.Key != "trace_id" && kv.Key != "span_id" {
				n += strBytes(s)
			}
			continue
		}
		n += anySize(kv.Value)
	}
	return n
}

// anySize estimates a value from pcommon.Value.AsRaw: its box plus what it points to.
func anySize(v any) int64 {
	switch x := v.(type) {
	case nil, bool:
		return 0
	case string:
		return 16 + strBytes(x)
	case []byte:
		return 24 + allocBytes(len(x))
	case map[string]any:
		n := int64(64)
		for k, v := range x {
			n += 48 + strBytes(k) + anySize(v)
		}
		return n
	case []any:
		n := int64(24 + 16*len(x))
		for _, v := range x {
			n += anySize(v)
		}
		return n
	}
	return 8
}
