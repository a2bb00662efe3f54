// Package sarifschema validates a SARIF document against the published
// SARIF 2.1.0 JSON schema, for tests. The schema comes from the npm package
// @microsoft/jest-sarif (package.json pins it; `npm ci` installs it), which
// ships OASIS's sarif-schema-2.1.0 as lib/schemas/sarif-2.1.0-rtm.5.json.
package sarifschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Path is the schema file in the module's node_modules.
func Path() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "node_modules", "@microsoft", "jest-sarif", "lib", "schemas", "sarif-2.1.0-rtm.5.json")
}

// ErrNoSchema is returned when the schema is not installed.
var ErrNoSchema = errors.New("sarifschema: the SARIF schema is not installed (run npm ci)")

var compiled struct {
	once   sync.Once
	schema *jsonschema.Schema
	err    error
}

// Validate reports whether doc is a valid SARIF 2.1.0 log.
func Validate(doc []byte) error {
	compiled.once.Do(func() {
		b, err := os.ReadFile(Path())
		if errors.Is(err, os.ErrNotExist) {
			compiled.err = ErrNoSchema
			return
		}
		if err != nil {
			compiled.err = err
			return
		}
		schema, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			compiled.err = err
			return
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource("sarif-2.1.0.json", schema); err != nil {
			compiled.err = err
			return
		}
		compiled.schema, compiled.err = c.Compile("sarif-2.1.0.json")
	})
	if compiled.err != nil {
		return compiled.err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("sarifschema: not JSON: %w", err)
	}
	if err := compiled.schema.Validate(inst); err != nil {
		return err
	}
	// The schema leaves these to the specification: a result's ruleIndex
	// points at its rule, of the same id.
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(doc, &log); err != nil {
		return err
	}
	for _, run := range log.Runs {
		for i, r := range run.Results {
			rules := run.Tool.Driver.Rules
			if r.RuleIndex < 0 || r.RuleIndex >= len(rules) || rules[r.RuleIndex].ID != r.RuleID {
				return fmt.Errorf("sarifschema: result %d: ruleIndex %d does not name rule %s", i, r.RuleIndex, r.RuleID)
			}
		}
	}
	return nil
}
