// Package strict decodes the files users write (catalogs, policies, rule
// sets) into Go values, refusing everything encoding/json and yaml.v3
// accept silently:
//
//   - more than one document, or anything but white space after it
//     (encoding/json's Decoder.More is false before "}" and "]", so "}}"
//     after a JSON document passes a More check);
//   - duplicate keys, and keys that differ from a field name only in case
//     (encoding/json matches "KIND" to "kind" and merges "Rules" into
//     "rules");
//   - unknown fields;
//   - a value of the wrong type: a number where a string is wanted and,
//     in YAML, a string where a number is wanted; a fraction or an
//     out-of-range number for an integer; integers not written in
//     decimal (YAML's 0x10, 0o17, 017, 1_000);
//   - YAML tags (!!binary, !!str, !custom) and merge keys (<<), and a
//     YAML scalar is never re-typed: a plain 2026-01-01 or 007 read into a
//     string field is the string as written, not a timestamp or 7;
//   - input that is not UTF-8.
//
// Every decode is bounded: the input size (Limits.MaxBytes), the nesting
// depth (Limits.MaxDepth) and, for YAML, what aliases may repeat
// (Limits.MaxAliasBytes, checked before anything is expanded). Problems are
// reported all at once, each on one line with its line number and field
// path, up to MaxProblems.
package strict

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Limits bound the work and memory of one decode.
type Limits struct {
	// MaxBytes is the largest input accepted, in bytes.
	MaxBytes int
	// MaxDepth is the deepest nesting of objects and lists accepted.
	MaxDepth int
	// MaxAliasBytes bounds YAML alias expansion: the total size (scalar
	// bytes plus one per node) of the values that aliases repeat.
	MaxAliasBytes int
}

// MaxProblems is the most problems one decode reports; the rest are
// counted in a last line.
const MaxProblems = 100

// ReadAll reads r through an io.LimitReader and fails, naming the limit,
// if r holds more than max bytes, so that /dev/zero or a runaway pipe is
// rejected after max+1 bytes rather than exhausting memory.
func ReadAll(r io.Reader, max int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, TooLarge(max)
	}
	return b, nil
}

// SyntaxError is a document that does not parse as JSON or YAML at all.
type SyntaxError struct{ msg string }

func (e *SyntaxError) Error() string { return e.msg }

// TooLarge is the error for an input over the size limit.
func TooLarge(max int) error {
	return fmt.Errorf("larger than the limit of %s", Size(max))
}

// Size renders a byte count for people: "1 MiB", "512 KiB", "300 bytes".
func Size(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// JSON decodes exactly one JSON document from data into v (a pointer),
// strictly (see the package documentation).
func JSON(data []byte, v any, lim Limits) error {
	if err := precheck(data, lim); err != nil {
		return err
	}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return &SyntaxError{"line 1: the file starts with a byte order mark (U+FEFF), which JSON does not allow; save it as UTF-8 without one"}
	}
	p := &jsonParser{data: data, lim: lim, dec: json.NewDecoder(bytes.NewReader(data)), lines: lineCounter{data: data}}
	p.dec.UseNumber()
	root, err := p.value(1)
	if err != nil {
		return err
	}
	off := int(p.dec.InputOffset())
	if rest := bytes.TrimLeft(data[off:], " \t\r\n"); len(rest) > 0 {
		at := len(data) - len(rest)
		return &trailingError{SyntaxError{fmt.Sprintf("line %d: unexpected %s after the document (a file holds exactly one JSON value)", p.lines.at(at), excerpt(rest))}}
	}
	return decode(root, v)
}

// YAML decodes exactly one YAML document from data into v (a pointer),
// strictly (see the package documentation). A valid JSON document is read
// as JSON.
func YAML(data []byte, v any, lim Limits) error {
	if err := precheck(data, lim); err != nil {
		return err
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		// Maybe a JSON document: read it as JSON. (JSON is YAML 1.2, but
		// yaml.v3 lacks some of JSON's escapes, such as "\/".) A JSON
		// object with something after it is reported as such, unless
		// the whole is YAML (a comment after the object).
		err := JSON(data, v, lim)
		var te *trailingError
		var se *SyntaxError
		switch {
		case errors.As(err, &te):
			if root, yerr := parseYAML(data, lim); yerr == nil {
				return decode(root, v)
			}
			return err
		case !errors.As(err, &se):
			return err // nil, or JSON with problems
		}
		// Not JSON: a YAML flow mapping such as {rules: []}.
	}
	root, err := parseYAML(data, lim)
	if err != nil {
		return err
	}
	return decode(root, v)
}

