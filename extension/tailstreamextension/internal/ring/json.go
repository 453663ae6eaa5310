package ring // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/jsonenc"
)

// The LogEntry JSON is written by hand: with 500 streams the collector marshals every line it
// fans out, and encoding/json's reflection took ~17 % of its CPU (issue 13). The output is
// byte for byte what json.Marshal gives for the Entry (json_test.go compares the two, also
// under a fuzzer), so the wire format does not depend on which path wrote a line.

var errNonFinite = errors.New("json: unsupported value: NaN or ±Inf")

// appendJSON appends what json.Marshal(e) gives. On an error b's contents are undefined; the
// cases are those where json.Marshal fails too (NaN or ±Inf, a year outside 0–9999, a value
// encoding/json cannot write).
func (e *Entry) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"timestamp":"`...)
	b, err := e.Timestamp.AppendText(b)
	if err != nil {
		return nil, err
	}
	b = append(b, `","level":`...)
	b = jsonenc.AppendString(b, e.Level)
	b = appendField(b, `,"service":`, e.Service)
	b = appendField(b, `,"job_id":`, e.JobID)
	b = appendField(b, `,"worker_id":`, e.WorkerID)
	b = appendField(b, `,"queue_name":`, e.QueueName)
	b = appendField(b, `,"trace_id":`, e.TraceID)
	b = appendField(b, `,"span_id":`, e.SpanID)
	b = append(b, `,"message":`...)
	b = jsonenc.AppendString(b, e.Message)
	if len(e.Attrs) > 0 {
		b = append(b, `,"attributes":`...)
		if b, err = e.Attrs.appendJSON(b); err != nil {
			return nil, err
		}
	}
	if s := e.Source; s != nil {
		b = append(b, `,"source":{`...)
		n := len(b)
		b = appendField(b, `,"host":`, s.Host)
		b = appendField(b, `,"container":`, s.Container)
		b = appendField(b, `,"file":`, s.File)
		if s.Line != 0 {
			b = append(b, `,"line":`...)
			b = strconv.AppendInt(b, s.Line, 10)
		}
		if len(b) > n {
			// The first field's comma: cheaper to cut than to track.
			b = append(b[:n], b[n+1:]...)
		}
		b = append(b, '}')
	}
	if e.Late != nil {
		b = append(b, `,"late":true`...)
	}
	return append(b, '}'), nil
}

// jsonSizeHint guesses the entry's JSON length, so that one allocation usually holds it.
func (e *Entry) jsonSizeHint() int {
	n := 192 + len(e.Message) + len(e.Service) + len(e.JobID) + len(e.WorkerID) + len(e.QueueName)
	for _, kv := range e.Attrs {
		n += len(kv.Key) + 8
		if s, ok := kv.Value.(string); ok {
			n += len(s)
		} else {
			n += 16
		}
	}
	if s := e.Source; s != nil {
		n += len(s.Host) + len(s.Container) + len(s.File) + 64
	}
	return n
}

// appendField writes an omitempty string field.
func appendField(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return jsonenc.AppendString(append(b, key...), s)
}

// appendJSON appends the object a map of the attributes marshals to (they are sorted by key,
// as encoding/json sorts a map's).
func (a Attrs) appendJSON(b []byte) ([]byte, error) {
	if a == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '{')
	var err error
	for i, kv := range a {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(b, kv.Key)
		b = append(b, ':')
		if b, err = appendValue(b, kv.Value); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendValue writes an attribute value as encoding/json does. The types are what
// pcommon.Value.AsRaw gives; anything else (values built by hand) goes to encoding/json.
func appendValue(b []byte, v any) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return jsonenc.AppendString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		return appendFloat(b, x)
	case []byte:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, x)
		return append(b, '"'), nil
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, el := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendValue(b, el); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(x)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.AppendString(b, k)
			b = append(b, ':')
			if b, err = appendValue(b, x[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

// appendFloat formats f as encoding/json does (ES6 number to string: exponents only below
// 1e-6 and from 1e21, unpadded).
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, errNonFinite
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
