package rq

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// Pickles written by /usr/bin/python3 (3.11): pickle.dumps(v, protocol=p).
var pickles = []struct {
	name string
	raw  string
	want map[string]string
	ok   bool
}{
	{"rq meta, protocol 5", "\x80\x05\x95#\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x0btraceparent\x94\x8c\x0500-ab\x94\x8c\x01k\x94\x8c\x01v\x94u.",
		map[string]string{"traceparent": "00-ab", "k": "v"}, true},
	{"empty dict", "\x80\x05}\x94.", map[string]string{}, true},
	{"long string, BINUNICODE", "\x80\x05}\x94\x8c\x01a\x94X\x03\x00\x00\x00xyz\x94s.", map[string]string{"a": "xyz"}, true},
	{"protocol 2 BINPUT/BINGET of a repeated string", "\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01h\x01X\x01\x00\x00\x00bq\x02h\x01u.",
		map[string]string{"a": "a", "b": "a"}, true},
	// Everything that is not a dict of strings is refused, in particular anything that names a
	// callable: GLOBAL/STACK_GLOBAL + REDUCE is how a pickle runs code.
	{"os.system via REDUCE", "\x80\x04\x95\x1e\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.", nil, false},
	{"GLOBAL protocol 0", "cos\nsystem\n(S'id'\ntR.", nil, false},
	{"int value", "\x80\x05}\x94\x8c\x01a\x94K\x01s.", nil, false},
	{"nested dict", "\x80\x05}\x94\x8c\x01a\x94}\x94s.", nil, false},
	{"list, not dict", "\x80\x05]\x94.", nil, false},
	{"string, not dict", "\x80\x05\x8c\x01a\x94.", nil, false},
	{"no STOP", "\x80\x05}\x94", nil, false},
	{"trailing bytes", "\x80\x05}\x94.x", nil, false},
	{"string length past end", "\x80\x05}\x94\x8c\xffa", nil, false},
	{"BINGET of the dict", "\x80\x05}\x94\x8c\x01a\x94h\x00s.", nil, false},
	{"BINGET past memo", "\x80\x05}\x94\x8c\x01a\x94h\x09s.", nil, false},
	{"invalid utf-8", "\x80\x05}\x94\x8c\x01a\x94\x8c\x01\xffs.", nil, false},
	{"two dicts", "\x80\x05}\x94}\x94.", nil, false},
	{"huge BINUNICODE8", "\x80\x05}\x94\x8d\xff\xff\xff\xff\xff\xff\xff\x7f", nil, false},
	{"SETITEMS odd", "\x80\x05}\x94(\x8c\x01a\x94u.", nil, false},
	{"bad protocol", "\x80\x09}.", nil, false},
}

func TestReadStringDict(t *testing.T) {
	for _, tt := range pickles {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readStringDict([]byte(tt.raw), 1<<20)
			if !tt.ok {
				require.Error(t, err)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	_, err := readStringDict([]byte(pickles[0].raw), 10)
	require.Error(t, err, "size limit")
}

func FuzzReadStringDict(f *testing.F) {
	for _, tt := range pickles {
		f.Add([]byte(tt.raw))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := readStringDict(b, 1<<16)
		if err != nil {
			require.Nil(t, m)
			return
		}
		require.LessOrEqual(t, len(m), maxPickleEntries)
		// Whatever is accepted is a dict of valid strings.
		for k, v := range m {
			require.True(t, validUTF8(k) && validUTF8(v))
		}
	})
}

func validUTF8(s string) bool { return utf8.ValidString(s) }