// trailingError is data after a JSON document.
type trailingError struct{ SyntaxError }

func precheck(data []byte, lim Limits) error {
	if len(data) > lim.MaxBytes {
		return TooLarge(lim.MaxBytes)
	}
	if !utf8.Valid(data) {
		i := 0
		for i < len(data) {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return fmt.Errorf("line %d: the file is not UTF-8 (byte 0x%02x at offset %d)", bytes.Count(data[:i], []byte("\n"))+1, data[i], i)
	}
	return nil
}

func excerpt(b []byte) string {
	if len(b) > 16 {
		return strconv.Quote(string(b[:16])) + "…"
	}
	return strconv.Quote(string(b))
}

// kind is the type of a parsed value.
type kind uint8

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kList
	kObject
)

func (k kind) String() string {
	return [...]string{"null", "true or false", "a number", "a string", "a list", "an object"}[k]
}

// value is a parsed document node, from JSON or YAML. YAML aliases make
// the tree a DAG: an aliased value is shared, never copied.
type value struct {
	kind kind
	line int
	// text is the scalar as written (strings unescaped): "true", "1e3".
	text string
	// plain is true for an unquoted YAML scalar, which a string field
	// reads as written whatever YAML would resolve it to.
	plain    bool
	keys     []string
	keyLines []int
	items    []*value // list items, or object values parallel to keys
}

// lineCounter maps increasing byte offsets to line numbers.
type lineCounter struct {
	data      []byte
	off, line int
}

func (c *lineCounter) at(off int) int {
	if c.line == 0 {
		c.line = 1
	}
	off = min(max(off, 0), len(c.data))
	if off < c.off {
		return bytes.Count(c.data[:off], []byte("\n")) + 1
	}
	c.line += bytes.Count(c.data[c.off:off], []byte("\n"))
	c.off = off
	return c.line
}

type jsonParser struct {
	data  []byte
	lim   Limits
	dec   *json.Decoder
	lines lineCounter
}

func (p *jsonParser) token() (json.Token, int, error) {
	tok, err := p.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, 0, &SyntaxError{fmt.Sprintf("line %d: %s", p.lines.at(int(se.Offset)), se.Error())}
		case err == io.EOF && p.dec.InputOffset() == 0:
			return nil, 0, errors.New("the file is empty")
		case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
			return nil, 0, &SyntaxError{fmt.Sprintf("line %d: unexpected end of the file", p.lines.at(len(p.data)))}
		}
		return nil, 0, fmt.Errorf("line %d: %w", p.lines.at(int(p.dec.InputOffset())), err)
	}
	return tok, p.lines.at(int(p.dec.InputOffset())), nil
}

func (p *jsonParser) value(depth int) (*value, error) {
	tok, line, err := p.token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth > p.lim.MaxDepth {
			return nil, fmt.Errorf("line %d: nested deeper than the limit of %d levels", line, p.lim.MaxDepth)
		}
		v := &value{kind: kList, line: line}
		if t == '{' {
			v.kind = kObject
		}
		for p.dec.More() {
			if v.kind == kObject {
				kt, kline, err := p.token()
				if err != nil {
					return nil, err
				}
				v.keys = append(v.keys, kt.(string)) // the decoder only returns string keys
				v.keyLines = append(v.keyLines, kline)
			}
			item, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			v.items = append(v.items, item)
		}
		if _, _, err := p.token(); err != nil { // the closing delimiter
			return nil, err
		}
		return v, nil
	case string:
		return &value{kind: kString, line: line, text: t}, nil
	case json.Number:
		return &value{kind: kNumber, line: line, text: string(t)}, nil
	case bool:
		return &value{kind: kBool, line: line, text: strconv.FormatBool(t)}, nil
	default: // nil
		return &value{kind: kNull, line: line}, nil
	}
}

// problems collects errors up to MaxProblems.
type problems struct {
	errs  []error
	extra int
}

func (ps *problems) add(line int, path, format string, args ...any) {
	if len(ps.errs) >= MaxProblems {
		ps.extra++
		return
	}
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	if line > 0 {
		msg = fmt.Sprintf("line %d: %s", line, msg)
	}
	ps.errs = append(ps.errs, errors.New(msg))
}

func (ps *problems) err() error {
	if ps.extra > 0 {
		ps.errs = append(ps.errs, fmt.Errorf("… and %d more problems", ps.extra))
	}
	return errors.Join(ps.errs...)
}

