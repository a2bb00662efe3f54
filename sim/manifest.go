package sim

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/safepipe/safepipe/internal/strictjson"
	"github.com/safepipe/safepipe/model"
)

// parseManifest reads the fields of a cloud assembly manifest the
// simulator uses, with the strict reader verify uses (model.DecodeJSON:
// one document, no duplicate or case-variant keys, bounded nesting), each
// field by its exact name and of its type. Before, a duplicate-key walk
// over the tokens and encoding/json read every manifest twice: a fifth of
// the reference's load.
func parseManifest(data []byte, mpath string) (manifest, error) {
	var m manifest
	doc, err := model.DecodeJSON(data, mpath, strictjson.MaxDepth)
	if err != nil {
		return m, fmt.Errorf("sim: %w", err)
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return m, fmt.Errorf("sim: %s: malformed manifest: not a JSON object", mpath)
	}
	var errs []error
	str := func(obj map[string]any, key, at string) string {
		v, ok := obj[key]
		if !ok || v == nil {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			errs = append(errs, fmt.Errorf("sim: %s: malformed manifest: %s.%s is not a string", mpath, at, key))
		}
		return s
	}
	obj := func(parent map[string]any, key, at string) map[string]any {
		v, ok := parent[key]
		if !ok || v == nil {
			return nil
		}
		o, ok := v.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("sim: %s: malformed manifest: %s.%s is not an object", mpath, at, key))
		}
		return o
	}
	arts := obj(top, "artifacts", "manifest")
	m.Artifacts = make(map[string]artifact, len(arts))
	for _, id := range slices.Sorted(maps.Keys(arts)) {
		v := arts[id]
		at := "artifacts." + id
		a, ok := v.(map[string]any)
		if !ok {
			if v != nil {
				errs = append(errs, fmt.Errorf("sim: %s: malformed manifest: %s is not an object", mpath, at))
			}
			continue
		}
		var out artifact
		out.Type = str(a, "type", at)
		out.Environment = str(a, "environment", at)
		if p := obj(a, "properties", at); p != nil {
			at += ".properties"
			out.Properties.TemplateFile = str(p, "templateFile", at)
			out.Properties.StackName = str(p, "stackName", at)
			out.Properties.DirectoryName = str(p, "directoryName", at)
			if tags := obj(p, "tags", at); tags != nil {
				out.Properties.Tags = make(map[string]string, len(tags))
				for _, k := range slices.Sorted(maps.Keys(tags)) { // errors in a stable order
					out.Properties.Tags[k] = str(tags, k, at+".tags")
				}
			}
		}
		m.Artifacts[id] = out
	}
	return m, errors.Join(errs...)
}
