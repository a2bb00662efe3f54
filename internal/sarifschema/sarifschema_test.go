package sarifschema

import (
	"errors"
	"testing"
)

// TestValidateRefuses: the validator is not a rubber stamp.
func TestValidateRefuses(t *testing.T) {
	good := `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"R1"}]}},"results":[{"ruleId":"R1","ruleIndex":0,"level":"error","message":{"text":"m"}}]}]}`
	if err := Validate([]byte(good)); errors.Is(err, ErrNoSchema) {
		t.Skip(err)
	} else if err != nil {
		t.Fatalf("a valid log: %v", err)
	}
	for name, doc := range map[string]string{
		"a level SARIF does not have": `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"R1","level":"fatal","message":{"text":"m"}}]}]}`,
		"no version":                  `{"runs":[]}`,
		"a result without a message":  `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"R1"}]}]}`,
		"a ruleIndex of another rule": `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"R1"},{"id":"R2"}]}},"results":[{"ruleId":"R1","ruleIndex":1,"message":{"text":"m"}}]}]}`,
	} {
		if err := Validate([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