// node is a parsed document node: a JSON value, or a YAML node read in
// place (aliases followed), so that a YAML document is never copied.
type node interface {
	// info returns the node's kind, line and scalar text; plain is true
	// for an unquoted YAML scalar.
	info() (k kind, line int, text string, plain bool)
	// size is the number of items of a list or pairs of an object.
	size() int
	// key returns an object's i-th key and its line.
	key(i int) (string, int)
	// item returns a list's i-th item or an object's i-th value.
	item(i int) node
}

func (v *value) info() (kind, int, string, bool) { return v.kind, v.line, v.text, v.plain }
func (v *value) size() int                       { return len(v.items) }
func (v *value) key(i int) (string, int)         { return v.keys[i], v.keyLines[i] }
func (v *value) item(i int) node                 { return v.items[i] }

// decode checks root against v's type, writes it out as JSON that
// encoding/json reads exactly as meant, and unmarshals that.
func decode(root node, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("strict: decode into a non-nil pointer, not %T", v)
	}
	e := &emitter{}
	if k, line, _, _ := root.info(); k == kNull {
		e.ps.add(line, "", "want %s, got null", want(rv.Type().Elem()))
	} else {
		e.emit(root, rv.Type().Elem(), "")
	}
	if err := e.ps.err(); err != nil {
		return err
	}
	if err := json.Unmarshal(e.buf.Bytes(), v); err != nil {
		return fmt.Errorf("strict: internal error re-reading the document: %w", err)
	}
	return nil
}

type emitter struct {
	buf bytes.Buffer
	ps  problems
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	decimalInt      = regexp.MustCompile(`^[-+]?(0|[1-9][0-9]*)$`)
	decimalFloat    = regexp.MustCompile(`^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$`)
)

// want names what a type takes, for messages.
func want(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a value"
}

func (e *emitter) mismatch(v node, t reflect.Type, path string) {
	k, line, text, _ := v.info()
	got := k.String()
	if k == kBool {
		got = text
	}
	e.ps.add(line, path, "want %s, got %s", want(t), got)
	e.buf.WriteString("null")
}

func (e *emitter) emit(v node, t reflect.Type, path string) {
	k, line, text, plain := v.info()
	if y, ok := v.(*ynode); ok && y.tagged() != "" {
		e.ps.add(line, path, "the YAML tag %s is not allowed (values are read as the field's type)", y.tagged())
		e.buf.WriteString("null")
		return
	}
	if k == kNull { // an object field set to null is unset
		e.buf.WriteString("null")
		return
	}
	if t.Kind() != reflect.Pointer && (reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)) {
		e.emitAny(v, path)
		return
	}
	bad := func(format string) {
		e.ps.add(line, path, format, short(text))
		e.buf.WriteString("null")
	}
	switch t.Kind() {
	case reflect.Pointer:
		e.emit(v, t.Elem(), path)
	case reflect.Interface:
		e.emitAny(v, path)
	case reflect.Struct:
		e.object(v, t, path, fieldsOf(t))
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			e.emitAny(v, path)
			return
		}
		e.object(v, t, path, nil)
	case reflect.Slice, reflect.Array:
		if k != kList {
			e.mismatch(v, t, path)
			return
		}
		e.buf.WriteByte('[')
		for i := range v.size() {
			if i > 0 {
				e.buf.WriteByte(',')
			}
			item := v.item(i)
			p := fmt.Sprintf("%s[%d]", path, i)
			if ik, iline, _, _ := item.info(); ik == kNull {
				e.ps.add(iline, p, "want %s, got null", want(t.Elem()))
				e.buf.WriteString("null")
				continue
			}
			e.emit(item, t.Elem(), p)
		}
		e.buf.WriteByte(']')
	case reflect.String:
		if k != kString && !(plain && (k == kNumber || k == kBool)) {
			e.mismatch(v, t, path)
			return
		}
		b, _ := json.Marshal(text)
		e.buf.Write(b)
	case reflect.Bool:
		if k != kBool {
			e.mismatch(v, t, path)
			return
		}
		e.buf.WriteString(text)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if k != kNumber {
			e.mismatch(v, t, path)
			return
		}
		if !decimalInt.MatchString(text) {
			bad("%s is not a whole number written in decimal (no leading zeros, no 0x, no _)")
			return
		}
		n, err := strconv.ParseInt(text, 10, t.Bits())
		if err != nil {
			bad(fmt.Sprintf("%%s is out of range (%d to %d)", int64(math.MinInt64)>>(64-t.Bits()), int64(math.MaxInt64)>>(64-t.Bits())))
			return
		}
		e.buf.WriteString(strconv.FormatInt(n, 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if k != kNumber {
			e.mismatch(v, t, path)
			return
		}
		if !decimalInt.MatchString(text) {
			bad("%s is not a whole number written in decimal (no leading zeros, no 0x, no _)")
			return
		}
		n, err := strconv.ParseUint(strings.TrimPrefix(text, "+"), 10, t.Bits())
		if err != nil {
			bad(fmt.Sprintf("%%s is out of range (0 to %d)", uint64(math.MaxUint64)>>(64-t.Bits())))
			return
		}
		e.buf.WriteString(strconv.FormatUint(n, 10))
	case reflect.Float32, reflect.Float64:
		if k != kNumber {
			e.mismatch(v, t, path)
			return
		}
		f, err := strconv.ParseFloat(text, t.Bits())
		if !decimalFloat.MatchString(text) || err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			bad("%s is not a finite decimal number")
			return
		}
		e.buf.WriteString(strconv.FormatFloat(f, 'g', -1, t.Bits()))
	default:
		e.emitAny(v, path)
	}
}

