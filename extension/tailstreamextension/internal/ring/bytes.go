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

// Size estimates the bytes an entry holds: fixed fields, strings, and per-attribute overhead
// (maps of any values; their JSON, once marshalled, is about as large again).
func (e *Entry) Size() int64 {
	n := int64(320 + len(e.Message) + len(e.Level) + len(e.Service) + len(e.JobID) + len(e.WorkerID) +
		len(e.QueueName) + len(e.TraceID) + len(e.SpanID))
	n += mapSize(e.Attrs)
	if e.Source != nil {
		n += 64 + int64(len(e.Source.Host)+len(e.Source.Container)+len(e.Source.File))
	}
	if s, ok := e.Raw.Body.(string); ok {
		n += int64(len(s))
	}
	// Resource and scope maps are shared by the lines of one batch: not counted per line.
	return n
}

func mapSize(m map[string]any) int64 {
	var n int64
	for k, v := range m {
		n += 48 + int64(len(k))
		switch x := v.(type) {
		case string:
			n += int64(len(x))
		case map[string]any:
			n += mapSize(x)
		case []any:
			n += 24 * int64(len(x))
		default:
			n += 8
		}
	}
	return n
}
