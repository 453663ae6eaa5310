package ring // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"

import (
	"encoding/json"
	"hash/maphash"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/jobtrace/jobtrace/internal/conventions"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// KV is one attribute of a line. Value is what pcommon.Value.AsRaw gives (string, int64,
// float64, bool, []byte, []any, map[string]any).
type KV struct {
	Key   string
	Value any
}

// Attrs are a line's attributes sorted by key. The ring holds 100,000 lines: as a sorted
// slice with shared key strings they take about half the bytes of the map AsRaw builds, and
// they marshal to the same JSON object (encoding/json sorts map keys too).
type Attrs []KV

// AttrsOf converts a map (tests, and values built by hand).
func AttrsOf(m map[string]any) Attrs {
	if len(m) == 0 {
		return nil
	}
	a := make(Attrs, 0, len(m))
	for k, v := range m {
		a = append(a, KV{Key: k, Value: v})
	}
	slices.SortFunc(a, func(x, y KV) int { return strings.Compare(x.Key, y.Key) })
	return a
}

// attrsFrom converts a record's attributes. Keys, and the values of attributes that take few
// distinct values (workers, queues, files), are interned: 100,000 lines then share a handful
// of strings instead of holding a copy each.
func attrsFrom(m pcommon.Map) Attrs {
	if m.Len() == 0 {
		return nil
	}
	a := make(Attrs, 0, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		var raw any
		if v.Type() == pcommon.ValueTypeStr {
			s := v.Str()
			if fewValues[k] {
				s = intern(s)
			}
			raw = s
		} else {
			raw = v.AsRaw()
		}
		a = append(a, KV{Key: intern(k), Value: raw})
		return true
	})
	slices.SortStableFunc(a, func(x, y KV) int { return strings.Compare(x.Key, y.Key) })
	// Wire data may repeat a key; a map keeps one value per key, the last, as AsRaw would.
	out := a[:0]
	for i, kv := range a {
		if i+1 < len(a) && a[i+1].Key == kv.Key {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func intern(s string) string {
	if s == "" || len(s) > maxInterned {
		return s
	}
	slot := &internTab[maphash.String(internSeed, s)%uint64(len(internTab))]
	if p := slot.Load(); p != nil && *p == s {
		return *p
	}
	p := new(string)
	*p = s
	slot.Store(p)
	return s
}

// internTab is a direct-mapped cache of recent strings: a lookup is a hash and a compare, a
// collision replaces the older string, and the table never grows, whatever keys arrive.
var (
	internTab  [8192]atomic.Pointer[string]
	internSeed = maphash.MakeSeed()
)

const maxInterned = 128

// share points key's value at s when they are equal, so the line holds one copy.
func (a Attrs) share(key, s string) {
	if s == "" {
		return
	}
	if i, ok := a.find(key); ok {
		if v, isStr := a[i].Value.(string); isStr && v == s {
			a[i].Value = s
		}
	}
}

// fewValues are attributes whose values repeat across many lines.
var fewValues = map[string]bool{
	conventions.AttrWorkerID: true, "worker_id": true, conventions.AttrWorkerHost: true,
	conventions.AttrQueueName: true, conventions.AttrMessagingDestinationName: true,
	conventions.AttrJobType: true, conventions.AttrJobStatus: true, conventions.AttrEventName: true,
	"caller": true, "logger": true, "log.file.path": true, "log.file.name": true, "host.name": true,
	"container.name": true, "k8s.container.name": true, "code.filepath": true, "code.file.path": true,
	"code.function": true, "code.function.name": true, "level": true,
}

func (a Attrs) find(key string) (int, bool) {
	if len(a) == 0 {
		return 0, false
	}
	return slices.BinarySearchFunc(a, key, func(kv KV, k string) int { return strings.Compare(kv.Key, k) })
}

// Get returns the value of key.
func (a Attrs) Get(key string) (any, bool) {
	if i, ok := a.find(key); ok {
		return a[i].Value, true
	}
	return nil, false
}

// Value returns the value of key, nil when absent.
func (a Attrs) Value(key string) any {
	v, _ := a.Get(key)
	return v
}

// Map returns the attributes as a new map.
func (a Attrs) Map() map[string]any {
	m := make(map[string]any, len(a))
	for _, kv := range a {
		m[kv.Key] = kv.Value
	}
	return m
}

// with returns a copy of a with key set to v when key is absent (a unchanged otherwise).
func (a Attrs) with(key string, v any) Attrs {
	i, ok := a.find(key)
	if ok {
		return a
	}
	out := make(Attrs, 0, len(a)+1)
	out = append(out, a[:i]...)
	out = append(out, KV{Key: key, Value: v})
	return append(out, a[i:]...)
}

// MarshalJSON writes the attributes as the JSON object a map of them marshals to.
func (a Attrs) MarshalJSON() ([]byte, error) { return a.appendJSON(nil) }

// UnmarshalJSON reads the object MarshalJSON writes (numbers come back as float64, as they
// would into a map).
func (a *Attrs) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*a = AttrsOf(m)
	return nil
}
