package main

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The order record's format changes in two phases (package twophase; the
// service declares the phase, service.OrderRecordV2):
//
//   - v1, today: {"id": "o-1", "items": 2}
//   - v2: {"v": 2, "id": "o-1", "lines": [{"qty": 2}]}
//
// This release is the prepare: it reads both forms and still writes v1,
// so that a version without v2 support can read everything it writes, and
// a rollback to it is safe. The next release activates v2 (writeV2 =
// true) once the pipeline has seen every production target serve this
// one; rolling that one back returns to this release, which reads v2.

// writeV2 is the activation switch: false in the prepare release.
const writeV2 = false

type recordV1 struct {
	ID    string `json:"id"`
	Items int    `json:"items"`
}

type recordV2 struct {
	V     int    `json:"v"`
	ID    string `json:"id"`
	Lines []line `json:"lines"`
}

type line struct {
	Qty int `json:"qty"`
}

// decodeRecord reads a stored order in either form.
func decodeRecord(b []byte) (Order, error) {
	var probe struct {
		V int `json:"v"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return Order{}, fmt.Errorf("order record: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	switch probe.V {
	case 0, 1:
		var r recordV1
		if err := dec.Decode(&r); err != nil {
			return Order{}, fmt.Errorf("order record v1: %w", err)
		}
		return Order{ID: r.ID, Items: r.Items}, nil
	case 2:
		var r recordV2
		if err := dec.Decode(&r); err != nil {
			return Order{}, fmt.Errorf("order record v2: %w", err)
		}
		n := 0
		for _, l := range r.Lines {
			n += l.Qty
		}
		return Order{ID: r.ID, Items: n}, nil
	}
	return Order{}, fmt.Errorf("order record: version %d is unknown", probe.V)
}

// encodeRecord writes a stored order in the form this release writes.
func encodeRecord(o Order) []byte {
	var v any = recordV1{ID: o.ID, Items: o.Items}
	if writeV2 {
		v = recordV2{V: 2, ID: o.ID, Lines: []line{{Qty: o.Items}}}
	}
	b, _ := json.Marshal(v) // plain structs: cannot fail
	return b
}
