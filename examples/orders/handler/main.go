// Command handler is the orders service's Lambda function: it validates an
// order and acknowledges it. It runs on the provided.al2023 runtime.
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"
)

// Order is the request.
type Order struct {
	ID    string `json:"id"`
	Items int    `json:"items"`
}

// Ack is the response.
type Ack struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func handle(_ context.Context, o Order) (Ack, error) {
	if o.ID == "" {
		return Ack{}, errors.New("order id is empty")
	}
	if o.Items < 1 {
		return Ack{}, fmt.Errorf("order %s: items is %d, want at least 1", o.ID, o.Items)
	}
	return Ack{ID: o.ID, Status: "ok"}, nil
}

func main() {
	lambda.Start(handle)
}
