package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandle(t *testing.T) {
	ack, err := handle(context.Background(), Order{ID: "o-1", Items: 2})
	require.NoError(t, err)
	assert.Equal(t, Ack{ID: "o-1", Status: "ok"}, ack)
	_, err = handle(context.Background(), Order{ID: "o-2"})
	assert.ErrorContains(t, err, "items is 0")
	_, err = handle(context.Background(), Order{Items: 1})
	assert.ErrorContains(t, err, "id is empty")
}
