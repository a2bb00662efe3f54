package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// DecodeJSON reads exactly one JSON document strictly: no data after it
// (whitespace aside), no duplicate keys and no keys that differ only in
// case within one object, valid UTF-8, and no nesting deeper than
// maxDepth. Objects become map[string]any, arrays []any, numbers
// json.Number, and strings, booleans and null their Go values. Errors name
// the document, the line and the key; key problems are all reported (up
// to a few dozen), a syntax error stops the reading.
//
// Every file verify reads goes through it: a template with a duplicate
// logical ID, a manifest with two "artifacts", or a config with "Rules"
// next to "rules" is an error, never a silent merge.
func DecodeJSON(b []byte, name string, maxDepth int) (any, error) {
	p := &jsonParser{b: b, name: nameOr(name), maxDepth: maxDepth}
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return nil, fmt.Errorf("%s: starts with a byte order mark; JSON must not", p.name)
	}
	p.space()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.b) {
		return nil, p.errorf(p.i, "data after the JSON document")
	}
	if len(p.keyErrs) > 0 {
		return nil, errors.Join(p.keyErrs...)
	}
	return v, nil
}

// MaxKeyErrors bounds how many duplicate-key problems one document reports.
// MaxKeyErrors bounds how many problems of one kind a document reports.
const MaxKeyErrors = 32

type jsonParser struct {
	b        []byte
	i        int
	name     string
	depth    int
	maxDepth int
	keyErrs  []error
	path     []any // keys (string) and indexes (int) from the root to the current value
}

// line returns the 1-based line and column of byte offset off.
func (p *jsonParser) line(off int) (int, int) {
	if off > len(p.b) {
		off = len(p.b)
	}
	line := 1 + bytes.Count(p.b[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(p.b[:off], '\n')
	return line, col
}

func (p *jsonParser) errorf(off int, format string, args ...any) error {
	l, c := p.line(off)
	where := ""
	if len(p.path) > 0 {
		where = " (in " + quotePath(p.path) + ")"
	}
	return fmt.Errorf("%s:%d:%d: %s%s", p.name, l, c, fmt.Sprintf(format, args...), where)
}

// quotePath renders a path of keys and indexes for messages, escaping
// what a terminal would interpret.
func quotePath(path []any) string {
	parts := make([]string, len(path))
	for i, k := range path {
		parts[i] = Escape(fmt.Sprint(k))
	}
	return strings.Join(parts, ".")
}

func (p *jsonParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value() (any, error) {
	if p.i >= len(p.b) {
		return nil, p.errorf(p.i, "unexpected end of input")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	default:
		return nil, p.errorf(p.i, "unexpected %s", describeByte(p.b, p.i))
	}
}

func describeByte(b []byte, i int) string {
	r, _ := utf8.DecodeRune(b[i:])
	if r == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", b[i])
	}
	return fmt.Sprintf("character %q", r)
}

func (p *jsonParser) literal(word string) error {
	if !strings.HasPrefix(string(p.b[p.i:min(len(p.b), p.i+len(word))]), word) {
		return p.errorf(p.i, "invalid literal (want %s)", word)
	}
	p.i += len(word)
	return nil
}

func (p *jsonParser) enter() error {
	p.depth++
	if p.depth > p.maxDepth {
		return p.errorf(p.i, "nesting deeper than %d levels (limit %d)", p.maxDepth, p.maxDepth)
	}
	return nil
}

// objKey is a key seen in the current object, for duplicate detection.
type objKey struct {
	key string
	off int
}

func (p *jsonParser) object() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	start := p.i
	p.i++ // '{'
	m := map[string]any{}
	var keys keySet
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.errorf(p.i, "expected a string key in the object starting at line %d", firstLine(p, start))
		}
		koff := p.i
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		if first, clash := keys.add(k, koff); clash && len(p.keyErrs) < MaxKeyErrors {
			p.keyErr(k, koff, first)
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.errorf(p.i, "expected ':' after key %q", k)
		}
		p.i++
		p.space()
		p.path = append(p.path, k)
		v, err := p.value()
		p.path = p.path[:len(p.path)-1]
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; !dup {
			m[k] = v
		}
		p.space()
		if p.i >= len(p.b) {
			return nil, p.errorf(p.i, "unexpected end of input in the object starting at line %d", firstLine(p, start))
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return m, nil
		default:
			return nil, p.errorf(p.i, "expected ',' or '}' after the value of %q", k)
		}
	}
}

