package verify

import "github.com/safepipe/safepipe/model"

// The reading of templates is package model's, shared with the simulator;
// these names keep verify's API.

// Limits bound what verify reads (model.Limits).
type Limits = model.Limits

// DefaultLimits returns the limits verify uses unless told otherwise.
func DefaultLimits() Limits { return model.DefaultLimits() }

// DecodeJSON reads one JSON document strictly (model.DecodeJSON).
func DecodeJSON(b []byte, name string, maxDepth int) (any, error) {
	return model.DecodeJSON(b, name, maxDepth)
}
