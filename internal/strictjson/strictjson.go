// Package strictjson decodes JSON documents that people or tools write for
// safepipe, strictly: one document of at most a given size, no data after
// it, no unknown fields, no duplicate or case-variant keys (encoding/json
// would silently merge "Rules" into "rules" and keep the last of two equal
// keys), and a bounded nesting depth.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// MaxDepth is the deepest nesting of objects and arrays a document may have.
const MaxDepth = 64

// Decode reads one JSON document of at most maxBytes from r into v. name
// names the input in errors.
func Decode(r io.Reader, v any, maxBytes int64, name string) error {
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > maxBytes {
		return fmt.Errorf("%s is larger than %d bytes (the limit)", name, maxBytes)
	}
	return Unmarshal(data, v, name)
}

// Unmarshal is Decode for a document already in memory.
func Unmarshal(data []byte, v any, name string) error {
	if err := CheckKeys(data); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if rest := bytes.TrimSpace(data[dec.InputOffset():]); len(rest) > 0 {
		return fmt.Errorf("%s: data after the JSON document at byte %d", name, dec.InputOffset())
	}
	// encoding/json matches field names case-insensitively: "KIND" fills
	// the field "kind". Require the exact names.
	var generic any
	if err := json.Unmarshal(data, &generic); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := exactNames(generic, reflect.TypeOf(v), ""); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// exactNames reports a key of doc that names a field of t in another case.
func exactNames(doc any, t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		if t.Implements(unmarshalerType) {
			return nil
		}
		t = t.Elem()
	}
	if t == nil || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		fields := map[string]reflect.StructField{}
		for _, f := range reflect.VisibleFields(t) {
			if !f.IsExported() || f.Anonymous {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fields[name] = f
		}
		for _, k := range sortedKeys(obj) {
			f, ok := fields[k]
			if !ok {
				for n := range fields {
					if strings.EqualFold(n, k) {
						return fmt.Errorf("key %q at %s: the field is %q (names are case-sensitive)", k, orRoot(path), n)
					}
				}
				continue
			}
			if err := exactNames(obj[k], f.Type, path+"."+k); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		arr, ok := doc.([]any)
		if !ok {
			return nil
		}
		for i, e := range arr {
			if err := exactNames(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		for _, k := range sortedKeys(obj) {
			if err := exactNames(obj[k], t.Elem(), path+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

func orRoot(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// CheckKeys walks the document's tokens and reports the first object with
// two keys equal or equal but for case, and nesting deeper than MaxDepth.
func CheckKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]string
		key    bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= MaxDepth {
					return fmt.Errorf("nesting deeper than %d levels at byte %d", MaxDepth, dec.InputOffset())
				}
				if top != nil && top.object {
					top.key = true
				}
				stack = append(stack, &frame{object: t == '{', keys: map[string]string{}, key: t == '{'})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return trailing(data, dec.InputOffset())
				}
			}
			continue
		case string:
			if top != nil && top.object && top.key {
				fold := strings.ToLower(t)
				if prev, ok := top.keys[fold]; ok {
					if prev == t {
						return fmt.Errorf("key %q appears twice in one object (byte %d)", t, dec.InputOffset())
					}
					return fmt.Errorf("keys %q and %q differ only in case (byte %d)", prev, t, dec.InputOffset())
				}
				top.keys[fold] = t
				top.key = false
				continue
			}
		}
		if top == nil {
			return trailing(data, dec.InputOffset()) // a scalar document
		}
		if top.object {
			top.key = true
		}
	}
}

// trailing reports anything but white space after the document ending at
// offset.
func trailing(data []byte, offset int64) error {
	if len(bytes.TrimSpace(data[offset:])) > 0 {
		return fmt.Errorf("data after the JSON document at byte %d", offset)
	}
	return nil
}
