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

// TestRecordPrepare: the prepare release reads both forms of the order
// record and writes the old one, so the version before it can read
// everything it writes.
func TestRecordPrepare(t *testing.T) {
	for _, c := range []struct{ in, id string }{
		{`{"id":"o-1","items":2}`, "o-1"},
		{`{"v":2,"id":"o-2","lines":[{"qty":1},{"qty":1}]}`, "o-2"},
	} {
		o, err := decodeRecord([]byte(c.in))
		require.NoError(t, err, c.in)
		assert.Equal(t, Order{ID: c.id, Items: 2}, o)
	}
	_, err := decodeRecord([]byte(`{"v":3,"id":"o-3"}`))
	assert.ErrorContains(t, err, "version 3 is unknown")
	assert.JSONEq(t, `{"id":"o-1","items":2}`, string(encodeRecord(Order{ID: "o-1", Items: 2})), "writers keep the old form until the activation")
}
