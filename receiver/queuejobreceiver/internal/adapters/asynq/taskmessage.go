// Package asynq reads asynq's (github.com/hibiken/asynq) Redis layout read-only.
package asynq // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapters/asynq"

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// TaskMessage is asynq's internal/proto TaskMessage (asynq v0.26.0, asynq.proto), decoded by
// field number so the receiver needs neither asynq's internal package nor generated code.
// Unknown fields are skipped, so messages from newer asynq versions still decode.
type TaskMessage struct {
	Type         string            // 1
	Payload      []byte            // 2
	Headers      map[string]string // 15, since v0.26: where W3C traceparent is put
	ID           string            // 3
	Queue        string            // 4
	Retry        int32             // 5: max retries
	Retried      int32             // 6: failed attempts so far
	ErrorMsg     string            // 7: the last failure's error
	LastFailedAt int64             // 11: unix seconds
	Timeout      int64             // 8: seconds
	Deadline     int64             // 9: unix seconds
	UniqueKey    string            // 10
	GroupKey     string            // 14
	Retention    int64             // 12: seconds
	CompletedAt  int64             // 13: unix seconds
}

// Field numbers of asynq.proto's TaskMessage.
const (
	fType         protowire.Number = 1
	fPayload      protowire.Number = 2
	fID           protowire.Number = 3
	fQueue        protowire.Number = 4
	fRetry        protowire.Number = 5
	fRetried      protowire.Number = 6
	fErrorMsg     protowire.Number = 7
	fTimeout      protowire.Number = 8
	fDeadline     protowire.Number = 9
	fUniqueKey    protowire.Number = 10
	fLastFailedAt protowire.Number = 11
	fRetention    protowire.Number = 12
	fCompletedAt  protowire.Number = 13
	fGroupKey     protowire.Number = 14
	fHeaders      protowire.Number = 15
)

// Limits that keep a hostile message from costing more than its size.
const maxHeaders = 256

var errBadMessage = errors.New("asynq: malformed TaskMessage")

// DecodeTaskMessage decodes the `msg` field of an `asynq:{<q>}:t:<id>` hash. It never panics;
// any malformed input is an error.
func DecodeTaskMessage(b []byte) (*TaskMessage, error) {
	m := &TaskMessage{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("%w: tag: %v", errBadMessage, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case typ == protowire.BytesType && isBytesField(num):
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("%w: field %d: %v", errBadMessage, num, protowire.ParseError(n))
			}
			b = b[n:]
			if err := m.setBytes(num, v); err != nil {
				return nil, err
			}
		case typ == protowire.VarintType && isVarintField(num):
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, fmt.Errorf("%w: field %d: %v", errBadMessage, num, protowire.ParseError(n))
			}
			b = b[n:]
			m.setVarint(num, v)
		default:
			// A known field with the wrong wire type is malformed; an unknown one is skipped.
			if isBytesField(num) || isVarintField(num) {
				return nil, fmt.Errorf("%w: field %d has wire type %d", errBadMessage, num, typ)
			}
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, fmt.Errorf("%w: field %d: %v", errBadMessage, num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	if m.ID == "" {
		return nil, fmt.Errorf("%w: no id", errBadMessage)
	}
	return m, nil
}

func isBytesField(n protowire.Number) bool {
	switch n {
	case fType, fPayload, fID, fQueue, fErrorMsg, fUniqueKey, fGroupKey, fHeaders:
		return true
	}
	return false
}

func isVarintField(n protowire.Number) bool {
	switch n {
	case fRetry, fRetried, fTimeout, fDeadline, fLastFailedAt, fRetention, fCompletedAt:
		return true
	}
	return false
}

func (m *TaskMessage) setBytes(num protowire.Number, v []byte) error {
	str := func() (string, error) {
		// proto3 strings are UTF-8; the generated code rejects anything else too.
		if !utf8.Valid(v) {
			return "", fmt.Errorf("%w: field %d is not UTF-8", errBadMessage, num)
		}
		return string(v), nil
	}
	var err error
	switch num {
	case fType:
		m.Type, err = str()
	case fPayload:
		m.Payload = append([]byte(nil), v...)
	case fID:
		m.ID, err = str()
	case fQueue:
		m.Queue, err = str()
	case fErrorMsg:
		m.ErrorMsg, err = str()
	case fUniqueKey:
		m.UniqueKey, err = str()
	case fGroupKey:
		m.GroupKey, err = str()
	case fHeaders:
		k, val, e := decodeMapEntry(v)
		if e != nil {
			return e
		}
		if m.Headers == nil {
			m.Headers = map[string]string{}
		}
		if len(m.Headers) >= maxHeaders {
			return fmt.Errorf("%w: more than %d headers", errBadMessage, maxHeaders)
		}
		m.Headers[k] = val
	}
	return err
}

// int32 fields are varints of the sign-extended value (proto3 int32, not sint32).
func (m *TaskMessage) setVarint(num protowire.Number, v uint64) {
	switch num {
	case fRetry:
		m.Retry = int32(v)
	case fRetried:
		m.Retried = int32(v)
	case fTimeout:
		m.Timeout = int64(v)
	case fDeadline:
		m.Deadline = int64(v)
	case fLastFailedAt:
		m.LastFailedAt = int64(v)
	case fRetention:
		m.Retention = int64(v)
	case fCompletedAt:
		m.CompletedAt = int64(v)
	}
}

// decodeMapEntry decodes one map<string,string> entry: key = 1, value = 2, both optional.
func decodeMapEntry(b []byte) (string, string, error) {
	var k, v string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", "", fmt.Errorf("%w: headers entry: %v", errBadMessage, protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return "", "", fmt.Errorf("%w: headers entry: %v", errBadMessage, protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		val, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return "", "", fmt.Errorf("%w: headers entry: %v", errBadMessage, protowire.ParseError(n))
		}
		b = b[n:]
		if !utf8.Valid(val) {
			return "", "", fmt.Errorf("%w: headers entry is not UTF-8", errBadMessage)
		}
		switch num {
		case 1:
			k = string(val)
		case 2:
			v = string(val)
		}
	}
	return k, v, nil
}