// object writes a JSON object for a struct (fields non-nil: exact field
// names only) or a map (fields nil: any key). Duplicate keys are errors.
func (e *emitter) object(v node, t reflect.Type, path string, fields map[string]reflect.Type) {
	if k, _, _, _ := v.info(); k != kObject {
		e.mismatch(v, t, path)
		return
	}
	seen := make(map[string]int, v.size())
	e.buf.WriteByte('{')
	first := true
	for i := range v.size() {
		k, kline := v.key(i)
		if line, dup := seen[k]; dup {
			e.ps.add(kline, path, "duplicate key %q (first at line %d)", short(k), line)
			continue
		}
		seen[k] = kline
		var ft reflect.Type
		if fields == nil {
			ft = t.Elem()
		} else {
			var ok bool
			if ft, ok = fields[k]; !ok {
				e.unknown(kline, path, k, fields)
				continue
			}
		}
		if !first {
			e.buf.WriteByte(',')
		}
		first = false
		b, _ := json.Marshal(k)
		e.buf.Write(b)
		e.buf.WriteByte(':')
		e.emit(v.item(i), ft, join(path, short(k)))
	}
	e.buf.WriteByte('}')
}

func (e *emitter) unknown(line int, path, k string, fields map[string]reflect.Type) {
	names := make([]string, 0, len(fields))
	for n := range fields {
		if strings.EqualFold(n, k) {
			e.ps.add(line, path, "unknown field %q: field names are case-sensitive; did you mean %q?", short(k), n)
			return
		}
		names = append(names, n)
	}
	if k == "<<" {
		e.ps.add(line, path, "YAML merge keys (<<) are not supported; write the fields out")
		return
	}
	slices.Sort(names)
	e.ps.add(line, path, "unknown field %q (want one of %s)", short(k), strings.Join(names, ", "))
}

// short cuts a user's value for a message: a megabyte of digits or a
// megabyte-long key is named by its first 64 bytes.
func short(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// emitAny writes a value whose type decides nothing here.
func (e *emitter) emitAny(v node, path string) {
	k, line, text, _ := v.info()
	if y, ok := v.(*ynode); ok && y.tagged() != "" {
		e.ps.add(line, path, "the YAML tag %s is not allowed (values are read as the field's type)", y.tagged())
		e.buf.WriteString("null")
		return
	}
	switch k {
	case kNull:
		e.buf.WriteString("null")
	case kBool:
		e.buf.WriteString(text)
	case kNumber:
		if f, err := strconv.ParseFloat(text, 64); err == nil && decimalFloat.MatchString(text) && !math.IsInf(f, 0) {
			e.buf.WriteString(strings.TrimPrefix(text, "+"))
		} else {
			b, _ := json.Marshal(text)
			e.buf.Write(b)
		}
	case kString:
		b, _ := json.Marshal(text)
		e.buf.Write(b)
	case kList:
		e.buf.WriteByte('[')
		for i := range v.size() {
			if i > 0 {
				e.buf.WriteByte(',')
			}
			e.emitAny(v.item(i), fmt.Sprintf("%s[%d]", path, i))
		}
		e.buf.WriteByte(']')
	case kObject:
		e.buf.WriteByte('{')
		for i := range v.size() {
			if i > 0 {
				e.buf.WriteByte(',')
			}
			key, _ := v.key(i)
			b, _ := json.Marshal(key)
			e.buf.Write(b)
			e.buf.WriteByte(':')
			e.emitAny(v.item(i), join(path, short(key)))
		}
		e.buf.WriteByte('}')
	}
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// fieldsOf returns a struct's JSON field names (as encoding/json reads
// them, embedded structs promoted) and their types.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, ok := out[name]; !ok {
				out[name] = f.Type
			}
		}
	}
	walk(t)
	fieldCache.Store(t, out)
	return out
}
