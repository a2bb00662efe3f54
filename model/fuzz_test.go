package model

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// The fuzz targets of the package's parsers. Their seed corpora are in
// testdata/fuzz/<target>/; "make fuzz" runs each for a bounded time.

// noControl fails when text carries a control character other than a
// newline.
func noControl(t *testing.T, s string) {
	t.Helper()
	for _, r := range s {
		if r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r < 0xa0 || r == '\u202e' {
			t.Fatalf("control character %U in output %q", r, s)
		}
	}
}

// FuzzDecodeJSON checks the strict decoder against encoding/json: what it
// accepts, encoding/json accepts too and reads to the same value.
func FuzzDecodeJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeJSON(b, "fuzz", 64)
		if err != nil {
			noControl(t, err.Error())
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted what encoding/json rejects: %q", b)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var w any
		if err := dec.Decode(&w); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		if !reflect.DeepEqual(v, w) {
			t.Fatalf("read %#v, encoding/json %#v", v, w)
		}
	})
}

// FuzzFlatten: flattening any value stays within its bound, and the static
// expansion bound the reader checks is never below what Flatten produces.
func FuzzFlatten(f *testing.F) {
	const max = 4096
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeJSON(b, "fuzz", 64)
		if err != nil {
			return
		}
		s, ferr := FlattenLimit(v, max)
		if len(s) > max {
			t.Fatalf("flattened to %d bytes, more than %d", len(s), max)
		}
		if e := expansion(v, max); e <= max && ferr != nil {
			t.Fatalf("expansion says %d bytes, Flatten went over %d: %v", e, max, ferr)
		} else if ferr == nil && e < len(s) {
			t.Fatalf("expansion says %d bytes, Flatten made %d", e, len(s))
		}
		if utf8.ValidString(string(b)) && ferr == nil && !utf8.ValidString(s) {
			t.Fatalf("Flatten of valid input is not valid UTF-8: %q", s)
		}
	})
}

// FuzzParseWindow: any cron expression is parsed or refused, and what is
// parsed is a window within a day and a span.
func FuzzParseWindow(f *testing.F) {
	f.Fuzz(func(t *testing.T, cron string) {
		w, err := ParseWindow(cron)
		if err != nil {
			noControl(t, err.Error())
			return
		}
		if w.MinutesPerDay < 0 || w.MinutesPerDay > 1440 || w.OpenDays < 0 || w.OpenDays > w.Days || w.Days < 2900 {
			t.Fatalf("%q: %+v", cron, w)
		}
	})
}
