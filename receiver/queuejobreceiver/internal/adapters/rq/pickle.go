package rq // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapters/rq"

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"
)

// Pickle opcodes of a dict of str → str as Python 3 writes it (protocols 2 to 5). Nothing else is
// accepted: no GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ, EXT* or STACK_GLOBAL, so no object is
// ever constructed and no name is ever looked up. This is a data reader, not an unpickler.
const (
	opProto          = 0x80
	opFrame          = 0x95
	opEmptyDict      = '}'
	opMark           = '('
	opSetItem        = 's'
	opSetItems       = 'u'
	opShortBinUni    = 0x8c // 1-byte length
	opBinUnicode     = 'X'  // 4-byte length
	opBinUnicode8    = 0x8d // 8-byte length
	opMemoize        = 0x94
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opBinGet         = 'h'
	opLongBinGet     = 'j'
	opStop           = '.'
	maxPickleEntries = 1024
)

var errPickle = errors.New("meta is not a pickled dict of strings")

type pval struct {
	kind byte // 'd' dict, 's' string, 'm' mark
	s    string
}

// readStringDict decodes a pickle that holds exactly one dict whose keys and values are all
// str, and rejects every other pickle.
func readStringDict(b []byte, maxLen int) (map[string]string, error) {
	if len(b) > maxLen || len(b) < 2 {
		return nil, errPickle
	}
	var stack []pval
	var memo []pval
	var dict map[string]string
	dicts := 0
	i := 0
	need := func(n int) bool { return n >= 0 && i+n <= len(b) }
	for i < len(b) {
		op := b[i]
		i++
		switch op {
		case opProto:
			if i != 1 || !need(1) || b[i] < 2 || b[i] > 5 {
				return nil, errPickle
			}
			i++
		case opFrame:
			if !need(8) {
				return nil, errPickle
			}
			i += 8 // frames only group bytes; the opcodes inside are read as usual
		case opEmptyDict:
			if dicts > 0 {
				return nil, errPickle // a nested dict is not a dict of strings
			}
			dicts++
			dict = map[string]string{}
			stack = append(stack, pval{kind: 'd'})
		case opMark:
			stack = append(stack, pval{kind: 'm'})
		case opShortBinUni, opBinUnicode, opBinUnicode8:
			var n uint64
			switch op {
			case opShortBinUni:
				if !need(1) {
					return nil, errPickle
				}
				n = uint64(b[i])
				i++
			case opBinUnicode:
				if !need(4) {
					return nil, errPickle
				}
				n = uint64(binary.LittleEndian.Uint32(b[i:]))
				i += 4
			default:
				if !need(8) {
					return nil, errPickle
				}
				n = binary.LittleEndian.Uint64(b[i:])
				i += 8
			}
			if n > uint64(len(b)) || !need(int(n)) {
				return nil, errPickle
			}
			s := b[i : i+int(n)]
			i += int(n)
			if !utf8.Valid(s) {
				return nil, errPickle
			}
			stack = append(stack, pval{kind: 's', s: string(s)})
		case opMemoize, opBinPut, opLongBinPut:
			if len(stack) == 0 || len(memo) > maxPickleEntries*2+2 {
				return nil, errPickle
			}
			idx := len(memo)
			switch op {
			case opBinPut:
				if !need(1) {
					return nil, errPickle
				}
				idx = int(b[i])
				i++
			case opLongBinPut:
				if !need(4) {
					return nil, errPickle
				}
				idx = int(binary.LittleEndian.Uint32(b[i:]))
				i += 4
			}
			if idx > len(memo) || idx > maxPickleEntries*2+2 {
				return nil, errPickle
			}
			top := stack[len(stack)-1]
			if top.kind == 'm' {
				return nil, errPickle
			}
			if idx == len(memo) {
				memo = append(memo, top)
			} else {
				memo[idx] = top
			}
		case opBinGet, opLongBinGet:
			var idx int
			if op == opBinGet {
				if !need(1) {
					return nil, errPickle
				}
				idx = int(b[i])
				i++
			} else {
				if !need(4) {
					return nil, errPickle
				}
				idx = int(binary.LittleEndian.Uint32(b[i:]))
				i += 4
			}
			// Only a repeated string may be fetched back; the dict cannot contain itself.
			if idx >= len(memo) || memo[idx].kind != 's' {
				return nil, errPickle
			}
			stack = append(stack, memo[idx])
		case opSetItem:
			if len(stack) < 3 {
				return nil, errPickle
			}
			k, v, d := stack[len(stack)-2], stack[len(stack)-1], stack[len(stack)-3]
			if k.kind != 's' || v.kind != 's' || d.kind != 'd' || len(dict) >= maxPickleEntries {
				return nil, errPickle
			}
			dict[k.s] = v.s
			stack = stack[:len(stack)-2]
		case opSetItems:
			m := -1
			for j := len(stack) - 1; j >= 0; j-- {
				if stack[j].kind == 'm' {
					m = j
					break
				}
			}
			if m < 1 || stack[m-1].kind != 'd' || (len(stack)-m-1)%2 != 0 {
				return nil, errPickle
			}
			for j := m + 1; j < len(stack); j += 2 {
				if stack[j].kind != 's' || stack[j+1].kind != 's' || len(dict) >= maxPickleEntries {
					return nil, errPickle
				}
				dict[stack[j].s] = stack[j+1].s
			}
			stack = stack[:m]
		case opStop:
			if i != len(b) || len(stack) != 1 || stack[0].kind != 'd' {
				return nil, errPickle
			}
			return dict, nil
		default:
			return nil, errPickle
		}
	}
	return nil, errPickle // no STOP
}
