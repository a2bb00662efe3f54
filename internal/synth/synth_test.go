package synth

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFlatten(t *testing.T) {
	a, b, c := errors.New("a"), errors.New("b"), errors.New("c")
	assert.Nil(t, Flatten(nil))
	assert.Equal(t, []error{a}, Flatten(a))
	assert.Equal(t, []error{a, b, c}, Flatten(errors.Join(a, errors.Join(b, c))))
}