func firstLine(p *jsonParser, off int) int {
	l, _ := p.line(off)
	return l
}

// keySet tracks an object's keys to find duplicates and keys equal but
// for case. Small objects are scanned; from 32 keys on, a map keyed by the
// case-folded key keeps the check linear.
type keySet struct {
	keys   []objKey
	folded map[string]objKey
}

// add records k and returns the earlier key it clashes with, if any.
func (s *keySet) add(k string, off int) (objKey, bool) {
	if s.folded == nil && len(s.keys) < 32 {
		for _, o := range s.keys {
			if strings.EqualFold(o.key, k) {
				return o, true
			}
		}
		s.keys = append(s.keys, objKey{k, off})
		return objKey{}, false
	}
	if s.folded == nil {
		s.folded = make(map[string]objKey, 64)
		for _, o := range s.keys {
			s.folded[foldKey(o.key)] = o
		}
	}
	fk := foldKey(k)
	if o, ok := s.folded[fk]; ok {
		return o, true
	}
	s.folded[fk] = objKey{k, off}
	return objKey{}, false
}

func (p *jsonParser) keyErr(k string, off int, first objKey) {
	fl, _ := p.line(first.off)
	if first.key == k {
		p.keyErrs = append(p.keyErrs, p.errorf(off, "duplicate key %q (first at line %d)", k, fl))
	} else {
		p.keyErrs = append(p.keyErrs, p.errorf(off, "key %q differs from key %q (line %d) only in case", k, first.key, fl))
	}
}

// foldKey maps a key to one representative of its case-fold class, so two
// keys are EqualFold exactly when their foldKey is equal.
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return m
	}, s)
}

func (p *jsonParser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	start := p.i
	p.i++ // '['
	out := []any{}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return out, nil
	}
	for n := 0; ; n++ {
		p.space()
		p.path = append(p.path, n)
		v, err := p.value()
		p.path = p.path[:len(p.path)-1]
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.space()
		if p.i >= len(p.b) {
			return nil, p.errorf(p.i, "unexpected end of input in the array starting at line %d", firstLine(p, start))
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return out, nil
		default:
			return nil, p.errorf(p.i, "expected ',' or ']' in the array starting at line %d", firstLine(p, start))
		}
	}
}

func (p *jsonParser) str() (string, error) {
	start := p.i
	p.i++ // '"'
	// Fast path: no escapes.
	j := p.i
	for j < len(p.b) {
		c := p.b[j]
		if c == '"' {
			s := p.b[p.i:j]
			if !utf8.Valid(s) {
				return "", p.errorf(start, "string is not valid UTF-8")
			}
			p.i = j + 1
			return string(s), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		j++
	}
	var sb strings.Builder
	sb.Write(p.b[p.i:j])
	p.i = j
	for {
		if p.i >= len(p.b) {
			return "", p.errorf(start, "unterminated string")
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			s := sb.String()
			if !utf8.ValidString(s) {
				return "", p.errorf(start, "string is not valid UTF-8")
			}
			return s, nil
		case c < 0x20:
			return "", p.errorf(p.i, "control character 0x%02x in a string (escape it)", c)
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return "", p.errorf(p.i, "unterminated escape")
			}
			e := p.b[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				sb.WriteByte(e)
			case 'b':
				sb.WriteByte('\b')
			case 'f':
				sb.WriteByte('\f')
			case 'n':
				sb.WriteByte('\n')
			case 'r':
				sb.WriteByte('\r')
			case 't':
				sb.WriteByte('\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.errorf(p.i, "invalid \\u escape")
				}
				if utf16.IsSurrogate(r) {
					// A high surrogate followed by a low one is one
					// character; a lone surrogate becomes U+FFFD, as
					// encoding/json does.
					r2 := unicode.ReplacementChar
					if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						if lo, ok := p.hex4(); ok {
							if d := utf16.DecodeRune(r, lo); d != unicode.ReplacementChar {
								r2 = d
							} else {
								p.i = save
							}
						} else {
							return "", p.errorf(p.i, "invalid \\u escape")
						}
					}
					r = r2
				}
				sb.WriteRune(r)
			default:
				return "", p.errorf(p.i-1, "invalid escape %q", "\\"+string(rune(e)))
			}
		default:
			sb.WriteByte(c)
			p.i++
		}
	}
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

func (p *jsonParser) number() (any, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, p.errorf(start, "invalid number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.errorf(start, "invalid number")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.errorf(start, "invalid number")
		}
	}
	return json.Number(p.b[start:p.i]), nil
}
