package model

import (
	"maps"
	"slices"

	"github.com/safepipe/safepipe/internal/termsafe"
)

// Escape makes text read from an input safe to print (internal/termsafe):
// every message of this package passes names through it.
func Escape(s string) string { return termsafe.Escape(s) }

// nameOr is the name a message gives an input: its path, or "the input".
func nameOr(path string) string {
	if path == "" {
		return "the input"
	}
	return path
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
