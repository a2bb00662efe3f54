package propagate_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/safepipe/safepipe/gray"
	"github.com/safepipe/safepipe/gray/propagate"
)

// The edge decides a request's release from its baggage; a downstream
// service follows the decision the baggage carries.
func Example() {
	_, rs, err := gray.LoadFile(strings.NewReader(`releases:
  - name: android
    priority: 10
    match: {attribute: {name: device, in: [Android]}}
    services: {order: order-v1.1, email: email-v2.1}
`), "releases.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	router, err := gray.CompileReleases(rs)
	if err != nil {
		fmt.Println(err)
		return
	}
	edge, err := propagate.NewEdge(propagate.EdgeOptions{Router: router, Labels: []string{"device"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	email := httptest.NewServer(propagate.Follow(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("email serves", router.Version(propagate.Release(r.Context()), "email"))
	})))
	defer email.Close()
	client := &http.Client{Transport: propagate.Transport(nil)}
	order := edge.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("order serves", router.Version(propagate.Release(r.Context()), "order"))
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, email.URL, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}))
	req := httptest.NewRequest(http.MethodGet, "/orders", nil).WithContext(context.Background())
	req.Header.Set("baggage", "user=u-42,device=Android")
	order.ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// order serves order-v1.1
	// email serves email-v2.1
}
