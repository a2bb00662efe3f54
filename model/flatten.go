package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Flatten renders a template value as a string: strings as they are,
// numbers and booleans in JSON, Fn::Join joined, Fn::Sub's template, and
// other intrinsics (Ref, Fn::GetAtt, …) as "${…}" placeholders: a Ref to X
// is "${X}", a Fn::GetAtt of X's Arn is "${X.Arn}".
//
// The result is at most DefaultLimits().MaxExpansion bytes; a value that
// would expand further is cut there and ends in "…". Templates read by
// this package never do (the reader refuses them), so the cut only
// matters for values built by hand; FlattenLimit reports it as an error.
func Flatten(v any) string {
	s, err := FlattenLimit(v, DefaultLimits().MaxExpansion)
	if err != nil {
		return s + "…"
	}
	return s
}

// errTooLarge stops a flattening that went over its bound.
var errTooLarge = errors.New("expansion too large")

// FlattenLimit is Flatten with a bound: when v expands to more than max
// bytes it returns the first max bytes and an error naming the limit. Its
// work is linear in the size of v and of the output, whatever the nesting.
func FlattenLimit(v any, max int) (string, error) {
	f := flattener{left: max}
	f.value(v)
	if f.err != nil {
		return f.b.String(), fmt.Errorf("an intrinsic function expands to more than %d bytes (limit %d)", max, max)
	}
	return f.b.String(), nil
}

type flattener struct {
	b    strings.Builder
	left int
	err  error
}

func (f *flattener) write(s string) {
	if f.err != nil {
		return
	}
	if len(s) > f.left {
		f.b.WriteString(s[:f.left])
		f.left = 0
		f.err = errTooLarge
		return
	}
	f.b.WriteString(s)
	f.left -= len(s)
}

func (f *flattener) value(v any) {
	if f.err != nil {
		return
	}
	switch x := v.(type) {
	case nil:
	case string:
		f.write(x)
	case json.Number:
		f.write(string(x))
	case bool:
		if x {
			f.write("true")
		} else {
			f.write("false")
		}
	case float64, int:
		b, _ := json.Marshal(x)
		f.write(string(b))
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			parts, _ := j[1].([]any)
			if len(parts) == 0 {
				return
			}
			// The delimiter is flattened once, within what is left (a
			// delimiter cut short cuts the result at the same place).
			d := flattener{left: f.left + 1}
			d.value(j[0])
			delim := d.b.String()
			for i, p := range parts {
				if i > 0 {
					f.write(delim)
				}
				f.value(p)
				if f.err != nil {
					return
				}
			}
			return
		}
		if s, ok := subTemplate(x); ok {
			f.write(s)
			return
		}
		if r, ok := x["Ref"].(string); ok {
			f.write("${" + r + "}")
			return
		}
		if ga, ok := x["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			f.write("${")
			f.value(ga[0])
			f.write(".")
			f.value(ga[1])
			f.write("}")
			return
		}
		if ga, ok := x["Fn::GetAtt"].(string); ok {
			f.write("${" + ga + "}")
			return
		}
		f.write("${?}")
	default:
		// Arrays and other values: their JSON, bounded by the input.
		b, err := json.Marshal(x)
		if err != nil {
			f.write("${?}")
			return
		}
		f.write(string(b))
	}
}

// subTemplate returns the template string of an Fn::Sub, in either form.
func subTemplate(m map[string]any) (string, bool) {
	switch s := m["Fn::Sub"].(type) {
	case string:
		return s, true
	case []any:
		if len(s) >= 1 {
			if t, ok := s[0].(string); ok {
				return t, true
			}
		}
	}
	return "", false
}

// expansion returns how many bytes Flatten(v) would produce, saturating
// just above max, without building the string.
func expansion(v any, max int) int {
	sat := func(n int) int { return min(n, max+1) }
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		return sat(len(x))
	case json.Number:
		return sat(len(x))
	case bool:
		return 5
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			parts, _ := j[1].([]any)
			if len(parts) == 0 {
				return 0
			}
			d := expansion(j[0], max)
			n := 0
			if d > 0 && len(parts) > 1 {
				if len(parts)-1 > max/d {
					return max + 1
				}
				n = d * (len(parts) - 1)
			}
			for _, p := range parts {
				n = sat(n + expansion(p, max))
				if n > max {
					return n
				}
			}
			return n
		}
		if s, ok := subTemplate(x); ok {
			return sat(len(s))
		}
		if r, ok := x["Ref"].(string); ok {
			return sat(len(r) + 3)
		}
		if ga, ok := x["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			return sat(4 + expansion(ga[0], max) + expansion(ga[1], max))
		}
		if ga, ok := x["Fn::GetAtt"].(string); ok {
			return sat(len(ga) + 3)
		}
		return 4 // "${?}"
	default:
		// Arrays flatten to their JSON: count their scalars generously.
		return sat(jsonSize(x, max))
	}
}

// jsonSize estimates the JSON size of a value, saturating above max.
func jsonSize(v any, max int) int {
	switch x := v.(type) {
	case []any:
		n := 2
		for _, e := range x {
			n += 1 + jsonSize(e, max)
			if n > max {
				return n
			}
		}
		return n
	case map[string]any:
		n := 2
		for k, e := range x {
			n += 2 + jsonSize(k, max) + jsonSize(e, max) // a key is escaped like a string ("&" is \u0026)
			if n > max {
				return n
			}
		}
		return n
	case string:
		return 2 + 6*len(x) // every byte could need \u00XX
	case json.Number:
		return len(x)
	default:
		return 24 // booleans, null, small numbers
	}
}

// CheckExpansion walks a template and reports every intrinsic function
// that expands beyond lim.MaxExpansion, and a total beyond
// lim.MaxTemplateExpansion, naming where (at most a few dozen).
func CheckExpansion(doc any, lim Limits) []error {
	e := expansionCheck{lim: lim}
	e.walk(doc, nil)
	if len(e.errs) > 0 {
		// Again in key order, so the messages are the same every time.
		e = expansionCheck{lim: lim, sorted: true}
		e.walk(doc, nil)
	}
	return e.errs
}

type expansionCheck struct {
	lim       Limits
	sorted    bool
	total     int
	overTotal bool
	errs      []error
}

func (e *expansionCheck) walk(v any, path []any) {
	if len(e.errs) >= MaxKeyErrors {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["Fn::Join"]; ok {
			n := expansion(x, e.lim.MaxExpansion)
			if n > e.lim.MaxExpansion {
				e.errs = append(e.errs, fmt.Errorf("%s: Fn::Join expands to more than %d bytes (limit %d)", quotePath(path), e.lim.MaxExpansion, e.lim.MaxExpansion))
				return
			}
			e.total += n
			if e.total > e.lim.MaxTemplateExpansion && !e.overTotal {
				e.overTotal = true
				e.errs = append(e.errs, fmt.Errorf("%s: the template's intrinsic functions expand to more than %d bytes in all (limit %d)", quotePath(path), e.lim.MaxTemplateExpansion, e.lim.MaxTemplateExpansion))
			}
			return
		}
		if !e.sorted {
			for k, el := range x {
				e.walk(el, append(path, k))
			}
			return
		}
		for _, k := range sortedKeys(x) {
			e.walk(x[k], append(path, k))
		}
	case []any:
		for i, el := range x {
			e.walk(el, append(path, i))
		}
	}
}
