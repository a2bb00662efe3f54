package main

import (
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/safepipe/safepipe/gates"
)

// TestEveryCallIsDeclared: every operation of the controller's AWS clients
// is in gates.ControllerCalls, which the pipeline's tests check against
// the roles it synthesizes, and the list names nothing the controller
// does not call.
func TestEveryCallIsDeclared(t *testing.T) {
	declared := map[string]bool{}
	for _, c := range gates.ControllerCalls {
		assert.False(t, declared[c.Action], "%s declared twice", c.Action)
		declared[c.Action] = true
		assert.NotEmpty(t, c.Where, c.Action)
	}
	clients := map[string]reflect.Type{
		"cloudwatch":     reflect.TypeFor[cloudWatchAPI](),
		"cloudformation": reflect.TypeFor[cloudFormationAPI](),
		"ssm":            reflect.TypeFor[ssmAPI](),
		"codepipeline":   reflect.TypeFor[pipelineAPI](),
	}
	// The watch roles' credentials: stscreds.NewAssumeRoleProvider (newAWS).
	called := []string{"sts:AssumeRole"}
	for service, typ := range clients {
		for i := range typ.NumMethod() {
			called = append(called, service+":"+typ.Method(i).Name)
		}
	}
	for _, a := range called {
		assert.True(t, declared[a], "the controller calls %s: declare it in gates.ControllerCalls and grant it", a)
	}
	for a := range declared {
		assert.True(t, slices.Contains(called, a), "gates.ControllerCalls declares %s, which the controller does not call", a)
	}
}
