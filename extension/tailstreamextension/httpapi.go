package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

// The HTTP toolkit both API halves use: one JSON writer, one error writer, one strict body
// decoder and one set of query-parameter readers. Each reader writes its own 400 and reports
// false, so a handler reads as a list of parameters.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jobtrace/jobtrace/internal/timeparam"
)

// apiError is the body of every 4xx/5xx answer: {"error":{"code","message","field"}}.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message, field string) {
	writeJSON(w, status, map[string]apiError{"error": {Code: code, Message: message, Field: field}})
}

const maxBodyBytes = 1 << 20

// decodeBody decodes a request body that must be exactly one JSON object into v, rejecting
// unknown fields, and writes the error itself: 413 past maxBodyBytes; 400 for an empty body,
// `null` or another non-object, a type mismatch, an unknown field, or data after the object.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var raw json.RawMessage
	err := dec.Decode(&raw)
	if err == nil {
		// Anything but whitespace after the object is a malformed request, not ignorable.
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errTrailingData
			if terr != nil && !isSyntaxError(terr) {
				err = terr
			}
		}
	}
	if err == nil && (len(raw) == 0 || raw[0] != '{') {
		writeError(w, http.StatusBadRequest, "invalid_body", "request body must be a JSON object, not "+jsonKind(raw), "")
		return false
	}
	if err == nil {
		strict := json.NewDecoder(bytes.NewReader(raw))
		strict.DisallowUnknownFields()
		err = strict.Decode(v)
	}
	if err == nil {
		return true
	}
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body exceeds %d bytes", maxBodyBytes), "")
	case errors.As(err, &ute):
		writeError(w, http.StatusBadRequest, "invalid_field", fmt.Sprintf("%s: must be %s", ute.Field, ute.Type), ute.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		writeError(w, http.StatusBadRequest, "unknown_field", "unknown field "+strconv.Quote(f), f)
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, "invalid_body", "request body is empty; send a JSON object", "")
	case errors.Is(err, errTrailingData):
		writeError(w, http.StatusBadRequest, "invalid_body", "request body has data after the JSON object; send exactly one object", "")
	default:
		writeError(w, http.StatusBadRequest, "invalid_body", "request body is not valid JSON: "+err.Error(), "")
	}
	return false
}

var errTrailingData = errors.New("data after the JSON object")

func isSyntaxError(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se)
}

// jsonKind names the JSON value raw starts with, for error messages.
func jsonKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case 'n':
		return "null"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// keyRE takes the config key from a Validate() message ("backends[0].endpoint: ...").
var keyRE = regexp.MustCompile(`^([a-z_]+(\[\d+\])?(\.[a-z_]+)*):`)

// validationError answers a config that failed validate(), naming the first key in field.
func validationError(w http.ResponseWriter, err error) {
	msg := err.Error()
	field := ""
	if m := keyRE.FindStringSubmatch(msg); m != nil {
		field = m[1]
	}
	writeError(w, http.StatusBadRequest, "invalid_config", strings.ReplaceAll(msg, "\n", "; "), field)
}

func invalidParameter(w http.ResponseWriter, key, message string) {
	writeError(w, http.StatusBadRequest, "invalid_parameter", key+": "+message, key)
}

// queryInt reads an optional integer query parameter (nil when absent).
func queryInt(w http.ResponseWriter, q url.Values, key string) (*int, bool) {
	v := q[key]
	if len(v) == 0 || v[0] == "" {
		return nil, true
	}
	n, err := strconv.Atoi(v[0])
	if err != nil {
		invalidParameter(w, key, "must be an integer")
		return nil, false
	}
	return &n, true
}

// boundedInt reads a positive integer query parameter, at most maxV, def when absent.
func boundedInt(w http.ResponseWriter, q url.Values, key string, def, maxV int) (int, bool) {
	n, ok := queryInt(w, q, key)
	switch {
	case !ok:
		return 0, false
	case n == nil:
		return def, true
	case *n <= 0 || *n > maxV:
		invalidParameter(w, key, fmt.Sprintf("must be between 1 and %d", maxV))
		return 0, false
	}
	return *n, true
}

// timeParam reads a since/until query parameter (see internal/timeparam) against now, the
// handler's injected clock; the zero time when absent.
func timeParam(w http.ResponseWriter, q url.Values, key string, now time.Time) (time.Time, bool) {
	ts, err := timeparam.Parse(q.Get(key), now)
	if err != nil {
		invalidParameter(w, key, err.Error())
		return time.Time{}, false
	}
	return ts, true
}
